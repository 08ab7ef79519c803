"""The publishable slice: allowlist, no leaks, deterministic files, load_dataset, restore."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pyarrow.parquet as pq
import pytest
import yaml
from cryptography.fernet import Fernet
from datasets import load_dataset

from arena.analysis import _calibration_store as calibration_store
from arena.analysis._calibration import CalibrationConfig, CalibrationResult, NoSignal
from arena.analysis._leaderboard import leaderboard_rows
from arena.analysis._verdicts import candidate_verdict
from arena.client import ChatResult
from arena.client._errors import ConnectFailed
from arena.dev.nullserver import NullServer, NullServerConfig
from arena.engine import _profile as profiles
from arena.engine._match import play_match
from arena.engine._models import AdversarialMode, ContestantSpec, MatchSettings, MatchSpec
from arena.engine._store import Store
from arena.results._dataset import (
    RESTORED_NOTE,
    ROW_MODELS,
    download_archives,
    export,
    fingerprint,
    is_empty,
    load_snippet,
    restore,
)
from arena.results._external import import_results, parse_file, read_imported
from arena.results._external_models import ReferenceSpec
from arena.schedule._jobs import JobQueue
from rooms import ROOM_ORDER, load_rooms
from submissions.keystore import KeyStore
from submissions.models import SubmissionForm
from submissions.service import SubmissionService
from tests.arena.analysis.test_leaderboard import (
    LEVEL,
    Fake,
    add_submission,
    contestant,
    play,
    set_status,
)
from tests.arena.engine.test_match import SEED, Scripted

CANARY_KEY = "sk-CANARY-dataset-5f1e9d2c"
CANARY_HOST = "canary-endpoint.example.internal"
ROOMS = list(load_rooms().values())
IDS: dict[str, Any] = {}
MIXED = {"cipher-v3": 4, "map-v2": 0, "mechanism-v3": 2, "archive-v3": 1, "paradox-v3": 3,
         "warden-v3": 2}  # fmt: skip
SILENT = NoSignal(room_id="cipher-v3", level=4, solved=9, played=9,
                  reason="no signal for this model: solved 9 of 9 at level 10")  # fmt: skip


class Failing:
    """An endpoint whose every call fails with its (canary) URL in the error text."""

    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult:
        raise ConnectFailed("refused", endpoint=f"http://{CANARY_HOST}:8443/v1")


@pytest.fixture(scope="module")
async def source(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Store]:
    path = tmp_path_factory.mktemp("source") / "arena.sqlite3"
    with Store(path) as store:
        base = add_submission(store, "Smol BF16", "Smol-135M", "BF16", 16.0, baseline=True)
        cand = add_submission(store, "Smol <b>Q4</b>", "Smol-135M", "Q4_K_M", 4.8, size_gb=0.1)
        gone = add_submission(store, "Deleted", "Smol-135M", "Q2_K", 2.6, status="deleted")
        store.write(
            lambda db: db.execute(
                "UPDATE submissions SET base_url = ?, api_key_encrypted = ? WHERE id = ?",
                (f"https://{CANARY_HOST}/v1", b"gAAAA-encrypted", cand),
            )
        )
        tokens = {base: 96, cand: 64}
        await play(store, 1, base, "HHHHHH", cand, "hMSTRH", tokens)
        await play(store, 2, cand, "TTTTTH", base, "HHHTTT", tokens)
        # a match with a keyed contestant at the canary host whose calls all fail
        keyed = ContestantSpec(
            base_url=f"https://{CANARY_HOST}/v1", model="smol-q4", api_key=CANARY_KEY,
            base_model="Smol-135M", quant="Q4_K_M", submission_id=cand,
        )  # fmt: skip
        plain = ContestantSpec(base_url="http://127.0.0.1:2/v1", model="m", submission_id=base)
        spec = MatchSpec(a=keyed, b=plain, settings=MatchSettings(seed=SEED))
        await play_match(spec, store, endpoints={"a": Failing(), "b": Scripted([])})
        # never published: a running match, and a finished one whose seed is still queued
        running = {"a": keyed, "b": plain}
        await store.start_match(MatchSettings(seed=4), running, [])  # type: ignore[arg-type]
        sealed = await play(store, 5, base, "HHHHHH", cand, "HHHHHH", tokens)
        JobQueue(store).enqueue("other order", {"pair": [base, cand], "seed": 5})
        # probes: one whose reason quotes the endpoint, one of the deleted submission
        for sub, kind, state, result in (
            (cand, "kl", "unavailable",
             {"reason": f"probe unavailable: https://{CANARY_HOST}/v1 said 404"}),
            (cand, "speed", "done", {"tg_tps_mean": 40.0, "tg_tps_sd": 1.0}),
            (gone, "speed", "done", {"tg_tps_mean": 9.0}),
        ):  # fmt: skip
            row = (sub, kind, state, json.dumps(result))
            store.write(lambda db, row=row: db.execute(
                "INSERT INTO probes (submission_id, kind, baseline_id, probe_version, status, "
                "result, started_at, finished_at) VALUES (?, ?, NULL, 'v1', ?, ?, 'a', 'b')", row
            ))  # fmt: skip
        # calibrations: the baseline's (done, on the profile its matches played), one still
        # running, and one of the deleted submission: only the first is published
        for sub, config, done in ((base, CalibrationConfig(runs=9), True),
                                  (base, CalibrationConfig(runs=12), False),
                                  (gone, CalibrationConfig(runs=9), True)):  # fmt: skip
            found = calibration(profiles.uniform(LEVEL))
            record = calibration_store.get_or_create(store, "smol-135m", "{}", sub, config)
            if done:
                calibration_store.finish(store, record.id, found)
        IDS.update(sealed=sealed, gone=gone, base=base, cand=cand)
        yield store


@pytest.fixture(scope="module")
def exported(source: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slice")
    stats = export(source, folder)
    assert stats.matches == 3 and stats.rows["submissions"] == 2
    return folder


def calibration(levels: dict[str, int]) -> CalibrationResult:
    """A finished calibration's result: Cipher without signal, the other rooms near 60 %."""
    rates = {room: {str(level): [6, 9] if room != "cipher-v3" else [9, 9]}
             for room, level in levels.items()}  # fmt: skip
    return CalibrationResult(profile=levels, solve_rates=rates, dead_rooms=["cipher-v3"],
                             no_signal=[SILENT], target=0.6, runs=9)  # fmt: skip


