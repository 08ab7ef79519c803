"""Verdicts from stored matches: pairing, the comparability contract, the badges."""

from __future__ import annotations

import json
from typing import Any

import pytest

from arena.analysis import _calibration_store as calibration_store
from arena.analysis._calibration import CalibrationConfig, CalibrationResult, NoSignal
from arena.analysis._chart_data import chart_points
from arena.analysis._leaderboard import leaderboard_rows
from arena.analysis._stats import Pair, discordant, wilson_interval
from arena.analysis._verdicts import (
    candidate_verdict,
    differences,
    discordant_pairs,
    equivalence_margin,
    fingerprint,
    noise_floor,
    pair_groups,
    paired_outcomes,
    read_plays,
    verdict,
)
from arena.engine._match import play_match
from arena.engine._models import AdversarialMode, ContestantSpec, MatchSettings, MatchSpec, Sampling
from arena.engine._store import Store
from arena.schedule._jobs import JobQueue
from arena.views._columns import ALL_COLUMNS, leaderboard_frame
from rooms import load_rooms
from tests.arena.analysis.test_leaderboard import LEVEL, Fake, add_submission, contestant, play


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
    assert result.label == "undecided at n=6: +0.0 pp [-24.5, +24.5]"  # not zero-width
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
    assert (print_["tier"], print_["seed_policy"]) == (None, "ad hoc")
    assert print_["rooms"] == ("cipher-v1",) and print_["top_p"] is None


def test_no_pairs_is_undecided() -> None:
    assert verdict([]).kind == "undecided"
    many = [Pair(s, "r", True, True) for s in range(700)]
    assert verdict(many).kind == "equivalent"  # 700 agreeing pairs: inside +-5 pp


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


async def solo(store: Store, seed: int, submission: int, codes: str) -> str:
    """A solo bluff-mode run of a submission on ``seed``."""
    spec = MatchSpec(
        a=contestant(submission, 1),
        settings=MatchSettings(seed=seed, difficulty=LEVEL, retries=1,
                               adversarial=AdversarialMode.BLUFF),
    )  # fmt: skip
    result = await play_match(spec, store, endpoints={"a": Fake(codes, seed, 32)})  # type: ignore[dict-item]
    assert result.status == "done"
    return result.match_id


