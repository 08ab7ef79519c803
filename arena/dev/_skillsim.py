"""Simulated contestants of known skill: an OpenAI-compatible loopback server that answers each
puzzle right with a probability that falls with the room's level, for tests and benchmarks.

A real small model cannot show what calibration and the sequential test do for a 30B reasoning
model, so this server plays one through the real client, the real match engine and the real
validators (the Mechanism room's fixes run in the sandbox):

- **Skill curve.** In a room at ``level`` the first answer is right with probability
  ``1 / (1 + exp(-slope * (skill - offset[room] - level)))``: 50 % where the level equals the
  skill (plus the room's offset), falling by about ``slope / 4`` per level there.
- **Answers.** A right answer is the room's reference solution; a wrong one is the room's bluff
  (a confident, plausible, wrong answer). In the Warden the contestant combines the keys it was
  really handed in this conversation, so a missed room costs it the Warden as it would a model.
- **Correlated twins.** Whether an answer is right is decided by a latent draw
  ``w * z_puzzle + sqrt(1 - w^2) * z_own < Phi^-1(p)``: ``z_puzzle`` comes from the puzzle alone
  (a hard puzzle is hard for every quant), ``z_own`` from the model's name, the puzzle and the
  attempt. A "quantized twin" (:meth:`SkillModel.twin`) has a lower skill and the same
  ``z_puzzle``, so twins disagree mostly near their skill, as real quants of one model do. Draws
  are hashes, so the same conversation always gets the same answer (like temperature 0).
- **Which puzzle.** The server recognises a room's prompt in the arena's database (the match
  engine stores every puzzle before the first call), so it needs the database path
  (:class:`PuzzleBook`).

:func:`first_answer_probability` gives the exact probability that the model solves a room at a
level on its first answer, within a run of a given profile (the Warden depends on the keys of the
other rooms), so tests can compare a calibration with the truth.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from arena.analysis import CalibrationConfig, CalibrationResult, Run, next_profile
from arena.analysis import result as calibration_result
from arena.dev.nullserver import NullServer, NullServerConfig
from arena.engine import adversarial_prompt, retry_prompt
from rooms import load_rooms
from rooms.base import KEY_ROOMS, Puzzle, Room, room_name_of
from rooms.warden import RULES, answer_from_keys

_NORMAL = NormalDist()
_ADVERSARIAL = adversarial_prompt("\x00").split("\x00", 1)[0]
_RETRY = retry_prompt(1, 1).split("1", 1)[0]
_NOTE = re.compile(r"^You (?:escaped|did not escape) the [^\n]*\n\n")
_KEY = re.compile(r"You escaped the (\w+) room\. The key it hands you is: (\w+)\.")
UNKNOWN_PUZZLE = "I do not recognise this puzzle."
"""The reply to a prompt the server cannot find in the database (it never solves anything)."""


def unit_normal(*parts: object) -> float:
    """A standard normal value fixed by ``parts`` (a hash, not a random stream)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    u = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
    return _NORMAL.inv_cdf(u)


@dataclass(frozen=True)
class SkillModel:
    """A simulated model: its skill curve per room and its name (which fixes its own draws)."""

    skill: float
    """The level (in a room with offset 0) it solves half the time."""
    name: str = "sim"
    """The served model id; also seeds its own draws."""
    slope: float = 1.0
    """Steepness of the skill curve per level."""
    offsets: Mapping[str, float] = field(default_factory=dict)
    """Room name (``cipher``, ``map``...) -> how much harder than the level says (in levels)."""
    correlation: float = 0.8
    """``w``: the weight of the puzzle's own difficulty in every draw (twins agree more as it
    grows; 0 makes every answer independent)."""

    def probability(self, room_id: str, level: int) -> float:
        """The chance that a first answer at ``level`` in ``room_id`` is right."""
        offset = self.offsets.get(room_name_of(room_id), 0.0)
        z = self.slope * (self.skill - offset - level)
        return 1.0 / (1.0 + math.exp(-z))

    def solves(self, puzzle: str, room_id: str, level: int, attempt: int) -> bool:
        """Whether the answer to ``puzzle`` (any stable identity) on ``attempt`` (0: first) is
        right."""
        p = min(max(self.probability(room_id, level), 1e-12), 1 - 1e-12)
        w = self.correlation
        latent = w * unit_normal("puzzle", puzzle) + math.sqrt(1 - w * w) * unit_normal(
            "own", self.name, puzzle, attempt
        )
        return latent < _NORMAL.inv_cdf(p)

    def twin(self, drop: float, name: str) -> SkillModel:
        """A "quantized" copy: ``drop`` levels less skill, the same puzzle difficulties."""
        return replace(self, skill=self.skill - drop, name=name)


