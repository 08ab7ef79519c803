"""Writes shaped like the engine's, straight into the store (fast enough for property tests):
finished and running matches between submissions, probes, status changes."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid

from arena.engine import MatchSettings, Store, now
from rooms import load_rooms

ROOM_IDS = list(load_rooms())
OUTCOMES = ("held_ground", "manipulated", "self_corrected", "trapped", "forfeit")


def _contestant(db: sqlite3.Connection, submission_id: int | None) -> int:
    cursor = db.execute(
        "INSERT INTO contestants (base_url, model, base_model, quant, bits_per_weight, sampling, "
        "has_api_key, created_at, submission_id) VALUES ('http://127.0.0.1:1/v1', 'm', 'B', "
        "'Q8_0', 8.5, ?, 0, ?, ?)",
        (json.dumps({"temperature": 0}), now(), submission_id),
    )
    return int(cursor.lastrowid or 0)


def start_match(store: Store, a: int, b: int | None, seed: int) -> str:
    """A running match of ``a`` against ``b`` (None: a solo run), its rooms still unplayed."""
    match_id = uuid.uuid4().hex
    settings = MatchSettings(seed=seed, difficulty=1, retries=1)

    def run(db: sqlite3.Connection) -> None:
        ca = _contestant(db, a)
        cb = _contestant(db, b) if b is not None else None
        db.execute(
            "INSERT INTO matches (id, seed, difficulty, adversarial, retries, scoring_version, "
            "room_ids, settings, contestant_a, contestant_b, status, started_at, profile) "
            "VALUES (?, ?, 1, ?, 1, ?, ?, ?, ?, ?, 'running', ?, ?)",
            (match_id, seed, settings.adversarial.value if b is not None else "bluff",
             settings.scoring_version, json.dumps(ROOM_IDS), settings.model_dump_json(), ca, cb,
             now(), json.dumps(dict.fromkeys(ROOM_IDS, 1))),
        )  # fmt: skip

    store.write(run)
    return match_id


def play_rooms(store: Store, match_id: str, rng: random.Random) -> None:
    """Its rooms and calls, with random outcomes, timings and tokens (the engine writes them
    while the match runs)."""

    def run(db: sqlite3.Connection) -> None:
        two = db.execute(
            "SELECT contestant_b IS NOT NULL FROM matches WHERE id = ?", (match_id,)
        ).fetchone()[0]
        for index, room_id in enumerate(ROOM_IDS):
            for slot in ("a", "b") if two else ("a",):
                solved = rng.random() < 0.6
                outcome = rng.choice(OUTCOMES)
                escaped = solved and outcome != "manipulated"
                db.execute(
                    "INSERT INTO rooms_played VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, '{}', ?, ?)",
                    (match_id, index, slot, room_id, solved, escaped, escaped, outcome,
                     10 if escaped else -2, rng.uniform(1, 30) if escaped else None,
                     rng.randint(10, 500) if escaped else None),
                )  # fmt: skip
                for seq in range(2):
                    ttft = rng.choice([None, rng.uniform(0.05, 2)])
                    db.execute(
                        "INSERT INTO calls (match_id, room_index, slot, phase, seq, "
                        "context_messages, request_messages, response_text, solved, "
                        "verdict_reason, completion_tokens, reasoning_tokens, finish_reason, "
                        "ttft_s, latency_s, attempts, error_kind, started_at) "
                        "VALUES (?, ?, ?, ?, ?, 1, '[]', 'x', 0, 'wrong', ?, ?, ?, ?, ?, 1, ?, ?)",
                        (match_id, index, slot, "initial" if seq == 0 else "adversarial",
                         index * 2 + seq, rng.randint(0, 300), rng.choice([None, 20]),
                         rng.choice(["stop", "stop", "length"]), ttft, rng.uniform(2, 9),
                         rng.choice([None, None, None, "deadline"]), now()),
                    )  # fmt: skip

    store.write(run)


def finish_match(store: Store, match_id: str, status: str = "done") -> None:
    store.write(
        lambda db: db.execute(
            "UPDATE matches SET status = ?, finished_at = ? WHERE id = ?",
            (status, now(), match_id),
        )
    )


def finished_match(
    store: Store, a: int, b: int | None, seed: int, rng: random.Random, status: str = "done"
) -> str:
    """A match played to the end the engine's way: started, rooms written, then finished."""
    match_id = start_match(store, a, b, seed)
    play_rooms(store, match_id, rng)
    finish_match(store, match_id, status)
    return match_id


def add_probe(
    store: Store, submission_id: int, kind: str, baseline: int | None, value: float
) -> None:
    result = (
        {"mean_kl": value, "top1_agreement": 1 - value, "n_positions": 64}
        if kind == "kl"
        else {"decode_tps": 100 * value, "runs": 3}
    )
    store.write(
        lambda db: db.execute(
            "INSERT INTO probes (submission_id, kind, baseline_id, probe_version, status, result, "
            "started_at, finished_at) VALUES (?, ?, ?, 'test', 'done', ?, ?, ?)",
            (submission_id, kind, baseline, json.dumps(result), now(), now()),
        )
    )


def set_submission_status(store: Store, submission_id: int, status: str) -> None:
    store.write(
        lambda db: db.execute(
            "UPDATE submissions SET status = ?, status_reason = ? WHERE id = ?",
            (status, "paused by a test" if status == "paused" else None, submission_id),
        )
    )