def tables(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        m.table: pq.read_table(folder / f"data/{m.table}/{m.table}-00000.parquet").to_pylist()
        for m in ROW_MODELS
    }


def test_only_allowlisted_columns_and_public_matches(source: Store, exported: Path) -> None:
    data = tables(exported)
    for model in ROW_MODELS:
        path = exported / f"data/{model.table}/{model.table}-00000.parquet"
        assert pq.read_schema(path).names == list(model.model_fields)
    forbidden = {"base_url", "api_key_encrypted", "deletion_token_hash", "client_hash", "probe",
                 "status_reason", "job_id", "settings_class"}  # fmt: skip
    for table, rows in data.items():
        # a calibration's settings_class is its group's sampling, public as submissions.sampling
        hidden = forbidden - {"settings_class"} if table == "calibrations" else forbidden
        for row in rows:
            assert not hidden & set(row)
    match_ids = {m["id"] for m in data["matches"]}
    assert IDS["sealed"] not in match_ids
    assert {m["status"] for m in data["matches"]} == {"done"}
    assert {t["match_id"] for t in data["turns"]} == match_ids
    assert {r["match_id"] for r in data["rooms"]} == match_ids
    assert len(data["puzzles"]) == 6 * len(match_ids)
    assert [s["id"] for s in data["submissions"]] == [1, 2]  # the deleted one is left out


def every_text(folder: Path) -> list[bytes]:
    """Raw bytes of every file, and every decoded cell of every table (parquet is compressed)."""
    blobs = [p.read_bytes() for p in folder.rglob("*") if p.is_file()]
    for rows in tables(folder).values():
        blobs.append(json.dumps(rows, default=str).encode())
    return blobs


