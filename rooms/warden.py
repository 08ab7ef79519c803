"""Warden: combine the keys handed out in rooms 1-5 by a stated rule into one final answer.

The keys are never repeated in this room's prompt: the contestant must recall them from its own
conversation (the orchestrator hands a room's key over only when that room is escaped), so a
contestant that failed an earlier room lacks its key and errors compound. The five keys of a seed
are different words (``rooms.base.match_keys``) and do not depend on the other rooms' levels.

Difficulty curve:

0. recognition: eight words are listed, two of them keys; name one of your keys;
1. name any one of the keys (one key suffices);
2-4. the first room's key; the first two keys in order; the first three in reverse order;
5-10. rules that need all five keys and more work each time: their first letters, sorted, the
   N-th letter of the N-th key plus a letter count, ordered by length, a weighted sum modulo 97,
   and a last rule that sorts, picks, shifts and multiplies.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel

from rooms.base import (
    KEY_ROOMS,
    KEY_WORDS,
    Judgement,
    Puzzle,
    Room,
    check_difficulty,
    match_keys,
    register_room,
    room_key,
    seed_for,
)
from rooms.extract import answer_text, normalize, unlabel

ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_SEPARATORS = re.compile(r"[\s,;/+|>\-–—→]+")
RECOGNITION_KEYS = 2
"""Level 0: how many of the five keys are among the listed words."""
RECOGNITION_WORDS = 8
"""Level 0: how many words are listed (the rest are decoys that were never keys)."""


class WardenAnswer(BaseModel):
    """The combined final answer."""

    answer: str


def position(letter: str) -> int:
    """``a`` -> 1 ... ``z`` -> 26."""
    return ALPHABET.index(letter) + 1


def shift(letter: str, places: int) -> str:
    """``letter`` moved ``places`` forward in the alphabet (backward when negative), wrapping."""
    return ALPHABET[(ALPHABET.index(letter) + places) % 26]


def _any_one(keys: list[str]) -> str:
    return keys[0]


def _initials(keys: list[str]) -> str:
    return "".join(k[0] for k in keys)


def _sorted(keys: list[str]) -> str:
    return "-".join(sorted(keys))


def _diagonal(keys: list[str]) -> str:
    letters = "".join(k[i % len(k)] for i, k in enumerate(keys))
    return f"{letters}{sum(len(k) for k in keys)}"


def _by_length(keys: list[str]) -> str:
    ordered = sorted(keys, key=lambda k: (len(k), k))
    return "-".join([*ordered, str(sum(len(k) for k in keys))])


def _weighted_mod(keys: list[str]) -> str:
    return str(sum(position(k[-1]) * n for n, k in enumerate(keys, 1)) % 97)


def _sort_pick_shift(keys: list[str]) -> str:
    ordered = sorted(keys)
    letters = "".join(shift(k[(n - 1) % len(k)], -n) for n, k in enumerate(ordered, 1))
    total = sum(len(k) for k in keys)
    with_e = sum("e" in k for k in keys)
    return f"{letters}{total * with_e}"


def _first_key(keys: list[str]) -> str:
    return keys[0]


def _first_two(keys: list[str]) -> str:
    return "-".join(keys[:2])


def _first_three_reversed(keys: list[str]) -> str:
    return "-".join(reversed(keys[:3]))


@dataclass(frozen=True)
class Rule:
    """One level's rule: its text, the function computing it and how answers compare."""

    text: str
    """The rule as stated to the contestant."""
    combine: Callable[[list[str]], str]
    """The answer from the five keys in room order (level 0-1: the canonical accepted answer)."""
    shape: str
    """``any-key`` (any of the five keys), ``list`` (a sequence of tokens, any separator) or
    ``token`` (one word or number, compared exactly, spaces ignored)."""
    needs: int
    """The keys the rule needs: those of rooms 1 to ``needs`` (0: any one key will do)."""
    note: str
    """One line for the level table."""


