"""Matches at a glance: the running matches and how far they are, and a page of the match list.

Pure functions over the :class:`~arena.engine.Store` (reads only, each in one read transaction):
:func:`now_playing` (the running matches) and :func:`match_list` (a page of matches, newest
first). Like replays, they never show endpoint URLs, served model ids or keys, and hide the seed
while a match is running or sealed.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from arena.engine import AdversarialMode, Slot, Store, is_row_id
from arena.views._match_rows import (
    SEALED,
    fetch_rows,
    label,
    match_slots,
    parse_summary,
    room_statuses,
    rooms_finished,
    snapshot,
)
from arena.views._replay_models import FROZEN, MATCH_STATUSES, MatchPurpose, MatchStatus
from rooms import room_name


class NowPlaying(BaseModel):
    """A running match at a glance."""

    model_config = FROZEN

    match_id: str
    """Match id."""
    started_at: str
    """Start time (ISO 8601, UTC)."""
    seconds_running: float
    """Seconds since the start."""
    labels: dict[Slot, str]
    """Contestants' display labels by slot."""
    difficulty: int
    """The level of every room (-1 when the profile mixes levels)."""
    adversarial: AdversarialMode
    """Adversarial mode."""
    calibration: bool = False
    """A calibration run (it searches the baseline's levels; never scored)."""
    current_room_index: int | None
    """The room in play (None between the last room and the match's end)."""
    current_room_id: str | None
    """Versioned id of the room in play."""
    current_room_name: str | None
    """Display name of the room in play."""
    rooms_done: int
    """Rooms every contestant has finished."""
    rooms_total: int
    """Rooms in the match."""
    calls: int
    """Calls stored so far (both contestants)."""
    escaped: dict[Slot, int]
    """Rooms escaped so far, by slot."""

    def headline(self) -> str:
        """One plain-text line: contestants, the room in play, escapes, calls and time so far.
        Contains submitter text: escape it for Markdown or HTML."""
        names = " vs ".join(self.labels.values())
        if self.current_room_index is None:
            where = f"finishing ({self.rooms_done}/{self.rooms_total} rooms)"
        else:
            where = (
                f"room {self.current_room_index + 1}/{self.rooms_total} "
                f"{self.current_room_name or self.current_room_id}"
            )
        escaped = " / ".join(str(self.escaped.get(s, 0)) for s in self.labels)
        minutes, seconds = divmod(int(self.seconds_running), 60)
        kind = " (calibration run)" if self.calibration else ""
        return (
            f"{names}{kind} — {where} · escaped {escaped} · {self.calls} calls · "
            f"{minutes}m {seconds:02d}s"
        )


class MatchListItem(BaseModel):
    """One row of the match list."""

    model_config = FROZEN

    id: str
    """Match id."""
    status: MatchStatus
    """``running``, ``done``, ``failed`` or ``interrupted``."""
    started_at: str
    """Start time (ISO 8601, UTC)."""
    finished_at: str | None
    """End time, once it ended."""
    wall_seconds: float | None
    """Wall-clock duration in seconds, once it finished (None for interrupted matches)."""
    labels: dict[Slot, str]
    """Contestants' display labels by slot."""
    submission_ids: dict[Slot, int | None]
    """Contestants' submissions by slot (None for matches started by hand)."""
    seed: int | None
    """Puzzle seed; None while the match is running or sealed (a scheduled match still has to
    play that seed)."""
    difficulty: int
    """The level of every room (-1 when the profile mixes levels)."""
    purpose: MatchPurpose = "measure"
    """``calibration``: a baseline's solo run searching its levels; ``measure``: the rest."""
    adversarial: AdversarialMode
    """Adversarial mode."""
    retries: int
    """Solo retries allowed."""
    rooms_total: int
    """Rooms in the match."""
    escaped: dict[Slot, int]
    """Rooms escaped by slot, from the final summary (empty without one)."""
    score: dict[Slot, int]
    """Score by slot, from the final summary (empty without one)."""

    def label(self) -> str:
        """One plain-text line naming the match (e.g. for a picker): start, contestants,
        status and results. Contains submitter text: escape it for Markdown or HTML."""
        started = self.started_at[:16].replace("T", " ")
        names = " vs ".join(self.labels.values())
        results = " vs ".join(
            f"{self.escaped[s]}/{self.rooms_total} ({self.score[s]:+d})"
            for s in self.labels
            if s in self.escaped and s in self.score
        )
        kind = "calibration run" if self.purpose == "calibration" else ""
        return " · ".join(part for part in (started, names, kind, self.status, results) if part)


# -- reads ----------------------------------------------------------------------------------------
MATCH_COLUMNS = (
    "SELECT m.*, "
    "a.base_model AS a_base_model, a.quant AS a_quant, a.submission_id AS a_submission_id, "
    "b.base_model AS b_base_model, b.quant AS b_quant, b.submission_id AS b_submission_id, "
    + SEALED
    + "FROM matches m JOIN contestants a ON a.id = m.contestant_a "
    "LEFT JOIN contestants b ON b.id = m.contestant_b "
)
"""Select a match row with its contestants' labels and submissions (``a_...``, ``b_...``)."""


