"""Verdicts from stored matches: pairing, the comparability contract, the badges."""

from __future__ import annotations

import pytest

from arena.leaderboard import leaderboard_frame, leaderboard_rows
from arena.match import play_match
from arena.models import ContestantSpec, MatchSettings, MatchSpec, Sampling
from arena.stats import Pair
from arena.store import Store
from arena.verdicts import fingerprint, paired_outcomes, verdict
from tests.arena.test_leaderboard import LEVEL, Fake, add_submission, play


async def test_a_candidate_that_loses_first_answers_is_degraded(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q2_K", 2.6)
    for seed in (1, 2, 3):  # the baseline solves all six first answers, the candidate three
        await play(store, seed, base, "HHHHHH", cand, "TTTHHH", {})
    pairs, differing = paired_outcomes(store, cand, base)
    assert len(pairs) == 18 and differing == []
    result = verdict(pairs)
    assert (result.b, result.c) == (9, 0)
    assert result.kind == "degraded" and result.label.startswith("degraded: -50.0 pp")
    assert result.p_value == pytest.approx(2 * 0.5**9)
    assert result.ci_pp is not None and result.ci_pp[1] <= 0


async def test_equal_first_answers_are_not_degraded(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q8_0", 8.5)
    await play(store, 1, base, "HHHTTT", cand, "HHHTTT", {})
    result = verdict(*paired_outcomes(store, cand, base))
    assert (result.b, result.c) == (0, 0) and result.kind == "undecided"
    assert result.label == "undecided at n=6: +0.0 pp [+0.0, +0.0]"
    assert result.detectable_drop_pp is not None and result.detectable_drop_pp > 40


async def test_different_settings_are_not_comparable(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q4_0", 4.5)

    def side(submission_id: int, max_tokens: int) -> ContestantSpec:
        return ContestantSpec(base_url="http://127.0.0.1:1/v1", model="m", base_model="Smol",
                              quant="x", submission_id=submission_id,
                              sampling=Sampling(max_tokens=max_tokens))  # fmt: skip

    spec = MatchSpec(a=side(base, 512), b=side(cand, 1024), settings=MatchSettings(seed=1))
    fakes = {"a": Fake("HHHHHH", 1, 32), "b": Fake("TTTTTT", 1, 32)}
    await play_match(spec, store, endpoints=fakes)  # type: ignore[arg-type]
    pairs, differing = paired_outcomes(store, cand, base)
    assert pairs == [] and differing == ["max_tokens (1024 vs 512)"]
    result = verdict(pairs, differing)
    assert result.kind == "NOT COMPARABLE"
    assert result.label == "NOT COMPARABLE: max_tokens (1024 vs 512)"


def test_fingerprint_fields() -> None:
    match = {"difficulty": LEVEL, "adversarial": "opponent", "retries": 1,
             "scoring_version": "score-v1", "room_ids": '["cipher-v1"]'}  # fmt: skip
    print_ = fingerprint({"temperature": 0.0, "max_tokens": 64}, match)
    assert print_["rooms"] == ("cipher-v1",) and print_["top_p"] is None


def test_no_pairs_is_undecided() -> None:
    assert verdict([]).kind == "undecided"
    many = [Pair(s, "r", True, True) for s in range(700)]
    assert verdict(many).kind == "no detectable degradation"


async def test_the_leaderboard_carries_the_verdict(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q2_K", 2.6)
    lone = add_submission(store, "L", "Other", "Q4_0", 4.5)
    for seed in (1, 2, 3):
        await play(store, seed, base, "HHHHHH", cand, "TTTHHH", {})
    rows = {r.submission_id: r for r in leaderboard_rows(store)}
    assert rows[base].verdict is None and rows[lone].verdict is None
    assert rows[cand].verdict is not None and rows[cand].verdict.kind == "degraded"
    frame = leaderboard_frame(list(rows.values()))
    assert frame.loc[frame["name"] == "C", "verdict"].item().startswith("degraded: -50.0 pp")