RULES: dict[int, Rule] = {
    0: Rule(
        "Some of these words are keys you were handed: {words}. Write one of YOUR keys (one "
        "word is enough).",
        _any_one,
        "any-key",
        0,
        "recognition: eight words listed, two of them keys; name one of your keys",
    ),
    1: Rule(
        "Write one of the keys you received, any one of them (a single key word is enough).",
        _any_one,
        "any-key",
        0,
        "recall: name any one of the keys you were handed",
    ),
    2: Rule(
        "Write the key you received in the FIRST room (the Cipher room).",
        _first_key,
        "token",
        1,
        "the key of the first room",
    ),
    3: Rule(
        "Write the keys of the first two rooms (Cipher, then Map) in the order you received "
        "them, separated by a hyphen.",
        _first_two,
        "list",
        2,
        "the keys of the first two rooms, in order",
    ),
    4: Rule(
        "Write the keys of the first three rooms (Cipher, Map, Mechanism) in the REVERSE of the "
        "order you received them, separated by hyphens.",
        _first_three_reversed,
        "list",
        3,
        "the keys of the first three rooms, in reverse order",
    ),
    5: Rule(
        "Take the first letter of each of the five keys, in the order you received them, and "
        "write them together as one word.",
        _initials,
        "token",
        5,
        "the first letters of all five keys, in order, as one word",
    ),
    6: Rule(
        "Write the five keys sorted alphabetically, separated by hyphens.",
        _sorted,
        "list",
        5,
        "the five keys sorted alphabetically",
    ),
    7: Rule(
        "For the key you received in room N (N = 1 to 5), take its N-th letter (counting from "
        "1; if the key is shorter, wrap around to its start). Write those five letters together, "
        "followed immediately by the total number of letters in all five keys (e.g. abcde27).",
        _diagonal,
        "token",
        5,
        "the N-th letter of the N-th key, then the total number of letters",
    ),
    8: Rule(
        "Write the five keys ordered by length, shortest first (keys of equal length in "
        "alphabetical order), separated by hyphens, then one more hyphen and the total number "
        "of letters in all five keys (e.g. fig-kiwi-lemon-mango-papaya-24).",
        _by_length,
        "list",
        5,
        "the keys ordered by length (ties alphabetical), then the total letter count",
    ),
    9: Rule(
        "For the key you received in room N (N = 1 to 5), take the alphabet position of its "
        "LAST letter (a=1, ..., z=26) and multiply it by N. Add the five products, divide the sum "
        "by 97 and write the remainder as a number.",
        _weighted_mod,
        "token",
        5,
        "the sum of (position of the last letter x room number), modulo 97",
    ),
    10: Rule(
        "Sort the five keys alphabetically. From the k-th key in that sorted order (k = 1 to 5) "
        "take its k-th letter (if the key is shorter, wrap around to its start) and shift that "
        "letter BACK by k places in the alphabet (wrapping from a to z). Write the five letters "
        "together, followed immediately by the total number of letters in all five keys "
        "multiplied by the number of keys that contain the letter e (e.g. qdmxa54).",
        _sort_pick_shift,
        "token",
        5,
        "sort, pick the k-th letter, shift it back by k, then letters x keys with an e",
    ),
}
"""The rule of every level (every level in ``rooms.base.LEVELS``). The keys a level needs grow
from any one (0-1) to the first room's, the first two, the first three, and all five (5-10), so
the Warden has a level near any solve rate even when the earlier rooms are hard."""

ANSWER_LABELS: tuple[str, ...] = (
    "answer",
    "key word",
    "key words",
    "keys",
    "key",
    "combination",
    "password",
    "sum",
    "remainder",
    "result",
    "code",
)
"""What a reply may call its answer (``The key is amber.``): peeled off by ``unlabel``."""


def tokens(text: str) -> list[str]:
    """The words and numbers of an answer, any separator."""
    return [t for t in _SEPARATORS.split(normalize(text)) if t]


def recognition_words(seed: int, keys: list[str]) -> list[str]:
    """Level 0's list: two of the keys among decoys that were never keys, in a seeded order."""
    rng = random.Random(seed_for("warden-recognition", seed))
    shown = rng.sample(keys, RECOGNITION_KEYS)
    decoys = rng.sample(
        [w for w in KEY_WORDS if w not in keys], RECOGNITION_WORDS - RECOGNITION_KEYS
    )
    words = shown + decoys
    rng.shuffle(words)
    return words


