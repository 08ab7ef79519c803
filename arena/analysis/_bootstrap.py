"""The one bootstrap: constants and resampling shared by every interval shown.

Every bootstrap interval in the app (retention and the solve-rate difference over seeds, mean
escapes and scores over matches, ratings over games) draws ``RESAMPLES`` resamples from a
generator seeded with ``SEED`` (the same data always gives the same interval) and reports the
2.5th to 97.5th percentiles, widened if need be to contain the point estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

RESAMPLES: Final = 2000
"""Resamples of every bootstrap interval."""
SEED: Final = 20_250_917
"""Seed of the bootstrap's generator: same data, same intervals."""
Z95: Final = 1.959963984540054
"""The normal quantile of a two-sided 95 % interval (Wilson intervals)."""
_CHUNK_CELLS: Final = 1_000_000
"""Draws made at once (memory bound for large tables)."""


def percentile_interval(
    samples: Sequence[float] | np.ndarray, point: float
) -> tuple[float, float] | None:
    """The 2.5th-97.5th percentile range of ``samples``, widened to contain ``point`` (None
    without samples)."""
    values = np.asarray(samples, dtype=float)
    if values.size == 0:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(min(low, point)), float(max(high, point)))


def resampled_sums(
    columns: Sequence[np.ndarray], resamples: int = RESAMPLES, seed: int | Sequence[int] = SEED
) -> list[np.ndarray]:
    """Sums of each column over the same bootstrap resamples (rows, e.g. matches or seeds,
    drawn with replacement; every column sees the same draws)."""
    n = len(columns[0])
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // max(n, 1))
    sums = [np.empty(resamples) for _ in columns]
    for start in range(0, resamples, per_chunk):
        stop = min(resamples, start + per_chunk)
        picks = rng.integers(0, n, size=(stop - start, n))
        for out, column in zip(sums, columns, strict=True):
            out[start:stop] = column[picks].sum(axis=1)
    return sums


def mean_ci(
    values: Sequence[float], *, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, float] | None:
    """95 % percentile-bootstrap interval of the mean of ``values`` (None below two values)."""
    if len(values) < 2:
        return None
    data = np.asarray(values, dtype=float)
    (sums,) = resampled_sums([data], resamples, seed)
    return percentile_interval(sums / len(data), float(data.mean()))


def ratio_ci(
    numerators: Sequence[float], denominators: Sequence[float], point: float, *, scale: float = 1.0,
    resamples: int = RESAMPLES, seed: int = SEED,
) -> tuple[float, float] | None:  # fmt: skip
    """95 % interval of ``scale * sum(numerators) / sum(denominators)`` with clusters (the
    index of both sequences) resampled together; resamples whose denominator sums to 0 have no
    ratio and are left out."""
    if len(numerators) < 2:
        return None
    top, bottom = resampled_sums(
        [np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)],
        resamples, seed,
    )  # fmt: skip
    kept = bottom != 0
    return percentile_interval(scale * top[kept] / bottom[kept], point)
