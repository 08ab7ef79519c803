"""The app's views and actions over a real store, and ``python app.py`` serving UI and API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from app import (
    Services,
    _form_fields,
    about_markdown,
    figures,
    leaderboard_view,
    manage_action,
    now_playing_markdown,
    replay_view,
    submission_status,
    submit_action,
)
from arena.client import ClientLimits
from arena.leaderboard import leaderboard_rows
from arena.local_models import free_port
from arena.nullserver import NullServer, NullServerConfig
from arena.store import Store
from submissions.keystore import KeyStore
from submissions.service import SubmissionService

ROOT = Path(__file__).resolve().parents[1]


def services(store: Store, **kwargs: Any) -> Services:
    keys = KeyStore(Fernet.generate_key().decode())
    kwargs.setdefault("allow_private", True)
    service = SubmissionService(
        store, keys, probe_limits=ClientLimits(deadline_s=5, max_retries=0), **kwargs
    )
    return Services(store, service)


def form_values(url: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "display_name": "Smol <img src=x onerror=alert(1)>", "base_model": "SmolLM2-135M",
        "quant": "Q4_0", "bits_per_weight": 4.5, "file_size_gb": None, "hardware": "CPU",
        "engine": "llama.cpp", "base_url": url, "model": "smol", "api_key": "",
        "temperature": 0.0, "top_p": None, "top_k": None, "max_tokens": 64,
        "thinking": "server default", "is_baseline": True,
    }  # fmt: skip
    values.update(changes)
    return values


def test_an_empty_database_shows_friendly_empty_states(store: Store) -> None:
    frame, note = leaderboard_view(leaderboard_rows(store))
    assert frame.empty and "No submissions yet" in note and "--demo" in note
    assert "No matches yet" in replay_view(store, None)
    assert now_playing_markdown(store) == "**Now playing:** nothing right now."
    for figure in figures(store):
        texts = " ".join(a.text for a in figure.layout.annotations)
        assert texts.strip(), "an empty chart must explain itself"


def test_about_explains_rooms_scoring_and_charts() -> None:
    text = about_markdown()
    for needle in ("Cipher", "Warden", "Manipulated", "score-v1", "Pareto frontier", "Retention"):
        assert needle in text


async def test_the_form_action_submits_probes_and_escapes(store: Store) -> None:
    with NullServer(NullServerConfig(reply="ready", model="smol")) as server:
        app = services(store)
        text = await submit_action(app, form_values(server.base_url), "10.0.0.1")
        assert text.startswith("### Accepted: submission #1")
        assert "Health probe: answered in" in text and "deletion token" in text.lower()
        frame, _ = leaderboard_view(leaderboard_rows(store))
        assert list(frame["name"]) == ["Smol <img src=x onerror=alert(1)>"]  # a text cell
        again = await submit_action(app, form_values(server.base_url), "10.0.0.1")
        assert again == (
            "**Not accepted:** this endpoint, model id and sampling settings are already registered"
        )
        assert "Smol &lt;img" in submission_status(app, 1)  # Markdown output is escaped


async def test_the_form_names_each_bad_field(store: Store) -> None:
    text = await submit_action(
        services(store),
        form_values("http://127.0.0.1:9/v1", bits_per_weight=None, display_name="", top_k=0.5),
        "10.0.0.1",
    )
    assert text.startswith("**Please fix:**")
    assert "**bits\\_per\\_weight**" in text and "**display\\_name**" in text
    assert store.query("SELECT COUNT(*) AS n FROM submissions")[0]["n"] == 0


def test_form_fields_map_the_widgets() -> None:
    fields = _form_fields(form_values("http://x/v1", top_p=0.9, top_k=20, thinking="off",
                                      file_size_gb=2.5, api_key="k"))  # fmt: skip
    assert fields["sampling"] == {"temperature": 0.0, "max_tokens": 64, "top_p": 0.9,
                                  "top_k": 20, "thinking": False}  # fmt: skip
    assert fields["file_size_gb"] == 2.5 and fields["api_key"] == "k"
    assert "api_key" not in _form_fields(form_values("http://x/v1"))


def test_owner_actions_need_the_token(store: Store) -> None:
    app = services(store)
    assert manage_action(app, None, "t", "pause") == "**Not done:** enter the submission number."
    assert "unknown submission or wrong token" in manage_action(app, 3, "t", "pause")


def test_python_app_py_serves_its_page(tmp_path: Path) -> None:
    """The README's run command: ``python app.py`` starts and serves the page."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--data-dir", str(tmp_path / "data")],
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
            for _ in range(40):  # the scheduler takes the leader lease on its first tick
                health = httpx.get(
                    f"http://127.0.0.1:{port}/api/health", timeout=5, trust_env=False
                )
                if health.json()["scheduler_leader"]:
                    break
                time.sleep(0.25)
            assert health.json()["status"] == "ok" and health.json()["scheduler_leader"] is True
            docs = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5, trust_env=False)
            assert "/api/submissions" in docs.json()["paths"]
            assert (tmp_path / "data" / "arena.sqlite3").exists()
            return
        raise AssertionError("python app.py did not serve within 90 s")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()
