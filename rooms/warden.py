"""Warden: combine the keys handed out in rooms 1-5 by a stated rule into one final answer.

The keys are never repeated in this room's prompt: the contestant must recall them from its own
conversation (the orchestrator hands a room's key over only when that room is escaped), so a
contestant that failed an earlier room lacks its key and errors compound.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import ClassVar

from pydantic import BaseModel

from rooms import ROOM_ORDER
from rooms.base import (
    KEY_WORDS,
    Puzzle,
    Room,
    Verdict,
    check_difficulty,
    register_room,
    room_key,
    seed_for,
)
from rooms.extract import answer_text, normalize, unlabel

_SEPARATORS = re.compile(r"[\s,;/+|>\-–—→]+")


class WardenAnswer(BaseModel):
    """The combined final answer."""

    answer: str


def _in_order(keys: list[str]) -> str:
    return "-".join(keys)


def _reversed(keys: list[str]) -> str:
    return "-".join(reversed(keys))


def _initials(keys: list[str]) -> str:
    return "".join(k[0] for k in keys)


def _sorted(keys: list[str]) -> str:
    return "-".join(sorted(keys))


def _diagonal(keys: list[str]) -> str:
    letters = "".join(k[i % len(k)] for i, k in enumerate(keys))
    return f"{letters}{sum(len(k) for k in keys)}"


def _any_one(keys: list[str]) -> str:
    return keys[0]


RULES: dict[int, tuple[str, Callable[[list[str]], str], bool]] = {
    1: (
        "Write one of the keys you received, any one of them (a single key word is enough).",
        _any_one,
        False,
    ),
    2: (
        "Write the five keys in the REVERSE of the order you received them, separated by hyphens.",
        _reversed,
        True,
    ),
    3: (
        "Take the first letter of each key, in the order you received them, and write them "
        "together as one word.",
        _initials,
        False,
    ),
    4: (
        "Write the five keys sorted alphabetically, separated by hyphens.",
        _sorted,
        True,
    ),
    5: (
        "For the key you received in room N (N = 1 to 5), take its N-th letter (counting from 1; "
        "if the key is shorter, wrap around to its start). Write those five letters together, "
        "followed immediately by the total number of letters in all five keys (e.g. abcde27).",
        _diagonal,
        False,
    ),
}
"""Per difficulty: the rule as stated, the function computing it (for level 1, the canonical one
of the accepted answers), whether the answer is a list of keys (compared as a sequence, any
separator) or one token (compared exactly; at level 1, any of the five keys)."""

ANSWER_LABELS: tuple[str, ...] = (
    "answer",
    "key word",
    "key words",
    "keys",
    "key",
    "combination",
    "password",
)
"""What a reply may call its answer (``The key is amber.``): peeled off by ``unlabel``."""


def tokens(text: str) -> list[str]:
    return [t for t in _SEPARATORS.split(normalize(text)) if t]


@register_room
class Warden(Room):
    """Combine the keys from rooms 1-5 by a stated rule."""

    id: ClassVar[str] = "warden-v2"
    name: ClassVar[str] = "Warden"
    Answer: ClassVar[type[BaseModel]] = WardenAnswer

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        check_difficulty(difficulty)
        keys = [room_key(room_id, seed, difficulty) for room_id in ROOM_ORDER[:5]]
        rule, combine, _ = RULES[difficulty]
        prompt = (
            "The Warden. The last door opens only for the one who kept the keys. Each room you "
            "escaped handed you a key word (look back at the conversation). "
            + ("The rule" if difficulty == 1 else "Combine them by this rule")
            + f": {rule}\n"
            "If you did not receive a key for some room, you cannot know it: give your best "
            "answer anyway.\n"
            "Reply with your answer on a final line of the form: ANSWER: <answer>"
        )
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=prompt,
            solution=combine(keys),
            par_seconds=20.0 + 10.0 * difficulty,
            key=room_key(self.id, seed, difficulty),
            data={"keys": keys, "rule": rule},
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Verdict:
        text = unlabel(answer_text(reply), ANSWER_LABELS)
        parsed = normalize(text)
        if not parsed:
            return Verdict(solved=False, parsed=None, reason="no answer in the reply")
        _, _, is_list = RULES[puzzle.difficulty]
        if puzzle.difficulty == 1:  # any of the keys; every word given must be one of them
            got = tokens(text)
            keys = set(puzzle.data["keys"])
            solved = bool(got) and all(word in keys for word in got)
            parsed = "-".join(got)
            reason = "one of the five keys" if solved else "not one of the five keys"
            return Verdict(solved=solved, parsed=parsed, reason=reason)
        if is_list:
            got, want = tokens(text), tokens(puzzle.solution)
            solved = got == want
            parsed = "-".join(got)
        else:
            solved = parsed.replace(" ", "") == puzzle.solution
        reason = "keys combined correctly" if solved else f"expected {puzzle.solution!r}"
        return Verdict(solved=solved, parsed=parsed, reason=reason)

    def reference_reply(self, puzzle: Puzzle) -> str:
        _, combine, _ = RULES[puzzle.difficulty]
        return f"ANSWER: {combine(list(puzzle.data['keys']))}"

    def bluff(self, puzzle: Puzzle) -> str:
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        keys = list(puzzle.data["keys"])
        _, combine, _ = RULES[puzzle.difficulty]
        if puzzle.difficulty == 1:
            other = rng.choice([w for w in KEY_WORDS if w not in keys])
            return f"I kept every key. ANSWER: {other}"
        for _ in range(50):
            fake = keys[:]
            slot = rng.randrange(len(fake))
            fake[slot] = rng.choice([w for w in KEY_WORDS if w != fake[slot]])
            if rng.random() < 0.5:
                rng.shuffle(fake)
            wrong = combine(fake)
            if wrong != puzzle.solution:
                return f"I kept every key. ANSWER: {wrong}"
        raise AssertionError("unreachable: replacing a key always changes the answer")
