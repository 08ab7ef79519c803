"""The store: every write goes through the one writer thread, in order, without ever meeting a
locked database; plus what else it promises (recovery, meta secrets, private files, records)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from arena.engine._migrations import now
from arena.engine._models import (
    CallRecord,
    ContestantSpec,
    ContestantSummary,
    MatchResult,
    MatchSettings,
    Outcome,
    RoomResult,
)
from arena.engine._store import Store, _insert_row, clean_text
from rooms.base import Puzzle
from tests.arena.engine.test_migrations import ROWS_BY_VERSION, insert, one

KEY = "sk-never-stored-4b1d"


# -- the writer thread -------------------------------------------------------------------------


def add_attempt(writer: str, index: int) -> Callable[[sqlite3.Connection], int]:
    """A write: one row in ``submission_attempts`` (its rowid keeps the commit order)."""

    def run(db: sqlite3.Connection) -> int:
        cursor = db.execute(
            "INSERT INTO submission_attempts (client_hash, at) VALUES (?, ?)", (writer, index)
        )
        return int(cursor.lastrowid or 0)

    return run


def committed(store: Store) -> dict[str, list[int]]:
    """Per writer, its rows' indices in commit order."""
    found: dict[str, list[int]] = {}
    for row in store.query("SELECT client_hash, at FROM submission_attempts ORDER BY rowid"):
        found.setdefault(row["client_hash"], []).append(int(row["at"]))
    return found


def test_many_threads_writing_at_once_all_land_in_order(store: Store) -> None:
    writers, per_writer = 12, 40
    start = threading.Barrier(writers)

    def writer(number: int) -> list[int]:
        start.wait()
        # Queue every write without waiting, then wait for them all: the queue keeps them in
        # this writer's order.
        futures = [store.submit(add_attempt(f"w{number}", i)) for i in range(per_writer)]
        return [future.result(timeout=60) for future in futures]

    with ThreadPoolExecutor(writers) as pool:
        rowids = list(pool.map(writer, range(writers)))
    for ids in rowids:
        assert ids == sorted(ids)  # each write's rowid, in submission order
    assert committed(store) == {f"w{n}": list(range(per_writer)) for n in range(writers)}


async def test_many_tasks_writing_at_once_all_land_in_order(store: Store) -> None:
    tasks, per_task = 20, 25

    async def task(number: int) -> None:
        for i in range(per_task):
            await store.awrite(add_attempt(f"t{number}", i))

    await asyncio.gather(*(task(n) for n in range(tasks)))
    assert committed(store) == {f"t{n}": list(range(per_task)) for n in range(tasks)}


def test_two_stores_on_one_file_never_meet_a_locked_database(tmp_path: Path) -> None:
    """Two processes' stores (here: two in one process) share a file: busy writers wait their
    turn, readers read on, and nothing fails with ``database is locked``."""
    path = tmp_path / "shared.sqlite3"
    with Store(path) as first, Store(path) as second:

        def slow(writer: str, index: int) -> Callable[[sqlite3.Connection], int]:
            write = add_attempt(writer, index)

            def run(db: sqlite3.Connection) -> int:
                rowid = write(db)
                time.sleep(0.002)  # hold the write lock a little
                return rowid

            return run

        def writer(store: Store, name: str) -> None:
            for i in range(30):
                store.write(slow(name, i))

        def reader(store: Store) -> None:
            for _ in range(60):
                store.query("SELECT * FROM submission_attempts")

        with ThreadPoolExecutor(6) as pool:
            jobs = [
                pool.submit(writer, first, "first-a"),
                pool.submit(writer, first, "first-b"),
                pool.submit(writer, second, "second-a"),
                pool.submit(writer, second, "second-b"),
                pool.submit(reader, first),
                pool.submit(reader, second),
            ]
            for job in jobs:
                job.result(timeout=120)  # re-raises any OperationalError
        expected = {
            name: list(range(30)) for name in ("first-a", "first-b", "second-a", "second-b")
        }
        assert committed(first) == expected
        assert committed(second) == expected


def test_every_write_runs_on_the_one_writer_thread(store: Store) -> None:
    threads: set[int] = set()

    def run(db: sqlite3.Connection) -> None:
        threads.add(threading.get_ident())
        assert db.in_transaction  # inside BEGIN IMMEDIATE ... COMMIT

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: store.write(run), range(20)))
    [writer] = threads
    assert writer != threading.get_ident()
    assert store.write(lambda db: 42) == 42


