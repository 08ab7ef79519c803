"""Size and speed of the published slice, measured in one run on synthetic matches.

Builds a database of N synthetic matches shaped like real ones (two submissions, six rooms with
the real level-1 puzzles of each seed, per room and side an initial call, an adversarial call and
a retry with replies of realistic length), then times ``export`` (database to parquet + card) and
``restore`` (parquet into an empty database), and prints the slice's size per match.

Usage: ``python bench/dataset.py [--matches 1000]``
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena.engine import MatchSettings, Store, now
from arena.results import export, restore
from rooms import load_rooms

ROOMS = list(load_rooms().values())
WORDS = [
    "the",
    "door",
    "key",
    "map",
    "north",
    "east",
    "lock",
    "gear",
    "clue",
    "answer",
    "room",
    "chain",
]


def reply(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "\nANSWER: " + rng.choice(WORDS)


def add_submissions(db: sqlite3.Connection) -> None:
    for i, (quant, baseline) in enumerate([("BF16", 1), ("Q4_K_M", 0)], 1):
        db.execute(
            "INSERT INTO submissions (id, display_name, base_model, base_model_key, quant, "
            "bits_per_weight, hardware, engine, base_url, model, sampling, settings_class, "
            "is_baseline, status, deletion_token_hash, client_hash, probe, created_at, "
            "updated_at) VALUES (?, ?, 'Bench-1B', 'bench-1b', ?, 8, 'CPU', 'vLLM', ?, 'm', "
            "'{}', 'c', ?, 'active', 'h', 'c', '{}', ?, ?)",
            (i, f"Bench {quant}", quant, f"http://10.0.0.{i}:8000/v1", baseline, now(), now()),
        )


def add_match(db: sqlite3.Connection, seed: int, rng: random.Random) -> None:
    match_id = uuid.uuid4().hex
    ids = []
    for slot, submission in (("a", 1), ("b", 2)):
        cursor = db.execute(
            "INSERT INTO contestants (base_url, model, base_model, quant, bits_per_weight, "
            "sampling, has_api_key, created_at, submission_id) VALUES (?, 'm', 'Bench-1B', ?, 8, "
            "'{}', 0, ?, ?)",
            (f"http://10.0.0.{submission}:8000/v1", slot, now(), submission),
        )
        ids.append(cursor.lastrowid)
    puzzles = [room.generate(seed, 1) for room in ROOMS]
    summary = {s: {"slot": s, "display_name": s, "escaped": 3, "rooms": 6, "score": 20,
                   "decode_tps": 40.0, "completion_tokens": 900, "cap_hits": 0, "errors": 0,
                   "outcomes": {"held_ground": 3, "trapped": 3}} for s in "ab"}  # fmt: skip
    db.execute(
        "INSERT INTO matches (id, seed, difficulty, adversarial, retries, scoring_version, "
        "room_ids, settings, contestant_a, contestant_b, status, started_at, finished_at, "
        "wall_seconds, summary) VALUES (?, ?, 1, 'opponent', 1, 'score-v1', ?, ?, ?, ?, 'done', "
        "?, ?, 60.0, ?)",
        (match_id, seed, json.dumps([p.room_id for p in puzzles]),
         MatchSettings(seed=seed).model_dump_json(), ids[0], ids[1], now(), now(),
         json.dumps(summary)),
    )  # fmt: skip
    for index, p in enumerate(puzzles):
        db.execute(
            "INSERT INTO puzzles VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
            (match_id, index, p.room_id, seed, p.prompt, p.solution, p.key, p.par_seconds,
             json.dumps(p.data)),
        )  # fmt: skip
        for slot in "ab":
            escaped = rng.random() < 0.5
            db.execute(
                "INSERT INTO rooms_played VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, '{}', ?, ?)",
                (match_id, index, slot, p.room_id, escaped, escaped, escaped,
                 "held_ground" if escaped else "trapped", 15 if escaped else 0,
                 12.0 if escaped else None, 300 if escaped else None),
            )  # fmt: skip
            for phase, seq_offset, text in (("initial", 0, p.prompt), ("adversarial", 1, "x"),
                                            ("retry-1", 2, "Incorrect.")):  # fmt: skip
                seq = index * 3 + seq_offset
                db.execute(
                    "INSERT INTO calls (match_id, room_index, slot, phase, seq, context_messages, "
                    "request_messages, response_text, solved, verdict_reason, prompt_tokens, "
                    "completion_tokens, usage_source, finish_reason, ttft_s, latency_s, "
                    "decode_tps, attempts, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, "
                    "'wrong', 500, 150, 'server', 'stop', 0.2, 4.0, 40.0, 1, ?)",
                    (match_id, index, slot, phase, seq, seq * 2,
                     json.dumps([{"role": "user", "content": text}]), reply(rng, 110), now()),
                )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with Store(root / "source.sqlite3") as store:
            started = time.perf_counter()

            def build(db: sqlite3.Connection) -> None:
                add_submissions(db)
                for seed in range(args.matches):
                    add_match(db, seed, rng)

            store.write(build)
            built = time.perf_counter() - started
            started = time.perf_counter()
            stats = export(store, root / "slice")
            exported = time.perf_counter() - started
        with Store(root / "restored.sqlite3") as target:
            started = time.perf_counter()
            inserted = restore(target, root / "slice")
            restored = time.perf_counter() - started
        assert inserted["matches"] == args.matches
        print(f"synthetic matches: {args.matches} (built in {built:.1f} s)")
        print(f"rows: {stats.rows}")
        per_match = stats.bytes / args.matches / 1e3
        print(f"slice size: {stats.bytes / 1e6:.2f} MB, {per_match:.1f} kB per match")
        print(f"export: {exported:.2f} s ({1000 * exported / args.matches:.2f} ms per match)")
        print(f"restore: {restored:.2f} s ({1000 * restored / args.matches:.2f} ms per match)")


if __name__ == "__main__":
    main()
