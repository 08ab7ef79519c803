"""The schema migrations: an empty file and every earlier schema version reach the current
version, with their data; a failing migration leaves nothing behind."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from arena.engine import _migrations
from arena.engine._migrations import MIGRATIONS, migrate, now, run_script
from arena.engine._store import Store, connect

NAMES = [migration.__name__ for migration in MIGRATIONS]
CURRENT = len(MIGRATIONS)
T0 = "2024-01-02T03:04:05.678+00:00"


# -- building databases at a given schema version ----------------------------------------------


def at_version(path: Path, version: int, monkeypatch: pytest.MonkeyPatch) -> sqlite3.Connection:
    """A database at ``version`` (its first ``version`` migrations applied), as an older build
    made it: ``migrate`` with only the migrations that build knew."""
    db = connect(path)
    with monkeypatch.context() as patch:
        patch.setattr(_migrations, "MIGRATIONS", MIGRATIONS[:version])
        assert migrate(db) == NAMES[:version]
    return db


# Rows an older build could have written, by the schema version that introduced their shape.
ROWS_BY_VERSION: dict[int, dict[str, list[dict[str, Any]]]] = {
    1: {
        "contestants": [
            {
                "id": 1,
                "base_url": "http://127.0.0.1:9/v1",
                "model": "smol",
                "base_model": "SmolLM2-135M-Instruct",
                "quant": "Q4_K_M",
                "bits_per_weight": 4.8,
                "sampling": '{"temperature": 0.0}',
                "has_api_key": 1,
                "created_at": T0,
            }
        ],
        "matches": [
            {
                "id": "done-1",
                "seed": 7,
                "difficulty": 2,
                "adversarial": "bluff",
                "retries": 1,
                "scoring_version": "score-v1",
                "room_ids": '["cipher-v3"]',
                "settings": "{}",
                "contestant_a": 1,
                "contestant_b": None,
                "status": "done",
                "started_at": T0,
                "finished_at": T0,
                "wall_seconds": 12.5,
                "summary": '{"a": {}}',
            },
            {
                "id": "running-1",
                "seed": 8,
                "difficulty": 2,
                "adversarial": "bluff",
                "retries": 1,
                "scoring_version": "score-v1",
                "room_ids": "[]",
                "settings": "{}",
                "contestant_a": 1,
                "status": "running",
                "started_at": T0,
            },
        ],
        "puzzles": [
            {
                "match_id": "done-1",
                "room_index": 0,
                "room_id": "cipher-v3",
                "seed": 7,
                "difficulty": 2,
                "prompt": "Decode: khoor",
                "solution": "hello",
                "key": "k-1",
                "par_seconds": 60.0,
                "data": '{"shift": 3}',
            }
        ],
        "rooms_played": [
            {
                "match_id": "done-1",
                "room_index": 0,
                "slot": "a",
                "room_id": "cipher-v3",
                "initial_solved": 1,
                "final_solved": 1,
                "escaped": 1,
                "outcome": "held_ground",
                "retries_used": 0,
                "points": 15,
                "breakdown": '{"escaped": 10, "held_ground": 5}',
                "time_to_solution_s": 1.5,
                "tokens_to_solution": 12,
            }
        ],
        "calls": [
            {
                "id": 1,
                "match_id": "done-1",
                "room_index": 0,
                "slot": "a",
                "phase": "initial",
                "seq": 0,
                "context_messages": 0,
                "request_messages": '[{"role": "user", "content": "Decode: khoor"}]',
                "response_text": "ANSWER: hello",
                "solved": 1,
                "verdict_reason": "exact",
                "prompt_tokens": 20,
                "completion_tokens": 4,
                "attempts": 1,
                "started_at": T0,
            }
        ],
    },
    2: {
        "job_queue": [
            {
                "id": 1,
                "dedupe_key": "pair:1-2:seed:7",
                "payload": '{"seed": 7}',
                "status": "done",
                "attempts": 1,
                "max_attempts": 3,
                "match_id": "done-1",
                "created_at": T0,
                "updated_at": T0,
            }
        ],
        "leases": [{"name": "scheduler", "owner": "proc-1", "expires_at": 1.0}],
    },
    3: {
        "submissions": [
            {
                "id": 1,
                "display_name": "Smol Q4",
                "base_model": "SmolLM2-135M-Instruct",
                "base_model_key": "smollm2-135m-instruct",
                "quant": "Q4_K_M",
                "bits_per_weight": 4.8,
                "hardware": "CPU",
                "engine": "llama.cpp",
                "base_url": "http://127.0.0.1:9/v1",
                "model": "smol",
                "api_key_encrypted": b"\x00ciphertext",
                "sampling": "{}",
                "settings_class": "greedy",
                "is_baseline": 1,
                "status": "active",
                "deletion_token_hash": "dh",
                "client_hash": "ch",
                "probe": "{}",
                "created_at": T0,
                "updated_at": T0,
            }
        ],
        "submission_attempts": [{"client_hash": "ch", "at": 1000.0}],
        "meta": [{"key": "seed_secret", "value": "ab" * 32}],
    },
    4: {
        "contestants": [
            {
                "id": 2,
                "base_url": "http://127.0.0.1:9/v1",
                "model": "smol",
                "base_model": "SmolLM2-135M-Instruct",
                "quant": "Q4_K_M",
                "sampling": "{}",
                "has_api_key": 0,
                "created_at": T0,
                "submission_id": 1,
            }
        ],
        "matches": [
            {
                "id": "done-2",
                "seed": 9,
                "difficulty": 1,
                "adversarial": "bluff",
                "retries": 1,
                "scoring_version": "score-v1",
                "room_ids": "[]",
                "settings": "{}",
                "contestant_a": 2,
                "status": "done",
                "started_at": T0,
                "job_id": 1,
            }
        ],
    },
    5: {
        "reference_entries": [
            {
                "id": 1,
                "base_model": "Qwen2.5-7B",
                "base_model_key": "qwen2.5-7b",
                "quant": "Q4_K_M",
                "created_at": T0,
            }
        ],
        "imported_results": [
            {
                "id": 1,
                "reference_id": 1,
                "source": "llama-bench",
                "task": "tg128",
                "metric": "tokens/s",
                "value": 41.5,
                "details": "{}",
                "file_sha256": "a" * 64,
                "imported_at": T0,
            }
        ],
    },
    6: {
        "probes": [
            {
                "id": 1,
                "submission_id": 1,
                "kind": "speed",
                "probe_version": "speed-v1",
                "status": "done",
                "result": '{"tps": 40.0}',
                "started_at": T0,
                "finished_at": T0,
            }
        ]
    },
}
"""Every earlier version gets the rows of its own version and of all versions before it."""


def rows_up_to(version: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (table, row)
        for since in sorted(ROWS_BY_VERSION)
        if since <= version
        for table, rows in ROWS_BY_VERSION[since].items()
        for row in rows
    ]


def insert(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))  # noqa: S608


def schema(db: sqlite3.Connection) -> list[tuple[str, str, str | None]]:
    """Every table and index with its SQL (ALTER TABLE edits a table's stored SQL too)."""
    return sorted(
        (kind, name, sql)
        for kind, name, sql in db.execute("SELECT type, name, sql FROM sqlite_master")
        if not name.startswith("sqlite_")
    )


def fresh_schema(tmp_path: Path) -> list[tuple[str, str, str | None]]:
    with Store(tmp_path / "fresh" / "arena.sqlite3") as store, store.reader() as db:
        return schema(db)


def one(store: Store, sql: str, params: tuple[Any, ...] = ()) -> dict[str, Any]:
    [row] = store.query(sql, params)
    return row


# -- an empty file -----------------------------------------------------------------------------


def test_migration_names_are_numbered_in_order() -> None:
    # The names are the schema's versions: an applied name is never run again.
    assert len(set(NAMES)) == CURRENT
    assert [name[:5] for name in NAMES] == [f"m{i:03d}_" for i in range(1, CURRENT + 1)]


def test_an_empty_file_migrates_to_the_current_version(tmp_path: Path) -> None:
    db = connect(tmp_path / "empty.sqlite3")
    try:
        assert migrate(db) == NAMES
        assert migrate(db) == []  # nothing left to apply
        recorded = [row[0] for row in db.execute("SELECT name FROM schema_migrations")]
        assert sorted(recorded) == NAMES
        for (applied_at,) in db.execute("SELECT applied_at FROM schema_migrations"):
            assert datetime.fromisoformat(applied_at).tzinfo == UTC
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert schema(db) == fresh_schema(tmp_path)
    finally:
        db.close()


def test_a_new_store_is_at_the_current_version_and_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "arena.sqlite3"
    with Store(path) as store:
        names = [r["name"] for r in store.query("SELECT name FROM schema_migrations ORDER BY name")]
        assert names == NAMES
        assert store.recovered == []
        assert one(store, "PRAGMA journal_mode")["journal_mode"] == "wal"
        assert one(store, "PRAGMA foreign_keys")["foreign_keys"] == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


# -- every earlier version ---------------------------------------------------------------------


@pytest.mark.parametrize("version", range(1, CURRENT))
def test_migrate_applies_exactly_what_an_old_database_lacks(
    version: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = at_version(tmp_path / "old.sqlite3", version, monkeypatch)
    try:
        assert migrate(db) == NAMES[version:]
        assert migrate(db) == []
    finally:
        db.close()


@pytest.mark.parametrize("version", range(1, CURRENT))
def test_every_earlier_version_upgrades_with_its_data(
    version: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite3"
    db = at_version(path, version, monkeypatch)
    seeded = rows_up_to(version)
    assert seeded, "every version has rows to carry over"
    try:
        db.execute("BEGIN")
        for table, row in seeded:
            insert(db, table, row)
        db.execute("COMMIT")
    finally:
        db.close()

    with Store(path) as store:
        names = [r["name"] for r in store.query("SELECT name FROM schema_migrations ORDER BY name")]
        assert names == NAMES
        with store.reader() as reader:
            assert schema(reader) == fresh_schema(tmp_path)
        # Every row is still there with every value it had.
        for table, row in seeded:
            stored = store.query(f"SELECT * FROM {table}")  # noqa: S608
            recovered = row.get("status") == "running"  # checked below: now interrupted
            wanted = {
                key: value for key, value in row.items() if not (recovered and key == "status")
            }
            assert any(wanted.items() <= found.items() for found in stored), (table, row)
        # Columns added later get their defaults on the old rows.
        for match in store.query("SELECT purpose, profile FROM matches"):
            assert (match["purpose"], match["profile"]) == ("measure", None)
        if version >= 3:
            submission = one(store, "SELECT * FROM submissions WHERE id = 1")
            assert (submission["consecutive_failures"], submission["source"]) == (0, "form")
            assert submission["context_tokens"] is None
            assert store.meta_secret("seed_secret") == "ab" * 32  # the old secret is kept
        # The match an old process left running is recovered; finished ones are untouched.
        assert store.recovered == ["running-1"]
        statuses = {r["id"]: r["status"] for r in store.query("SELECT id, status FROM matches")}
        assert statuses["running-1"] == "interrupted"
        assert statuses["done-1"] == "done"


def test_a_failing_migration_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def m999_broken(db: sqlite3.Connection) -> None:
        run_script(db, "CREATE TABLE half_done (x INTEGER);\nALTER TABLE matches ADD COLUMN y;")
        raise RuntimeError("disk on fire")

    db = connect(tmp_path / "arena.sqlite3")
    try:
        monkeypatch.setattr(_migrations, "MIGRATIONS", (*MIGRATIONS, m999_broken))
        with pytest.raises(RuntimeError, match="disk on fire"):
            migrate(db)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables
        assert "y" not in {row[1] for row in db.execute("PRAGMA table_info(matches)")}
        recorded = sorted(row[0] for row in db.execute("SELECT name FROM schema_migrations"))
        assert recorded == NAMES  # the good ones before it stay applied
        assert not db.in_transaction
        monkeypatch.setattr(_migrations, "MIGRATIONS", MIGRATIONS)
        assert migrate(db) == []
    finally:
        db.close()


def test_run_script_stays_inside_the_callers_transaction(tmp_path: Path) -> None:
    db = connect(tmp_path / "arena.sqlite3")
    try:
        db.execute("BEGIN")
        run_script(db, "CREATE TABLE a (x TEXT DEFAULT 'a;b');\nCREATE TABLE b (y INTEGER);\n")
        db.execute("ROLLBACK")  # executescript would have committed both already
        assert db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
        with pytest.raises(ValueError, match="incomplete SQL statement"):
            run_script(db, "CREATE TABLE c (z INTEGER);\nCREATE TABLE d (")
    finally:
        db.close()


def test_now_is_utc_iso_with_milliseconds() -> None:
    stamp = now()
    parsed = datetime.fromisoformat(stamp)
    assert parsed.tzinfo == UTC
    assert stamp.endswith("+00:00")
    assert len(stamp.split(".")[1]) == len("678+00:00")
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 60
