"""A synthetic store shaped like a busy public Space, for the scale benchmark.

Two base models with three submissions each (a BF16 baseline and two quants of known skill), and
N finished matches scheduled like real ones: every seed is played by the three pairs of its group
(baseline-candidate twice, candidate-candidate once), each match six rooms with the real level-1
puzzles of its seed, per room and side an initial call, an adversarial call and a retry with
replies of realistic length (about 100 kB per match, like real ones). Plus a KL and a speed probe
per candidate.

Only the database is synthetic: every number shown from it goes through the real code.
"""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from arena.engine import MatchSettings, Store, now
from rooms import Puzzle, load_rooms

ROOMS = list(load_rooms().values())
WORDS = ["the", "door", "key", "map", "north", "east", "lock", "gear", "clue", "answer", "room"]
SAMPLING = '{"temperature": 0.0, "max_tokens": 512}'


@dataclass(frozen=True)
class Member:
    """One synthetic submission: its labels and how often it escapes a room."""

    id: int
    base_model: str
    quant: str
    bits: float
    skill: float
    baseline: bool = False


MEMBERS = (
    Member(1, "Bench-8B", "BF16", 16.0, 0.62, baseline=True),
    Member(2, "Bench-8B", "Q8_0", 8.5, 0.60),
    Member(3, "Bench-8B", "Q4_K_M", 4.85, 0.50),
    Member(4, "Bench-70B", "BF16", 16.0, 0.75, baseline=True),
    Member(5, "Bench-70B", "Q6_K", 6.56, 0.74),
    Member(6, "Bench-70B", "Q3_K_M", 3.91, 0.58),
)
GROUPS = [[m for m in MEMBERS if m.base_model == name] for name in ("Bench-8B", "Bench-70B")]


def key_of(base_model: str) -> str:
    return base_model.lower()


def add_submissions(db: sqlite3.Connection) -> None:
    """The six submissions (hosts in 10.0.0.0/8: never contacted)."""
    for m in MEMBERS:
        db.execute(
            "INSERT INTO submissions (id, display_name, base_model, base_model_key, quant, "
            "bits_per_weight, file_size_gb, hardware, engine, base_url, model, sampling, "
            "settings_class, is_baseline, status, deletion_token_hash, client_hash, probe, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'DGX Spark', 'llama.cpp', ?, "
            "'m', ?, 'c', ?, 'active', 'h', 'c', '{}', ?, ?)",
            (m.id, f"{m.base_model} {m.quant}", m.base_model, key_of(m.base_model), m.quant,
             m.bits, round(m.bits * 8 / 8, 2), f"http://10.0.0.{m.id}:8000/v1", SAMPLING,
             int(m.baseline), now(), now()),
        )  # fmt: skip


def add_probes(db: sqlite3.Connection) -> None:
    """A speed probe per submission and a KL probe per candidate (results as the probes store
    them)."""
    for m in MEMBERS:
        speed = {"decode_tps": 20.0 * 16 / m.bits, "decode_tps_ci": [18.0, 22.0], "runs": 5}
        rows = [("speed", None, speed)]
        if not m.baseline:
            base = next(b.id for b in MEMBERS if b.baseline and b.base_model == m.base_model)
            kl = {"mean_kl": 0.3 / m.bits, "top1_agreement": 1 - 0.1 / m.bits, "n_positions": 512}
            rows.append(("kl", base, kl))
        for kind, baseline, result in rows:
            db.execute(
                "INSERT INTO probes (submission_id, kind, baseline_id, probe_version, status, "
                "result, started_at, finished_at) VALUES (?, ?, ?, 'bench', 'done', ?, ?, ?)",
                (m.id, kind, baseline, json.dumps(result), now(), now()),
            )


@lru_cache(maxsize=4096)
def puzzles(seed: int) -> tuple[Puzzle, ...]:
    return tuple(room.generate(seed, 1) for room in ROOMS)


def reply(rng: random.Random, words: int, answer: str) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + f"\nANSWER: {answer}"


