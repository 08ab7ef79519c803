"""Paired statistics against scipy and hand-computed cases, and simulations of the sequential
test: no effect gives few false verdicts; a real drop is caught well below the fixed n."""

from __future__ import annotations

import statistics

import pytest
from scipy.stats import binomtest, fisher_exact

from arena.analysis._stats import (
    Canary,
    Pair,
    agresti_min,
    discordant,
    fixed_n_pairs,
    mcnemar_exact,
    minimum_detectable_drop,
    paired_retention,
    shown_difference,
    simulate,
    solve_rate_difference,
    sprt,
    truncation_canary,
    wilson_interval,
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
    effect = solve_rate_difference(pairs)
    assert effect.difference == pytest.approx((1 - 3) / 6)
    assert effect.low <= effect.difference <= effect.high and effect.n_seeds == 3
    assert effect == solve_rate_difference(pairs)  # deterministic
    # one seed: every resample is the same cluster, so the interval collapses on the estimate
    single = solve_rate_difference(pairs[:2])
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


def test_paired_retention_by_hand_and_its_interval() -> None:
    pairs = [Pair(1, "r1", True, True), Pair(1, "r2", True, False),  # seed 1: 1 of 2
             Pair(2, "r1", True, True), Pair(2, "r2", False, True),  # seed 2: 2 of 1
             Pair(3, "r1", True, False), Pair(3, "r2", False, False)]  # seed 3: 0 of 1  # fmt: skip
    kept = paired_retention(pairs)
    assert kept.pct == pytest.approx(100 * 3 / 4)
    assert kept.low is not None and kept.high is not None
    # a resample's ratio lies between the extreme seed-level ratios (0 .. 200 %)
    assert 0.0 <= kept.low <= kept.pct <= kept.high <= 200.0
    assert paired_retention(pairs) == kept  # deterministic
    assert paired_retention([Pair(1, "r", False, True)]).pct is None  # the baseline solved none
    single = paired_retention([Pair(1, "r", True, True)])
    assert (single.pct, single.low, single.high) == (100.0, None, None)  # one seed: no interval


def test_the_truncation_canary_uses_fisher_exact() -> None:
    canary = truncation_canary(12, 40, 2, 40)
    expected = fisher_exact([[12, 28], [2, 38]]).pvalue
    assert canary.p_value == pytest.approx(expected) and canary.p_value < 0.05
    assert (canary.rate, canary.baseline_rate, canary.flagged) == (0.3, 0.05, True)
    fewer = truncation_canary(2, 40, 12, 40)  # significantly fewer cap hits: not a warning
    assert fewer.p_value == pytest.approx(expected) and not fewer.flagged
    assert not truncation_canary(3, 40, 2, 40).flagged  # within noise
    assert truncation_canary(0, 0, 1, 5) == Canary(None, 0.2, None, False)
    with pytest.raises(ValueError, match="hits <= calls"):
        truncation_canary(5, 4, 0, 1)


def test_wilson_interval_against_scipy() -> None:
    ci = binomtest(7, 20).proportion_ci(method="wilson")
    assert wilson_interval(7, 20) == pytest.approx((ci.low, ci.high))
    assert wilson_interval(0, 0) is None


def test_wilson_interval_ends_are_exact_at_none_and_all() -> None:
    """0 of 6 held ground: the interval starts at 0, not 2.78e-17 (what the API once showed)."""
    for n in range(1, 500):
        assert wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0
        ci = binomtest(0, n).proportion_ci(method="wilson")
        assert wilson_interval(0, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


@pytest.mark.parametrize(
    ("b", "c", "n"), [(0, 0, 12), (0, 0, 6), (9, 0, 18), (3, 1, 40), (20, 10, 600), (0, 5, 5)]
)
def test_the_shown_interval_is_never_zero_width_and_agrees_with_mcnemar(
    b: int, c: int, n: int
) -> None:
    """Ties alone give an interval as wide as n allows, not ``[+0.0, +0.0]``; a difference
    McNemar calls significant is one the interval excludes zero for (here)."""
    low, high = agresti_min(b, c, n)
    assert -1.0 <= low <= (c - b) / n <= high <= 1.0 and high - low > 0.02
    if mcnemar_exact(b, c) < 0.01:
        assert high < 0 or low > 0
    ties = n - b - c
    kinds = ([(True, False)] * b + [(False, True)] * c + [(True, True)] * (ties // 2)
             + [(False, False)] * (ties - ties // 2))  # fmt: skip
    pairs = [Pair(seed=i // 6, room_id=f"r{i % 6}", baseline_solved=x, candidate_solved=y)
             for i, (x, y) in enumerate(kinds)]  # fmt: skip
    shown = shown_difference(pairs)
    boot = solve_rate_difference(pairs)
    assert shown.low <= min(boot.low, low) + 1e-12 and shown.high >= max(boot.high, high) - 1e-12
    assert shown.high - shown.low > 0.02