async def test_solo_runs_on_shared_seeds_pair_but_not_with_matches(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q2_K", 2.6)
    for seed in (1, 2):
        await solo(store, seed, base, "HHHHHH")
        await solo(store, seed, cand, "HHTTTT")
    await play(store, 9, base, "HHHHHH", cand, "HHHHHH", {})  # another fingerprint (opponent)
    plays = read_plays(store, (cand, base))
    groups = pair_groups(plays, cand, base)
    assert [(g.fingerprint["adversarial"], len(g.pairs), g.joint) for g in groups] == [
        ("bluff", 12, 0), ("opponent", 6, 6)
    ]  # fmt: skip
    found = candidate_verdict(store, cand, base)  # the largest group: the solo runs
    assert (found.b, found.c, found.n_pairs, found.source) == (8, 0, 12, "solo runs")
    assert found.retention_pct == round(100 * 4 / 12, 2)
    assert found.retention_ci is not None and found.retention_ci[0] <= found.retention_pct


async def test_a_puzzle_played_together_pairs_the_two_answers_of_that_match(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q4_0", 4.5)
    other = add_submission(store, "O", "Smol", "Q8_0", 8.5)
    await play(store, 3, base, "TTTTTT", other, "HHHHHH", {})  # the baseline's first play
    await play(store, 3, cand, "HHHHHH", base, "HHHHHH", {})  # played together: these pair
    pairs, _ = paired_outcomes(store, cand, base)
    assert discordant(pairs) == (0, 0) and len(pairs) == 6
    # ... and the baseline's two plays of seed 3 are its A/A floor: all six disagree.
    floor = noise_floor(read_plays(store, (base,))[base])
    assert (floor.pairs, floor.discordant, floor.rate) == (6, 6, 1.0)


async def test_the_noise_floor_comes_from_a_match_against_itself(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q4_0", 4.5)
    await play(store, 4, base, "HHHHHH", base, "HHHHHT", {})  # A/A: one of six disagrees
    await play(store, 5, base, "HHHHHH", cand, "HHHTTT", {})
    floor = noise_floor(read_plays(store, (base,))[base])
    assert (floor.pairs, floor.discordant) == (6, 1)
    low, high = wilson_interval(1, 6) or (0, 0)
    assert (floor.low, floor.high) == (low, high)
    found = candidate_verdict(store, cand, base)
    assert (found.aa_n, found.aa_rate) == (6, round(1 / 6, 4))
    assert found.floor_note == (
        f"discordance 50.0 % vs A/A floor 16.7 % discordant [{100 * low:.1f}, {100 * high:.1f}]"
        " (n=6)"
    )
    rows = {r.submission_id: r for r in leaderboard_rows(store)}
    assert rows[base].aa_floor is not None and rows[base].aa_floor.n == 6
    # The A/A match is not a match against a quant: no retention pairs come from it.
    assert rows[cand].retention_n == 6


def test_tier_and_seed_policy_are_in_the_fingerprint() -> None:
    match = {"difficulty": 1, "adversarial": "opponent", "retries": 1,
             "scoring_version": "score-v1", "room_ids": '["cipher-v1"]',
             "settings": MatchSettings(tier="smoke", seed_policy="qer-seeds-v2")
             .model_dump_json()}  # fmt: skip
    print_ = fingerprint({}, match)
    assert (print_["tier"], print_["seed_policy"]) == ("smoke", "qer-seeds-v2")
    other = fingerprint({}, {**match, "settings": MatchSettings().model_dump_json()})
    assert differences(print_, other) == ["tier ('smoke' vs None)",
                                          "seed_policy ('qer-seeds-v2' vs 'ad hoc')"]  # fmt: skip


def test_the_budget_follows_the_tier() -> None:
    flat = [Pair(s, "r", True, True) for s in range(12)]
    smoke = {"tier": "smoke", "adversarial": "opponent"}
    assert verdict(flat, print_=smoke).kind == "no detectable degradation"  # 2 rounds x 6
    assert verdict(flat).kind == "undecided"


async def test_discordant_pairs_link_their_replays(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q2_K", 2.6)
    match = await play(store, 1, base, "HHHHHT", cand, "TTHHHH", {})
    found = discordant_pairs(store, cand, base)
    assert sorted(p.solved_by for p in found) == ["baseline", "baseline", "candidate"]
    assert all(p.baseline_match == p.candidate_match == match and p.seed == 1 for p in found)
    JobQueue(store).enqueue("again", {"seed": 1})  # a match on seed 1 is still to be played
    assert {p.seed for p in discordant_pairs(store, cand, base)} == {None}


def add_probe(store: Store, submission: int, kind: str, status: str, result: dict) -> None:
    store.write(lambda db: db.execute(
        "INSERT INTO probes (submission_id, kind, baseline_id, probe_version, status, result, "
        "started_at, finished_at) VALUES (?, ?, NULL, 'v', ?, ?, 'x', 'x')",
        (submission, kind, status, json.dumps(result))))  # fmt: skip


def test_probe_results_reach_the_row_the_frame_and_the_chart(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q2_K", 2.6)
    gone = add_submission(store, "G", "Smol", "Q3_K", 3.4)
    add_probe(store, cand, "kl", "unavailable", {"reason": "probe unavailable: no logprobs"})
    add_probe(store, cand, "kl", "done", {"mean_kl": 0.31, "top1_agreement": 0.82,
                                          "n_positions": 900})  # fmt: skip
    add_probe(store, gone, "kl", "done", {"mean_kl": 4.2, "top1_agreement": 0.05})
    add_probe(store, cand, "speed", "done", {"tg_tps_mean": 41.5, "tg_tps_sd": 0.8,
              "pp_tps_mean": 390.0, "pp_tps_sd": 12.0, "tg_ttft_median_s": 0.05,
              "tg_ttft_p90_s": 0.07, "reps": 5, "server_tg_tps_mean": 44.0,
              "server_agreement": -0.057})  # fmt: skip
    add_probe(store, base, "speed", "failed", {"reason": "endpoint <endpoint> refused"})
    rows = {r.submission_id: r for r in leaderboard_rows(store)}
    assert rows[cand].kl is not None and rows[cand].kl.mean_kl == 0.31  # the latest probe
    assert rows[gone].kl is not None and rows[gone].kl.collapsed
    frame = leaderboard_frame(list(rows.values()), ALL_COLUMNS).set_index("id")
    assert frame.loc[cand, "KL / top-1"] == "0.3100 / 82.0 %"
    assert frame.loc[gone, "KL / top-1"].endswith("COLLAPSED")
    assert frame.loc[cand, "probe tg tok/s ± sd"] == "41.5 ± 0.8 (server says 44.0, -5.7 %)"
    assert frame.loc[cand, "probe pp tok/s ± sd"] == "390.0 ± 12.0"
    assert frame.loc[cand, "probe TTFT p50/p90 s"] == "0.050 / 0.070"
    assert frame.loc[base, "probe tg tok/s ± sd"] == "probe failed: endpoint <endpoint> refused"
    points = {p.submission_id: p for p in chart_points(rows.values())}
    assert (points[cand].decode_tps, points[cand].tps_sd, points[cand].tps_source) == (
        41.5, 0.8, "speed probe")  # fmt: skip
    assert points[base].tps_source == "matches"


# -- profiles, calibration, equivalence -----------------------------------------------------------
class ProfileFake(Fake):
    """A scripted endpoint whose puzzles follow a difficulty profile."""

    def __init__(self, codes: str, seed: int, levels: dict[str, int]) -> None:
        super().__init__(codes, seed, 32)
        self.puzzles = [room.generate(seed, levels[room.id]) for room in load_rooms().values()]


async def solo_at(
    store: Store, seed: int, submission: int, codes: str, levels: dict[str, int], **extra: Any
) -> str:
    spec = MatchSpec(
        a=contestant(submission, 1),
        settings=MatchSettings(seed=seed, profile=levels, retries=1,
                               adversarial=AdversarialMode.BLUFF, **extra),
    )  # fmt: skip
    endpoints = {"a": ProfileFake(codes, seed, levels)}
    result = await play_match(spec, store, endpoints=endpoints)  # type: ignore[arg-type]
    assert result.status == "done"
    return result.match_id


MIXED = {"cipher-v3": 4, "map-v2": 0, "mechanism-v3": 2, "archive-v3": 1, "paradox-v3": 3,
         "warden-v3": 2}  # fmt: skip


async def test_runs_on_different_profiles_are_not_comparable(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q4_0", 4.5)
    await solo_at(store, 1, base, "HHHHHH", MIXED)
    await solo_at(store, 1, cand, "HHHHHH", {**MIXED, "map-v2": 1})
    pairs, differing = paired_outcomes(store, cand, base)
    assert pairs == [] and len(differing) == 1 and differing[0].startswith("profile (")
    assert "map-v2=1" in differing[0] and "map-v2=0" in differing[0]
    result = candidate_verdict(store, cand, base)
    assert result.kind == "NOT COMPARABLE" and "profile" in result.label


async def test_pairs_are_keyed_by_each_rooms_level_and_carry_the_profile(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q4_0", 4.5)
    for seed in (1, 2):
        await solo_at(store, seed, base, "HHHHHH", MIXED)
        await solo_at(store, seed, cand, "HTHHHH", MIXED)
    rows = store.query("SELECT profile, difficulty FROM matches")
    assert all(json.loads(r["profile"]) == MIXED and r["difficulty"] == -1 for r in rows)
    puzzles = store.query("SELECT room_id, difficulty FROM puzzles")
    assert {(p["room_id"], p["difficulty"]) for p in puzzles} == set(MIXED.items())
    result = candidate_verdict(store, cand, base)
    assert result.n_pairs == 12 and (result.b, result.c) == (2, 0)
    assert result.profile == ",".join(f"{room}={level}" for room, level in MIXED.items())


async def test_calibration_runs_never_pair(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q4_0", 4.5)
    await solo_at(store, 1, base, "HHHHHH", MIXED, purpose="calibration")
    await solo_at(store, 1, cand, "TTTTTT", MIXED)
    assert paired_outcomes(store, cand, base) == ([], [])
    assert candidate_verdict(store, cand, base).kind == "undecided"


async def test_rooms_without_signal_are_left_out_and_named(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q4_0", 4.5)
    for seed in (1, 2, 3):
        await solo_at(store, seed, base, "HHHHHT", MIXED)
        await solo_at(store, seed, cand, "THHHHT", MIXED)
    silent = NoSignal(room_id="cipher-v3", level=4, solved=9, played=9,
                      reason="no signal for this model: solved 9 of 9 at level 10")  # fmt: skip
    result = CalibrationResult(profile=MIXED, solve_rates={}, dead_rooms=["cipher-v3"],
                               no_signal=[silent], target=0.6, runs=9)  # fmt: skip
    before = candidate_verdict(store, cand, base)
    assert (before.n_pairs, before.b) == (18, 3)
    config = CalibrationConfig(runs=9)
    record = calibration_store.get_or_create(store, "smol", "{}", base, config)
    calibration_store.finish(store, record.id, result)
    after = candidate_verdict(store, cand, base)
    assert (after.n_pairs, after.b, after.c) == (15, 0, 0)
    assert after.no_signal == {"cipher-v3": silent.reason}
    assert discordant_pairs(store, cand, base) == []
    other_profile = calibration_store.no_signal_rooms(store, base, "cipher-v3=1")
    assert other_profile == {}  # the calibration's rooms only count for its own profile


def test_equivalence_needs_enough_agreeing_pairs_and_is_a_decision() -> None:
    few = [Pair(s, "r", True, True) for s in range(12)]
    assert verdict(few).kind == "undecided"  # no discordance yet is not evidence of none
    many = [Pair(s // 6, f"r{s % 6}", s % 2 == 0, s % 2 == 0) for s in range(600)]
    found = verdict(many, margin=0.05)
    assert found.kind == "equivalent" and found.decided
    assert found.label.startswith("equivalent within ±5 pp at n=600: +0.0 pp [")
    assert found.margin_pp == 5.0 and found.equivalence_ci_pp is not None
    low, high = found.equivalence_ci_pp
    assert -5 < low < 0 < high < 5
    assert verdict(many, margin=0.005).kind != "equivalent"  # a tighter margin is not met
    flips = [Pair(s, "r", s % 10 == 0, s % 10 == 5) for s in range(300)]  # 10 % each way
    assert verdict(flips, margin=0.05).kind in ("undecided", "no detectable degradation")
    assert not verdict(flips, margin=0.05, budget=10_000).decided
    assert verdict(flips, margin=0.05, budget=300).decided  # the budget is spent


def test_the_margin_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QER_EQUIVALENCE_MARGIN_PP", "2.5")
    assert equivalence_margin() == 0.025
    monkeypatch.setenv("QER_EQUIVALENCE_MARGIN_PP", "ten")
    with pytest.raises(ValueError, match="QER_EQUIVALENCE_MARGIN_PP: Input should be a valid"):
        equivalence_margin()
    monkeypatch.setenv("QER_EQUIVALENCE_MARGIN_PP", "60")
    with pytest.raises(ValueError, match=r"QER_EQUIVALENCE_MARGIN_PP: .*less than 50"):
        equivalence_margin()