def schedule(matches: int) -> Iterator[tuple[int, Member, Member]]:
    """(seed, a, b) of each match: groups alternate, each seed played by its group's three
    pairs."""
    for i in range(matches):
        group = GROUPS[i % 2]
        pair = (i // 2) % 3
        seed = i // 6
        a, b = [(group[0], group[1]), (group[0], group[2]), (group[1], group[2])][pair]
        yield seed, a, b


def add_match(db: sqlite3.Connection, seed: int, a: Member, b: Member, rng: random.Random) -> str:
    """One finished match of ``a`` against ``b`` on ``seed``; its id."""
    match_id = uuid.uuid4().hex
    ids = []
    for m in (a, b):
        cursor = db.execute(
            "INSERT INTO contestants (base_url, model, base_model, quant, bits_per_weight, "
            "sampling, has_api_key, created_at, submission_id) "
            "VALUES (?, 'm', ?, ?, ?, ?, 0, ?, ?)",
            (f"http://10.0.0.{m.id}:8000/v1", m.base_model, m.quant, m.bits, SAMPLING, now(),
             m.id),
        )  # fmt: skip
        ids.append(cursor.lastrowid)
    played = puzzles(seed)
    settings = MatchSettings(seed=seed, difficulty=1, tier="standard", seed_policy="hmac")
    profile = {p.room_id: 1 for p in played}
    rooms, calls, escaped_by = [], [], {"a": 0, "b": 0}
    for index, p in enumerate(played):
        for slot, m in (("a", a), ("b", b)):
            solved = rng.random() < m.skill
            held = solved and rng.random() < 0.8
            outcome = ("held_ground" if held else "manipulated") if solved else "trapped"
            escaped = held or (not solved and rng.random() < 0.2)
            escaped_by[slot] += escaped
            rooms.append((match_id, index, slot, p.room_id, solved, escaped, escaped, outcome, 0,
                          15 if escaped else 0, 12.0 if escaped else None,
                          300 if escaped else None))  # fmt: skip
            for offset, phase, text in ((0, "initial", p.prompt), (1, "adversarial", "Hold?"),
                                        (2, "retry-1", "Incorrect.")):  # fmt: skip
                tokens = rng.randint(80, 600)
                ttft = rng.uniform(0.1, 0.6)
                capped = rng.random() < 0.02
                thought = rng.randint(0, tokens) if m.bits < 8 else None
                calls.append((match_id, index, slot, phase, index * 3 + offset, offset * 2,
                              json.dumps([{"role": "user", "content": text}]),
                              reply(rng, 110, p.solution if solved else "no"), int(solved),
                              "right" if solved else "wrong", 500, tokens, thought, "server",
                              "length" if capped else "stop", ttft, ttft + tokens / 40,
                              40.0, 1, now()))  # fmt: skip
    summary = {s: {"slot": s, "display_name": s, "escaped": escaped_by[s], "rooms": 6,
                   "score": 15 * escaped_by[s], "decode_tps": 40.0, "completion_tokens": 900,
                   "cap_hits": 0, "errors": 0, "outcomes": {}} for s in "ab"}  # fmt: skip
    db.execute(
        "INSERT INTO matches (id, seed, difficulty, adversarial, retries, scoring_version, "
        "room_ids, settings, contestant_a, contestant_b, status, started_at, finished_at, "
        "wall_seconds, summary, profile, purpose) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, 'done', "
        "?, ?, 600.0, ?, ?, 'measure')",
        (match_id, seed, settings.adversarial.value, settings.retries, settings.scoring_version,
         json.dumps([p.room_id for p in played]), settings.model_dump_json(), ids[0], ids[1],
         now(), now(), json.dumps(summary), json.dumps(profile)),
    )  # fmt: skip
    db.executemany(
        "INSERT INTO puzzles VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
        [(match_id, i, p.room_id, seed, p.prompt, p.solution, p.key, p.par_seconds,
          json.dumps(p.data)) for i, p in enumerate(played)],
    )  # fmt: skip
    db.executemany(
        "INSERT INTO rooms_played VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)", rooms
    )
    db.executemany(
        "INSERT INTO calls (match_id, room_index, slot, phase, seq, context_messages, "
        "request_messages, response_text, solved, verdict_reason, prompt_tokens, "
        "completion_tokens, reasoning_tokens, usage_source, finish_reason, ttft_s, latency_s, "
        "decode_tps, attempts, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?)",
        calls,
    )
    return match_id


def build(store: Store, matches: int, rng: random.Random, *, chunk: int = 500) -> None:
    """The six submissions, their probes and ``matches`` finished matches, written in chunks."""
    store.write(lambda db: (add_submissions(db), add_probes(db)))
    plan = list(schedule(matches))
    for start in range(0, len(plan), chunk):

        def write(db: sqlite3.Connection, part: list = plan[start : start + chunk]) -> None:
            for seed, a, b in part:
                add_match(db, seed, a, b, rng)

        store.write(write)


def one_more(store: Store, matches: int, rng: random.Random) -> str:
    """The next scheduled match after ``matches`` (its id)."""
    seed, a, b = next(s for i, s in enumerate(schedule(matches + 1)) if i == matches)
    return store.write(lambda db: add_match(db, seed, a, b, rng))
