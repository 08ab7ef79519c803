"""Calibration: the staircase, the fitted choice, rooms without signal, the context window, and
simulated models of known skill from a 135M-like model to a frontier one."""

from __future__ import annotations

import math

import pytest

from arena.analysis import _calibration as calibration
from arena.analysis._calibration import (
    CalibrationConfig,
    CalibrationResult,
    counts,
    fit_curve,
    level_caps,
    next_profile,
    probability,
    result,
    run_of,
    walk,
)
from arena.dev._skillsim import (
    SkillModel,
    calibrate_offline,
    escape_probability,
    first_answer_probability,
    simulate_run,
)
from rooms import ROOM_ORDER, load_rooms
from rooms.base import LEVELS

WIDE = CalibrationConfig(context_tokens=10**6, runs=150)
"""A long calibration: with n runs the chosen level's solve rate scatters around the target by
about sqrt(0.24 / n) (0.04 here; 0.09 with the default 32 runs, see bench/calibration.py)."""
OFFSETS = {"cipher": -0.5, "map": 0.5, "mechanism": 0.0, "archive": 0.3, "paradox": 0.7,
           "warden": -0.3}  # fmt: skip
"""Rooms of a simulated model differ in how hard they are for it (in levels)."""


# -- the search -----------------------------------------------------------------------------------
def test_the_staircase_goes_up_after_a_solve_and_down_after_a_miss() -> None:
    config = CalibrationConfig()
    start = walk([], config, cap=10)
    assert start.level == config.start_level == 3
    up = walk([(3, True)], config, cap=10)
    down = walk([(3, False)], config, cap=10)
    assert up.x == pytest.approx(3 + config.step * (1 - config.target))
    assert down.x == pytest.approx(-0.49) and down.level == 0  # 3 - 3.6, clamped
    assert walk([(5, False)], config.model_copy(update={"start_level": 5}), cap=10).x == (
        pytest.approx(5 - config.step * config.target)
    )
    # every reversal shrinks the step until the floor
    zigzag = walk([(3, True), (5, False), (4, True), (4, False)], config, cap=10)
    assert zigzag.reversals == 3
    last = walk([(3, True), (5, False), (4, True)], config, cap=10)
    assert zigzag.x - last.x == pytest.approx(-max(config.step / 4, config.min_step) * 0.6)


def test_the_staircase_stays_within_level_zero_and_its_cap() -> None:
    config = CalibrationConfig()
    assert walk([(0, False)] * 30, config, cap=10).level == 0
    assert walk([(10, True)] * 30, config, cap=10).level == 10
    assert walk([(4, True)] * 30, config, cap=4).level == 4
    assert walk([], config, cap=2).level == 2  # a start above the cap starts at the cap


def test_next_profile_replays_each_room_on_its_own() -> None:
    config = CalibrationConfig(context_tokens=10**6)
    runs = [{room: (3, room == "cipher-v3") for room in ROOM_ORDER}]
    levels = next_profile(runs, config)
    assert levels["cipher-v3"] == 5 and all(levels[r] == 0 for r in ROOM_ORDER[1:])
    failed = [{**runs[0], "map-v2": None}]  # a failed call is no observation
    assert next_profile(failed, config)["map-v2"] == config.start_level
    assert list(levels) == list(ROOM_ORDER)


def test_a_small_context_window_caps_the_long_rooms() -> None:
    rooms = load_rooms()
    small, large = level_caps(8192), level_caps(10**6)
    assert large == dict.fromkeys(ROOM_ORDER, 10)
    assert small["archive-v3"] < 10 and small["cipher-v3"] == 10
    for room_id, cap in small.items():
        assert rooms[room_id].prompt_tokens(cap) * calibration.TOKEN_MARGIN <= 8192 / 2 or cap == 0
        if cap < 10:
            assert rooms[room_id].prompt_tokens(cap + 1) * calibration.TOKEN_MARGIN > 8192 / 2
    config = CalibrationConfig(context_tokens=8192)
    runs = [dict.fromkeys(ROOM_ORDER, (small["archive-v3"], True))] * 10
    assert next_profile(runs, config)["archive-v3"] <= small["archive-v3"]
    assert result(runs, config).profile["archive-v3"] <= small["archive-v3"]