def now_playing(store: Store, *, at: datetime | None = None) -> list[NowPlaying]:
    """The running matches, newest first; ``at`` is the moment to count seconds to (now)."""

    def read(db: sqlite3.Connection) -> tuple[list[dict[str, Any]], ...]:
        order = "WHERE m.status = 'running' ORDER BY m.started_at DESC, m.rowid DESC"
        return (
            fetch_rows(db, MATCH_COLUMNS + order),
            fetch_rows(
                db,
                "SELECT p.match_id, p.room_index, p.slot, p.escaped FROM rooms_played p "
                "JOIN matches m ON m.id = p.match_id WHERE m.status = 'running'",
            ),
            fetch_rows(
                db,
                "SELECT c.match_id, COUNT(*) AS n FROM calls c JOIN matches m ON m.id = c.match_id "
                "WHERE m.status = 'running' GROUP BY c.match_id",
            ),
        )

    matches, played, calls = snapshot(store, read)
    moment = at or datetime.now(UTC)
    counts = {row["match_id"]: int(row["n"]) for row in calls}
    return [
        build_now_playing(
            row, [p for p in played if p["match_id"] == row["id"]], counts.get(row["id"], 0), moment
        )
        for row in matches
    ]


def match_list(
    store: Store,
    limit: int = 50,
    offset: int = 0,
    status: str | None = None,
    submission_id: int | None = None,
) -> list[MatchListItem]:
    """A page of matches, newest first, optionally only those of one status or those a
    submission played in (either slot)."""
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must be >= 0, got {limit} and {offset}")
    if status is not None and status not in MATCH_STATUSES:
        raise ValueError(f"unknown match status {status!r} (known: {', '.join(MATCH_STATUSES)})")
    if not is_row_id(offset) or (submission_id is not None and not is_row_id(submission_id)):
        return []  # past any row there can be: nothing (SQLite cannot even take the number)
    limit = min(limit, 2**63 - 1)
    sql = (
        MATCH_COLUMNS + "WHERE (? IS NULL OR m.status = ?) "
        "AND (? IS NULL OR a.submission_id = ? OR b.submission_id = ?) "
        "ORDER BY m.started_at DESC, m.rowid DESC LIMIT ? OFFSET ?"
    )
    params = (status, status, submission_id, submission_id, submission_id, limit, offset)
    rows = snapshot(store, lambda db: fetch_rows(db, sql, params))
    return [build_list_item(row) for row in rows]


# -- building (pure) ------------------------------------------------------------------------------
def contestant_labels(row: dict[str, Any]) -> dict[Slot, str]:
    """Display labels by slot of a ``MATCH_COLUMNS`` row."""
    return {
        slot: label(row[f"{slot}_base_model"], row[f"{slot}_quant"]) for slot in match_slots(row)
    }


def seconds_between(started_at: str, moment: datetime) -> float:
    """Seconds from an ISO 8601 timestamp to ``moment`` (never negative)."""
    start = datetime.fromisoformat(started_at)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return round(max(0.0, (moment - start).total_seconds()), 3)


def build_now_playing(
    row: dict[str, Any], played: list[dict[str, Any]], calls: int, moment: datetime
) -> NowPlaying:
    """A running match's row (with its contestants' labels) at a glance."""
    slots = match_slots(row)
    room_ids: list[str] = json.loads(row["room_ids"])
    finished = rooms_finished(len(room_ids), slots, played)
    _, current = room_statuses(finished, set(), running=True)
    return NowPlaying(
        match_id=row["id"],
        started_at=row["started_at"],
        seconds_running=seconds_between(row["started_at"], moment),
        labels=contestant_labels(row),
        difficulty=row["difficulty"],
        adversarial=AdversarialMode(row["adversarial"]),
        calibration=row.get("purpose") == "calibration",
        current_room_index=current,
        current_room_id=room_ids[current] if current is not None else None,
        current_room_name=room_name(room_ids[current]) if current is not None else None,
        rooms_done=sum(finished),
        rooms_total=len(room_ids),
        calls=calls,
        escaped={
            slot: sum(bool(p["escaped"]) for p in played if p["slot"] == slot) for slot in slots
        },
    )


def build_list_item(row: dict[str, Any]) -> MatchListItem:
    """A match row (with its contestants' labels) as a list item."""
    slots = match_slots(row)
    summary = parse_summary(row["summary"]) or {}
    running = row["status"] == "running" or bool(row.get("sealed"))
    return MatchListItem(
        id=row["id"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        wall_seconds=row["wall_seconds"],
        labels=contestant_labels(row),
        submission_ids={slot: row[f"{slot}_submission_id"] for slot in slots},
        seed=None if running else row["seed"],
        difficulty=row["difficulty"],
        purpose=row.get("purpose") or "measure",
        adversarial=AdversarialMode(row["adversarial"]),
        retries=row["retries"],
        rooms_total=len(json.loads(row["room_ids"])),
        escaped={slot: s.escaped for slot, s in summary.items()},
        score={slot: s.score for slot, s in summary.items()},
    )
