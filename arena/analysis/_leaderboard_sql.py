"""Reading the store for the leaderboard: its SQL and the rows it returns, in one transaction.

Only **finished** (``done``) matches played for submissions (their contestants rows carry
``submission_id``) count: running, interrupted and failed matches, CLI matches between bare
endpoints, and calibration runs (``purpose = 'calibration'``) never do.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from arena.engine import Store

_APPEARANCES = """
WITH appearances AS (
    SELECT m.id AS match_id, 'a' AS slot, c.submission_id AS submission_id
    FROM matches m JOIN contestants c ON c.id = m.contestant_a
    WHERE m.status = 'done' AND m.purpose = 'measure' AND c.submission_id IS NOT NULL
    UNION ALL
    SELECT m.id AS match_id, 'b' AS slot, c.submission_id AS submission_id
    FROM matches m JOIN contestants c ON c.id = m.contestant_b
    WHERE m.status = 'done' AND m.purpose = 'measure' AND c.submission_id IS NOT NULL
)
"""
_SUBMISSIONS_SQL = (
    "SELECT id, display_name, base_model, base_model_key, quant, bits_per_weight, file_size_gb, "
    "hardware, engine, base_url, is_baseline, settings_class, status, status_reason, "
    "server_engine, server_version, server_quant, server_context_tokens "
    "FROM submissions WHERE status != 'deleted' ORDER BY id"
)
_APPEARANCES_SQL = _APPEARANCES + (  # noqa: S608 - constants
    "SELECT match_id, slot, submission_id FROM appearances"
)
_ROOMS_SQL = _APPEARANCES + (  # noqa: S608 - constants
    "SELECT a.submission_id, a.match_id, a.slot, r.room_index, r.room_id, r.escaped, r.outcome, "
    "r.points, r.time_to_solution_s, r.tokens_to_solution FROM appearances a "
    "JOIN rooms_played r ON r.match_id = a.match_id AND r.slot = a.slot"
)
_CALLS_SQL = _APPEARANCES + (  # noqa: S608 - constants
    "SELECT a.submission_id, k.finish_reason, k.ttft_s, k.latency_s, k.completion_tokens, "
    "k.reasoning_tokens, k.error_kind FROM appearances a "
    "JOIN calls k ON k.match_id = a.match_id AND k.slot = a.slot"
)


_PROBES_SQL = "SELECT id, submission_id, kind, baseline_id, status, result FROM probes ORDER BY id"


@dataclass
class BoardData:
    """What the leaderboard is computed from (rows as dicts, straight from SQL)."""

    submissions: list[dict[str, Any]]
    """Submissions not deleted."""
    appearances: list[dict[str, Any]] = field(default_factory=list)
    """One per contestant of a done match played for a submission: match_id, slot,
    submission_id."""
    rooms: list[dict[str, Any]] = field(default_factory=list)
    """rooms_played rows of those appearances, with their submission_id."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    """calls rows of those appearances, with their submission_id."""
    probes: list[dict[str, Any]] = field(default_factory=list)
    """Probe results, oldest first."""


def _query(db: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(row) for row in db.execute(sql)]


def read_board(store: Store, *, with_calls: bool = True) -> BoardData:
    """Everything the leaderboard needs, read in one transaction (the calls only if asked)."""
    with store.reader() as db:
        db.execute("BEGIN")
        try:
            return BoardData(
                submissions=_query(db, _SUBMISSIONS_SQL),
                appearances=_query(db, _APPEARANCES_SQL),
                rooms=_query(db, _ROOMS_SQL),
                calls=_query(db, _CALLS_SQL) if with_calls else [],
                probes=_query(db, _PROBES_SQL),
            )
        finally:
            db.execute("ROLLBACK")


__all__ = ["BoardData", "read_board"]