def test_no_key_or_endpoint_leaks_anywhere(exported: Path) -> None:
    raw = CANARY_KEY.encode()
    forms = [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw),
             CANARY_HOST.encode(), b"127.0.0.1:", b"gAAAA"]  # fmt: skip
    for blob in every_text(exported):
        for form in forms:
            assert form not in blob, form
    errors = [t["error"] for t in tables(exported)["turns"] if t["error"]]
    assert errors and all("<endpoint>" in e for e in errors)


def test_export_is_deterministic(source: Store, exported: Path, tmp_path: Path) -> None:
    export(source, tmp_path)
    assert fingerprint(tmp_path) == fingerprint(exported)


def test_load_dataset_reads_every_table(exported: Path, tmp_path: Path) -> None:
    counts = {table: len(rows) for table, rows in tables(exported).items()}
    for model in ROW_MODELS:
        if not counts[model.table]:
            continue  # no config for an empty table (see the card test)
        files = str(exported / f"data/{model.table}/*.parquet")
        loaded = load_dataset("parquet", data_files=files, split="train",
                              cache_dir=str(tmp_path / "cache"))  # fmt: skip
        assert loaded.num_rows == counts[model.table]
        assert loaded.column_names == list(model.model_fields)
    by_config = load_dataset(str(exported), "turns", split="train", cache_dir=str(tmp_path / "c2"))
    assert by_config.num_rows == counts["turns"]


def test_the_card_declares_every_config(exported: Path) -> None:
    text = (exported / "README.md").read_text()
    header = yaml.safe_load(text.split("---")[1])
    filled = [m.table for m in ROW_MODELS if tables(exported)[m.table]]
    assert [c["config_name"] for c in header["configs"]] == filled
    assert "references" not in filled  # nothing imported in this database
    assert header["license"] == "cc-by-4.0"
    assert "score-v1" in text and "manipulated" in text


def test_restore_rebuilds_the_leaderboard_once(
    source: Store, exported: Path, tmp_path: Path
) -> None:
    with Store(tmp_path / "restored.sqlite3") as target:
        assert is_empty(target)
        inserted = restore(target, exported)
        assert inserted["matches"] == 3 and inserted["turns"] > 0
        assert not is_empty(target)
        again = restore(target, exported)
        assert set(again.values()) == {0}  # the same snapshot twice changes nothing

        counts = {
            t: target.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]  # noqa: S608
            for t in ("submissions", "matches", "calls", "rooms_played", "puzzles")
        }
        assert counts["matches"] == 3 and counts["puzzles"] == 18
        statuses = {r["status"] for r in target.query("SELECT status FROM submissions")}
        assert statuses == {"paused"}
        reasons = {
            r["status_reason"] for r in target.query("SELECT status_reason FROM submissions")
        }
        assert reasons == {RESTORED_NOTE}


def test_restored_leaderboard_equals_the_source_without_unpublished(
    source: Store, exported: Path, tmp_path: Path
) -> None:
    """Exactly what the source shows, once the sealed match is published too."""
    source.write(lambda db: db.execute("UPDATE job_queue SET status = 'done'"))
    try:
        folder = tmp_path / "full"
        export(source, folder)
        with Store(tmp_path / "restored.sqlite3") as target:
            restore(target, folder)
            fields = {"status", "status_reason"}
            got = [r.model_dump(exclude=fields) for r in leaderboard_rows(target)]
            want = [r.model_dump(exclude=fields) for r in leaderboard_rows(source)]
            assert got == want
    finally:
        source.write(lambda db: db.execute("UPDATE job_queue SET status = 'queued'"))


def test_empty_database_exports_empty_tables(store: Store, tmp_path: Path) -> None:
    stats = export(store, tmp_path)
    assert set(stats.rows.values()) == {0}
    assert all(pq.read_table(tmp_path / f).num_rows == 0 for f in stats.files.values())


