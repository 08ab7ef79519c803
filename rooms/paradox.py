"""Paradox: a knights-and-knaves puzzle with exactly one consistent assignment.

Knights always tell the truth, knaves always lie. Each person makes one statement; the statements
accuse each other and look contradictory, but a brute-force solver (run at generation time, from
the same seeded stream until it succeeds) proves that exactly one assignment is consistent. The
contestant names the knights; the validator compares the set exactly.

Difficulty: 2 people with simple claims (L1), 3 with counting claims (L2), 4 with conditionals
(L3), 5 with more indirect claims (L4), 6 with compound 'and' / 'either ... or' claims (L5).
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from rooms.base import (
    Puzzle,
    Room,
    Verdict,
    check_difficulty,
    register_room,
    room_key,
    seed_for,
)
from rooms.extract import answer_block, json_list, normalize, strip_decoration

PEOPLE: tuple[str, ...] = (
    "Ada",
    "Bram",
    "Cyrus",
    "Dora",
    "Ezra",
    "Faye",
    "Gideon",
    "Hana",
    "Ivo",
    "Juno",
    "Kai",
    "Lena",
    "Milo",
    "Nell",
    "Otto",
    "Pia",
    "Quinn",
    "Rosa",
    "Silas",
    "Tess",
    "Uma",
    "Viggo",
    "Wren",
    "Yara",
    "Zane",
)
"""Names of the islanders (one word each, none of them an English connective)."""

NUMBER_WORDS: tuple[str, ...] = ("none", "one", "two", "three", "four", "five", "six", "seven")
ATOMS: tuple[str, ...] = ("knight", "knave")
"""Claims about one person's kind (the parts of conditionals)."""
PAIRS: tuple[str, ...] = ("same", "different", "some_knave", "some_knight")
"""Claims about two people."""
COUNTS: tuple[str, ...] = ("count", "at_most", "at_least")
"""Claims about how many of 'us' are knights."""
COMPOUNDS: tuple[str, ...] = ("if", "and", "or")
"""Claims built from two simpler ones."""
ACCUSING: tuple[str, ...] = ("knave", "different", "some_knave")
"""Claims that sound like an accusation (what makes the statements look contradictory)."""
NONE_ANSWERS: frozenset[str] = frozenset(
    {
        "none",
        "nobody",
        "no one",
        "no-one",
        "noone",
        "no knights",
        "no knight",
        "there are no knights",
        "nobody is a knight",
        "none of them",
        "none of us",
        "neither",
        "zero",
        "empty",
        "∅",
    }
)
"""Ways of saying that nobody is a knight."""


@dataclass(frozen=True)
class Level:
    """Shape of the puzzle at one difficulty."""

    people: int
    """Number of people (each makes one statement)."""
    kinds: tuple[tuple[str, int], ...]
    """Statement kinds and their weights."""
    min_compound: int
    """Minimum number of compound statements ('if', 'and', 'or')."""


LEVELS: dict[int, Level] = {
    1: Level(2, (("knave", 3), ("knight", 1), ("same", 2), ("different", 2), ("some_knave", 2)), 0),
    2: Level(
        3,
        (
            ("knave", 2),
            ("knight", 1),
            ("same", 2),
            ("different", 2),
            ("some_knave", 2),
            ("count", 2),
        ),
        0,
    ),
    3: Level(
        4,
        (
            ("knave", 1),
            ("same", 2),
            ("different", 2),
            ("some_knave", 2),
            ("some_knight", 1),
            ("count", 2),
            ("if", 2),
        ),
        0,
    ),
    4: Level(
        5,
        (
            ("knave", 1),
            ("same", 2),
            ("different", 2),
            ("some_knave", 2),
            ("some_knight", 1),
            ("count", 1),
            ("at_most", 1),
            ("at_least", 1),
            ("if", 3),
        ),
        1,
    ),
    5: Level(
        6,
        (
            ("same", 1),
            ("different", 1),
            ("some_knave", 1),
            ("count", 1),
            ("at_most", 1),
            ("at_least", 1),
            ("if", 3),
            ("and", 3),
            ("or", 3),
        ),
        3,
    ),
}
PAR_SECONDS: dict[int, float] = {1: 30.0, 2: 60.0, 3: 100.0, 4: 150.0, 5: 240.0}
MAX_ATTEMPTS = 10_000

Claim = dict[str, Any]
"""A statement's content as JSON-able data, e.g. ``{"kind": "knave", "who": 1}``."""
Assignment = tuple[bool, ...]
"""True for each knight, in the order of the people."""


class ParadoxAnswer(BaseModel):
    """The set of knights (an empty list when there are none)."""

    knights: list[str]


# --- logic -------------------------------------------------------------------------------------


