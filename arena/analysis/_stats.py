"""Paired statistics for degradation verdicts: pure functions over paired outcomes.

A *paired outcome* is one puzzle (same room id and version, seed, difficulty and settings
fingerprint) played by both the baseline and a candidate. Served models are nondeterministic, so
single scores mean little; what means something is the pairs on which they disagree:

- ``b``: the baseline solved it, the candidate did not; ``c``: the reverse. Noise flips both ways
  equally; real degradation makes ``b > c``.
- :func:`mcnemar_exact`: the two-sided exact McNemar test, a binomial test of ``b`` out of
  ``b + c`` at 1/2.
- :func:`solve_rate_difference`: candidate minus baseline solve rate with a 95 % interval from a
  bootstrap over seeds (the six rooms of one match share a seed and are not independent).
- :func:`sprt`: Wald's sequential probability ratio test on the discordant pairs, so the scheduler
  can stop a pair as soon as the answer is clear: H0 "the flips are symmetric" (P(b | flip) = 1/2)
  against H1 "the candidate loses ``p1`` of the flips" (the default 0.75 is a 10 pp drop at 20 %
  discordance: b = 15 %, c = 5 %).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy.stats import binom, fisher_exact, norm, t

from arena.analysis._bootstrap import Z95, ratio_ci

Decision = Literal["degraded", "equivalent", "no_degradation", "continue"]


@dataclass(frozen=True)
class Pair:
    """One puzzle played by both sides."""

    seed: int
    room_id: str
    baseline_solved: bool
    candidate_solved: bool
    baseline_match: str | None = None
    """The match (or solo run) the baseline's answer comes from, for replay links."""
    candidate_match: str | None = None
    """Likewise for the candidate's answer (the same match when they played together)."""


def discordant(pairs: Sequence[Pair]) -> tuple[int, int]:
    """(b, c): baseline-only solves and candidate-only solves."""
    b = sum(p.baseline_solved and not p.candidate_solved for p in pairs)
    c = sum(p.candidate_solved and not p.baseline_solved for p in pairs)
    return b, c


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value (1.0 when there is no discordant pair)."""
    if b < 0 or c < 0:
        raise ValueError("counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(b, c), n, 0.5)))


@dataclass(frozen=True)
class Effect:
    """Candidate minus baseline solve rate (negative: worse), with a 95 % interval."""

    difference: float
    low: float
    high: float
    n_pairs: int
    n_seeds: int


def solve_rate_difference(pairs: Sequence[Pair]) -> Effect:
    """The paired difference with a percentile bootstrap over seeds (clusters; one seed alone
    gives a zero-width interval at the point)."""
    if not pairs:
        raise ValueError("no paired outcomes")
    clusters: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for p in pairs:
        clusters[p.seed][0] += int(p.candidate_solved) - int(p.baseline_solved)
        clusters[p.seed][1] += 1
    sums = list(clusters.values())
    point = sum(s for s, _ in sums) / sum(n for _, n in sums)
    interval = ratio_ci([s for s, _ in sums], [n for _, n in sums], point) or (point, point)
    return Effect(point, interval[0], interval[1], len(pairs), len(sums))


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (None without trials). Its lower end at no
    successes is exactly 0 and its upper end at all successes exactly 1 (the formula's rounding
    left 2.8e-17 and 0.9999999999999999 there, shown as such by the API)."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return (low, high)


@dataclass(frozen=True)
class Ratio:
    """Candidate solves as a percentage of the baseline's on the same puzzles."""

    pct: float | None
    """None when the baseline solved none of the paired puzzles (no ratio)."""
    low: float | None
    high: float | None


def paired_retention(pairs: Sequence[Pair]) -> Ratio:
    """``100 * candidate solves / baseline solves`` over paired puzzles, with a percentile
    bootstrap over seeds (resamples whose baseline solved nothing have no ratio and are left
    out)."""
    clusters: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for p in pairs:
        clusters[p.seed][0] += int(p.candidate_solved)
        clusters[p.seed][1] += int(p.baseline_solved)
    sums = list(clusters.values())
    base_total = sum(b for _, b in sums)
    if base_total == 0:
        return Ratio(None, None, None)
    point = 100.0 * sum(c for c, _ in sums) / base_total
    interval = ratio_ci([c for c, _ in sums], [b for _, b in sums], point, scale=100.0)
    if interval is None:
        return Ratio(point, None, None)
    return Ratio(point, *interval)


@dataclass(frozen=True)
class Canary:
    """The truncation canary: cap hits (finish_reason ``length``) of a candidate vs its
    baseline."""

    rate: float | None
    baseline_rate: float | None
    p_value: float | None
    """Two-sided Fisher exact test on the 2x2 table of cap hits and other answered calls."""
    flagged: bool
    """The candidate hits the cap more often than its baseline, with p < 0.05."""


