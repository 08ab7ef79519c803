"""The room contract: a seeded puzzle generator and a deterministic validator in one class.

A room is registered under a versioned id (``cipher-v1``). ``generate(seed, difficulty)`` is a pure
function of its arguments: the same seed and difficulty give the same puzzle, byte for byte.
``validate(puzzle, reply)`` is deterministic code (no LLM judge) returning a typed verdict.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

MIN_DIFFICULTY = 0
"""The easiest level of every room (a reading check a 135M model can pass)."""
MAX_DIFFICULTY = 10
"""The hardest level of every room (meant to make frontier reasoning models fail some of the
time)."""
LEVELS: tuple[int, ...] = tuple(range(MIN_DIFFICULTY, MAX_DIFFICULTY + 1))
"""Every level a room generates; a match plays one level per room (its difficulty profile)."""
CHARS_PER_TOKEN = 4
"""The rough size of a token in English text, for estimates (``len(text) / 4``)."""


class Puzzle(BaseModel):
    """One generated room instance: everything needed to pose, check and replay it."""

    model_config = ConfigDict(frozen=True)

    room_id: str
    """Versioned id of the room that made it, e.g. ``cipher-v1``."""
    seed: int
    """Seed it was generated from."""
    difficulty: int = Field(ge=MIN_DIFFICULTY, le=MAX_DIFFICULTY)
    """The room's level: 0 (a reading check for a 135M model) to 10 (frontier reasoning
    models still fail some of the time)."""
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


class Judgement(BaseModel):
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
    chars_per_token: ClassVar[float] = CHARS_PER_TOKEN
    """Characters per token of this room's prompts, for size estimates (text full of numbers and
    codes has fewer: the Archive sets its own, measured with a real tokenizer)."""
    level_notes: ClassVar[dict[int, str]]
    """One line per level (every level in ``LEVELS``): what the puzzle is at that level (the
    README's level table and the About tab are made from these)."""

    @abstractmethod
    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """Make the puzzle for this seed and difficulty (pure, deterministic)."""

    @abstractmethod
    def validate(self, puzzle: Puzzle, reply: str) -> Judgement:
        """Decide whether ``reply`` solves ``puzzle`` (deterministic code, no LLM)."""

    @abstractmethod
    def reference_reply(self, puzzle: Puzzle) -> str:
        """Solve the puzzle from its structured data, the way a perfect contestant would reply."""

    @abstractmethod
    def bluff(self, puzzle: Puzzle) -> str:
        """A confident, plausible, wrong answer (the house uses it in bluff mode); never solves."""

    def prompt_tokens(self, difficulty: int) -> int:
        """An estimate of this level's prompt size in tokens (the largest of a few seeds), so a
        level is never chosen for an endpoint whose context window it would not fit."""
        return _prompt_tokens(self.id, difficulty)

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
    """ValueError unless ``difficulty`` is a level every room generates (0-10)."""
    if isinstance(difficulty, bool) or not isinstance(difficulty, int):
        raise ValueError(f"difficulty must be an integer level, got {difficulty!r}")
    if not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY:
        raise ValueError(f"difficulty must be {MIN_DIFFICULTY}-{MAX_DIFFICULTY}, got {difficulty}")


@functools.lru_cache(maxsize=256)
def _prompt_tokens(room_id: str, difficulty: int) -> int:
    room = get_room(room_id)
    longest = max(len(room.generate(seed, difficulty).prompt) for seed in range(3))
    return math.ceil(longest / room.chars_per_token)


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


KEY_ROOMS: tuple[str, ...] = ("cipher", "map", "mechanism", "archive", "paradox")
"""Names (ids without their version) of the rooms that hand the Warden a key, in play order."""


def room_name_of(room_id: str) -> str:
    """``cipher-v3`` -> ``cipher``."""
    return room_id.rsplit("-v", 1)[0]


def match_keys(seed: int) -> tuple[str, ...]:
    """The five keys of one seed, one per room of ``KEY_ROOMS``, all different."""
    rng = random.Random(seed_for("keys-v2", seed))
    return tuple(rng.sample(KEY_WORDS, len(KEY_ROOMS)))


def room_key(room_id: str, seed: int) -> str:
    """The key a room hands to the Warden: a word fixed by the room's name and the seed.

    It depends on neither the puzzle's content nor the room's level, so the Warden (whose level
    is chosen independently of the other rooms') can name every key without generating the
    rooms, and the five keys of a seed never repeat.
    """
    name = room_name_of(room_id)
    keys = match_keys(seed)
    if name in KEY_ROOMS:
        return keys[KEY_ROOMS.index(name)]
    # A room after the five (the Warden) still hands a word on escape, never one of the five.
    rng = random.Random(seed_for("key", name, seed))
    return rng.choice([word for word in KEY_WORDS if word not in keys])