def holds(claim: Claim, knights: Assignment) -> bool:
    """Whether ``claim`` is true when exactly the people marked True are knights."""
    kind = claim["kind"]
    if kind in ATOMS:
        return knights[claim["who"]] == (kind == "knight")
    if kind in PAIRS:
        x, y = (knights[i] for i in claim["pair"])
        return {
            "same": x == y,
            "different": x != y,
            "some_knave": not (x and y),
            "some_knight": x or y,
        }[kind]
    if kind in COUNTS:
        total, n = sum(knights), claim["n"]
        return {"count": total == n, "at_most": total <= n, "at_least": total >= n}[kind]
    first, second = (holds(part, knights) for part in claim["parts"])
    return {"if": (not first) or second, "and": first and second, "or": first or second}[kind]


def consistent(statements: list[Claim], knights: Assignment) -> bool:
    """Whether every speaker's claim is true exactly when the speaker is a knight."""
    return all(holds(claim, knights) == knights[i] for i, claim in enumerate(statements))


def solutions(statements: list[Claim]) -> list[Assignment]:
    """Every consistent assignment, by brute force over all 2**n of them."""
    people = len(statements)
    return [
        knights
        for knights in itertools.product((True, False), repeat=people)
        if consistent(statements, knights)
    ]


def violations(statements: list[Claim], knights: Assignment) -> int:
    """How many speakers an assignment contradicts (0 for a consistent one)."""
    return sum(holds(claim, knights) != knights[i] for i, claim in enumerate(statements))


def is_compound(claim: Claim) -> bool:
    """Whether a claim is built from two simpler ones."""
    return claim["kind"] in COMPOUNDS


def is_accusing(claim: Claim) -> bool:
    """Whether a claim calls somebody a knave or says two people differ (anywhere inside)."""
    return claim["kind"] in ACCUSING or any(is_accusing(part) for part in claim.get("parts", ()))


# --- generation --------------------------------------------------------------------------------


def random_claim(rng: random.Random, kind: str, speaker: int, people: int) -> Claim:
    """A random claim of ``kind`` spoken by ``speaker`` (never 'I am a knight/knave')."""
    if kind in ATOMS:
        return {"kind": kind, "who": rng.choice([i for i in range(people) if i != speaker])}
    if kind in PAIRS:
        return {"kind": kind, "pair": sorted(rng.sample(range(people), 2))}
    if kind == "count":
        return {"kind": kind, "n": rng.randint(0, people)}
    if kind in COUNTS:
        return {"kind": kind, "n": rng.randint(1, people - 1)}
    if kind == "if":
        first, second = rng.sample(range(people), 2)
        parts = [{"kind": rng.choice(ATOMS), "who": who} for who in (first, second)]
        return {"kind": kind, "parts": parts}
    parts = []
    while len(parts) < 2:
        part_kind = rng.choice(("knight", "knave", "same", "different"))
        if part_kind in ATOMS:
            part: Claim = {"kind": part_kind, "who": rng.randrange(people)}
        else:
            part = {"kind": part_kind, "pair": sorted(rng.sample(range(people), 2))}
        if not parts or mentioned(part) != mentioned(parts[0]):
            parts.append(part)
    return {"kind": kind, "parts": parts}


def mentioned(claim: Claim) -> list[int]:
    """The people a claim is about (sorted)."""
    if "who" in claim:
        return [claim["who"]]
    if "pair" in claim:
        return list(claim["pair"])
    return sorted({i for part in claim.get("parts", ()) for i in mentioned(part)})


def claim_with_truth(rng: random.Random, level: Level, speaker: int, knights: Assignment) -> Claim:
    """A random claim whose truth matches the speaker's kind under ``knights``."""
    kinds = [kind for kind, _ in level.kinds]
    weights = [weight for _, weight in level.kinds]
    while True:
        kind = rng.choices(kinds, weights)[0]
        claim = random_claim(rng, kind, speaker, level.people)
        if holds(claim, knights) == knights[speaker]:
            return claim


def generate_case(rng: random.Random, level: Level) -> tuple[Assignment, list[Claim]]:
    """A hidden assignment and one statement per person, with that assignment the only solution."""
    for _ in range(MAX_ATTEMPTS):
        knights = tuple(rng.random() < 0.5 for _ in range(level.people))
        statements = [
            claim_with_truth(rng, level, speaker, knights) for speaker in range(level.people)
        ]
        if sum(map(is_compound, statements)) < level.min_compound:
            continue
        if not any(map(is_accusing, statements)):
            continue
        if solutions(statements) == [knights]:
            return knights, statements
    raise RuntimeError("could not generate a puzzle with a unique solution")  # pragma: no cover


# --- prose -------------------------------------------------------------------------------------


def subject(i: int, speaker: int, names: list[str]) -> tuple[str, str]:
    """The subject and its verb: ``("I", "am")`` for the speaker, else ``(name, "is")``."""
    return ("I", "am") if i == speaker else (names[i], "is")