def truncation_canary(hits: int, calls: int, base_hits: int, base_calls: int) -> Canary:
    """Compare cap-hit rates; flag a candidate that hits the token cap significantly more often
    (a quant that rambles or loops instead of answering)."""
    if min(hits, calls, base_hits, base_calls) < 0 or hits > calls or base_hits > base_calls:
        raise ValueError("counts must satisfy 0 <= hits <= calls")
    rate = hits / calls if calls else None
    base_rate = base_hits / base_calls if base_calls else None
    if not calls or not base_calls:
        return Canary(rate, base_rate, None, False)
    table = [[hits, calls - hits], [base_hits, base_calls - base_hits]]
    p_value = float(fisher_exact(table, alternative="two-sided").pvalue)
    flagged = p_value < 0.05 and (rate or 0.0) > (base_rate or 0.0)
    return Canary(rate, base_rate, p_value, flagged)


@dataclass(frozen=True)
class Sprt:
    """A sequential test's state after the pairs seen so far."""

    decision: Decision
    llr: float
    """Log likelihood ratio of H1 (candidate loses ``p1`` of the flips) over H0 (1/2)."""
    upper: float
    """Decide ``degraded`` at or above this."""
    lower: float
    """Decide ``no_degradation`` at or below this."""


def sprt(b: int, c: int, *, p1: float = 0.75, alpha: float = 0.05, beta: float = 0.2) -> Sprt:
    """Wald's SPRT on the discordant pairs (type I error about ``alpha``, power ``1 - beta`` at
    ``p1``)."""
    if not 0.5 < p1 < 1.0:
        raise ValueError("p1 must be in (0.5, 1)")
    llr = b * math.log(p1 / 0.5) + c * math.log((1.0 - p1) / 0.5)
    upper, lower = math.log((1.0 - beta) / alpha), math.log(beta / (1.0 - alpha))
    decision: Decision = "continue"
    if llr >= upper:
        decision = "degraded"
    elif llr <= lower:
        decision = "no_degradation"
    return Sprt(decision, llr, upper, lower)


