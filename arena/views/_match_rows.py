"""Reading match rows: one-transaction snapshots and the pure helpers replays and lists share."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from arena.engine import SEALED_SQL, ContestantSummary, Slot, Store
from arena.views._replay_models import RoomStatus

T = TypeVar("T")

SEALED = SEALED_SQL + " AS sealed "
"""Select-list item ``sealed``: a stopped match whose seed a scheduled match still has to play
(its secrets stay hidden, see ``SEALED_SQL``)."""


def snapshot(store: Store, read: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``read`` inside one read transaction (a consistent view while the writer goes on)."""
    with store.reader() as db:
        db.execute("BEGIN")
        try:
            return read(db)
        finally:
            db.execute("ROLLBACK")


def fetch_rows(
    db: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    """The rows of one query as plain dicts."""
    return [dict(row) for row in db.execute(sql, params)]


def label(base_model: str, quant: str) -> str:
    """A contestant's display label."""
    return f"{base_model} {quant}"


def match_slots(match: dict[str, Any]) -> list[Slot]:
    """The slots of a match row (``b`` only when it has a second contestant)."""
    return ["a", "b"] if match.get("contestant_b") is not None else ["a"]


def rooms_finished(n_rooms: int, slots: list[Slot], played: list[dict[str, Any]]) -> list[bool]:
    """Per room index: whether every slot's result is stored."""
    done: dict[int, set[str]] = {}
    for row in played:
        done.setdefault(int(row["room_index"]), set()).add(row["slot"])
    return [done.get(index, set()) >= set(slots) for index in range(n_rooms)]


def room_statuses(
    finished: list[bool], started: set[int], running: bool
) -> tuple[list[RoomStatus], int | None]:
    """Each room's status and the running match's current room (the first one not finished:
    rooms are played one after the other, both contestants together)."""
    current = next((i for i, done in enumerate(finished) if not done), None) if running else None
    statuses: list[RoomStatus] = []
    for index, done in enumerate(finished):
        if done:
            statuses.append("done")
        elif index == current:
            statuses.append("playing")
        elif not running and index in started:
            statuses.append("unfinished")
        else:
            statuses.append("pending")
    return statuses, current


def parse_summary(summary: str | None) -> dict[Slot, ContestantSummary] | None:
    """``matches.summary`` as typed per-slot totals (None when there is none)."""
    if not summary:
        return None
    return {slot: ContestantSummary.model_validate(s) for slot, s in json.loads(summary).items()}