def pair_words(pair: list[int], speaker: int, names: list[str], object_case: bool) -> str:
    """'Ada and Bram', or 'Ada and I' / 'Ada and me' when the speaker is one of the pair."""
    if speaker in pair:
        other = pair[0] if pair[1] == speaker else pair[1]
        return f"{names[other]} and {'me' if object_case else 'I'}"
    return f"{names[pair[0]]} and {names[pair[1]]}"


def how_many(n: int) -> str:
    """'one of us is a knight', 'three of us are knights'."""
    return f"{NUMBER_WORDS[n]} of us " + ("is a knight" if n == 1 else "are knights")


def render(claim: Claim, speaker: int, names: list[str]) -> str:
    """A claim as an English clause from the speaker's point of view (no final full stop)."""
    kind = claim["kind"]
    if kind in ATOMS:
        who, verb = subject(claim["who"], speaker, names)
        return f"{who} {verb} a {kind}"
    if kind in ("same", "different"):
        kinds = "the same kind" if kind == "same" else "different kinds"
        return f"{pair_words(claim['pair'], speaker, names, object_case=False)} are of {kinds}"
    if kind in ("some_knave", "some_knight"):
        role = kind.removeprefix("some_")
        return (
            f"at least one of {pair_words(claim['pair'], speaker, names, object_case=True)} "
            f"is a {role}"
        )
    if kind == "count":
        if claim["n"] == 0:
            return "none of us is a knight"
        return "exactly " + how_many(claim["n"])
    if kind == "at_most":
        return "at most " + how_many(claim["n"])
    if kind == "at_least":
        return "at least " + how_many(claim["n"])
    first, second = (render(part, speaker, names) for part in claim["parts"])
    return {
        "if": f"if {first}, then {second}",
        "and": f"{first}, and {second}",
        "or": f"either {first}, or {second}",
    }[kind]


def sentence(claim: Claim, speaker: int, names: list[str]) -> str:
    """A whole quoted statement: capitalized, with a full stop."""
    clause = render(claim, speaker, names)
    return clause[0].upper() + clause[1:] + "."


def rules_for(statements: list[Claim], people: int) -> list[str]:
    """Reading rules for the kinds of statement that occur (short at low levels)."""
    kinds = {claim["kind"] for claim in statements}
    kinds |= {part["kind"] for claim in statements for part in claim.get("parts", ())}
    rules = []
    if kinds & {"same", "different"}:
        rules.append("'Of the same kind' means both knights or both knaves.")
    if kinds & set(COUNTS):
        rules.append(f"'Us' means all {people} of the people here, the speaker included.")
    if "or" in kinds:
        rules.append(
            "'Either A, or B' is true when at least one of A and B is true (possibly both)."
        )
    if "if" in kinds:
        rules.append("'If A, then B' is false only when A is true and B is false.")
    return rules


def make_prompt(names: list[str], statements: list[Claim]) -> str:
    """The text shown to the contestant, ending with the answer format."""
    listing = ", ".join(names[:-1]) + f" and {names[-1]}"
    intro = (
        "On this island every person is either a knight, who always tells the truth, or a "
        f"knave, who always lies. You meet {len(names)} people: {listing}."
    )
    said = "\n".join(
        f'{names[i]} says: "{sentence(claim, i, names)}"' for i, claim in enumerate(statements)
    )
    rules = rules_for(statements, len(names))
    question = (
        "The statements seem to contradict each other, but exactly one choice of who is a "
        "knight and who is a knave makes every statement consistent. Who are the knights?"
    )
    instruction = (
        "Name every knight, separated by commas, or write none if there are no knights. "
        "End your reply with one line of the form:\nANSWER: Name, Name"
    )
    parts = [intro, said, " ".join(rules), question, instruction]
    return "\n\n".join(part for part in parts if part)


# --- parsing -----------------------------------------------------------------------------------

_LIST_ITEM = re.compile(r"^\s*(?:\d+\s*[.):]|[-*•+]\s)")
_SEPARATOR = re.compile(r"\s*(?:[,;/&+|\n]|\band\b)\s*", re.IGNORECASE)
_ITEM_PREFIX = re.compile(r"^(?:\d+\s*[.):]\s*|[-*•+]\s*)")
_LABEL = re.compile(r"^(?:(?:the|final)\s+)?(?:answer|knights?)\s*(?:are|is)?\s*[:=]?\s*")
_LEAD = re.compile(r"^(?:(?:both|only|just)\s+)+")
_SUFFIX = re.compile(
    r"\s+(?:is|are)\s+(?:the\s+)?(?:only\s+|both\s+|all\s+)?(?:a\s+)?knights?$|\s*\([^()]*\)$"
    r"|,?\s+(?:who|which)\s+(?:always\s+)?tells?\s+the\s+truth$"
)


