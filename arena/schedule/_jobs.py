"""A durable job queue and leader lease in the arena database (for the scheduler).

Jobs move ``queued`` -> ``running`` (leased to one worker until ``lease_expires_at``) ->
``done`` or ``failed``. A crash never loses or duplicates a job: an expired lease puts the job
back in the queue (counted as an attempt) until ``max_attempts``; a job whose lease was taken
over can no longer be completed by its old owner; a ``done`` job is never handed out again; the
same ``dedupe_key`` is never queued twice. A named leader lease lets exactly one process of
several schedule at a time. Every change goes through the store's single writer.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from arena.engine import Store, now

JobStatus = Literal["queued", "running", "done", "failed"]


class Job(BaseModel):
    """A queued unit of work (for the scheduler: one match to play)."""

    id: int
    dedupe_key: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires_at: float | None
    match_id: str | None
    last_error: str | None


def _job(row: sqlite3.Row | dict[str, Any]) -> Job:
    data = dict(row)
    data["payload"] = json.loads(data["payload"])
    data.pop("created_at", None)
    data.pop("updated_at", None)
    return Job.model_validate(data)


class JobQueue:
    """Queue operations over a :class:`Store` (its migration ``m002_job_queue``)."""

    def __init__(self, store: Store, clock: Any = time.time) -> None:
        self.store = store
        self.clock = clock
        """Seconds since the epoch; injectable so tests can move time."""

    def enqueue(
        self, dedupe_key: str, payload: dict[str, Any], *, max_attempts: int = 3
    ) -> int | None:
        """Queue a job; None when a job with this key already exists (in any state)."""

        def run(db: sqlite3.Connection) -> int | None:
            cursor = db.execute(
                "INSERT OR IGNORE INTO job_queue (dedupe_key, payload, status, attempts, "
                "max_attempts, created_at, updated_at) VALUES (?, ?, 'queued', 0, ?, ?, ?)",
                (dedupe_key, json.dumps(payload), max_attempts, now(), now()),
            )
            return int(cursor.lastrowid) if cursor.rowcount else None

        return self.store.write(run)

    def claim(
        self,
        owner: str,
        lease_seconds: float,
        eligible: Callable[[Job], bool] | None = None,
    ) -> Job | None:
        """Lease the oldest queued job (that ``eligible`` accepts) to ``owner``; expired leases
        are recovered first."""

        def run(db: sqlite3.Connection) -> Job | None:
            self._recover_expired(db)
            rows = db.execute("SELECT * FROM job_queue WHERE status = 'queued' ORDER BY id")
            chosen = next(
                (job for job in map(_job, rows) if eligible is None or eligible(job)), None
            )
            if chosen is None:
                return None
            db.execute(
                "UPDATE job_queue SET status = 'running', attempts = attempts + 1, "
                "lease_owner = ?, lease_expires_at = ?, updated_at = ? WHERE id = ?",
                (owner, self.clock() + lease_seconds, now(), chosen.id),
            )
            return _job(db.execute("SELECT * FROM job_queue WHERE id = ?", (chosen.id,)).fetchone())

        return self.store.write(run)

    def recover_expired(self) -> None:
        """Re-queue (or fail) jobs whose lease expired, and mark their matches interrupted."""
        self.store.write(self._recover_expired)

    def _recover_expired(self, db: sqlite3.Connection) -> None:
        """Running jobs whose lease expired: back to the queue, or failed after max attempts.
        A match still ``running`` for such a job was abandoned by its worker: ``interrupted``."""
        stamp = now()
        db.execute(
            "UPDATE matches SET status = 'interrupted', finished_at = ?, "
            "error = 'worker lost its lease while the match was running' "
            "WHERE status = 'running' AND job_id IN (SELECT id FROM job_queue "
            "WHERE status = 'running' AND lease_expires_at < ?)",
            (stamp, self.clock()),
        )
        db.execute(
            "UPDATE job_queue SET status = CASE WHEN attempts < max_attempts THEN 'queued' "
            "ELSE 'failed' END, last_error = 'lease expired (worker died or hung)', "
            "lease_owner = NULL, lease_expires_at = NULL, updated_at = ? "
            "WHERE status = 'running' AND lease_expires_at < ?",
            (stamp, self.clock()),
        )

    def heartbeat(self, job_id: int, owner: str, lease_seconds: float) -> bool:
        """Extend a lease still held by ``owner``; False if it was lost."""
        return self._owned_update(
            job_id,
            owner,
            "lease_expires_at = ?",
            (self.clock() + lease_seconds,),
        )

    def complete(self, job_id: int, owner: str, match_id: str | None = None) -> bool:
        """Mark done, only by the current lease owner (a stale worker's result is dropped)."""
        return self._owned_update(
            job_id,
            owner,
            "status = 'done', match_id = ?, lease_owner = NULL, lease_expires_at = NULL",
            (match_id,),
        )

    def fail(self, job_id: int, owner: str, error: str) -> bool:
        """Give the job back after a failure: queued again, or failed after max attempts."""
        return self._owned_update(
            job_id,
            owner,
            "status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END, "
            "last_error = ?, lease_owner = NULL, lease_expires_at = NULL",
            (error[:1000],),
        )

    def cancel(self, job_id: int, owner: str, reason: str) -> bool:
        """Fail the job for good (e.g. one of its submissions was paused or deleted)."""
        return self._owned_update(
            job_id,
            owner,
            "status = 'failed', last_error = ?, lease_owner = NULL, lease_expires_at = NULL",
            (reason[:1000],),
        )

    def release(self, job_id: int, owner: str, reason: str) -> bool:
        """Give a leased job back to the queue without counting the attempt (graceful stop)."""
        return self._owned_update(
            job_id,
            owner,
            "status = 'queued', attempts = attempts - 1, last_error = ?, lease_owner = NULL, "
            "lease_expires_at = NULL",
            (reason[:1000],),
        )

    def _owned_update(
        self, job_id: int, owner: str, assignments: str, values: tuple[Any, ...]
    ) -> bool:
        sql = (
            f"UPDATE job_queue SET {assignments}, updated_at = ? "  # noqa: S608 - fixed fragments
            "WHERE id = ? AND status = 'running' AND lease_owner = ? AND lease_expires_at >= ?"
        )

        def run(db: sqlite3.Connection) -> bool:
            cursor = db.execute(sql, (*values, now(), job_id, owner, self.clock()))
            return cursor.rowcount == 1

        return self.store.write(run)

    def get(self, job_id: int) -> Job | None:
        rows = self.store.query("SELECT * FROM job_queue WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def counts(self) -> dict[str, int]:
        rows = self.store.query("SELECT status, COUNT(*) AS n FROM job_queue GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    def acquire_leader(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take or renew the named lease; True while ``owner`` holds it (one scheduler at a
        time across processes sharing the database)."""

        def run(db: sqlite3.Connection) -> bool:
            moment = self.clock()
            db.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, "
                "expires_at = excluded.expires_at "
                "WHERE leases.owner = excluded.owner OR leases.expires_at < ?",
                (name, owner, moment + ttl_seconds, moment),
            )
            row = db.execute("SELECT owner FROM leases WHERE name = ?", (name,)).fetchone()
            return row is not None and row[0] == owner

        return self.store.write(run)

    def release_leader(self, name: str, owner: str) -> None:
        self.store.write(
            lambda db: db.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))
        )
