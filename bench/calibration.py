"""What calibration buys: paired rooms the sequential test needs, at fixed level 1 vs calibrated.

Three simulated baselines of known skill (``arena/skillsim.py``) stand for a tiny model (it
solves level 0-1 rooms about 60 % of the time), a mid-size one and a frontier model (levels
8-10); each has a "quantized" twin one notch weaker (one level of skill less, the same puzzle
difficulties). In one run this script:

1. **Calibrates each baseline through the real path**: a loopback server answering as the
   simulated model, the real client, match engine and validators (the Mechanism fixes run in the
   sandbox), and ``python -m arena calibrate``'s search (``--runs`` runs each).
2. **Plays the sequential test** many times (``--trials``) for each pair under two conditions:
   every room at level 1, and the calibrated profile (rooms without signal left out, as the
   verdicts do). Outcomes are drawn from the same skill model (no server: thousands of runs); a
   trial adds one seed (six paired rooms) at a time and stops when the SPRT says ``degraded``,
   when the equivalence interval lies inside the margin, or at the standard tier's budget (300
   paired rooms).
3. **Prints** per pair and condition: the share of trials that reached ``degraded``, the median
   paired rooms to get there, the share still undecided at the budget, and the baseline's and
   twin's true first-answer solve rates per room.
4. **Calibration accuracy** over random skills (``--accuracy`` models with random room offsets,
   the search replayed offline): the share of rooms whose chosen level's true solve rate lies
   within 0.15 of the target, for 16, 32 and 64 runs, at two curve steepnesses.

Usage: ``python bench/calibration.py [--runs 32] [--trials 200] [--accuracy 100]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.analysis import (
    CalibrationConfig,
    CalibrationResult,
    Pair,
    decide,
    difference_interval,
    discordant,
)
from arena.cli import CalibrationProgress, calibrate_endpoint
from arena.dev import SkillModel, calibrate_offline, first_answer_probability, serve, simulate_run
from arena.engine import ContestantSpec, Sampling, Store, profiles
from arena.tiers import TIERS
from rooms import ROOM_ORDER
from rooms.base import room_name_of

SLOPE = 0.6
OFFSETS = {"cipher": -0.5, "map": 0.5, "mechanism": 0.0, "archive": 0.3, "paradox": 0.7,
           "warden": -0.3}  # fmt: skip
PAIRS = {"tiny": 1.2, "mid": 5.0, "frontier": 9.5}
"""Baseline skill per pair; each candidate is one level of skill weaker."""
NOTCH = 1.0
BUDGET = TIERS["standard"].rounds * len(ROOM_ORDER)


async def calibrate_real(
    model: SkillModel, runs: int, work: Path
) -> tuple[CalibrationResult, float]:
    """Calibrate ``model`` through a loopback server and the real match engine."""
    db = work / f"{model.name}.sqlite3"
    store = Store(db)
    server = serve(model, db)
    server.start()
    started = time.monotonic()
    try:
        spec = ContestantSpec(base_url=server.base_url, model=model.name, base_model=model.name,
                              quant="BF16", sampling=Sampling(max_tokens=512))  # fmt: skip
        config = CalibrationConfig(runs=runs, context_tokens=1_000_000)
        found = await calibrate_endpoint(spec, store, config, CalibrationProgress(runs, True))
    finally:
        server.stop()
        store.close()
    return found, time.monotonic() - started


def trial(
    base: SkillModel,
    cand: SkillModel,
    levels: dict[str, int],
    silent: set[str],
    index: int,
) -> tuple[str, int]:
    """One sequential test: seeds until a decision or the budget; (decision, paired rooms)."""
    pairs: list[Pair] = []
    seed = 0
    while len(pairs) < BUDGET:
        drawn = simulate_run({"b": base, "c": cand}, levels, index * 100_003 + seed)
        for room_id in levels:
            if room_id in silent:
                continue
            pairs.append(Pair(seed, room_id, drawn["b"][room_id], drawn["c"][room_id]))
        seed += 1
        b, c = discordant(pairs)
        decision = decide(b, c, difference_interval(pairs))
        if decision != "continue":
            return decision, len(pairs)
    return "budget", len(pairs)


def report(label: str, outcomes: list[tuple[str, int]]) -> str:
    degraded = [n for d, n in outcomes if d == "degraded"]
    share = 100 * len(degraded) / len(outcomes)
    equivalent = sum(d == "equivalent" for d, _ in outcomes)
    budget = sum(d == "budget" for d, _ in outcomes)
    median = f"{statistics.median(degraded):.0f}" if degraded else "never"
    return (f"  {label:<22} degraded {share:5.1f} % (median {median} paired rooms), "
            f"equivalent {100 * equivalent / len(outcomes):4.1f} %, undecided at {BUDGET}: "
            f"{100 * budget / len(outcomes):4.1f} %")  # fmt: skip


def rates(model: SkillModel, levels: dict[str, int]) -> str:
    return " ".join(
        f"{room_name_of(r)}@{lvl} {100 * first_answer_probability(model, levels, r):.0f}%"
        for r, lvl in levels.items()
    )


def accuracy(models: int, runs: int, slope: float) -> float:
    """Share of rooms within 0.15 of the target over random skills (offline calibration)."""
    rng = random.Random(runs * 1000 + int(slope * 10))
    inside = total = 0
    for index in range(models):
        offsets = {room_name_of(r): rng.uniform(-1.5, 1.5) for r in ROOM_ORDER}
        model = SkillModel(skill=rng.uniform(0.5, 10.0), name=f"acc-{index}", slope=slope,
                           offsets=offsets)  # fmt: skip
        config = CalibrationConfig(runs=runs, context_tokens=1_000_000)
        found = calibrate_offline(model, config, seed=index)
        for room_id in found.profile:
            reachable = min(
                abs(first_answer_probability(model, {**found.profile, room_id: lvl}, room_id)
                    - config.target)
                for lvl in range(11)
            )  # fmt: skip
            if reachable > 0.1:
                continue  # no level of this room is near the target for this model
            total += 1
            truth = first_answer_probability(model, found.profile, room_id)
            inside += abs(truth - config.target) <= 0.15
    return 100 * inside / total


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="qer-calibration-bench-"))
    print(f"skill curve slope {SLOPE} per level; candidate = baseline - {NOTCH} level of skill; "
          f"budget {BUDGET} paired rooms; {args.trials} trials per condition\n")  # fmt: skip
    for label, skill in PAIRS.items():
        base = SkillModel(skill=skill, name=f"{label}-base", slope=SLOPE, offsets=OFFSETS)
        cand = base.twin(NOTCH, f"{label}-twin")
        found, seconds = await calibrate_real(base, args.runs, work)
        silent = set(found.dead_rooms)
        fixed = profiles.uniform(1)
        print(f"{label} (skill {skill}): calibrated in {seconds:.0f} s ({args.runs} runs through "
              f"the real engine): {profiles.describe(found.profile)}; no signal: "
              f"{', '.join(sorted(silent)) or 'none'}")  # fmt: skip
        print(f"  level 1 solve rates, baseline: {rates(base, fixed)}")
        print(f"  calibrated, baseline:          {rates(base, found.profile)}")
        print(f"  calibrated, twin:              {rates(cand, found.profile)}")
        at_one = [trial(base, cand, fixed, set(), i) for i in range(args.trials)]
        tuned = [trial(base, cand, found.profile, silent, i) for i in range(args.trials)]
        print(report("every room at level 1", at_one))
        print(report("calibrated profile", tuned))
        print()
    if args.accuracy:
        print(
            f"calibration accuracy ({args.accuracy} random models, rooms that have a level "
            "within 0.1 of the target): share of rooms whose chosen level is within 0.15"
        )
        for slope in (0.6, 1.0):
            shares = [f"{runs} runs {accuracy(args.accuracy, runs, slope):.1f} %"
                      for runs in (16, 32, 64)]  # fmt: skip
            print(f"  slope {slope}: " + ", ".join(shares))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=32, help="calibration runs per baseline")
    parser.add_argument("--trials", type=int, default=200, help="sequential tests per condition")
    parser.add_argument("--accuracy", type=int, default=100, help="random models (0: skip)")
    asyncio.run(main(parser.parse_args()))
