"""``python app.py --demo``'s contestants: two real llama.cpp servers registered through the
normal submission path; a second start re-points the same two entries instead of adding more."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet

from arena.dev._demo import start_demo
from arena.engine._store import Store
from submissions.keystore import KeyStore
from submissions.service import SubmissionService


async def test_demo_registers_then_repoints_the_same_entries(tmp_path: Path) -> None:
    with Store(tmp_path / "arena.sqlite3") as store:
        service = SubmissionService(
            store, KeyStore(Fernet.generate_key().decode()), allow_private=True, rate_limit=100
        )
        first = await start_demo(store, service, tmp_path)
        try:
            urls = [server.base_url for server in first.servers]
        finally:
            first.stop()
        rows = store.query(
            "SELECT id, quant, is_baseline, source, base_url, status FROM submissions ORDER BY id"
        )
        assert [(r["quant"], r["is_baseline"], r["source"]) for r in rows] == [
            ("Q4_1", 1, "demo"),
            ("Q2_K", 0, "demo"),
        ]
        assert [r["base_url"] for r in rows] == urls
        assert (tmp_path / "models" / "SmolLM2-135M-Instruct.Q2_K.gguf").stat().st_size > 0

        again = await start_demo(store, service, tmp_path)
        try:
            assert again.submission_ids == first.submission_ids
            moved = store.query("SELECT base_url, status FROM submissions ORDER BY id")
            assert [r["base_url"] for r in moved] == [s.base_url for s in again.servers]
            assert {r["status"] for r in moved} == {"active"}
        finally:
            again.stop()
