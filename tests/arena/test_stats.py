"""Paired statistics against scipy and hand-computed cases, and simulations of the sequential
test: no effect gives few false verdicts; a real drop is caught well below the fixed n."""

from __future__ import annotations

import statistics

import pytest
from scipy.stats import binomtest

from arena.stats import (
    Pair,
    discordant,
    fixed_n_pairs,
    mcnemar_exact,
    minimum_detectable_drop,
    simulate,
    solve_rate_difference,
    sprt,
)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (5, 5), (10, 2), (2, 10), (30, 12), (0, 9)])
def test_mcnemar_matches_scipy_exact_binomial(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_small_cases_by_hand() -> None:
    assert mcnemar_exact(3, 0) == pytest.approx(2 * 0.5**3)  # 0.25
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)  # 0.0625: not below 0.05
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 64)  # 0.03125
    assert mcnemar_exact(4, 1) == pytest.approx(2 * (1 + 5) / 32)  # 0.375
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_discordant_pairs_and_the_clustered_effect() -> None:
    pairs = [Pair(seed, room, base, cand) for seed, room, base, cand in [
        (1, "a", True, False), (1, "b", True, True), (2, "a", True, False),
        (2, "b", False, True), (3, "a", False, False), (3, "b", True, False),
    ]]  # fmt: skip
    assert discordant(pairs) == (3, 1)
    effect = solve_rate_difference(pairs, resamples=500)
    assert effect.difference == pytest.approx((1 - 3) / 6)
    assert effect.low <= effect.difference <= effect.high and effect.n_seeds == 3
    assert effect == solve_rate_difference(pairs, resamples=500)  # deterministic
    # one seed: every resample is the same cluster, so the interval collapses on the estimate
    single = solve_rate_difference(pairs[:2], resamples=100)
    assert single.low == single.high == single.difference == -0.5


def test_sprt_boundaries() -> None:
    state = sprt(0, 0)
    assert state.decision == "continue" and state.llr == 0.0
    assert state.upper == pytest.approx(2.772588722)  # log(0.8 / 0.05)
    assert sprt(8, 0).decision == "degraded"  # 8 * log 1.5 = 3.24
    assert sprt(6, 0).decision == "continue"  # 2.43
    assert sprt(0, 3).decision == "no_degradation"  # 3 * log 0.5 = -2.08 <= log(0.2/0.95)
    with pytest.raises(ValueError):
        sprt(1, 1, p1=0.4)


def test_fixed_n_and_detectable_drop() -> None:
    assert 150 <= fixed_n_pairs(0.20, 0.10) <= 175
    drop = minimum_detectable_drop(170, 0.20)
    assert drop is not None and 0.09 < drop < 0.11
    assert minimum_detectable_drop(0, 0.2) is None


def test_no_effect_rarely_gives_a_degraded_verdict() -> None:
    """A/A: 200 runs with symmetric flips (10 % each way), budget 600 paired puzzles."""
    runs = [simulate(0.10, 0.10, seed=s) for s in range(200)]
    degraded = sum(r.decision == "degraded" for r in runs)
    assert degraded <= 10, degraded  # <= 5 %


def test_a_real_drop_is_decided_before_the_fixed_n() -> None:
    """A 10 pp drop at 20 % discordance (b 15 %, c 5 %): the SPRT stops with `degraded` in a
    median well below the ~160 paired puzzles a fixed-size McNemar test needs."""
    runs = [simulate(0.15, 0.05, seed=s) for s in range(200)]
    degraded = [r for r in runs if r.decision == "degraded"]
    assert len(degraded) >= 160  # power >= 80 %
    median = statistics.median(r.pairs for r in runs)
    assert median < fixed_n_pairs(0.20, 0.10), median
