"""SQLite storage: WAL mode, every write through one writer thread (the schema and its
migrations are in :mod:`arena.engine._migrations`).

Each turn is written as soon as it completes, so a killed process leaves every finished turn on
disk; a match still ``running`` when a store opens is marked ``interrupted``. API keys are never
written: contestants only record whether one was used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from arena.engine._migrations import migrate, now
from arena.engine._models import (
    CallRecord,
    ContestantSpec,
    MatchResult,
    MatchSettings,
    RoomResult,
    Slot,
)
from rooms.base import Puzzle

log = logging.getLogger(__name__)
T = TypeVar("T")


def _create_private(path: Path) -> None:
    """Create the database file 0600 (its folder 0700 when we create it): it holds puzzles and
    solutions, which sandboxed model code must never read. SQLite gives its -wal and -shm files
    the database file's permissions."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    for existing in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if existing.exists():
            existing.chmod(0o600)


def clean_text(value: Any) -> Any:
    """Strings made storable: lone surrogates (e.g. a server's JSON "\\ud800") become U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def connect(path: Path | str) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 30000")
    return db


_TABLES = frozenset({"calls", "rooms_played"})


def _insert_row(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    """Insert a model's dump; its field names are the table's columns (booleans stored as 0/1)."""
    if table not in _TABLES:
        raise ValueError(f"not an insertable table: {table}")
    values = tuple(int(v) if isinstance(v, bool) else clean_text(v) for v in row.values())
    sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"  # noqa: S608 - names come from our models
    db.execute(sql, values)


ROW_ID_RANGE = range(-(2**63), 2**63)
"""The integers SQLite can hold (a larger one in a query raises OverflowError, not "not
found")."""


def is_row_id(value: int) -> bool:
    """Whether ``value`` can be a row id (or an offset) at all."""
    return value in ROW_ID_RANGE


class Store:
    """The arena's database. Writes go through one thread; reads use their own connections."""

    def __init__(self, path: Path | str, *, recover: bool = True) -> None:
        self.path = Path(path)
        _create_private(self.path)
        self._writer_db = connect(self.path)
        migrate(self._writer_db)
        self._queue: queue.Queue[tuple[Callable[[sqlite3.Connection], Any], Future[Any]] | None]
        self._queue = queue.Queue()
        self._closing = False
        self._gate = threading.Lock()
        """Orders ``submit`` against ``close``: nothing is queued behind the writer's stop."""
        self._thread = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._thread.start()
        self._local = threading.local()
        self.recovered: list[str] = self.mark_interrupted() if recover else []

    # -- the writer ---------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                self._writer_db.execute("BEGIN IMMEDIATE")
                result = fn(self._writer_db)
                self._writer_db.execute("COMMIT")
            except BaseException as exc:
                if self._writer_db.in_transaction:
                    self._writer_db.execute("ROLLBACK")
                future.set_exception(exc)
            else:
                future.set_result(result)

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Queue a write transaction; the future resolves when it has committed (RuntimeError
        once the store is closing: a write is never queued where nothing would run it)."""
        future: Future[T] = Future()
        with self._gate:
            if self._closing or not self._thread.is_alive():
                raise RuntimeError("store is closed")
            self._queue.put((fn, future))
        return future

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a write transaction on the writer thread and wait for it (blocking)."""
        return self.submit(fn).result()

    async def awrite(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a write transaction on the writer thread without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(fn))

    def close(self) -> None:
        """Run the writes already queued, then stop the writer; later writes are refused."""
        with self._gate:
            stopping = not self._closing and self._thread.is_alive()
            self._closing = True
            if stopping:
                self._queue.put(None)
        self._thread.join()
        self._writer_db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads --------------------------------------------------------------------------------
    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        db = connect(self.path)
        try:
            yield db
        finally:
            db.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self.reader() as db:
            return [dict(row) for row in db.execute(sql, params)]

    def meta_secret(self, key: str) -> str:
        """A random secret (64 hex digits) kept under ``key`` in the ``meta`` table: made on the
        first ask, the same ever after (one writer transaction, so two askers get one secret)."""

        def run(db: sqlite3.Connection) -> str:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row[0])
            value = secrets.token_hex(32)
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
            return value

        return self.write(run)

    # -- domain writes ------------------------------------------------------------------------
    def mark_interrupted(self) -> list[str]:
        """Mark matches left ``running`` by a dead process as ``interrupted``; return their ids."""

        # A scheduled match whose job lease is still live may belong to another process sharing
        # this database: the queue interrupts it if that lease expires (JobQueue.recover_expired).
        orphaned = (
            "status = 'running' AND (job_id IS NULL OR job_id NOT IN (SELECT id FROM job_queue "
            "WHERE status = 'running' AND lease_expires_at >= ?))"
        )

        def run(db: sqlite3.Connection) -> list[str]:
            moment = time.time()
            ids = [
                r[0]
                for r in db.execute(f"SELECT id FROM matches WHERE {orphaned}", (moment,))  # noqa: S608
            ]
            db.execute(
                "UPDATE matches SET status = 'interrupted', finished_at = ?, "  # noqa: S608
                f"error = 'process ended while the match was running' WHERE {orphaned}",
                (now(), moment),
            )
            return ids

        ids = self.write(run)
        if ids:
            log.warning("marked %d interrupted match(es): %s", len(ids), ", ".join(ids))
        return ids

    @staticmethod
    def _insert_contestant(db: sqlite3.Connection, spec: ContestantSpec) -> int:
        cursor = db.execute(
            "INSERT INTO contestants (base_url, model, base_model, quant, bits_per_weight, "
            "sampling, has_api_key, created_at, submission_id, server_engine, server_version, "
            "server_quant, server_context_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                spec.base_url,
                spec.model,
                spec.base_model,
                spec.quant,
                spec.bits_per_weight,
                spec.sampling.model_dump_json(),
                int(spec.api_key is not None),
                now(),
                spec.submission_id,
                spec.server.engine,
                spec.server.version,
                spec.server.loaded_quant,
                spec.server.context_tokens,
            ),
        )
        return int(cursor.lastrowid or 0)

    async def start_match(
        self,
        settings: MatchSettings,
        contestants: dict[Slot, ContestantSpec],
        puzzles: list[Puzzle],
        *,
        job_id: int | None = None,
    ) -> str:
        """Create the match row (status ``running``), its contestants and its puzzles;
        ``job_id`` links a scheduled match to its queue entry."""
        match_id = uuid.uuid4().hex

        def run(db: sqlite3.Connection) -> str:
            ids = {slot: self._insert_contestant(db, spec) for slot, spec in contestants.items()}
            db.execute(
                "INSERT INTO matches (id, seed, difficulty, adversarial, retries, scoring_version, "
                "room_ids, settings, contestant_a, contestant_b, status, started_at, job_id, "
                "profile, purpose) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (
                    match_id,
                    settings.seed,
                    -1 if settings.difficulty is None else settings.difficulty,
                    settings.adversarial.value,
                    settings.retries,
                    settings.scoring_version,
                    json.dumps([p.room_id for p in puzzles]),
                    settings.model_dump_json(),
                    ids["a"],
                    ids.get("b"),
                    now(),
                    job_id,
                    json.dumps({p.room_id: p.difficulty for p in puzzles}),
                    settings.purpose,
                ),
            )
            db.executemany(
                "INSERT INTO puzzles (match_id, room_index, room_id, seed, difficulty, prompt, "
                "solution, key, par_seconds, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        match_id,
                        index,
                        p.room_id,
                        p.seed,
                        p.difficulty,
                        p.prompt,
                        p.solution,
                        p.key,
                        p.par_seconds,
                        json.dumps(p.data),
                    )
                    for index, p in enumerate(puzzles)
                ],
            )
            return match_id

        return await self.awrite(run)

    async def record_call(self, call: CallRecord) -> None:
        row = call.model_dump()
        row["request_messages"] = json.dumps(row["request_messages"])
        await self.awrite(lambda db: _insert_row(db, "calls", row))

    async def record_verdict(self, call: CallRecord) -> None:
        """Fill in the verdict of a call stored before its validation finished."""

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE calls SET parsed_answer = ?, solved = ?, verdict_reason = ? "
                "WHERE match_id = ? AND slot = ? AND seq = ?",
                (
                    clean_text(call.parsed_answer),
                    int(call.solved),
                    clean_text(call.verdict_reason),
                    call.match_id,
                    call.slot,
                    call.seq,
                ),
            )

        await self.awrite(run)

    async def record_room(self, result: RoomResult) -> None:
        row = result.model_dump(mode="json")
        row["breakdown"] = json.dumps(row["breakdown"])
        await self.awrite(lambda db: _insert_row(db, "rooms_played", row))

    async def finish_match(self, result: MatchResult) -> bool:
        """Record the end of a match still ``running``; False (nothing written) when it was
        marked ``interrupted`` meanwhile (its worker lost the lease and the match is replayed:
        a stale worker must not finish it)."""
        summary = json.dumps({slot: s.model_dump() for slot, s in result.summaries.items()})

        def run(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "UPDATE matches SET status = ?, finished_at = ?, wall_seconds = ?, error = ?, "
                "summary = ? WHERE id = ? AND status = 'running'",
                (result.status, now(), result.wall_seconds, result.error, summary, result.match_id),
            )
            return cursor.rowcount == 1

        finished = await self.awrite(run)
        if not finished:
            log.warning(
                "match %s was no longer running; its result is not recorded", result.match_id
            )
        return finished

    # -- domain reads -------------------------------------------------------------------------
    def match(self, match_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM matches WHERE id = ?", (match_id,))
        return rows[0] if rows else None

    def calls(self, match_id: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM calls WHERE match_id = ? ORDER BY slot, seq", (match_id,))

    def rooms_played(self, match_id: str) -> list[dict[str, Any]]:
        return self.query(
            "SELECT * FROM rooms_played WHERE match_id = ? ORDER BY room_index, slot", (match_id,)
        )

    def request_messages(self, match_id: str, slot: Slot, seq: int) -> list[dict[str, Any]]:
        """All messages sent in one call: earlier calls' messages and replies, then its own."""
        messages: list[dict[str, Any]] = []
        for call in self.query(
            "SELECT request_messages, response_text, seq FROM calls "
            "WHERE match_id = ? AND slot = ? AND seq <= ? ORDER BY seq",
            (match_id, slot, seq),
        ):
            messages.extend(json.loads(call["request_messages"]))
            if call["seq"] < seq:
                messages.append({"role": "assistant", "content": call["response_text"]})
        return messages