async def test_awrite_does_not_block_the_event_loop(store: Store) -> None:
    released = threading.Event()

    def waits_for_the_loop(db: sqlite3.Connection) -> bool:
        return released.wait(timeout=10)  # only the event loop sets it

    pending = asyncio.ensure_future(store.awrite(waits_for_the_loop))
    await asyncio.sleep(0.01)
    released.set()  # runs only if the loop is free while the write is in progress
    assert await pending is True


def test_a_failed_write_rolls_back_and_the_writer_goes_on(store: Store) -> None:
    def half_then_fail(db: sqlite3.Connection) -> None:
        add_attempt("failed", 0)(db)
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        store.write(half_then_fail)
    with pytest.raises(sqlite3.IntegrityError):
        store.write(lambda db: db.execute("INSERT INTO meta (key) VALUES ('no value')"))
    store.write(add_attempt("after", 0))
    assert committed(store) == {"after": [0]}


def test_a_cancelled_write_never_runs(store: Store) -> None:
    gate, ran = threading.Event(), []

    def blocker(db: sqlite3.Connection) -> None:
        gate.wait(timeout=10)

    def never(db: sqlite3.Connection) -> None:
        ran.append(True)

    first = store.submit(blocker)
    second = store.submit(never)
    assert second.cancel()  # still queued behind the blocker
    gate.set()
    first.result(timeout=10)
    store.write(add_attempt("after", 0))  # the writer has passed the cancelled one
    assert ran == []
    assert second.cancelled()


def test_a_closed_store_refuses_writes(tmp_path: Path) -> None:
    store = Store(tmp_path / "arena.sqlite3")
    store.write(add_attempt("before", 0))
    store.close()
    with pytest.raises(RuntimeError, match="store is closed"):
        store.submit(add_attempt("after", 0))
    store.close()  # closing twice is harmless
    with Store(tmp_path / "arena.sqlite3") as reopened:
        assert committed(reopened) == {"before": [0]}


# -- what else the store promises --------------------------------------------------------------


def test_an_existing_database_and_its_wal_are_made_private(tmp_path: Path) -> None:
    path = tmp_path / "arena.sqlite3"
    for file in (path, tmp_path / "arena.sqlite3-wal"):
        file.touch(mode=0o644)
        file.chmod(0o644)
    with Store(path):  # checked while open: closing removes the WAL file
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "arena.sqlite3-wal").stat().st_mode) == 0o600


def test_meta_secret_is_made_once_per_key(tmp_path: Path) -> None:
    path = tmp_path / "arena.sqlite3"
    with Store(path) as store:
        first = store.meta_secret("seed_secret")
        assert len(first) == 64 and int(first, 16) >= 0
        assert store.meta_secret("seed_secret") == first
        other = store.meta_secret("client_salt")
        assert other != first
        assert len(other) == 64
    with Store(path) as store:
        assert store.meta_secret("seed_secret") == first  # kept on disk


def test_concurrent_askers_get_one_meta_secret(store: Store) -> None:
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: store.meta_secret("shared"), range(32)))
    assert len(secrets) == 1
    assert one(store, "SELECT COUNT(*) AS n FROM meta WHERE key = 'shared'")["n"] == 1


def running_match(db: sqlite3.Connection, match_id: str, job_id: int | None) -> None:
    insert(db, "contestants", ROWS_BY_VERSION[1]["contestants"][0] | {"id": None})
    contestant = db.execute("SELECT MAX(id) FROM contestants").fetchone()[0]
    row = ROWS_BY_VERSION[1]["matches"][1] | {"id": match_id, "contestant_a": contestant}
    insert(db, "matches", row | {"job_id": job_id})


def job(db: sqlite3.Connection, job_id: int, lease_expires_at: float) -> None:
    insert(
        db,
        "job_queue",
        ROWS_BY_VERSION[2]["job_queue"][0]
        | {
            "id": job_id,
            "dedupe_key": f"job-{job_id}",
            "status": "running",
            "match_id": None,
            "lease_owner": "other-process",
            "lease_expires_at": lease_expires_at,
        },
    )