def test_a_failed_match_is_published_with_its_error_scrubbed(
    source: Store, exported: Path, tmp_path: Path
) -> None:
    match_id = tables(exported)["matches"][0]["id"]  # a published one (not the sealed match)
    set_status(source, match_id, "failed")
    source.write(lambda db: db.execute(
        "UPDATE matches SET error = ? WHERE id = ?",
        (f"boom at https://{CANARY_HOST}/v1/chat", match_id),
    ))  # fmt: skip
    try:
        export(source, tmp_path)
        failed = next(m for m in tables(tmp_path)["matches"] if m["id"] == match_id)
        assert failed["status"] == "failed" and failed["error"] == "boom at <endpoint>"
    finally:
        set_status(source, match_id, "done")
        source.write(lambda db: db.execute("UPDATE matches SET error = NULL WHERE id = ?",
                                           (match_id,)))  # fmt: skip


def test_download_archives_hold_every_table(exported: Path, source: Store, tmp_path: Path) -> None:
    csv_zip, parquet_zip = download_archives(source, tmp_path)
    with zipfile.ZipFile(csv_zip) as archive:
        names = sorted(archive.namelist())
        assert names == sorted([f"{m.table}.csv" for m in ROW_MODELS] + ["README.md"])
        turns = list(csv.DictReader(io.StringIO(archive.read("turns.csv").decode())))
    assert len(turns) == len(tables(exported)["turns"])
    assert turns[0]["response_text"] == tables(exported)["turns"][0]["response_text"]
    with zipfile.ZipFile(parquet_zip) as archive:
        assert sorted(archive.namelist()) == sorted(
            ["README.md", *(f"data/{m.table}/{m.table}-00000.parquet" for m in ROW_MODELS)]
        )
    for blob in (csv_zip.read_bytes(), parquet_zip.read_bytes()):
        assert CANARY_HOST.encode() not in blob
    assert 'load_dataset("me/results", "turns"' in load_snippet("me/results")
    assert "publishing is off" in load_snippet(None)


def test_probes_are_published_without_endpoints_and_restored(
    source: Store, exported: Path, tmp_path: Path
) -> None:
    probes = tables(exported)["probes"]
    assert [(p["kind"], p["status"]) for p in probes] == [("kl", "unavailable"), ("speed", "done")]
    assert "<endpoint>" in probes[0]["result"] and CANARY_HOST not in probes[0]["result"]
    assert IDS["gone"] not in {p["submission_id"] for p in probes}  # deleted: never published
    with Store(tmp_path / "restored.sqlite3") as target:
        assert restore(target, exported)["probes"] == 2
        rows = {r.submission_id: r for r in leaderboard_rows(target)}
        assert any(r.speed is not None and r.speed.tg_tps_mean == 40.0 for r in rows.values())


def test_imported_results_survive_export_and_restore(store: Store, tmp_path: Path) -> None:
    bench = Path(__file__).resolve().parents[2] / "data" / "llama_bench" / "qwen2.5-7b-q4_k_m.json"
    parsed = parse_file("llama-bench", bench)
    reference = ReferenceSpec(base_model="Qwen2.5-7B", quant="Q4_K_M", hardware="RTX 4090")
    import_results(store, parsed.results, source_sha256=parsed.sha256, reference=reference)
    stats = export(store, tmp_path / "slice")
    assert stats.rows["references"] == 1 and stats.rows["imported"] == len(parsed.results)
    with Store(tmp_path / "restored.sqlite3") as target:
        restore(target, tmp_path / "slice")
        assert read_imported(target) == read_imported(store)


