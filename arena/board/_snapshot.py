"""The leaderboard snapshot: everything the public pages show, computed once per change and
shared by every visitor.

One :class:`GroupBoard` per base model (its rows, verdict reports, ratings, contagion and room
quality: each depends on that base model's data only), plus the few global parts (calibrations,
imported results). :func:`build_snapshot` recomputes only the base models whose version moved
(``board_versions``, raised by triggers on every write that changes a board; see
``arena.engine`` migration m009) and reuses the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from arena.analysis import (
    CalibrationSummary,
    ContagionMatrix,
    LeaderboardRow,
    Rating,
    base_model_keys,
    combine_room_quality,
    contagion_of,
    leaderboard_group,
    ratings_of,
    read_head_to_head,
    room_quality_frame,
    summaries,
)
from arena.board._reports import VerdictReport, group_reports
from arena.engine import Store
from arena.results import ImportedPoint, imported_points, read_imported

GLOBAL_KEY = ""
"""The version key of what belongs to no base model (imported results)."""
NOT_COMPUTED = -1
"""The version recorded for a base model whose recomputation failed and that has no earlier
board: never equal to a real one, so the next look tries again."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupBoard:
    """One base model's part of the board."""

    key: str
    """Its base-model key."""
    rows: tuple[LeaderboardRow, ...]
    """Its leaderboard rows, sorted."""
    reports: Mapping[int, VerdictReport]
    """Submission id -> its verdict report (seeds not sealed yet)."""
    ratings: tuple[Rating, ...]
    """Its Bradley-Terry ratings."""
    contagion: tuple[ContagionMatrix, ...]
    """Its contagion matrix (none without opponent-mode matches)."""
    room_quality: pd.DataFrame
    """Its per-room escape rates."""
    seconds: float
    """How long computing it took."""
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When it was computed."""


def compute_group(store: Store, key: str) -> GroupBoard:
    """One base model's board, from the store."""
    started = time.perf_counter()
    group = leaderboard_group(store, key)
    head_to_head = read_head_to_head(store, key)
    return GroupBoard(
        key=key,
        rows=tuple(group.rows),
        reports=group_reports(store, group),
        ratings=tuple(ratings_of(head_to_head)),
        contagion=tuple(contagion_of(head_to_head)),
        room_quality=room_quality_frame(group.data),
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class LastMatch:
    """The newest finished match a snapshot has seen."""

    id: str
    finished_at: str


@dataclass(frozen=True)
class Snapshot:
    """The board at one moment, shared by every request (never mutated)."""

    versions: Mapping[str, int]
    """The ``board_versions`` read before computing (a later write moves one: recompute)."""
    groups: Mapping[str, GroupBoard]
    """Base-model key -> its part, in key order."""
    calibrations: tuple[CalibrationSummary, ...]
    """Every calibration, oldest first."""
    imported: tuple[ImportedPoint, ...]
    """Chart points of imported results."""
    built_at: datetime | None
    """When it was computed (None: the empty board before the first computation)."""
    last_match: LastMatch | None
    """The newest finished match it includes."""
    seconds: float = 0.0
    """How long this computation took."""
    recomputed: tuple[str, ...] = ()
    """The base models recomputed for it (the others were reused)."""
    failed: Mapping[str, str] = field(default_factory=dict)
    """Base models whose recomputation failed (key -> the error's kind): their last good part
    is kept (none if they never had one) and their version left behind, so they are retried."""
    rows: tuple[LeaderboardRow, ...] = field(init=False)
    """Every row, sorted (base model, baseline first, score)."""
    ratings: tuple[Rating, ...] = field(init=False)
    """Every rating, sorted as :func:`arena.analysis.ratings` sorts them."""
    contagion: tuple[ContagionMatrix, ...] = field(init=False)
    """Every contagion matrix, by base-model key."""
    room_quality: pd.DataFrame = field(init=False)
    """The room-quality table of every base model."""

    def __post_init__(self) -> None:
        parts = list(self.groups.values())
        object.__setattr__(self, "rows", tuple(r for g in parts for r in g.rows))
        object.__setattr__(self, "ratings", tuple(r for g in parts for r in g.ratings))
        object.__setattr__(self, "contagion", tuple(m for g in parts for m in g.contagion))
        object.__setattr__(
            self, "room_quality", combine_room_quality(g.room_quality for g in parts)
        )

    def report(self, submission_id: int) -> VerdictReport | None:
        """A live submission's verdict report (seeds not sealed yet); None when unknown."""
        for group in self.groups.values():
            if submission_id in group.reports:
                return group.reports[submission_id]
        return None

    def content(self) -> dict[str, Any]:
        """What it shows, without when and how fast it was computed (for comparisons)."""
        return {
            "rows": [r.model_dump() for r in self.rows],
            "reports": {
                sid: r.model_dump() for g in self.groups.values() for sid, r in g.reports.items()
            },
            "ratings": [r.model_dump() for r in self.ratings],
            "contagion": [m.model_dump() for m in self.contagion],
            "room_quality": self.room_quality.to_dict("records"),
            "calibrations": [c.model_dump() for c in self.calibrations],
            "imported": [p.model_dump() for p in self.imported],
        }


EMPTY = Snapshot(versions={}, groups={}, calibrations=(), imported=(), built_at=None,
                 last_match=None)  # fmt: skip
"""The board before anything was computed."""


def read_versions(store: Store) -> dict[str, int]:
    """Base-model key -> its board version (a key never written has none: 0)."""
    rows = store.query("SELECT base_model_key AS key, version FROM board_versions")
    return {row["key"]: row["version"] for row in rows}


def last_match(store: Store) -> LastMatch | None:
    """The newest finished match."""
    found = store.query(
        "SELECT id, finished_at FROM matches WHERE status = 'done' AND finished_at IS NOT NULL "
        "ORDER BY finished_at DESC, id DESC LIMIT 1"
    )
    return LastMatch(found[0]["id"], found[0]["finished_at"]) if found else None


def build_snapshot(store: Store, previous: Snapshot | None = None) -> Snapshot:
    """The board now: the base models whose version moved since ``previous`` (all of them
    without one) recomputed, the others reused from it. A base model whose recomputation fails
    keeps its last good part (see :attr:`Snapshot.failed`); the others are not held back."""
    started = time.perf_counter()
    versions = read_versions(store)  # before anything is read: a later write moves it
    newest = last_match(store)  # likewise: the board includes at least the matches up to it
    reused = previous.groups if previous is not None else {}
    seen = previous.versions if previous is not None else {}
    groups: dict[str, GroupBoard] = {}
    recomputed: list[str] = []
    failed: dict[str, str] = {}
    for key in base_model_keys(store):
        if key in reused and versions.get(key, 0) == seen.get(key, 0):
            groups[key] = reused[key]
            continue
        try:
            groups[key] = compute_group(store, key)
            recomputed.append(key)
        except Exception as exc:  # one base model's failure holds back no other
            log.exception("the board of base model %r could not be recomputed", key)
            failed[key] = type(exc).__name__
            versions[key] = seen.get(key, NOT_COMPUTED) if key in reused else NOT_COMPUTED
            if key in reused:
                groups[key] = reused[key]
    return Snapshot(
        versions=versions,
        groups=groups,
        calibrations=tuple(summaries(store)),
        imported=tuple(imported_points(read_imported(store))),
        built_at=datetime.now(UTC),
        last_match=newest,
        seconds=time.perf_counter() - started,
        recomputed=tuple(recomputed),
        failed=failed,
    )


def is_current(store: Store, snapshot: Snapshot) -> bool:
    """Whether nothing the board shows was written since ``snapshot`` (one small read)."""
    return snapshot.built_at is not None and read_versions(store) == dict(snapshot.versions)


__all__ = [
    "EMPTY",
    "GLOBAL_KEY",
    "NOT_COMPUTED",
    "GroupBoard",
    "LastMatch",
    "Snapshot",
    "build_snapshot",
    "compute_group",
    "is_current",
    "last_match",
    "read_versions",
]
