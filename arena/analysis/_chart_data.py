"""The charts' data: one point per leaderboard row, the Pareto frontier of speed and quality,
and each submission's escape rate per room."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Final

import pandas as pd
from pydantic import BaseModel, ConfigDict

from arena.analysis._leaderboard import LeaderboardRow
from arena.analysis._leaderboard_sql import BoardData, read_board
from arena.engine import Store
from rooms import ROOM_ORDER

_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class ChartPoint(BaseModel):
    """One submission as the Pareto and bang-per-bit charts plot it."""

    model_config = _CONFIG

    submission_id: int
    """The submission's id."""
    label: str
    """Its display name (plain text: escape it for the chart's HTML-ish hover)."""
    base_model: str
    """Base model as spelled by its submitter."""
    base_model_key: str = ""
    """Base model key: one colour per key."""
    quant: str
    """Quant label."""
    bits_per_weight: float
    """Average bits per weight."""
    file_size_gb: float | None
    """File size in GB, when given."""
    decode_tps: float | None
    """Generation tokens per second (x of the Pareto chart): from the solo speed probe, or from
    its matches until it has one (see ``tps_source``)."""
    tps_sd: float | None = None
    """Standard deviation of the speed probe's repetitions."""
    tps_source: str = "matches"
    """``speed probe`` or ``matches`` (two contestants may share a GPU: slower than solo)."""
    quality_pct: float | None
    """Retention % against the baseline (y of the Pareto chart)."""
    quality_ci: tuple[float, float] | None
    """95 % interval of ``quality_pct``."""
    n: int
    """Paired matches behind ``quality_pct``."""
    mean_escaped: float | None
    """Rooms escaped per match."""
    source: str = "escape-room"
    """The benchmark the quality comes from."""
    provisional: bool = False
    """Its quality is judged against a baseline the operator has not confirmed yet (it may
    change when the operator confirms or demotes that baseline)."""


def _speed_of(row: LeaderboardRow) -> dict[str, Any]:
    probe = row.speed
    if probe is not None and probe.status == "done" and probe.tg_tps_mean is not None:
        return {"decode_tps": probe.tg_tps_mean, "tps_sd": probe.tg_tps_sd,
                "tps_source": "speed probe"}  # fmt: skip
    return {"decode_tps": row.decode_tps, "tps_sd": None, "tps_source": "matches"}


def is_provisional(row: LeaderboardRow) -> bool:
    """Whether a row's quality rests on a baseline not confirmed yet."""
    provisional_verdict = row.verdict is not None and row.verdict.provisional
    return provisional_verdict or row.baseline_standing == "provisional"


def chart_points(rows: Iterable[LeaderboardRow]) -> list[ChartPoint]:
    """One point per row; quality is the retention %, which charts need together with speed or
    size (a point missing a chart's value is left out of that chart)."""
    return [
        ChartPoint(
            submission_id=r.submission_id,
            label=r.display_name,
            base_model=r.base_model,
            base_model_key=r.base_model_key,
            quant=r.quant,
            bits_per_weight=r.bits_per_weight,
            file_size_gb=r.file_size_gb,
            **_speed_of(r),
            quality_pct=r.retention_pct,
            quality_ci=r.retention_ci,
            n=r.retention_n,
            mean_escaped=r.mean_escaped,
            provisional=is_provisional(r),
        )
        for r in rows
    ]


def pareto_frontier(points: Iterable[ChartPoint]) -> list[ChartPoint]:
    """The points no other point beats on both axes (x = decode tok/s, y = quality %; higher is
    better on both), sorted by x, then y, then id. Points missing either value are ignored.

    Dominating means at least as good on both and better on one, so ties go as follows: of
    points with equal x, only the highest y stays (and of equal y, only the highest x); exact
    duplicates (equal x and y) do not dominate each other and all stay."""
    complete = {
        p.submission_id: (p, (p.decode_tps, p.quality_pct))
        for p in points
        if p.decode_tps is not None and p.quality_pct is not None
    }
    located = [(p, float(x), float(y)) for p, (x, y) in complete.values() if x is not None]
    located.sort(key=lambda item: (-item[1], -item[2], item[0].submission_id))
    frontier: list[tuple[ChartPoint, float, float]] = []
    best_y = -math.inf
    for point, x, y in located:
        duplicate = bool(frontier) and frontier[-1][1:] == (x, y)
        if y > best_y or duplicate:
            frontier.append((point, x, y))
            best_y = max(best_y, y)
    frontier.sort(key=lambda item: (item[1], item[2], item[0].submission_id))
    return [point for point, _, _ in frontier]