async def test_a_registered_canary_key_and_host_never_reach_the_export(
    store: Store, tmp_path: Path
) -> None:
    """Registered through the real intake (encrypted key, canary hostname resolved to a loopback
    null server), played, exported: no byte of any file holds the key (plain, hex, base64) or
    the hostname."""

    async def resolve(host: str, _port: int) -> list[str]:
        assert host == CANARY_HOST
        return ["127.0.0.1"]

    with NullServer(NullServerConfig(reply="ready", model="canary-model")) as server:
        service = SubmissionService(store, KeyStore(Fernet.generate_key().decode()),
                                    allow_private=True, resolver=resolve)  # fmt: skip
        url = server.base_url.replace("127.0.0.1", CANARY_HOST)
        form = SubmissionForm(display_name="Canary", base_model="Smol-135M", quant="Q4_0",
                              bits_per_weight=4.5, hardware="CPU", engine="vLLM", base_url=url,
                              model="canary-model", api_key=CANARY_KEY)  # fmt: skip
        receipt = await service.submit(form, client_id="198.51.100.7")
        other = add_submission(store, "Base", "Smol-135M", "BF16", 16.0, baseline=True)
        keyed = ContestantSpec(base_url=url, model="canary-model", api_key=CANARY_KEY,
                               submission_id=receipt.submission_id)  # fmt: skip
        plain = ContestantSpec(base_url="http://127.0.0.1:2/v1", model="m", submission_id=other)
        spec = MatchSpec(a=keyed, b=plain, settings=MatchSettings(seed=SEED))
        await play_match(spec, store, endpoints={"a": Failing(), "b": Scripted([])})
    assert CANARY_HOST in store.query("SELECT base_url FROM submissions WHERE id = ?",
                                      (receipt.submission_id,))[0]["base_url"]  # fmt: skip
    export(store, tmp_path / "slice")
    raw = CANARY_KEY.encode()
    forms = [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw),
             CANARY_HOST.encode(), b"198.51.100.7", receipt.deletion_token.encode()]  # fmt: skip
    for blob in every_text(tmp_path / "slice"):
        for form in forms:
            assert form not in blob, form


def test_finished_calibrations_are_published_and_restored(source: Store, tmp_path: Path) -> None:
    """Only calibrations that are done, of baselines not deleted; restored, they give the same
    records and the same verdict, rooms without signal included (the sealed match published)."""
    source.write(lambda db: db.execute("UPDATE job_queue SET status = 'done'"))
    try:
        export(source, tmp_path / "full")
        published = tables(tmp_path / "full")["calibrations"]
        done = [r for r in calibration_store.records(source, status="done")
                if r.baseline_id == IDS["base"]]  # fmt: skip
        assert len(done) == 1 and [c["id"] for c in published] == [done[0].id]
        assert published[0]["status"] == "done"
        assert json.loads(published[0]["dead_rooms"]) == [SILENT.model_dump()]
        want = candidate_verdict(source, IDS["cand"], IDS["base"])
        assert want.no_signal == {"cipher-v3": SILENT.reason}
        with Store(tmp_path / "restored.sqlite3") as target:
            assert restore(target, tmp_path / "full")["calibrations"] == 1
            assert calibration_store.records(target) == done
            assert candidate_verdict(target, IDS["cand"], IDS["base"]) == want
    finally:
        source.write(lambda db: db.execute("UPDATE job_queue SET status = 'queued'"))


class ProfileFake(Fake):
    """A scripted endpoint whose puzzles follow a difficulty profile."""

    def __init__(self, codes: str, seed: int, levels: dict[str, int]) -> None:
        super().__init__(codes, seed, 32)
        self.puzzles = [room.generate(seed, levels[room.id]) for room in ROOMS]


async def solo(
    store: Store, seed: int, submission: int, codes: str,
    purpose: Literal["measure", "calibration"] = "measure",
) -> str:  # fmt: skip
    """A solo (bluff-mode) run on the MIXED profile; its match id."""
    settings = MatchSettings(seed=seed, profile=MIXED, retries=1, purpose=purpose,
                             adversarial=AdversarialMode.BLUFF)  # fmt: skip
    spec = MatchSpec(a=contestant(submission, 1), settings=settings)
    endpoints = {"a": ProfileFake(codes, seed, MIXED)}
    result = await play_match(spec, store, endpoints=endpoints)  # type: ignore[arg-type]
    assert result.status == "done"
    return result.match_id