class PuzzleBook:
    """Puzzles stored in an arena database, found by their prompt (thread-safe)."""

    def __init__(self, db_path: Path | str) -> None:
        self.path = Path(db_path)
        self._lock = threading.Lock()
        self._by_prompt: dict[str, dict[str, Any]] = {}
        self._last_rowid = 0
        self._rooms = load_rooms()

    def lookup(self, prompt: str) -> Puzzle | None:
        """The stored puzzle whose prompt is exactly ``prompt`` (None if there is none)."""
        digest = hashlib.sha256(prompt.encode()).hexdigest()
        with self._lock:
            if digest not in self._by_prompt:
                self._read_new()
            row = self._by_prompt.get(digest)
        if row is None:
            return None
        room = self._rooms.get(row["room_id"])
        if room is None:
            return None
        return Puzzle(
            room_id=row["room_id"], seed=row["seed"], difficulty=row["difficulty"],
            prompt=row["prompt"], solution=row["solution"], key=row["key"],
            par_seconds=row["par_seconds"], data=json.loads(row["data"]),
            answer_schema=room.Answer.model_json_schema(),
        )  # fmt: skip

    def _read_new(self) -> None:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30.0)
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute(
                "SELECT rowid, room_id, seed, difficulty, prompt, solution, key, par_seconds, "
                "data FROM puzzles WHERE rowid > ? ORDER BY rowid",
                (self._last_rowid,),
            ).fetchall()
        finally:
            db.close()
        for row in rows:
            self._last_rowid = max(self._last_rowid, row["rowid"])
            digest = hashlib.sha256(row["prompt"].encode()).hexdigest()
            self._by_prompt.setdefault(digest, dict(row))


@dataclass
class SimulatedContestant:
    """Answers chat requests as a model of known skill (the server's responder)."""

    model: SkillModel
    book: PuzzleBook

    def __post_init__(self) -> None:
        self.rooms: dict[str, Room] = load_rooms()

    def respond(self, body: dict[str, Any]) -> str:
        """The reply to one chat completion request (its JSON body)."""
        users = [
            m.get("content", "")
            for m in body.get("messages", [])
            if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str)
        ]
        if not users:
            return UNKNOWN_PUZZLE
        attempt, room_message = 0, users[-1]
        for text in reversed(users):
            if not text.startswith((_ADVERSARIAL, _RETRY)):
                room_message = text
                break
            attempt += 1
        prompt = _NOTE.sub("", room_message, count=1)
        puzzle = self.book.lookup(prompt)
        if puzzle is None:
            return UNKNOWN_PUZZLE
        room = self.rooms[puzzle.room_id]
        level = puzzle.difficulty
        if room_name_of(puzzle.room_id) == "warden":
            return self._warden(users, prompt, puzzle.room_id, level, attempt)
        identity = hashlib.sha256(prompt.encode()).hexdigest()
        if self.model.solves(identity, puzzle.room_id, level, attempt):
            return room.reference_reply(puzzle)
        return room.bluff(puzzle)

    def _warden(self, users: list[str], prompt: str, room_id: str, level: int, attempt: int) -> str:
        """Combine the keys really handed over in this conversation (a right draw) or slip."""
        handed = {name.casefold(): key for text in users for name, key in _KEY.findall(text)}
        received: list[str | None] = [handed.get(name) for name in KEY_ROOMS]
        identity = hashlib.sha256((prompt + "|" + ",".join(map(str, received))).encode())
        if self.model.solves(identity.hexdigest(), room_id, level, attempt):
            return f"ANSWER: {answer_from_keys(level, received)}"
        slipped = [None if key is None else "nothing" for key in received[:1]] + received[1:]
        if RULES[level].shape == "any-key":
            return "ANSWER: nothing"
        return f"ANSWER: {answer_from_keys(level, slipped)}"