# -- the choice -----------------------------------------------------------------------------------
def test_the_fitted_curve_falls_with_the_level_and_stays_finite_when_plays_separate() -> None:
    separated = [(2, True)] * 6 + [(3, False)] * 6
    curve = fit_curve(separated)
    assert math.isfinite(curve[0]) and 0 < curve[1] < 20
    assert probability(curve, 2) > 0.5 > probability(curve, 3)
    assert probability(curve, 0) > probability(curve, 5) > probability(curve, 10)


def test_the_level_closest_to_the_target_is_chosen() -> None:
    plays = [(4, True)] * 9 + [(4, False)] * 1 + [(5, True)] * 6 + [(5, False)] * 4
    plays += [(6, True)] * 2 + [(6, False)] * 8
    found = result([{"cipher-v3": p} for p in plays], CalibrationConfig(rooms=("cipher-v3",)))
    assert found.profile == {"cipher-v3": 5}
    assert found.solve_rates == {"cipher-v3": {"4": [9, 10], "5": [6, 10], "6": [2, 10]}}
    assert 0.45 < found.fitted["cipher-v3"] < 0.75
    assert found.dead_rooms == []


def test_a_room_never_solved_at_level_zero_or_always_at_the_top_has_no_signal() -> None:
    config = CalibrationConfig(rooms=("map-v2", "paradox-v3", "cipher-v3"))
    runs = [{"map-v2": (0, False), "paradox-v3": (10, True), "cipher-v3": (0, False)}] * 6
    runs += [{"map-v2": (0, False), "paradox-v3": (10, True), "cipher-v3": (0, True)}]
    found = result(runs, config)
    assert found.dead_rooms == ["map-v2", "paradox-v3"]
    reasons = {s.room_id: s.reason for s in found.no_signal}
    assert reasons["map-v2"] == "no signal for this model: solved 0 of 7 at level 0 (the easiest)"
    assert reasons["paradox-v3"] == (
        "no signal for this model: solved 7 of 7 at level 10 (the hardest)"
    )
    assert found.profile["map-v2"] == 0 and found.profile["paradox-v3"] == 10
    capped = CalibrationConfig(rooms=("archive-v3",), context_tokens=8192)
    cap = level_caps(8192)["archive-v3"]
    saturated = result([{"archive-v3": (cap, True)}] * 5, capped)
    assert saturated.no_signal[0].reason.endswith("(the hardest the context window allows)")
    too_few = result([{"map-v2": (0, False)}] * 3, CalibrationConfig(rooms=("map-v2",)))
    assert too_few.dead_rooms == []  # three misses are not yet "never"
    rare = [{"map-v2": (0, s == 0)} for s in range(20)]  # 1 of 20: almost never
    assert result(rare, CalibrationConfig(rooms=("map-v2",))).dead_rooms == ["map-v2"]
    some = [{"map-v2": (0, s < 2)} for s in range(20)]  # 2 of 20: a little signal
    assert result(some, CalibrationConfig(rooms=("map-v2",))).dead_rooms == []


def test_the_result_has_the_published_shape() -> None:
    runs = [dict.fromkeys(ROOM_ORDER, (1, True))] * 4
    data = result(runs, CalibrationConfig()).model_dump(mode="json")
    assert {"profile", "solve_rates", "dead_rooms"} <= set(data)
    assert list(data["profile"]) == list(ROOM_ORDER)
    assert CalibrationResult.model_validate(data).profile == data["profile"]


def test_stored_rooms_become_a_run_and_forfeits_are_no_observation() -> None:
    rows = [
        {"room_id": "cipher-v3", "initial_solved": 1, "outcome": "held_ground"},
        {"room_id": "map-v2", "initial_solved": 0, "outcome": "forfeit"},
        {"room_id": "other-v1", "initial_solved": 1, "outcome": "trapped"},
    ]
    run = run_of(rows, {"cipher-v3": 4, "map-v2": 2})
    assert run == {"cipher-v3": (4, True), "map-v2": None}
    assert counts([(4, True), (4, False), (2, True)]) == {2: [1, 1], 4: [1, 2]}


