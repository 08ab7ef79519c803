"""The room contract: a seeded puzzle generator and a deterministic validator in one class.

A room is registered under a versioned id (``cipher-v1``). ``generate(seed, difficulty)`` is a pure
function of its arguments: the same seed and difficulty give the same puzzle, byte for byte.
``validate(puzzle, reply)`` is deterministic code (no LLM judge) returning a typed verdict.
"""

from __future__ import annotations

import hashlib
import random
from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

MIN_DIFFICULTY = 1
MAX_DIFFICULTY = 5


class Puzzle(BaseModel):
    """One generated room instance: everything needed to pose, check and replay it."""

    model_config = ConfigDict(frozen=True)

    room_id: str
    """Versioned id of the room that made it, e.g. ``cipher-v1``."""
    seed: int
    """Seed it was generated from."""
    difficulty: int = Field(ge=MIN_DIFFICULTY, le=MAX_DIFFICULTY)
    """1 (near-trivial, a 135M model can do it) to 5 (frontier models)."""
    prompt: str
    """The text shown to the contestant."""
    solution: str
    """The canonical expected answer (any answer the validator accepts also counts)."""
    answer_schema: dict[str, Any]
    """JSON schema of the parsed answer (the room's ``Answer`` model)."""
    par_seconds: float = Field(gt=0)
    """Par time: +1 point per 10 s under it."""
    key: str
    """The key this room hands to the Warden when escaped."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Structured puzzle data (graph, records, tests...) for the reference solver and replays."""


class Verdict(BaseModel):
    """The validator's decision on one reply."""

    model_config = ConfigDict(frozen=True)

    solved: bool
    """Whether the reply's answer is correct."""
    parsed: str | None
    """The answer extracted from the reply (normalized text), or None if nothing could be parsed."""
    reason: str
    """Why: a short human-readable explanation."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Room-specific extras (e.g. ``optimal`` for Map, sandbox report for Mechanism)."""


class Room(ABC):
    """Base class: subclasses set ``id``, ``name``, ``Answer`` and implement the three methods."""

    id: ClassVar[str]
    """Versioned id, ``<name>-v<N>``."""
    name: ClassVar[str]
    """Display name, e.g. ``Cipher``."""
    Answer: ClassVar[type[BaseModel]]
    """Pydantic model of a parsed answer (its JSON schema is stored on the puzzle)."""

    @abstractmethod
    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """Make the puzzle for this seed and difficulty (pure, deterministic)."""

    @abstractmethod
    def validate(self, puzzle: Puzzle, reply: str) -> Verdict:
        """Decide whether ``reply`` solves ``puzzle`` (deterministic code, no LLM)."""

    @abstractmethod
    def reference_reply(self, puzzle: Puzzle) -> str:
        """Solve the puzzle from its structured data, the way a perfect contestant would reply."""

    @abstractmethod
    def bluff(self, puzzle: Puzzle) -> str:
        """A confident, plausible, wrong answer (the house uses it in bluff mode); never solves."""

    def rng(self, seed: int, difficulty: int) -> random.Random:
        """A generator private to this room, seed and difficulty (rooms never share a stream)."""
        check_difficulty(difficulty)
        return random.Random(seed_for(self.id, seed, difficulty))

    def make_puzzle(self, seed: int, difficulty: int, **fields: Any) -> Puzzle:
        """Build a Puzzle with the room's id, seed and answer schema filled in."""
        check_difficulty(difficulty)
        return Puzzle(
            room_id=self.id,
            seed=seed,
            difficulty=difficulty,
            answer_schema=self.Answer.model_json_schema(),
            **fields,
        )


def seed_for(*parts: object) -> int:
    """A stable 64-bit seed from any parts (``hash()`` is salted per process, so not that)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def check_difficulty(difficulty: int) -> None:
    if not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY:
        raise ValueError(f"difficulty must be {MIN_DIFFICULTY}-{MAX_DIFFICULTY}, got {difficulty}")


_REGISTRY: dict[str, Room] = {}
_R = TypeVar("_R", bound=type[Room])


def register_room(cls: _R) -> _R:
    """Class decorator: register one instance of the room under its versioned id."""
    room_id = getattr(cls, "id", None)
    if not isinstance(room_id, str) or "-v" not in room_id:
        raise ValueError(
            f"{cls.__name__}.id must be a versioned id like 'cipher-v1', got {room_id!r}"
        )
    if room_id in _REGISTRY:
        raise ValueError(f"room id {room_id!r} is already registered")
    _REGISTRY[room_id] = cls()
    return cls


def get_room(room_id: str) -> Room:
    try:
        return _REGISTRY[room_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"unknown room {room_id!r} (registered: {known})") from None


def registered_rooms() -> dict[str, Room]:
    return dict(_REGISTRY)


KEY_WORDS: tuple[str, ...] = (
    "amber",
    "basil",
    "cobalt",
    "dune",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lantern",
    "marble",
    "nectar",
    "onyx",
    "pepper",
    "quartz",
    "raven",
    "saffron",
    "thistle",
    "umber",
    "velvet",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
    "anchor",
    "bramble",
    "cinder",
    "delta",
    "falcon",
    "granite",
)
"""Words a room can hand to the Warden as its key."""


def room_key(room_id: str, seed: int, difficulty: int) -> str:
    """The key a room hands to the Warden: a word fixed by room, seed and difficulty.

    Kept independent of the puzzle's content so a room's generator can change its puzzle logic
    without changing its key, and so the Warden can compute every key without generating rooms.
    """
    rng = random.Random(seed_for(room_id, seed, difficulty, "key"))
    return rng.choice(KEY_WORDS)
