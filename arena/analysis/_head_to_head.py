"""The head-to-head data of the ratings and the contagion matrix: live submissions, their
finished two-sided matches and those matches' rooms, read in one transaction.

Only **finished** (``done``) matches between two registered, not deleted submissions **of the
same base model** count; running, failed and interrupted matches, solo runs, calibration runs, CLI
matches between bare endpoints and matches across base models never do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from arena.analysis._scope import GROUP_IDS, scoped_rows
from arena.engine import Store

_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Player(BaseModel):
    """A registered (not deleted) submission as the ratings and the matrix label it."""

    model_config = _CONFIG

    submission_id: int
    """The submission's id."""
    display_name: str
    """Display name, plain text."""
    base_model_key: str
    """Base-model key: only submissions of one key are compared."""
    quant: str
    """Quant label."""
    bits_per_weight: float
    """Average bits per weight (the matrix lists larger quants first)."""
    is_baseline: bool
    """Marked as the full-precision baseline of its base model."""
    settings_class: str = ""
    """Its sampling class (its group: base model and sampling class)."""

    def submission_row(self) -> dict[str, object]:
        """The fields the baseline rule reads."""
        return {"id": self.submission_id, "base_model_key": self.base_model_key,
                "settings_class": self.settings_class, "is_baseline": self.is_baseline}  # fmt: skip


_PLAYERS_SQL = (
    "SELECT id AS submission_id, display_name, base_model_key, quant, bits_per_weight, "
    "is_baseline, settings_class FROM submissions WHERE status != 'deleted'{group} ORDER BY id"
)
_MATCHES_SQL = (
    "SELECT m.id AS match_id, m.adversarial, ca.submission_id AS a, cb.submission_id AS b "
    "FROM matches m JOIN contestants ca ON ca.id = m.contestant_a "
    "JOIN contestants cb ON cb.id = m.contestant_b "
    "WHERE m.status = 'done' AND m.purpose = 'measure' AND ca.submission_id IS NOT NULL "
    "AND cb.submission_id IS NOT NULL{only} "
    "ORDER BY m.id"
)
_ROOMS_SQL = (
    "SELECT r.match_id, r.slot, r.room_index, r.outcome, r.points FROM rooms_played r "
    "JOIN matches m ON m.id = r.match_id "
    "WHERE m.status = 'done' AND m.purpose = 'measure' AND m.contestant_b IS NOT NULL{rooms} "
    "ORDER BY r.match_id, r.room_index"
)
_CLAUSES = {
    "group": " AND base_model_key = :key",
    "only": f" AND ca.submission_id IN {GROUP_IDS}",
    "rooms": " AND m.contestant_a IN (SELECT id FROM contestants WHERE submission_id IN "  # noqa: S608
    f"{GROUP_IDS})",
}
"""The placeholders of the queries above when they read one base model."""


@dataclass(frozen=True)
class HeadToHead:
    """What the ratings and the matrix are computed from, read in one transaction."""

    players: list[Player]
    """Submissions not deleted."""
    matches: list[dict[str, Any]]
    """Done two-sided matches played for submissions: match_id, adversarial, a, b (ids)."""
    rooms: list[dict[str, Any]]
    """rooms_played rows of done two-sided matches: match_id, slot, room_index, outcome,
    points."""


def read_head_to_head(store: Store, base_model_key: str | None = None) -> HeadToHead:
    """Submissions, two-sided done matches and their rooms, in one read transaction, of every
    base model or of one (``base_model_key``)."""

    def rows(db: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
        return scoped_rows(db, sql, base_model_key, _CLAUSES)

    with store.reader() as db:
        db.execute("BEGIN")
        try:
            return HeadToHead(
                players=[
                    Player(**{**row, "is_baseline": bool(row["is_baseline"])})
                    for row in rows(db, _PLAYERS_SQL)
                ],
                matches=rows(db, _MATCHES_SQL),
                rooms=rows(db, _ROOMS_SQL),
            )
        finally:
            db.execute("ROLLBACK")


def same_model_matches(data: HeadToHead) -> Iterable[tuple[dict[str, Any], str]]:
    """Matches between two live submissions of one base model, with that key."""
    live = {p.submission_id: p for p in data.players}
    for match in data.matches:
        a, b = live.get(match["a"]), live.get(match["b"])
        if a is not None and b is not None and a.base_model_key == b.base_model_key:
            yield match, a.base_model_key


__all__ = ["HeadToHead", "Player", "read_head_to_head", "same_model_matches"]
