"""The placeholder app builds, serves its page on loopback, and lists stored matches."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app import matches_table, rooms_table
from arena.local_models import free_port
from arena.store import Store

ROOT = Path(__file__).resolve().parents[1]


def test_rooms_table_lists_the_six_rooms() -> None:
    assert list(rooms_table()["room"]) == [
        "Cipher",
        "Map",
        "Mechanism",
        "Archive",
        "Paradox",
        "Warden",
    ]


def test_empty_store_gives_an_empty_table(store: Store) -> None:
    table = matches_table(store)
    assert table.empty
    assert list(table.columns)[2:4] == ["contestant A", "contestant B"]


def test_python_app_py_serves_its_page(tmp_path: Path) -> None:
    """The README's run command: ``python app.py`` starts and serves the page."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--db", str(tmp_path / "a.sqlite3")],
        cwd=ROOT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=5, trust_env=False)
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            assert response.status_code == 200
            assert "Quant Escape Room" in response.text
            return
        raise AssertionError("python app.py did not serve within 90 s")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()