def test_opening_recovers_only_matches_no_live_process_owns(tmp_path: Path) -> None:
    path = tmp_path / "arena.sqlite3"
    with Store(path) as store:

        def setup(db: sqlite3.Connection) -> None:
            job(db, 1, time.time() + 3600)  # another process holds this lease
            job(db, 2, time.time() - 1)  # this one expired
            running_match(db, "ad-hoc", None)
            running_match(db, "leased", 1)
            running_match(db, "expired", 2)

        store.write(setup)
        assert sorted(store.mark_interrupted()) == ["ad-hoc", "expired"]
        assert store.mark_interrupted() == []

    with Store(path, recover=False) as store:
        assert store.recovered == []
        statuses = {r["id"]: r["status"] for r in store.query("SELECT id, status FROM matches")}
        assert statuses == {"ad-hoc": "interrupted", "leased": "running", "expired": "interrupted"}
        interrupted = store.match("ad-hoc")
        assert interrupted is not None
        assert interrupted["error"] == "process ended while the match was running"
        assert interrupted["finished_at"] is not None


def test_recover_false_leaves_running_matches_alone(tmp_path: Path) -> None:
    path = tmp_path / "arena.sqlite3"
    with Store(path, recover=False) as store:
        store.write(lambda db: running_match(db, "left", None))
    with Store(path, recover=False) as store:
        assert store.recovered == []
        assert store.query("SELECT status FROM matches") == [{"status": "running"}]
    with Store(path) as store:
        assert store.recovered == ["left"]


def puzzle(room_id: str, level: int = 1) -> Puzzle:
    return Puzzle(
        room_id=room_id,
        seed=7,
        difficulty=level,
        prompt=f"The {room_id} prompt",
        solution="hello",
        answer_schema={"type": "object"},
        par_seconds=60.0,
        key=f"key-{room_id}",
        data={"shift": 3},
    )


def contestant(**changes: Any) -> ContestantSpec:
    fields = {"base_url": "http://127.0.0.1:9/v1", "model": "smol", "quant": "Q4_K_M"}
    return ContestantSpec(**(fields | changes))


def call(seq: int, **changes: Any) -> CallRecord:
    fields: dict[str, Any] = {
        "match_id": "",
        "room_index": 0,
        "slot": "a",
        "phase": "initial" if seq == 0 else f"retry-{seq}",
        "seq": seq,
        "context_messages": 2 * seq,
        "request_messages": [{"role": "user", "content": f"turn {seq}"}],
        "response_text": f"reply {seq}",
        "attempts": 1,
        "started_at": now(),
    }
    return CallRecord(**(fields | changes))


async def test_a_match_is_recorded_and_read_back(store: Store) -> None:
    settings = MatchSettings(seed=11, difficulty=2, adversarial="bluff")
    match_id = await store.start_match(
        settings,
        {"a": contestant(api_key=KEY), "b": contestant(model="other")},
        [puzzle("cipher-v3", 2), puzzle("map-v2", 2)],
        job_id=None,
    )
    match = store.match(match_id)
    assert match is not None
    assert (match["status"], match["seed"], match["difficulty"]) == ("running", 11, 2)
    assert json.loads(match["room_ids"]) == ["cipher-v3", "map-v2"]
    assert json.loads(match["profile"]) == {"cipher-v3": 2, "map-v2": 2}
    assert MatchSettings.model_validate_json(match["settings"]) == settings
    keys = [r["has_api_key"] for r in store.query("SELECT * FROM contestants ORDER BY id")]
    assert keys == [1, 0]
    puzzles = store.query(
        "SELECT * FROM puzzles WHERE match_id = ? ORDER BY room_index", (match_id,)
    )
    assert [(p["room_id"], p["key"], json.loads(p["data"])) for p in puzzles] == [
        ("cipher-v3", "key-cipher-v3", {"shift": 3}),
        ("map-v2", "key-map-v2", {"shift": 3}),
    ]

    for seq in range(3):
        await store.record_call(call(seq, match_id=match_id, reasoning_text="bad \ud800 text"))
    stored = store.calls(match_id)
    assert [c["seq"] for c in stored] == [0, 1, 2]
    assert storable(stored[0]["reasoning_text"], "bad ", " text")
    assert stored[0]["solved"] == 0
    assert store.request_messages(match_id, "a", 2) == [
        {"role": "user", "content": "turn 0"},
        {"role": "assistant", "content": "reply 0"},
        {"role": "user", "content": "turn 1"},
        {"role": "assistant", "content": "reply 1"},
        {"role": "user", "content": "turn 2"},
    ]

    verdict = call(1, match_id=match_id, parsed_answer="hello", solved=True, verdict_reason="ok")
    await store.record_verdict(verdict)
    assert [(c["solved"], c["parsed_answer"]) for c in store.calls(match_id)] == [
        (0, None),
        (1, "hello"),
        (0, None),
    ]

    room = RoomResult(
        match_id=match_id,
        room_index=0,
        room_id="cipher-v3",
        slot="a",
        initial_solved=False,
        final_solved=True,
        escaped=True,
        outcome=Outcome.SELF_CORRECTED,
        retries_used=1,
        points=11,
        breakdown={"escaped": 10, "self_corrected": 3, "retry": -2},
        time_to_solution_s=2.5,
        tokens_to_solution=40,
    )
    await store.record_room(room)
    [played] = store.rooms_played(match_id)
    assert (played["outcome"], played["escaped"], played["initial_solved"]) == (
        "self_corrected",
        1,
        0,
    )
    assert json.loads(played["breakdown"]) == room.breakdown

    # The API key is never written anywhere.
    with store.reader() as db:
        dump = "\n".join(db.iterdump())
    assert KEY not in dump


