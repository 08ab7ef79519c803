"""The sequential test's error rates and stopping times, simulated (no servers, no timing).

Prints, for the Wald SPRT the scheduler stops pairs with (``arena.stats.sprt``: H1 = the
candidate loses 3 of 4 flips, alpha 0.05, beta 0.2):

1. A/A: runs with no true effect (10 % of puzzles flip each way): the share that ends
   ``degraded`` (should be <= 5 %), at the standard tier's budget (300 paired puzzles) and at 600.
2. A true 10 pp drop at 20 % discordance (15 % baseline-only, 5 % candidate-only): the share
   decided ``degraded`` (power) and the median paired puzzles played, against the fixed-n
   McNemar requirement.
3. The same two with **clustered** flips, as real seeds give them: six rooms per seed share a
   seed-level flip rate drawn from a Beta distribution (mean as above, intra-seed correlation
   ``--rho``), the stopping rule still checked after every puzzle. The SPRT assumes independent
   pairs; this shows what the correlation costs.
4. The **equivalence** outcome (``arena.stats.decide``: the 95 % interval of the difference inside
   +-5 pp, checked after every round of six): the share of runs that end ``equivalent`` when the
   true drop is 0, 5 and 10 pp, at 20 % and 10 % discordance, at the standard budget and at 900.
   At a true 5 pp drop "equivalent" is a false reassurance: it should stay near 5 %.

The SPRT's lower boundary (flips look symmetric) does not stop a pair: it plays on until it is
degraded, shown equivalent, or its budget is spent.

Usage: ``python bench/sequential.py [--runs 200] [--rho 0.2]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.analysis import DEFAULT_MARGIN, decide, fixed_n_pairs, simulate
from arena.tiers import TIERS

ROOMS_PER_SEED = 6


def clustered(p_b: float, p_c: float, *, budget: int, seed: int, rho: float) -> tuple[str, int]:
    """One sequential run whose flips are correlated within each seed (six rooms)."""
    rng = random.Random(seed)
    flip = p_b + p_c
    share_b = p_b / flip
    strength = (1 - rho) / rho  # Beta(a, b) with a + b = strength has ICC rho
    b = c = n = 0
    while n < budget:
        rate = rng.betavariate(flip * strength, (1 - flip) * strength)
        for _ in range(ROOMS_PER_SEED):
            n += 1
            if rng.random() < rate:
                if rng.random() < share_b:
                    b += 1
                else:
                    c += 1
                decision = decide(b, c, None)
                if decision != "continue":
                    return decision, n
            if n >= budget:
                break
    return "continue", budget


def main(args: argparse.Namespace) -> None:
    standard = TIERS["standard"].rounds * ROOMS_PER_SEED
    fixed = fixed_n_pairs(0.20, 0.10)
    print(f"{args.runs} runs each; fixed-n McNemar for a 10 pp drop at 20 % discordance: {fixed}")
    for budget in (standard, 600):
        runs = [simulate(0.10, 0.10, budget=budget, seed=s) for s in range(args.runs)]
        wrong = sum(r.decision == "degraded" for r in runs)
        print(f"A/A, independent, budget {budget}: degraded {wrong}/{args.runs} "
              f"({100 * wrong / args.runs:.1f} %)")  # fmt: skip
    runs = [simulate(0.15, 0.05, budget=standard, seed=s) for s in range(args.runs)]
    caught = sum(r.decision == "degraded" for r in runs)
    median = statistics.median(r.pairs for r in runs)
    print(f"10 pp drop, independent, budget {standard}: degraded {caught}/{args.runs}, median "
          f"{median:g} paired puzzles ({median / fixed:.2f} of fixed n)")  # fmt: skip
    for label, p_b, p_c in (("A/A", 0.10, 0.10), ("10 pp drop", 0.15, 0.05)):
        found = [clustered(p_b, p_c, budget=standard, seed=s, rho=args.rho)
                 for s in range(args.runs)]  # fmt: skip
        degraded = sum(d == "degraded" for d, _ in found)
        median = statistics.median(n for _, n in found)
        print(f"{label}, clustered (rho {args.rho}), budget {standard}: degraded "
              f"{degraded}/{args.runs} ({100 * degraded / args.runs:.1f} %), median {median:g} "
              "paired puzzles")  # fmt: skip
    print(f"equivalence within +-{100 * DEFAULT_MARGIN:g} pp (share of runs ending 'equivalent'; "
          "false when the true drop is >= the margin):")  # fmt: skip
    for discordance in (0.20, 0.10):
        for budget in (standard, 900):
            shares = []
            for drop in (0.0, 0.05, 0.10):
                p_b, p_c = discordance / 2 + drop / 2, discordance / 2 - drop / 2
                runs = [simulate(p_b, p_c, budget=budget, seed=s, margin=DEFAULT_MARGIN)
                        for s in range(args.runs)]  # fmt: skip
                equal = sum(r.decision == "equivalent" for r in runs)
                shares.append(f"drop {100 * drop:g} pp: {100 * equal / args.runs:.1f} %")
            print(f"  discordance {100 * discordance:g} %, budget {budget}: " + ", ".join(shares))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rho", type=float, default=0.2)
    main(parser.parse_args())