def serve(model: SkillModel, db_path: Path | str) -> NullServer:
    """A loopback server (not started) answering as ``model`` for puzzles in ``db_path``."""
    contestant = SimulatedContestant(model, PuzzleBook(db_path))
    return NullServer(NullServerConfig(model=model.name, responder=contestant.respond))


# -- exact probabilities and pure simulation (no server) ------------------------------------

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(64)
_WEIGHTS = _WEIGHTS / math.sqrt(2 * math.pi)


def escape_probability(model: SkillModel, room_id: str, level: int, attempts: int) -> float:
    """The chance of a right answer on at least one of ``attempts`` tries of one puzzle (first
    answer, the adversarial turn, retries): the tries share the puzzle's difficulty."""
    p = min(max(model.probability(room_id, level), 1e-12), 1 - 1e-12)
    w = model.correlation
    threshold = _NORMAL.inv_cdf(p)
    own = math.sqrt(1 - w * w)
    total = 0.0
    for z, weight in zip(_NODES, _WEIGHTS, strict=True):
        q = _NORMAL.cdf((threshold - w * z) / own) if own > 0 else float(w * z < threshold)
        total += weight * (1 - (1 - q) ** attempts)
    return float(total)


def first_answer_probability(
    model: SkillModel, profile: Mapping[str, int], room_id: str, *, attempts: int = 3
) -> float:
    """The chance that ``model`` solves ``room_id`` on its first answer in a run of ``profile``.
    In the Warden it must also hold the keys its level's rule needs (any one, or those of the
    first rooms); a
    room is escaped within ``attempts`` tries (3 = first answer, adversarial turn, one retry)."""
    level = profile[room_id]
    p = model.probability(room_id, level)
    if room_name_of(room_id) != "warden":
        return p
    escapes = [
        escape_probability(model, r, profile[r], attempts)
        for r in profile
        if room_name_of(r) in KEY_ROOMS
    ]
    needs = RULES[level].needs
    if needs == 0:
        return p * (1 - math.prod(1 - e for e in escapes))
    return p * math.prod(escapes[:needs])


def simulate_run(
    models: Mapping[str, SkillModel], profile: Mapping[str, int], seed: int, *, attempts: int = 3
) -> dict[str, dict[str, bool]]:
    """One run of ``profile`` on ``seed`` by each model (keyed by any label), without a server:
    per model, room id -> first answer right. Same draws as the server (a puzzle is identified by
    room, level and seed instead of its prompt), so twins share puzzle difficulty."""
    found: dict[str, dict[str, bool]] = {}
    for label, model in models.items():
        firsts: dict[str, bool] = {}
        keys: list[bool] = []
        for room_id, level in profile.items():
            identity = f"{room_id}|{level}|{seed}"
            if room_name_of(room_id) == "warden":
                needs = RULES[level].needs
                held = any(keys) if needs == 0 else all(keys[:needs])
                identity += "|" + ",".join(map(str, keys))
                firsts[room_id] = held and model.solves(identity, room_id, level, 0)
                continue
            tries = [model.solves(identity, room_id, level, a) for a in range(attempts)]
            firsts[room_id] = tries[0]
            keys.append(any(tries))
        found[label] = firsts
    return found


def calibrate_offline(
    model: SkillModel, config: CalibrationConfig, *, seed: int = 0
) -> CalibrationResult:
    """A calibration of ``model`` with runs drawn by :func:`simulate_run` (no server, no
    match): the same search and choice as a real one, in milliseconds, for tests and benches."""
    runs: list[Run] = []
    for index in range(config.runs):
        levels = next_profile(runs, config)
        firsts = simulate_run(
            {"m": model}, levels, seed * 1_000_003 + index, attempts=config.retries + 2
        )["m"]
        runs.append({room: (levels[room], firsts[room]) for room in levels})
    return calibration_result(runs, config)
