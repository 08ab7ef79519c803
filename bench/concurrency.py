"""The write side at scale: many matches at once in one process, measured in one run against
loopback null servers (``python -m arena.dev.nullserver`` in their own processes).

1. One match alone, then ``--matches`` (200) matches at once, every one through the real engine
   (client, validators, the Mechanism sandbox through its bounded pool, the store), played for
   two registered submissions while the board keeper runs as it does in the app. The servers
   decode at ``--tps`` tokens per second (simulated latency) and reply with a code block, so
   every Mechanism room runs the sandbox.
2. Harness overhead per match: this process's CPU seconds per match (client, validation,
   sandbox supervision, storage), alone vs at 200; and wall time of the batch vs one match.
3. Integrity: every match finished, no lost or duplicated turn (calls numbered 0..n-1 per side,
   as many as the match alone made, six rooms per side), and the board the keeper serves equals
   one computed from scratch.
4. The SQLite writer: transactions per second when 200 tasks write call-sized rows at once.

Usage: ``python bench/concurrency.py [--matches 200] [--tps 40] [--tokens 60]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from overhead import ServerProcess

from arena.board import BoardKeeper, build_snapshot
from arena.engine import ContestantSpec, MatchSettings, MatchSpec, Sampling, Store, now, play_match
from rooms import sandbox

REPLY = (
    "I checked every line of it.\n```python\ndef solve(values):\n    total = 0\n"
    "    for v in values:\n        total += v\n    return total\n```\nANSWER: 42"
)


def add_submissions(store: Store) -> tuple[int, int]:
    """A baseline and a candidate of one base model (never contacted: the specs point at the
    null servers)."""

    def run(db: sqlite3.Connection) -> tuple[int, int]:
        ids = []
        for quant, baseline in (("BF16", 1), ("Q4_K_M", 0)):
            cursor = db.execute(
                "INSERT INTO submissions (display_name, base_model, base_model_key, quant, "
                "bits_per_weight, hardware, engine, base_url, model, sampling, settings_class, "
                "is_baseline, status, deletion_token_hash, client_hash, probe, created_at, "
                "updated_at) VALUES (?, 'Null', 'null', ?, 8, 'CPU', 'llama.cpp', ?, "
                "'null-model', ?, 'c', ?, 'active', 'h', 'c', '{}', ?, ?)",
                (f"Null {quant}", quant, f"http://10.0.0.{baseline}:1/v1",
                 json.dumps({"max_tokens": 512}), baseline, now(), now()),
            )  # fmt: skip
            ids.append(int(cursor.lastrowid or 0))
        return ids[0], ids[1]

    return store.write(run)


def spec(urls: tuple[str, str], ids: tuple[int, int], seed: int) -> MatchSpec:
    sides = [
        ContestantSpec(base_url=url, model="null-model", base_model="Null", quant=quant,
                       sampling=Sampling(max_tokens=512), submission_id=sid)
        for url, quant, sid in zip(urls, ("BF16", "Q4_K_M"), ids, strict=True)
    ]  # fmt: skip
    return MatchSpec(a=sides[0], b=sides[1], settings=MatchSettings(seed=seed, difficulty=1))


async def play(store: Store, specs: list[MatchSpec]) -> tuple[float, float, list[str]]:
    """Wall and CPU seconds of playing ``specs`` at once, and the match ids."""
    wall, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(play_match(s, store) for s in specs))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    bad = [r.status for r in results if r.status != "done"]
    if bad:
        raise SystemExit(f"{len(bad)} matches did not finish: {bad[:5]}")
    return wall, cpu, [r.match_id for r in results]


def integrity(store: Store, match_ids: list[str], calls_alone: int) -> list[str]:
    """What is wrong with the turns of these matches (empty: nothing)."""
    problems = []
    for match_id in match_ids:
        calls = store.calls(match_id)
        if len(calls) != calls_alone:
            problems.append(f"{match_id}: {len(calls)} calls, alone {calls_alone}")
        for slot in ("a", "b"):
            seqs = sorted(c["seq"] for c in calls if c["slot"] == slot)
            if seqs != list(range(len(seqs))):
                problems.append(f"{match_id} {slot}: turns {seqs[:5]}... not 0..n-1")
        rooms = store.rooms_played(match_id)
        if len(rooms) != 12:
            problems.append(f"{match_id}: {len(rooms)} rooms played, not 12")
    return problems


async def writer_throughput(store: Store, tasks: int, each: int) -> float:
    """Write transactions per second with ``tasks`` writers at once (one call-sized row each)."""
    text = "x" * 800

    async def one(k: int) -> None:
        for i in range(each):
            await store.awrite(
                lambda db, k=k, i=i: db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)", (f"bench-{k}-{i}", text)
                )
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(tasks)))
    return tasks * each / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=200)
    parser.add_argument("--tps", type=float, default=40.0, help="simulated decode speed")
    parser.add_argument("--tokens", type=int, default=60, help="tokens per reply")
    args = parser.parse_args()
    thinking = ("Let me think about it step by step. " * (args.tokens // 30 + 1))[: args.tokens]
    reply = thinking + "\n" + REPLY  # at least one character per token
    servers = [ServerProcess(reply, args.tokens, args.tps) for _ in range(2)]
    urls = (servers[0].base_url, servers[1].base_url)
    try:
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "arena.sqlite3") as store:
            ids = add_submissions(store)
            keeper = BoardKeeper(store)
            keeper.start()
            try:
                wall_1, cpu_1, (alone,) = await play(store, [spec(urls, ids, 0)])
                calls_alone = len(store.calls(alone))
                builds_before = keeper.status().built_at
                specs = [spec(urls, ids, seed) for seed in range(1, args.matches + 1)]
                started_rows = store.query("SELECT COUNT(*) AS n FROM calls")[0]["n"]
                wall_n, cpu_n, match_ids = await play(store, specs)
                rows = store.query("SELECT COUNT(*) AS n FROM calls")[0]["n"] - started_rows
                during = keeper.recomputations
                await asyncio.to_thread(keeper.refresh)  # the last writes, if not yet taken in
            finally:
                keeper.stop()
            problems = integrity(store, match_ids, calls_alone)
            same = keeper.snapshot.content() == build_snapshot(store).content()
            tps = await writer_throughput(store, args.matches, 20)
        print(f"servers: 2 null servers at {args.tps:g} tok/s, {args.tokens} tokens per reply, "
              f"sandbox pool {sandbox.MAX_PARALLEL} at once")  # fmt: skip
        print(f"one match alone: {wall_1:.1f} s wall, {cpu_1:.2f} s CPU in this process, "
              f"{calls_alone} calls")  # fmt: skip
        print(f"{args.matches} matches at once: {wall_n:.1f} s wall ({wall_n / wall_1:.2f}x one "
              f"match), {cpu_n / args.matches:.2f} s CPU per match "
              f"({cpu_n / args.matches / cpu_1:.2f}x one match alone)")  # fmt: skip
        print(f"throughput: {3600 * args.matches / wall_n:.0f} matches per hour at this latency; "
              f"{rows / wall_n:.0f} calls stored per second")  # fmt: skip
        print(
            f"integrity: {len(match_ids)} finished, {len(problems)} problems"
            + (f": {problems[:3]}" if problems else " (every turn numbered once, none lost)")
        )
        print(f"board: recomputed {during} times in the background while the {args.matches} "
              f"matches ran (first built {builds_before}); after them, the keeper's snapshot "
              f"equals one from scratch: {same}")  # fmt: skip
        print(
            f"SQLite writer: {tps:.0f} write transactions per second from {args.matches} "
            "tasks at once"
        )
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