async def test_finish_match_writes_only_a_match_still_running(store: Store) -> None:
    settings = MatchSettings(adversarial="none")
    summary = ContestantSummary(
        slot="a",
        display_name="Smol Q4",
        escaped=1,
        rooms=1,
        score=10,
        decode_tps=None,
        completion_tokens=5,
        cap_hits=0,
        errors=0,
        outcomes={},
    )

    def result(match_id: str) -> MatchResult:
        return MatchResult(
            match_id=match_id,
            status="done",
            settings=settings,
            room_ids=["cipher-v3"],
            rooms=[],
            summaries={"a": summary},
            wall_seconds=3.0,
        )

    finished = await store.start_match(settings, {"a": contestant()}, [puzzle("cipher-v3")])
    assert await store.finish_match(result(finished)) is True
    row = store.match(finished)
    assert row is not None
    assert (row["status"], row["wall_seconds"]) == ("done", 3.0)
    assert json.loads(row["summary"]) == {"a": summary.model_dump()}

    stale = await store.start_match(settings, {"a": contestant()}, [puzzle("cipher-v3")])
    assert store.mark_interrupted() == [stale]
    assert await store.finish_match(result(stale)) is False
    stale_row = store.match(stale)
    assert stale_row is not None
    assert (stale_row["status"], stale_row["summary"]) == ("interrupted", None)
    assert await store.finish_match(result(finished)) is False  # already done: not twice


def test_model_fields_are_the_columns_they_are_stored_in(store: Store) -> None:
    def columns(table: str) -> set[str]:
        return {r["name"] for r in store.query(f"PRAGMA table_info({table})")}

    assert set(CallRecord.model_fields) == columns("calls") - {"id"}
    assert set(RoomResult.model_fields) == columns("rooms_played")


def test_only_model_tables_are_insertable(store: Store) -> None:
    with pytest.raises(ValueError, match="not an insertable table: meta"):
        store.write(lambda db: _insert_row(db, "meta", {"key": "k", "value": "v"}))


def storable(text: str, before: str, after: str) -> bool:
    """``text`` is valid UTF-8: ``before``, then only U+FFFD where a lone surrogate was, then
    ``after``."""
    text.encode("utf-8")  # raises on a surrogate left in
    middle = text.removeprefix(before).removesuffix(after)
    return text.startswith(before) and text.endswith(after) and set(middle) == {"\ufffd"}


def test_clean_text_makes_strings_storable() -> None:
    assert storable(clean_text("ok \U0001f600 \ud800!"), "ok \U0001f600 ", "!")
    assert storable(clean_text("a\udfffb"), "a", "b")
    assert clean_text("plain é") == "plain é"
    assert clean_text(3) == 3
    assert clean_text(None) is None


def test_a_write_racing_close_is_either_run_or_refused_never_lost(tmp_path: Path) -> None:
    """Writers still submitting while the store closes: each write commits, or is refused with
    RuntimeError; none is queued behind the writer's stop (its future would never resolve)."""
    store = Store(tmp_path / "race.sqlite3")
    futures: list[Any] = []
    refused: list[int] = []
    started = threading.Barrier(5)

    def writer(n: int) -> None:
        started.wait()
        for i in range(300):
            try:
                futures.append(store.submit(lambda db, i=i: db.execute("SELECT ?", (i,))))
            except RuntimeError:
                refused.append(n)
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    started.wait()
    store.close()
    for thread in threads:
        thread.join(timeout=30)
    assert all(f.done() for f in futures), "a write was queued behind the stop"
    assert all(f.exception() is None for f in futures)
    store.close()  # twice is harmless