PAD_SHARE: Final = 0.05
"""Share of an axis's span left free beyond its outermost values, at each end."""


def axis_range(
    values: Iterable[float | None], *, min_pad: float = 0.0, from_zero: bool = False
) -> list[float] | None:
    """A chart axis's [low, high] holding every value, with :data:`PAD_SHARE` of the span (at
    least ``min_pad``) free at each end; with ``from_zero``, low is 0 when no value is negative
    and 0 is no farther below the lowest than the values span (a lone value: always). None
    without (finite) values."""
    found = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not found:
        return None
    low, high = min(found), max(found)
    zero = from_zero and 0.0 <= low <= (high - low if high > low else high)
    low = 0.0 if zero else low
    pad = max(PAD_SHARE * (high - low), min_pad) or 1.0
    return [low if zero else low - pad, high + pad]


ROOM_QUALITY_COLUMNS: Final[tuple[str, ...]] = (
    "submission_id",
    "display_name",
    "base_model",
    "base_model_key",
    "quant",
    "bits_per_weight",
    "file_size_gb",
    "room_id",
    "escape_rate",
    "n",
)
"""Columns of :func:`room_quality`."""


def _room_position(room_id: str) -> tuple[int, str]:
    return (ROOM_ORDER.index(room_id) if room_id in ROOM_ORDER else len(ROOM_ORDER), room_id)


def room_quality_frame(data: BoardData) -> pd.DataFrame:
    """Per submission and room of already-read data: the share of its plays it escaped."""
    live = {s["id"]: s for s in data.submissions}
    tally: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in data.rooms:
        if r["submission_id"] in live:
            counts = tally[(r["submission_id"], r["room_id"])]
            counts[0] += int(r["escaped"])
            counts[1] += 1
    records = []
    for (submission_id, room_id), (escaped, n) in tally.items():
        sub = live[submission_id]
        records.append(
            {
                "submission_id": submission_id,
                "display_name": sub["display_name"],
                "base_model": sub["base_model"],
                "base_model_key": sub["base_model_key"],
                "quant": sub["quant"],
                "bits_per_weight": float(sub["bits_per_weight"]),
                "file_size_gb": sub["file_size_gb"],
                "room_id": room_id,
                "escape_rate": escaped / n,
                "n": n,
            }
        )
    records.sort(
        key=lambda r: (_room_position(r["room_id"]), r["base_model_key"], r["submission_id"])
    )
    return pd.DataFrame(records, columns=list(ROOM_QUALITY_COLUMNS))


def combine_room_quality(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Room-quality tables of several base models (each from :func:`room_quality_frame`, given
    in base-model key order) as one, in the order :func:`room_quality_frame` gives."""
    parts = [f for f in frames if len(f)]
    if not parts:
        return pd.DataFrame([], columns=list(ROOM_QUALITY_COLUMNS))
    frame = pd.concat(parts, ignore_index=True)
    position = frame["room_id"].map(_room_position)
    order = sorted(range(len(frame)), key=lambda i: position.iloc[i])  # stable: keys kept
    return frame.iloc[order].reset_index(drop=True)


def room_quality(store: Store, base_model_key: str | None = None) -> pd.DataFrame:
    """Per submission (not deleted) and room, over done matches: ``escape_rate`` (share of its
    plays of that room it escaped) and ``n`` (plays); rows in room play order; of every base
    model or of one (``base_model_key``). Columns: :data:`ROOM_QUALITY_COLUMNS`."""
    return room_quality_frame(read_board(store, with_calls=False, base_model_key=base_model_key))


__all__ = [
    "PAD_SHARE",
    "ROOM_QUALITY_COLUMNS",
    "ChartPoint",
    "axis_range",
    "chart_points",
    "combine_room_quality",
    "is_provisional",
    "pareto_frontier",
    "room_quality",
    "room_quality_frame",
]
