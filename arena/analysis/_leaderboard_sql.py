"""Reading the store for the leaderboard: its SQL and the rows it returns, in one transaction.

Only **finished** (``done``) matches played for submissions (their contestants rows carry
``submission_id``) count: running, interrupted and failed matches, CLI matches between bare
endpoints, and calibration runs (``purpose = 'calibration'``) never do.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from arena.analysis._scope import GROUP_IDS, scope_sql, scoped_rows
from arena.engine import Store

_APPEARANCES = """
WITH appearances AS (
    SELECT m.id AS match_id, 'a' AS slot, c.submission_id AS submission_id
    FROM matches m JOIN contestants c ON c.id = m.contestant_a
    WHERE m.status = 'done' AND m.purpose = 'measure' AND c.submission_id IS NOT NULL{only}
    UNION ALL
    SELECT m.id AS match_id, 'b' AS slot, c.submission_id AS submission_id
    FROM matches m JOIN contestants c ON c.id = m.contestant_b
    WHERE m.status = 'done' AND m.purpose = 'measure' AND c.submission_id IS NOT NULL{only}
)
"""
_SUBMISSIONS_SQL = (
    "SELECT id, display_name, base_model, base_model_key, quant, bits_per_weight, file_size_gb, "
    "hardware, engine, base_url, is_baseline, baseline_review, settings_class, status, "
    "status_reason, "
    "server_engine, server_version, server_quant, server_context_tokens "
    "FROM submissions WHERE status != 'deleted'{group} ORDER BY id"
)
_APPEARANCES_SQL = _APPEARANCES + (  # noqa: S608 - constants
    "SELECT match_id, slot, submission_id FROM appearances"
)
_ROOMS_SQL = _APPEARANCES + (  # noqa: S608 - constants
    "SELECT a.submission_id, a.match_id, a.slot, r.room_index, r.room_id, r.escaped, r.outcome, "
    "r.points, r.time_to_solution_s, r.tokens_to_solution FROM appearances a "
    "JOIN rooms_played r ON r.match_id = a.match_id AND r.slot = a.slot"
)
_ANSWERED = _APPEARANCES + (  # noqa: S608 - constants
    ", answered AS (SELECT a.submission_id, k.completion_tokens, k.latency_s, k.ttft_s, "
    "k.finish_reason, k.reasoning_tokens FROM appearances a "
    "JOIN calls k ON k.match_id = a.match_id AND k.slot = a.slot WHERE k.error_kind IS NULL)"
)
_TIMED = "(completion_tokens AND latency_s IS NOT NULL AND ttft_s IS NOT NULL)"
_CALLS_SQL = _ANSWERED + (
    "SELECT submission_id, COUNT(*) AS calls, "  # noqa: S608 - constants
    f"TOTAL(CASE WHEN {_TIMED} THEN completion_tokens END) AS timed_tokens, "
    f"TOTAL(CASE WHEN {_TIMED} THEN latency_s - ttft_s END) AS decode_s, "
    "TOTAL(finish_reason = 'length') AS cap_hits, "
    "MAX(reasoning_tokens IS NOT NULL) AS reasoning_reported, "
    "TOTAL(reasoning_tokens) AS reasoning_tokens, TOTAL(completion_tokens) AS completion_tokens "
    "FROM answered GROUP BY submission_id"
)
"""Per submission, its answered calls (endpoint errors left out) in finished matches, summed in
SQL (the calls are the largest table): how many, the tokens and decode seconds of the timed ones
(a completion, a latency and a time to first token), cap hits, reasoning and completion tokens;
``ttft_median_s`` is added from ``_TTFT_SQL``."""
_TTFT_SQL = _ANSWERED + (  # noqa: S608 - constants
    "SELECT submission_id, ttft_s FROM answered WHERE ttft_s IS NOT NULL"
)
"""Every answered call's time to first token, for the medians."""


def _with_ttft_medians(
    db: sqlite3.Connection, totals: list[dict[str, Any]], sql: str, key: str | None
) -> list[dict[str, Any]]:
    """``totals`` with each submission's median time to first token (numpy over the raw
    values: SQLite has no median)."""
    cursor = db.cursor()
    cursor.row_factory = None  # plain tuples: hundreds of thousands of them
    pairs = np.array(cursor.execute(sql, {"key": key}).fetchall(), dtype=float).reshape(-1, 2)
    if not len(pairs):
        return [{**t, "ttft_median_s": None} for t in totals]
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    ids, starts = np.unique(pairs[:, 0], return_index=True)
    medians = {
        int(sid): float(np.median(values))
        for sid, values in zip(ids, np.split(pairs[:, 1], starts[1:]), strict=True)
    }
    return [{**t, "ttft_median_s": medians.get(t["submission_id"])} for t in totals]


_PROBES_SQL = (
    "SELECT id, submission_id, kind, baseline_id, status, result FROM probes "
    "WHERE 1{only_probe} ORDER BY id"
)
_CLAUSES = {
    "only": f" AND c.submission_id IN {GROUP_IDS}",
    "group": " AND base_model_key = :key",
    "only_probe": f" AND submission_id IN {GROUP_IDS}",
}
"""The placeholders of the queries above when they read one base model."""


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
    """Per submission, its answered calls summed (see ``_CALLS_SQL``)."""
    probes: list[dict[str, Any]] = field(default_factory=list)
    """Probe results, oldest first."""


def read_board(
    store: Store, *, with_calls: bool = True, base_model_key: str | None = None
) -> BoardData:
    """Everything the leaderboard needs, read in one transaction (the calls only if asked), of
    every base model or of one (``base_model_key``)."""

    def query(db: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
        return scoped_rows(db, sql, base_model_key, _CLAUSES)

    with store.reader() as db:
        db.execute("BEGIN")
        try:
            return BoardData(
                submissions=query(db, _SUBMISSIONS_SQL),
                appearances=query(db, _APPEARANCES_SQL),
                rooms=query(db, _ROOMS_SQL),
                calls=_with_ttft_medians(
                    db,
                    query(db, _CALLS_SQL),
                    scope_sql(_TTFT_SQL, base_model_key, _CLAUSES),
                    base_model_key,
                )
                if with_calls
                else [],
                probes=query(db, _PROBES_SQL),
            )
        finally:
            db.execute("ROLLBACK")


__all__ = ["BoardData", "read_board"]