@register_room
class Warden(Room):
    """Combine the keys from rooms 1-5 by a stated rule."""

    id: ClassVar[str] = "warden-v3"
    name: ClassVar[str] = "Warden"
    Answer: ClassVar[type[BaseModel]] = WardenAnswer
    level_notes: ClassVar[dict[int, str]] = {level: rule.note for level, rule in RULES.items()}

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """The rule of the level; the keys come from the seed alone (never shown)."""
        check_difficulty(difficulty)
        keys = list(match_keys(seed))
        rule = RULES[difficulty]
        data: dict[str, object] = {"keys": keys, "rule": rule.text}
        text = rule.text
        if difficulty == 0:
            words = recognition_words(seed, keys)
            text = text.format(words=", ".join(words))
            data.update(rule=text, shown=words)
        prompt = (
            "The Warden. The last door opens only for the one who kept the keys. Each room you "
            "escaped handed you a key word (look back at the conversation). "
            + ("The rule" if difficulty <= 1 else "Combine them by this rule")
            + f": {text}\n"
            "If you did not receive a key for some room, you cannot know it: give your best "
            "answer anyway.\n"
            "Reply with your answer on a final line of the form: ANSWER: <answer>"
        )
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=prompt,
            solution=rule.combine(keys),
            par_seconds=20.0 + 10.0 * difficulty,
            key=room_key(self.id, seed),
            data=data,
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Judgement:
        """Any-key levels: every word given is one of the five keys. List levels: the same
        tokens in the same order, any separator. Token levels: exactly the answer."""
        text = unlabel(answer_text(reply), ANSWER_LABELS)
        parsed = normalize(text)
        if not parsed:
            return Judgement(solved=False, parsed=None, reason="no answer in the reply")
        shape = RULES[puzzle.difficulty].shape
        if shape == "any-key":
            got = tokens(text)
            keys = set(puzzle.data["keys"])
            solved = bool(got) and all(word in keys for word in got)
            reason = "one of the five keys" if solved else "not one of the five keys"
            return Judgement(solved=solved, parsed="-".join(got), reason=reason)
        if shape == "list":
            got, want = tokens(text), tokens(puzzle.solution)
            solved = got == want
            parsed = "-".join(got)
        else:
            parsed = parsed.replace(" ", "")
            solved = parsed == puzzle.solution
        reason = "keys combined correctly" if solved else f"expected {puzzle.solution!r}"
        return Judgement(solved=solved, parsed=parsed, reason=reason)

    def reference_reply(self, puzzle: Puzzle) -> str:
        """The rule applied to the five keys in room order."""
        return f"ANSWER: {RULES[puzzle.difficulty].combine(list(puzzle.data['keys']))}"

    def bluff(self, puzzle: Puzzle) -> str:
        """The rule applied to keys with one swapped for a word that was never a key (a
        plausible slip of memory); never the right answer."""
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        keys = list(puzzle.data["keys"])
        if RULES[puzzle.difficulty].shape == "any-key":
            other = rng.choice([w for w in KEY_WORDS if w not in keys])
            return f"I kept every key. ANSWER: {other}"
        combine = RULES[puzzle.difficulty].combine
        others = [w for w in KEY_WORDS if w not in keys]
        for _ in range(200):
            fake = keys[:]
            fake[rng.randrange(len(fake))] = rng.choice(others)
            wrong = combine(fake)
            if wrong != puzzle.solution:
                return f"I kept every key. ANSWER: {wrong}"
        raise AssertionError(f"no wrong answer found for {puzzle.room_id} seed {puzzle.seed}")


def answer_from_keys(level: int, received: list[str | None]) -> str:
    """What a contestant that remembers ``received`` (the key of each of the five rooms in order,
    None where it got none) would answer by the level's rule, guessing a word for a missing key
    (used by the simulated contestant)."""
    filled = [key if key is not None else "nothing" for key in received]
    if len(filled) != len(KEY_ROOMS):
        raise ValueError(f"expected {len(KEY_ROOMS)} keys, got {len(filled)}")
    rule = RULES[level]
    if rule.shape == "any-key":
        held = [key for key in received if key is not None]
        return held[0] if held else "nothing"
    return rule.combine(filled)