def fixed_n_pairs(
    discordance: float, drop: float, *, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Paired puzzles a fixed-size two-sided McNemar test needs to see ``drop`` (a solve-rate
    difference) at the given discordance rate (Connor's normal approximation)."""
    za, zb = norm.ppf(1 - alpha / 2), norm.ppf(power)
    n = (za * math.sqrt(discordance) + zb * math.sqrt(discordance - drop**2)) ** 2 / drop**2
    return math.ceil(n)


def minimum_detectable_drop(
    n_pairs: int, discordance: float, *, alpha: float = 0.05, power: float = 0.8
) -> float | None:
    """The smallest solve-rate drop ``n_pairs`` paired puzzles would detect with ``power`` at this
    discordance (None without data)."""
    if n_pairs <= 0 or discordance <= 0:
        return None
    za, zb = norm.ppf(1 - alpha / 2), norm.ppf(power)
    return float((za + zb) * math.sqrt(discordance / n_pairs))


DEFAULT_MARGIN = 0.05
"""The equivalence margin: a solve-rate difference inside +-5 pp counts as "equivalent"."""
EQUIVALENCE_CONFIDENCE = 0.95
"""Equivalent when the 95 % interval lies inside the margin: two one-sided tests at 2.5 % each
(a single look would use 90 %; the scheduler looks after every round, and simulated runs with a
true drop equal to the margin end "equivalent" in at most about 6 % of runs at this level, see
``bench/sequential.py``)."""


@dataclass(frozen=True)
class Interval:
    """Candidate minus baseline solve rate with a confidence interval."""

    difference: float
    low: float
    high: float
    confidence: float


def difference_interval(
    pairs: Sequence[Pair], *, confidence: float = EQUIVALENCE_CONFIDENCE
) -> Interval:
    """A t interval for the paired solve-rate difference with a cluster-robust standard error
    (seeds are clusters), never narrower than independent pairs whose discordance sits at its
    Wilson upper bound: with no discordant pair yet, the interval is wide, not ``[0, 0]``."""
    if not pairs:
        raise ValueError("no paired outcomes")
    clusters: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for p in pairs:
        clusters[p.seed][0] += int(p.candidate_solved) - int(p.baseline_solved)
        clusters[p.seed][1] += 1
    b, c = discordant(pairs)
    return _interval(b, c, len(pairs), list(clusters.values()), confidence)


def _interval(
    b: int, c: int, n: int, clusters: Sequence[Sequence[int]], confidence: float
) -> Interval:
    """The interval from discordant counts and per-seed (sum of differences, size) clusters."""
    d = (c - b) / n
    s = len(clusters)
    robust = math.inf
    if s >= 2:
        spread = sum((total - d * size) ** 2 for total, size in clusters)
        robust = s / (s - 1) * spread / n**2
    upper = (wilson_interval(b + c, n) or (0.0, 1.0))[1]
    floor = max(upper - d * d, 0.0) / n
    se = math.sqrt(max(robust if math.isfinite(robust) else floor, floor))
    q = float(t.ppf(1 - (1 - confidence) / 2, max(s - 1, 1)))
    return Interval(d, d - q * se, d + q * se, confidence)


def agresti_min(b: int, c: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Agresti and Min's (2005) interval for a paired difference of proportions (candidate
    minus baseline): the Wald interval after adding 1/2 to each cell of the 2x2 table, which
    keeps its coverage at small n and is never zero-width (12 ties: about ±14 pp)."""
    b2, c2, n2 = b + 0.5, c + 0.5, n + 2.0
    difference = (c2 - b2) / n2
    se = math.sqrt(max((b2 + c2) - (c2 - b2) ** 2 / n2, 0.0)) / n2
    return max(-1.0, difference - z * se), min(1.0, difference + z * se)


def shown_difference(pairs: Sequence[Pair]) -> Effect:
    """The difference as shown: the bootstrap over seeds (:func:`solve_rate_difference`, which
    knows the six rooms of a seed are not independent), widened to contain the
    :func:`agresti_min` interval (honest at small n, where the bootstrap alone is zero-width:
    ``+0.0 [+0.0, +0.0]`` after 12 ties)."""
    effect = solve_rate_difference(pairs)
    b, c = discordant(pairs)
    low, high = agresti_min(b, c, len(pairs))
    return Effect(
        effect.difference,
        min(effect.low, low),
        max(effect.high, high),
        effect.n_pairs,
        effect.n_seeds,
    )


def shown_retention(pairs: Sequence[Pair], window: Effect | None = None) -> Ratio:
    """Retention as shown: :func:`paired_retention`'s bootstrap, widened to contain what the
    shown difference interval implies (``1 + difference / baseline solve rate``), within what is
    possible (0 to ``1 / baseline solve rate``). ``window``: :func:`shown_difference` of the
    same pairs, when already computed (its bootstrap is not run twice)."""
    kept = paired_retention(pairs)
    if kept.pct is None:
        return kept
    base_rate = sum(p.baseline_solved for p in pairs) / len(pairs)
    window = window if window is not None else shown_difference(pairs)
    low = 100.0 * max(0.0, 1.0 + window.low / base_rate)
    high = 100.0 * min(1.0 / base_rate, 1.0 + window.high / base_rate)
    if kept.low is not None and kept.high is not None:
        low, high = min(low, kept.low), max(high, kept.high)
    return Ratio(kept.pct, low, high)


def equivalent(interval: Interval, margin: float = DEFAULT_MARGIN) -> bool:
    """Whether the interval lies strictly inside ``(-margin, +margin)``."""
    return -margin < interval.low and interval.high < margin


def decide(
    b: int, c: int, interval: Interval | None, *, margin: float = DEFAULT_MARGIN, p1: float = 0.75
) -> Decision:
    """The sequential stopping rule: ``degraded`` when the SPRT crosses its upper boundary;
    ``equivalent`` when the equivalence interval lies inside the margin; else ``continue``.

    The SPRT's lower boundary ("the flips look symmetric") is only evidence of no large drop,
    not of equivalence, so it does not stop play: a pair goes on until it is degraded, shown
    equivalent, or its budget is spent (then: no detectable degradation at that n)."""
    if sprt(b, c, p1=p1).decision == "degraded":
        return "degraded"
    if interval is not None and equivalent(interval, margin):
        return "equivalent"
    return "continue"


@dataclass(frozen=True)
class SimulatedRun:
    decision: Decision
    pairs: int
    """Paired puzzles played before the decision (or the budget)."""


def simulate(
    p_b: float,
    p_c: float,
    *,
    budget: int = 600,
    seed: int = 0,
    p1: float = 0.75,
    margin: float | None = None,
    look_every: int = 6,
) -> SimulatedRun:
    """One sequential run: each paired puzzle is a baseline-only solve with ``p_b``, a
    candidate-only solve with ``p_c``; stop at the SPRT's decision or the budget. With
    ``margin``, equivalence is checked too (:func:`decide`), every ``look_every`` puzzles (a
    round's six rooms), as the scheduler does."""
    rng = random.Random(seed)
    b = c = 0
    for n in range(1, budget + 1):
        draw = rng.random()
        if draw < p_b:
            b += 1
        elif draw < p_b + p_c:
            c += 1
        interval = None
        if margin is not None and n % look_every == 0:
            interval = _interval(b, c, n, _singletons(b, c, n), EQUIVALENCE_CONFIDENCE)
        decision = decide(b, c, interval, margin=margin or DEFAULT_MARGIN, p1=p1)
        if decision != "continue":
            return SimulatedRun(decision, n)
    return SimulatedRun("continue", budget)


def _singletons(b: int, c: int, n: int) -> list[tuple[int, int]]:
    """Independent pairs as clusters of one: ``b`` of -1, ``c`` of +1, the rest 0."""
    return [(-1, 1)] * b + [(1, 1)] * c + [(0, 1)] * (n - b - c)