async def test_profiles_purposes_and_calibrations_round_trip(store: Store, tmp_path: Path) -> None:
    """store -> parquet -> restore -> parquet: the same matches and calibrations, the same
    verdict with the same rooms without signal. A match stored before profiles existed is
    published with the uniform profile it played; calibration runs are published as such."""
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q4_0", 4.5)
    store.write(lambda db: db.execute(
        "UPDATE submissions SET context_tokens = 4096 WHERE id = ?", (base,)
    ))  # fmt: skip
    run = await solo(store, 100, base, "HTHTHT", purpose="calibration")
    for seed in (1, 2, 3):
        await solo(store, seed, base, "HHHHHT")
        await solo(store, seed, cand, "THHHHT")
    old = await play(store, 4, base, "HHHHHH", cand, "HHHHHT", {})
    store.write(lambda db: db.execute("UPDATE matches SET profile = NULL WHERE id = ?", (old,)))
    record = calibration_store.get_or_create(store, "smol", "{}", base, CalibrationConfig(runs=9))
    calibration_store.finish(store, record.id, calibration(MIXED))

    stats = export(store, tmp_path / "slice")
    assert stats.rows["calibrations"] == 1
    data = tables(tmp_path / "slice")
    matches = {m["id"]: m for m in data["matches"]}
    assert matches[run]["purpose"] == "calibration"
    assert {m["purpose"] for i, m in matches.items() if i != run} == {"measure"}
    assert json.loads(matches[old]["profile"]) == dict.fromkeys(ROOM_ORDER, LEVEL)
    assert matches[old]["difficulty"] == LEVEL
    assert all(json.loads(m["profile"]) == MIXED and m["difficulty"] == -1
               for i, m in matches.items() if i != old)  # fmt: skip
    assert [s["context_tokens"] for s in data["submissions"]] == [4096, None]

    want = candidate_verdict(store, cand, base)
    assert want.n_pairs == 15 and want.no_signal == {"cipher-v3": SILENT.reason}
    columns = "SELECT id, seed, difficulty, profile, purpose FROM matches"
    with Store(tmp_path / "restored.sqlite3") as target:
        restore(target, tmp_path / "slice")
        assert calibration_store.records(target) == calibration_store.records(store)
        assert candidate_verdict(target, cand, base) == want
        original = {r["id"]: dict(r) for r in store.query(columns)}
        original[old]["profile"] = matches[old]["profile"]  # spelled out, as published
        assert {r["id"]: dict(r) for r in target.query(columns)} == original
        windows = target.query("SELECT context_tokens FROM submissions ORDER BY id")
        assert [r["context_tokens"] for r in windows] == [4096, None]
        export(target, tmp_path / "again")
    again = tables(tmp_path / "again")
    for table in ("matches", "calibrations", "puzzles", "rooms", "turns"):
        assert again[table] == data[table], table


def test_a_snapshot_from_before_profiles_still_restores(exported: Path, tmp_path: Path) -> None:
    """The Hub copy an upgraded server restores from may lack the new columns and table."""
    folder = tmp_path / "old"
    for path in exported.rglob("*.parquet"):
        if "calibrations" in path.name:
            continue  # no such table yet
        target = folder / path.relative_to(exported)
        target.parent.mkdir(parents=True)
        table = pq.read_table(path)
        new = ("profile", "purpose", "context_tokens")
        pq.write_table(table.select([c for c in table.column_names if c not in new]), target)
    with Store(tmp_path / "restored.sqlite3") as target:
        assert restore(target, folder)["matches"] == 3
        rows = target.query("SELECT room_ids, profile, purpose FROM matches")
        for row in rows:
            assert json.loads(row["profile"]) == dict.fromkeys(json.loads(row["room_ids"]), LEVEL)
        assert {r["purpose"] for r in rows} == {"measure"}


async def test_matches_of_a_deleted_submission_still_restore(store: Store, tmp_path: Path) -> None:
    """A deleted submission is not published, so its contestants lose the link to it: restore
    must not fail on a dangling reference (it used to stop with a foreign-key error)."""
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    gone = add_submission(store, "C", "Smol", "Q4_0", 4.5)
    kept = await play(store, 1, base, "HHHHHH", gone, "HTHTHT", {})
    store.write(lambda db: db.execute("UPDATE submissions SET status = 'deleted' WHERE id = ?",
                                      (gone,)))  # fmt: skip
    export(store, tmp_path / "slice")
    sides = {c["submission_id"] for c in tables(tmp_path / "slice")["contestants"]}
    assert sides == {base, None}
    with Store(tmp_path / "restored.sqlite3") as target:
        restore(target, tmp_path / "slice")
        assert [m["id"] for m in target.query("SELECT id FROM matches")] == [kept]
        assert [s["id"] for s in target.query("SELECT id FROM submissions")] == [base]
