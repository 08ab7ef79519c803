"""The operator's view at scale, measured in one run on a synthetic store (loopback only).

``python bench/operator.py --matches 10000``: the synthetic store of ``bench.synthetic`` with its
baselines turned into pending claims; times the Operator tab's list (``GET /api/admin/baselines``:
every claim with its evidence, a full paired verdict per group member), a confirmation, and the
board's recomputation of the base model it moved. Prints what it measured; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synthetic import build

from arena.board import BoardKeeper
from arena.engine import Store
from submissions.baselines import claims, decide


def timed(fn: object, repeats: int) -> list[float]:
    """Seconds per call of ``fn`` (``repeats`` calls)."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.sqlite3") as store:
        started = time.perf_counter()
        build(store, args.matches, random.Random(7))
        print(f"store: {args.matches} matches built in {time.perf_counter() - started:.1f} s")
        store.write(lambda db: db.execute(
            "UPDATE submissions SET baseline_review = 'pending' WHERE is_baseline = 1"
        ))  # fmt: skip
        listing = timed(lambda: claims(store), args.repeats)
        shown = claims(store)
        flags = sum(len(c.evidence.flags) for c in shown)
        print(f"claims listed: {len(shown)} ({flags} evidence flags); "
              f"median {statistics.median(listing):.2f} s, max {max(listing):.2f} s "
              f"over {args.repeats} lists")  # fmt: skip
        keeper = BoardKeeper(store)
        keeper.refresh()
        first = shown[0].submission_id
        start = time.perf_counter()
        decide(store, first, "confirm", "operator (bench)", "")
        decided = time.perf_counter() - start
        start = time.perf_counter()
        keeper.refresh()
        recomputed = time.perf_counter() - start
        print(f"confirm: {decided * 1000:.1f} ms to write; the board recomputed the base model "
              f"it moved in {recomputed:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
