"""The board everyone sees: one snapshot of the leaderboard, verdicts, ratings, contagion and
chart data, recomputed in the background when (and where) the store changed, read by every
request."""

from __future__ import annotations

from arena.board._keeper import POLL_S, BoardKeeper, BoardStatus, Failure, rest_after
from arena.board._reports import VerdictReport, group_reports, sealed_report
from arena.board._snapshot import (
    EMPTY,
    GLOBAL_KEY,
    GroupBoard,
    LastMatch,
    Snapshot,
    build_snapshot,
    compute_group,
    is_current,
    last_match,
    read_versions,
)

__all__ = [
    "EMPTY",
    "GLOBAL_KEY",
    "POLL_S",
    "BoardKeeper",
    "BoardStatus",
    "Failure",
    "GroupBoard",
    "LastMatch",
    "Snapshot",
    "VerdictReport",
    "build_snapshot",
    "compute_group",
    "group_reports",
    "is_current",
    "last_match",
    "read_versions",
    "rest_after",
    "sealed_report",
]