# -- simulated models of known skill --------------------------------------------------------------
def test_the_skill_curve_and_twins() -> None:
    model = SkillModel(skill=5.0, slope=0.6, offsets={"map": 1.0})
    assert model.probability("cipher-v3", 5) == pytest.approx(0.5)
    assert model.probability("map-v2", 4) == pytest.approx(0.5)
    assert model.probability("cipher-v3", 0) > model.probability("cipher-v3", 10)
    twin = model.twin(1.0, "q")
    assert twin.skill == 4.0 and twin.name == "q" and twin.offsets == model.offsets
    # first answers are right at the stated rate; twins disagree less than strangers
    seeds = range(3000)
    rate = sum(model.solves(f"p{s}", "cipher-v3", 5, 0) for s in seeds) / len(seeds)
    assert rate == pytest.approx(0.5, abs=0.03)
    stranger = SkillModel(skill=4.0, slope=0.6, offsets={"map": 1.0}, correlation=0.0, name="x")
    twin_flips = sum(model.solves(f"p{s}", "cipher-v3", 5, 0) != twin.solves(f"p{s}",
                     "cipher-v3", 5, 0) for s in seeds)  # fmt: skip
    stranger_flips = sum(model.solves(f"p{s}", "cipher-v3", 5, 0) != stranger.solves(f"p{s}",
                         "cipher-v3", 5, 0) for s in seeds)  # fmt: skip
    assert twin_flips < 0.7 * stranger_flips


def test_escape_probability_matches_simulation() -> None:
    model = SkillModel(skill=3.0, slope=0.6)
    exact = escape_probability(model, "cipher-v3", 4, 3)
    tries = [[model.solves(f"e{s}", "cipher-v3", 4, a) for a in range(3)] for s in range(4000)]
    assert sum(map(any, tries)) / 4000 == pytest.approx(exact, abs=0.025)
    assert model.probability("cipher-v3", 4) < exact < 1


def test_the_warden_needs_the_keys_its_rule_asks_for() -> None:
    model = SkillModel(skill=5.0, slope=0.6)
    levels = dict.fromkeys(ROOM_ORDER, 5)
    firsts = [simulate_run({"m": model}, levels, s)["m"]["warden-v3"] for s in range(4000)]
    exact = first_answer_probability(model, levels, "warden-v3")
    assert sum(firsts) / 4000 == pytest.approx(exact, abs=0.025)
    assert exact < model.probability("warden-v3", 5)  # all five keys are needed at level 5
    any_key = {**levels, "warden-v3": 1}
    assert first_answer_probability(model, any_key, "warden-v3") > 0.9 * model.probability(
        "warden-v3", 1
    )


@pytest.mark.parametrize("skill", [1.5, 3.5, 5.5, 7.5, 9.5])
def test_calibration_lands_near_the_target_from_a_tiny_to_a_frontier_model(skill: float) -> None:
    """For every room, the chosen level's true first-answer solve probability (exact, from the
    model) is within 0.15 of the target: from a model that solves only level 0-1 to one that
    needs level 8-10."""
    model = SkillModel(skill=skill, name=f"base-{skill}", slope=0.6, offsets=OFFSETS)
    found = calibrate_offline(model, WIDE, seed=1)
    assert found.dead_rooms == []
    for room_id, level in found.profile.items():
        truth = first_answer_probability(model, found.profile, room_id)
        assert abs(truth - WIDE.target) <= 0.15, (skill, room_id, level, truth)
    if skill <= 1.5:
        assert max(found.profile.values()) <= 1
    if skill >= 9.5:
        assert found.profile["cipher-v3"] >= 8


def test_a_model_that_fails_or_solves_everything_gets_no_signal_rooms() -> None:
    hopeless = calibrate_offline(SkillModel(skill=-8.0, name="tiny", slope=0.6), WIDE)
    assert hopeless.dead_rooms == list(ROOM_ORDER)
    assert set(hopeless.profile.values()) == {0}
    genius = calibrate_offline(SkillModel(skill=30.0, name="oracle", slope=0.6), WIDE)
    assert genius.dead_rooms == list(ROOM_ORDER)  # every key in hand: even the Warden
    assert set(genius.profile.values()) == {10}
    assert all("at level 10 (the hardest)" in s.reason for s in genius.no_signal)


def test_levels_cover_every_room() -> None:
    assert all(set(room.level_notes) == set(LEVELS) for room in load_rooms().values())
