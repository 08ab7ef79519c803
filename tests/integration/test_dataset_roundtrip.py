"""Real matches on the llama.cpp servers, exported, read back with ``datasets``, restored into an
empty database: the restored leaderboard equals the original."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from datasets import load_dataset

from arena.analysis._leaderboard import leaderboard_rows
from arena.client import ChatClient
from arena.engine._match import play_match
from arena.engine._migrations import now
from arena.engine._models import MatchSettings, MatchSpec
from arena.engine._store import Store
from arena.probes import ProbeRecord, store_probe
from arena.probes._speed import run_speed_probe
from arena.results._dataset import ROW_MODELS, export, restore
from submissions.keystore import KeyStore
from submissions.models import Sampling, SubmissionForm
from submissions.service import SubmissionService
from tests.integration.conftest import Served


async def store_speed_probe(store: Store, served: Served, submission_id: int) -> None:
    """A real (short) speed probe on ``served``, stored as the scheduler stores one."""
    started = now()
    async with ChatClient(served.server.base_url) as client:
        probe = await run_speed_probe(client, served.server.alias, reps=5, tg_max_tokens=16)
    record = ProbeRecord(
        submission_id=submission_id, kind="speed", baseline_id=None,
        probe_version=probe.probe_version, status=probe.status,
        result=probe.model_dump_json(), started_at=started,
    )  # fmt: skip
    assert store_probe(store, record) > 0


async def test_real_matches_round_trip(llama_servers: dict[str, Served], tmp_path: Path) -> None:
    with Store(tmp_path / "arena.sqlite3") as store:
        service = SubmissionService(store, KeyStore(Fernet.generate_key().decode()),
                                    allow_private=True)  # fmt: skip
        ids = {}
        for quant in ("Q4_1", "Q2_K"):
            served = llama_servers[quant]
            form = SubmissionForm(
                display_name=f"Smol {quant}", base_model="SmolLM2-135M-Instruct", quant=quant,
                bits_per_weight=served.bits_per_weight, hardware="CPU", engine="llama.cpp",
                base_url=served.server.base_url, model=served.server.alias,
                sampling=Sampling(temperature=0.0, max_tokens=64), is_baseline=quant == "Q4_1",
            )  # fmt: skip
            ids[quant] = (await service.submit(form, client_id="test")).submission_id
        for seed, (a, b) in enumerate([("Q4_1", "Q2_K"), ("Q2_K", "Q4_1")]):
            spec = MatchSpec(
                a=llama_servers[a].contestant(max_tokens=64).model_copy(
                    update={"submission_id": ids[a]}),
                b=llama_servers[b].contestant(max_tokens=64).model_copy(
                    update={"submission_id": ids[b]}),
                settings=MatchSettings(seed=seed),
            )  # fmt: skip
            result = await play_match(spec, store)
            assert result.status == "done"
        await store_speed_probe(store, llama_servers["Q2_K"], ids["Q2_K"])
        for row in leaderboard_rows(store):  # the real server's own account of itself
            assert (row.server_engine, row.server_quant) == ("llama.cpp", row.quant)
            assert row.server_context_tokens == 8192 and not row.quant_mismatch
        folder = tmp_path / "slice"
        stats = export(store, folder)
        assert stats.matches == 2
        print(f"\nslice: {stats.bytes} bytes for {stats.matches} matches; rows {stats.rows}")
        for model in ROW_MODELS:
            if model.table in ("references", "imported", "calibrations"):
                assert stats.rows[model.table] == 0  # nothing imported or calibrated: no config
                continue
            files = str(folder / f"data/{model.table}/*.parquet")
            cache = str(tmp_path / "cache")
            loaded = load_dataset("parquet", data_files=files, split="train", cache_dir=cache)
            assert loaded.num_rows == stats.rows[model.table] > 0
            if model.table == "submissions":
                assert set(loaded["server_engine"]) == {"llama.cpp"}
                assert sorted(loaded["server_quant"]) == ["Q2_K", "Q4_1"]
        with Store(tmp_path / "restored.sqlite3") as restored:
            restore(restored, folder)
            fields = {"status", "status_reason"}
            got = [r.model_dump(exclude=fields) for r in leaderboard_rows(restored)]
            want = [r.model_dump(exclude=fields) for r in leaderboard_rows(store)]
            assert got == want and {r["matches"] for r in got} == {2}
