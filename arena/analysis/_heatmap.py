"""The model x quant table of quality retained: one row per base model, one column per quant
label (by bits per weight, high to low), in each cell the retention of that model's quant against
its baseline, with its interval and verdict."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from arena.analysis._chart_data import is_provisional
from arena.analysis._leaderboard import LeaderboardRow

_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class HeatmapCell(BaseModel):
    """One base model's quant: the best-measured of its submissions."""

    model_config = _CONFIG

    submission_id: int
    """The submission shown."""
    display_name: str
    """Its display name (plain text: escape it for HTML)."""
    quant: str
    """Its quant label."""
    bits_per_weight: float
    """Its bits per weight."""
    retention_pct: float | None
    """First answers solved as a % of the baseline's on paired puzzles (100 for a baseline);
    None when not measured."""
    retention_ci: tuple[float, float] | None
    """95 % interval of ``retention_pct``."""
    verdict_kind: str | None
    """The verdict's kind (``degraded``, ``equivalent``, ...); None for a baseline or without
    a verdict."""
    verdict_label: str | None
    """The verdict's badge text; ``baseline`` for a baseline; None without a verdict."""
    decided: bool
    """The verdict is final (``degraded``, ``equivalent``, or the budget spent): play on the
    pair has stopped. An early ``no detectable degradation`` is not (play goes on and it may
    still turn ``degraded``). Always true for a baseline."""
    n_pairs: int
    """Paired puzzles behind ``retention_pct`` (for a baseline: its matches against quants)."""
    note: str | None
    """Why ``retention_pct`` is missing, or the baseline's standing (plain text)."""
    provisional: bool
    """Judged against (or being) a baseline the operator has not confirmed yet."""
    is_baseline: bool
    """The cell is the base model's baseline itself."""
    submissions: int
    """Submissions of this base model and quant (different hardware, say): the one shown has
    the most paired puzzles."""


class HeatmapRow(BaseModel):
    """One base model and its cells, aligned with the table's columns."""

    model_config = _CONFIG

    base_model_key: str
    """The base-model key the row groups on."""
    base_model: str
    """The base model as its submitters spelled it most often (plain text)."""
    cells: list[HeatmapCell | None]
    """One per column of the table; None where the model has no submission of that quant."""


class RetentionHeatmap(BaseModel):
    """Quality retained per base model (rows) and quant label (columns)."""

    model_config = _CONFIG

    columns: list[str]
    """Quant labels, by bits per weight from high to low (their median over the rows)."""
    bits: list[float]
    """Median bits per weight of each column's cells."""
    rows: list[HeatmapRow]
    """The base models, in key order."""


def best_measured(rows: Sequence[LeaderboardRow]) -> LeaderboardRow:
    """Of several submissions of one model and quant: the baseline, else the one with the most
    paired puzzles, then one with a retention value, then the lowest id."""
    return min(
        rows,
        key=lambda r: (
            not r.is_baseline,
            -r.retention_n,
            r.retention_pct is None,
            r.submission_id,
        ),
    )


def cell_of(row: LeaderboardRow, submissions: int = 1) -> HeatmapCell:
    """The heatmap cell of one leaderboard row (a baseline: 100 %, marked as the baseline)."""
    verdict = row.verdict
    return HeatmapCell(
        submission_id=row.submission_id,
        display_name=row.display_name,
        quant=row.quant,
        bits_per_weight=row.bits_per_weight,
        retention_pct=100.0 if row.is_baseline else row.retention_pct,
        retention_ci=None if row.is_baseline else row.retention_ci,
        verdict_kind=verdict.kind if verdict is not None else None,
        verdict_label="baseline" if row.is_baseline else (verdict.label if verdict else None),
        decided=row.is_baseline or (verdict is not None and verdict.decided),
        n_pairs=row.retention_n,
        note=row.retention_note,
        provisional=is_provisional(row),
        is_baseline=row.is_baseline,
        submissions=submissions,
    )


def spelling(names: Iterable[str]) -> str:
    """The most common spelling (ties: the first in sorted order)."""
    counts = Counter(names)
    return min(counts, key=lambda name: (-counts[name], name))


def column_order(cells: Iterable[HeatmapCell]) -> list[tuple[str, float]]:
    """(quant label, median bits per weight) of the cells' labels, by bits from high to low,
    then by label."""
    bits: dict[str, list[float]] = defaultdict(list)
    for cell in cells:
        bits[cell.quant].append(cell.bits_per_weight)
    medians = {quant: float(statistics.median(values)) for quant, values in bits.items()}
    return sorted(medians.items(), key=lambda item: (-item[1], item[0]))


def retention_heatmap(rows: Iterable[LeaderboardRow]) -> RetentionHeatmap:
    """The model x quant table of leaderboard rows: one cell per base model and quant label,
    the best-measured submission where there are several (see :func:`best_measured`)."""
    by_cell: dict[tuple[str, str], list[LeaderboardRow]] = defaultdict(list)
    names: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_cell[(row.base_model_key, row.quant)].append(row)
        names[row.base_model_key].append(row.base_model)
    cells = {key: cell_of(best_measured(members), len(members)) for key, members in by_cell.items()}
    columns = column_order(cells.values())
    return RetentionHeatmap(
        columns=[quant for quant, _ in columns],
        bits=[bits for _, bits in columns],
        rows=[
            HeatmapRow(
                base_model_key=key,
                base_model=spelling(names[key]),
                cells=[cells.get((key, quant)) for quant, _ in columns],
            )
            for key in sorted(names)
        ],
    )


__all__ = [
    "HeatmapCell",
    "HeatmapRow",
    "RetentionHeatmap",
    "best_measured",
    "cell_of",
    "column_order",
    "retention_heatmap",
    "spelling",
]