def clean_item(item: str) -> str:
    """Normalize one name: decoration, list numbering, case."""
    text = normalize(item)
    previous = None
    while previous != text:
        previous = text
        text = strip_decoration(_SUFFIX.sub("", _ITEM_PREFIX.sub("", text)))
    return text


def parse_knights(reply: str) -> list[str] | None:
    """Normalized names in a reply's answer: [] for 'none', None if there is no answer at all."""
    block = answer_block(reply, _LIST_ITEM, "line")
    items = json_list(block, "knights")
    if items is not None:
        return [cleaned for item in items if (cleaned := clean_item(item))]
    text = normalize(block.replace("\n", ", "))
    previous = None
    while previous != text:
        previous = text
        text = strip_decoration(_LEAD.sub("", _SUFFIX.sub("", _LABEL.sub("", text))))
    if not text:
        return None
    if text in NONE_ANSWERS:
        return []
    return [cleaned for item in _SEPARATOR.split(text) if (cleaned := clean_item(item))]


def statements_of(data: dict[str, Any]) -> list[Claim]:
    """The stored statements, in speaker order."""
    return [entry["claim"] for entry in data["statements"]]


def knights_text(names: list[str], knights: Assignment) -> str:
    """'Ada, Cyrus' or 'none'."""
    chosen = [name for name, knight in zip(names, knights, strict=True) if knight]
    return ", ".join(chosen) if chosen else "none"


# --- the room ----------------------------------------------------------------------------------


@register_room
class ParadoxRoom(Room):
    """Tell the knights from the knaves."""

    id: ClassVar[str] = "paradox-v2"
    name: ClassVar[str] = "Paradox"
    Answer: ClassVar[type[BaseModel]] = ParadoxAnswer

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """A puzzle with a unique consistent assignment for this seed and difficulty."""
        check_difficulty(difficulty)
        level = LEVELS[difficulty]
        rng = self.rng(seed, difficulty)
        names = rng.sample(PEOPLE, level.people)
        knights, statements = generate_case(rng, level)
        data = {
            "people": names,
            "statements": [
                {"speaker": names[i], "claim": claim, "text": sentence(claim, i, names)}
                for i, claim in enumerate(statements)
            ],
        }
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=make_prompt(names, statements),
            solution=knights_text(names, knights),
            par_seconds=PAR_SECONDS[difficulty],
            key=room_key(self.id, seed, difficulty),
            data=data,
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Verdict:
        """Compare the named knights with the unique consistent assignment, as a set."""
        names: list[str] = puzzle.data["people"]
        items = parse_knights(reply)
        if items is None:
            return Verdict(solved=False, parsed=None, reason="no answer found in the reply")
        known = {normalize(name): name for name in names}
        unknown = [item for item in items if item not in known]
        if unknown:
            parsed = ", ".join(known.get(item, item) for item in items)
            reason = (
                "'none' mixed with names"
                if any(item in NONE_ANSWERS for item in unknown)
                else f"unknown person {unknown[0]!r} (the people are {', '.join(names)})"
            )
            return Verdict(solved=False, parsed=parsed, reason=reason, details={"unknown": unknown})
        claimed = tuple(normalize(name) in items for name in names)
        parsed = knights_text(names, claimed)
        found = solutions(statements_of(puzzle.data))
        expected = found[0] if len(found) == 1 else None
        if claimed == expected:
            return Verdict(
                solved=True,
                parsed=parsed,
                reason="exactly the knights",
                details={"knights": sum(claimed)},
            )
        wrong = sum(a != b for a, b in zip(claimed, expected or claimed, strict=True))
        return Verdict(
            solved=False,
            parsed=parsed,
            reason="not the consistent set of knights",
            details={
                "wrong_people": wrong,
                "contradicted_statements": violations(statements_of(puzzle.data), claimed),
            },
        )

    def reference_reply(self, puzzle: Puzzle) -> str:
        """Brute force over every assignment; report the consistent one."""
        names: list[str] = puzzle.data["people"]
        found = solutions(statements_of(puzzle.data))
        return "ANSWER: " + knights_text(names, found[0])

    def bluff(self, puzzle: Puzzle) -> str:
        """The wrong assignment that contradicts the fewest statements (ties broken by seed)."""
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        names: list[str] = puzzle.data["people"]
        statements = statements_of(puzzle.data)
        right = solutions(statements)
        wrong = [
            knights
            for knights in itertools.product((True, False), repeat=len(names))
            if knights not in right
        ]
        fewest = min(violations(statements, knights) for knights in wrong)
        pick = rng.choice([k for k in wrong if violations(statements, k) == fewest])
        return (
            "Only one assignment survives every statement, and it is this one.\n"
            "ANSWER: " + knights_text(names, pick)
        )
