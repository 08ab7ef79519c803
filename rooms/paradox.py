"""Paradox: a knights-and-knaves puzzle with exactly one consistent assignment.

Knights always tell the truth, knaves always lie. Each person makes one statement; the statements
accuse each other and look contradictory, but a brute-force solver proves that exactly one
assignment is consistent. The contestant names the knights; the validator compares the set
exactly.

Generation draws a hidden assignment and, for each speaker, a statement that is true exactly when
the speaker is a knight under it. While more than one assignment survives, one statement is
repaired: replaced by another claim that still fits the hidden assignment but rules out a
surviving alternative (never by resampling the whole puzzle). Every claim's truth table over all
``2**n`` assignments is one integer bit mask, so the solver checks 1024 assignments at once.

Difficulty:

- L0: 2 people, each states a plain sum ("Two plus two is four."); the knight says the true one.
- L1: 2 people with simple claims; L2: 3 with counting claims; L3: 4 with conditionals; L4: 5 with
  more indirect claims; L5: 6 with at least 3 compound 'and' / 'either ... or' / 'if' claims.
- L6: 7 people, at least 4 compound claims.
- L7: 8 people, at least 4 nested claims ("Bram would say that Cyrus is a knave").
- L8: 8 people, nested claims plus compounds that have a nested part.
- L9: 9 people, nested compounds ("Bram would say that if ..."), counting claims.
- L10: 10 people, doubly nested claims, 'exactly one of these two is true', counting.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from rooms.base import (
    Judgement,
    Puzzle,
    Room,
    check_difficulty,
    register_room,
    room_key,
    seed_for,
)
from rooms.extract import answer_block, json_list, normalize, peel_any_label, strip_decoration

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

NUMBER_WORDS: tuple[str, ...] = (
    "none",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)
"""Number words; index 0 reads 'none' ('none of us is a knight')."""
FACT_TERMS: tuple[int, int] = (1, 4)
"""The smallest and largest term of a level-0 sum (so every sum is at most eight)."""
FACT_MISS = 2
"""How far at least a false level-0 sum is from the true one ('two plus two is six')."""
ATOMS: tuple[str, ...] = ("knight", "knave")
"""Claims about one person's kind (the parts of conditionals)."""
PAIRS: tuple[str, ...] = ("same", "different", "some_knave", "some_knight")
"""Claims about two people."""
COUNTS: tuple[str, ...] = ("count", "at_most", "at_least")
"""Claims about how many of 'us' are knights."""
COMPOUNDS: tuple[str, ...] = ("if", "and", "or", "xor")
"""Claims built from two simpler ones ('xor': exactly one of the two is true)."""
NESTED = "would_say"
"""The nested claim: 'Bram would say that S' (true when Bram is a knight exactly when S holds)."""
FACT = "fact"
"""The level-0 claim: a plain sum, true or false whoever is who."""
ACCUSING: tuple[str, ...] = ("knave", "different", "some_knave")
"""Claims that sound like an accusation (what makes the statements look contradictory)."""
PART_KINDS: tuple[str, ...] = ("knight", "knave", "same", "different")
"""Kinds of the parts of 'and', 'or' and 'xor' claims."""
INNER_KINDS: tuple[tuple[str, int], ...] = (
    ("knave", 3),
    ("knight", 2),
    ("same", 2),
    ("different", 2),
    ("some_knave", 2),
    ("some_knight", 1),
)
"""Kinds (and weights) of what somebody 'would say' in a simple nested claim."""
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
    """Statement shapes and their weights. A shape is a claim kind (``knave``, ``if``, ...) or a
    nested form: ``say`` (would say a simple claim), ``say_say`` (would say that somebody would
    say one), ``say_count`` / ``say_if`` / ``say_and`` / ``say_or`` / ``say_xor`` (would say a
    counting or compound claim), ``if_say`` / ``and_say`` / ``or_say`` / ``xor_say`` (a compound
    with one nested part)."""
    required: tuple[tuple[tuple[str, ...], int], ...] = ()
    """At least this many statements (each a different speaker) of one of these shapes."""


SIMPLE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("same", 1),
    ("different", 1),
    ("some_knave", 1),
    ("count", 1),
    ("at_most", 1),
    ("at_least", 1),
)
"""The plain claims mixed in at levels 5 and up."""
NESTED_COMPOUNDS: tuple[str, ...] = ("if_say", "and_say", "or_say")
"""Compounds with one nested part."""
COMPOUNDS_NESTED: tuple[str, ...] = ("say_if", "say_and", "say_or")
"""Nested claims whose inner claim is a compound."""
COUNTING: tuple[str, ...] = ("count", "at_most", "at_least", "say_count")
"""Shapes that count the knights."""
EXCLUSIVE: tuple[str, ...] = ("xor", "xor_say", "say_xor")
"""Shapes with 'exactly one of these two is true'."""

LEVELS: dict[int, Level] = {
    0: Level(2, ((FACT, 1),)),
    1: Level(2, (("knave", 3), ("knight", 1), ("same", 2), ("different", 2), ("some_knave", 2))),
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
        ((("if",), 1),),
    ),
    5: Level(6, (*SIMPLE_WEIGHTS, ("if", 3), ("and", 3), ("or", 3)), ((("if", "and", "or"), 3),)),
    6: Level(7, (*SIMPLE_WEIGHTS, ("if", 3), ("and", 3), ("or", 3)), ((("if", "and", "or"), 4),)),
    7: Level(
        8,
        (*SIMPLE_WEIGHTS, ("some_knight", 1), ("if", 1), ("and", 1), ("or", 1), ("say", 6)),
        ((("say",), 4),),
    ),
    8: Level(
        8,
        (
            *SIMPLE_WEIGHTS,
            ("if", 2),
            ("and", 2),
            ("or", 2),
            ("say", 3),
            ("if_say", 2),
            ("and_say", 2),
            ("or_say", 2),
        ),
        ((("say",), 2), (NESTED_COMPOUNDS, 3), (("if", "and", "or"), 1)),
    ),
    9: Level(
        9,
        (
            ("same", 1),
            ("different", 1),
            ("some_knave", 1),
            ("count", 2),
            ("at_most", 2),
            ("at_least", 2),
            ("say", 2),
            ("say_count", 2),
            ("if_say", 2),
            ("and_say", 2),
            ("or_say", 2),
            ("say_if", 3),
            ("say_and", 3),
            ("say_or", 3),
        ),
        ((COMPOUNDS_NESTED, 3), (NESTED_COMPOUNDS, 2), (COUNTING, 2)),
    ),
    10: Level(
        10,
        (
            ("same", 1),
            ("different", 1),
            ("some_knave", 1),
            ("count", 2),
            ("at_most", 2),
            ("at_least", 2),
            ("say_count", 2),
            ("say", 1),
            ("say_say", 4),
            ("xor", 3),
            ("xor_say", 3),
            ("say_xor", 2),
            ("say_if", 1),
            ("say_and", 1),
            ("say_or", 1),
            ("if_say", 1),
            ("and_say", 1),
            ("or_say", 1),
        ),
        ((("say_say",), 3), (EXCLUSIVE, 3), (COUNTING, 2)),
    ),
}
PAR_SECONDS: dict[int, float] = {
    0: 20.0,
    1: 30.0,
    2: 60.0,
    3: 100.0,
    4: 150.0,
    5: 240.0,
    6: 330.0,
    7: 450.0,
    8: 600.0,
    9: 780.0,
    10: 1000.0,
}
LEVEL_NOTES: dict[int, str] = {
    0: "2 people each state a sum ('Two plus two is four'); the knight says the true one",
    1: "2 people, simple claims about each other",
    2: "3 people, adding claims about how many are knights",
    3: "4 people, adding 'if ... then' claims",
    4: "5 people, 'at most' / 'at least' claims and at least one 'if ... then'",
    5: "6 people, at least 3 compound claims ('and', 'either ... or', 'if ... then')",
    6: "7 people, at least 4 compound claims",
    7: "8 people, at least 4 nested claims ('Bram would say that Cyrus is a knave')",
    8: "8 people, nested claims and at least 3 compounds with a nested part",
    9: "9 people, nested compounds ('Bram would say that if ...') and counting claims",
    10: "10 people, doubly nested claims, 'exactly one of these two is true', counting",
}
DRAW_TRIES = 200
"""Random claims tried before giving up on finding one that fits (per speaker and request)."""
REPAIR_TRIES = 12
"""Fitting claims tried per speaker in one repair before moving on to the next speaker."""
MAX_REPAIRS = 400
"""Repairs before giving up (never reached in practice: a repair usually shrinks the survivors)."""
MAX_DRAFTS = 100
"""Hidden assignments tried before giving up (a redraw happens only when no accusation fits)."""

Claim = dict[str, Any]
"""A statement's content as JSON-able data, e.g. ``{"kind": "knave", "who": 1}``."""
Assignment = tuple[bool, ...]
"""True for each knight, in the order of the people."""
Slot = tuple[tuple[str, ...], tuple[int, ...]]
"""The shapes (and weights) one speaker's statement is drawn from."""


class ParadoxAnswer(BaseModel):
    """The set of knights (an empty list when there are none)."""

    knights: list[str]


# --- logic -------------------------------------------------------------------------------------


def holds(claim: Claim, knights: Assignment) -> bool:
    """Whether ``claim`` is true when exactly the people marked True are knights."""
    kind = claim["kind"]
    if kind == FACT:
        return sum(claim["terms"]) == claim["value"]
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
    if kind == NESTED:
        return knights[claim["who"]] == holds(claim["claim"], knights)
    first, second = (holds(part, knights) for part in claim["parts"])
    return {
        "if": (not first) or second,
        "and": first and second,
        "or": first or second,
        "xor": first != second,
    }[kind]


def consistent(statements: list[Claim], knights: Assignment) -> bool:
    """Whether every speaker's claim is true exactly when the speaker is a knight."""
    return all(holds(claim, knights) == knights[i] for i, claim in enumerate(statements))


def violations(statements: list[Claim], knights: Assignment) -> int:
    """How many speakers an assignment contradicts (0 for a consistent one)."""
    return sum(holds(claim, knights) != knights[i] for i, claim in enumerate(statements))


# Truth tables as bit masks: bit x of a mask is the claim's truth under assignment number x,
# where person i is a knight in assignment x exactly when bit i of x is set.


@functools.cache
def knight_masks(people: int) -> tuple[int, ...]:
    """Per person, the mask of the assignments in which that person is a knight."""
    return tuple(sum(1 << x for x in range(1 << people) if x >> i & 1) for i in range(people))


@functools.cache
def count_masks(people: int) -> tuple[int, ...]:
    """Per number n of knights (0..people), the mask of the assignments with exactly n."""
    masks = [0] * (people + 1)
    for x in range(1 << people):
        masks[x.bit_count()] |= 1 << x
    return tuple(masks)


def full_mask(people: int) -> int:
    """The mask with every assignment set."""
    return (1 << (1 << people)) - 1


def truth_mask(claim: Claim, people: int) -> int:
    """The claim's truth table over all ``2**people`` assignments, as a bit mask."""
    kind, full, knight = claim["kind"], full_mask(people), knight_masks(people)
    if kind == FACT:
        return full if holds(claim, ()) else 0
    if kind in ATOMS:
        mask = knight[claim["who"]]
        return mask if kind == "knight" else full ^ mask
    if kind in PAIRS:
        x, y = (knight[i] for i in claim["pair"])
        return {
            "same": full ^ x ^ y,
            "different": x ^ y,
            "some_knave": full ^ (x & y),
            "some_knight": x | y,
        }[kind]
    if kind in COUNTS:
        counts, n = count_masks(people), claim["n"]
        chosen = {
            "count": counts[n : n + 1],
            "at_most": counts[: n + 1],
            "at_least": counts[n:],
        }[kind]
        return functools.reduce(int.__or__, chosen, 0)
    if kind == NESTED:
        return full ^ knight[claim["who"]] ^ truth_mask(claim["claim"], people)
    first, second = (truth_mask(part, people) for part in claim["parts"])
    return {
        "if": (full ^ first) | second,
        "and": first & second,
        "or": first | second,
        "xor": first ^ second,
    }[kind]


def consistency_mask(truth: int, speaker: int, people: int) -> int:
    """The assignments in which a speaker with this truth table is a knight exactly when the
    claim is true."""
    return full_mask(people) ^ truth ^ knight_masks(people)[speaker]


def assignment_of(index: int, people: int) -> Assignment:
    """Assignment number ``index`` (person i is a knight when bit i is set)."""
    return tuple(bool(index >> i & 1) for i in range(people))


def index_of(knights: Assignment) -> int:
    """The number of an assignment (the inverse of ``assignment_of``)."""
    return sum(1 << i for i, knight in enumerate(knights) if knight)


def set_bits(mask: int) -> Iterator[int]:
    """The positions of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def survivors(statements: list[Claim]) -> int:
    """The mask of the assignments consistent with every statement."""
    people = len(statements)
    alive = full_mask(people)
    for speaker, claim in enumerate(statements):
        alive &= consistency_mask(truth_mask(claim, people), speaker, people)
    return alive


def violation_counts(statements: list[Claim]) -> list[int]:
    """Per assignment number, how many speakers it contradicts (0: consistent)."""
    people = len(statements)
    size = 1 << people
    rows = [
        format(
            full_mask(people) ^ consistency_mask(truth_mask(claim, people), i, people), "b"
        ).zfill(size)[::-1]
        for i, claim in enumerate(statements)
    ]
    return [column.count("1") for column in zip(*rows, strict=True)]


def solutions(statements: list[Claim]) -> list[Assignment]:
    """Every consistent assignment: brute force over all 2**n of them, as bit masks."""
    people = len(statements)
    return [assignment_of(x, people) for x in set_bits(survivors(statements))]


def inner_claims(claim: Claim) -> Iterator[Claim]:
    """The claim and every claim inside it (parts, what somebody would say), outside in."""
    yield claim
    for part in claim.get("parts", ()):
        yield from inner_claims(part)
    if "claim" in claim:
        yield from inner_claims(claim["claim"])


def is_compound(claim: Claim) -> bool:
    """Whether a claim is built from two simpler ones."""
    return claim["kind"] in COMPOUNDS


def is_nested(claim: Claim) -> bool:
    """Whether a claim says what somebody would say (anywhere inside)."""
    return any(inner["kind"] == NESTED for inner in inner_claims(claim))


def is_accusing(claim: Claim) -> bool:
    """Whether a claim calls somebody a knave or says two people differ (anywhere inside)."""
    return any(inner["kind"] in ACCUSING for inner in inner_claims(claim))


def mentioned(claim: Claim) -> list[int]:
    """The people a claim is about (sorted; counting claims are about nobody in particular)."""
    found: set[int] = set()
    for inner in inner_claims(claim):
        if "who" in inner:
            found.add(inner["who"])
        found.update(inner.get("pair", ()))
    return sorted(found)


# --- generation --------------------------------------------------------------------------------


def person_claim(rng: random.Random, kind: str, pool: list[int]) -> Claim:
    """A claim of an atom or pair ``kind`` about people drawn from ``pool``."""
    if kind in ATOMS:
        return {"kind": kind, "who": rng.choice(pool)}
    return {"kind": kind, "pair": sorted(rng.sample(pool, 2))}


def counting_claim(rng: random.Random, kind: str, people: int) -> Claim:
    """'Exactly / at most / at least n of us are knights' (never trivially true)."""
    if kind == "count":
        return {"kind": kind, "n": rng.randint(0, people)}
    return {"kind": kind, "n": rng.randint(1, people - 1)}


def compound_claim(rng: random.Random, kind: str, pool: list[int]) -> Claim:
    """An 'if' of two atoms about different people, or an 'and' / 'or' / 'xor' of two simple
    claims about different people (all drawn from ``pool``)."""
    if kind == "if":
        first, second = rng.sample(pool, 2)
        return {
            "kind": kind,
            "parts": [{"kind": rng.choice(ATOMS), "who": w} for w in (first, second)],
        }
    parts: list[Claim] = []
    while len(parts) < 2:
        part = person_claim(rng, rng.choice(PART_KINDS), pool)
        if not parts or mentioned(part) != mentioned(parts[0]):
            parts.append(part)
    return {"kind": kind, "parts": parts}


def nested_claim(rng: random.Random, inner: str, speaker: int, people: int, depth: int) -> Claim:
    """'X would say that S' (``depth`` 2: 'X would say that Y would say that S').

    The people who 'would say' are never the speaker, and S never mentions them (so a nested
    claim never talks about its own sayer). S is a simple claim (``inner == "say"``), a counting
    claim (``"count"``) or a compound of kind ``inner``."""
    sayers = rng.sample([i for i in range(people) if i != speaker], depth)
    pool = [i for i in range(people) if i not in sayers]
    if inner == "say":
        kinds, weights = zip(*INNER_KINDS, strict=True)
        claim = person_claim(rng, rng.choices(kinds, weights)[0], pool)
    elif inner == "count":
        claim = counting_claim(rng, rng.choice(COUNTS), people)
    else:
        claim = compound_claim(rng, inner, pool)
    for sayer in reversed(sayers):
        claim = {"kind": NESTED, "who": sayer, "claim": claim}
    return claim


def random_claim(rng: random.Random, shape: str, speaker: int, people: int) -> Claim:
    """A random claim of ``shape`` (see ``Level.kinds``) spoken by ``speaker`` (never 'I am a
    knight/knave', never 'I would say')."""
    everyone = list(range(people))
    if shape in ATOMS:
        return person_claim(rng, shape, [i for i in everyone if i != speaker])
    if shape in PAIRS:
        return person_claim(rng, shape, everyone)
    if shape in COUNTS:
        return counting_claim(rng, shape, people)
    if shape in COMPOUNDS:
        return compound_claim(rng, shape, everyone)
    if shape == "say":
        return nested_claim(rng, "say", speaker, people, 1)
    if shape == "say_say":
        return nested_claim(rng, "say", speaker, people, 2)
    if shape.startswith("say_"):
        return nested_claim(rng, shape.removeprefix("say_"), speaker, people, 1)
    kind = shape.removesuffix("_say")
    if kind not in COMPOUNDS:
        raise ValueError(f"unknown statement shape {shape!r}")
    plain = person_claim(rng, rng.choice(PART_KINDS), everyone)
    nested = nested_claim(rng, "say", speaker, people, 1)
    # The nested part comes last ('..., or Bram would say that ...') so that what Bram would
    # say runs to the end of the sentence; an 'if' may also start with it ('if Bram would say
    # that ..., then ...').
    parts = [nested, plain] if kind == "if" and rng.random() < 0.5 else [plain, nested]
    return {"kind": kind, "parts": parts}


def informative(truth: int, speaker: int, people: int) -> bool:
    """Whether a claim with this truth table says something: not always true or always false,
    and not just 'I am a knight' or 'I am a knave' in other words."""
    full, own = full_mask(people), knight_masks(people)[speaker]
    return truth not in (0, full, own, full ^ own)


def fitting_claim(
    rng: random.Random,
    slot: Slot,
    speaker: int,
    knights: Assignment,
    ruled_out: Assignment | None = None,
    accusing: bool = False,
) -> tuple[Claim, int] | None:
    """A random claim (and its truth table) from ``slot`` that is true exactly when the speaker
    is a knight under ``knights``, that contradicts the speaker under ``ruled_out`` (if given)
    and that accuses somebody (if asked); None if ``DRAW_TRIES`` random claims all miss."""
    shapes, weights = slot
    people = len(knights)
    target = index_of(knights)
    other = None if ruled_out is None else index_of(ruled_out)
    for _ in range(DRAW_TRIES):
        claim = random_claim(rng, rng.choices(shapes, weights)[0], speaker, people)
        if accusing and not is_accusing(claim):
            continue
        truth = truth_mask(claim, people)
        if bool(truth >> target & 1) != knights[speaker]:
            continue
        if other is not None and bool(truth >> other & 1) == ruled_out[speaker]:
            continue
        if informative(truth, speaker, people):
            return claim, truth
    return None


def slots_for(rng: random.Random, level: Level) -> list[Slot]:
    """Per speaker, the shapes its statement is drawn from: the level's required shapes for a
    few randomly chosen speakers, every shape of the level for the others."""
    weight = dict(level.kinds)
    everything: Slot = (tuple(weight), tuple(weight.values()))
    slots = [everything] * level.people
    order = rng.sample(range(level.people), level.people)
    for group, count in level.required:
        for speaker in order[:count]:
            slots[speaker] = (group, tuple(weight[shape] for shape in group))
        order = order[count:]
    return slots


def first_draft(rng: random.Random, slots: list[Slot], knights: Assignment) -> list[Claim] | None:
    """One fitting statement per speaker, at least one of them accusing; None if the hidden
    assignment admits no accusation (everybody a knight, with only plain claims)."""
    statements = []
    for speaker, slot in enumerate(slots):
        found = fitting_claim(rng, slot, speaker, knights)
        if found is None:
            return None
        statements.append(found[0])
    if any(map(is_accusing, statements)):
        return statements
    for speaker in rng.sample(range(len(slots)), len(slots)):
        found = fitting_claim(rng, slots[speaker], speaker, knights, accusing=True)
        if found is not None:
            statements[speaker] = found[0]
            return statements
    return None


def replacement(
    rng: random.Random,
    slots: list[Slot],
    knights: Assignment,
    statements: list[Claim],
    masks: list[int],
    ruled_out: Assignment,
) -> tuple[int, Claim, int] | None:
    """A speaker, a new statement for it and that statement's consistency mask, such that the
    statement still fits ``knights`` but rules out ``ruled_out``.

    Prefers a replacement that leaves fewer survivors than now (the first one found, speakers in
    random order); otherwise the first fitting one; None if nothing fits at all. The last
    accusing statement is only ever replaced by another accusing one."""
    people = len(knights)
    full = full_mask(people)
    alive = functools.reduce(int.__and__, masks, full)
    accusers = sum(map(is_accusing, statements))
    fallback = None
    for speaker in rng.sample(range(people), people):
        rest = functools.reduce(int.__and__, masks[:speaker] + masks[speaker + 1 :], full)
        lone = accusers == 1 and is_accusing(statements[speaker])
        for _ in range(REPAIR_TRIES):
            found = fitting_claim(rng, slots[speaker], speaker, knights, ruled_out, lone)
            if found is None:
                break
            claim, truth = found
            mask = consistency_mask(truth, speaker, people)
            if (rest & mask).bit_count() < alive.bit_count():
                return speaker, claim, mask
            fallback = fallback or (speaker, claim, mask)
    return fallback


def repair(
    rng: random.Random, slots: list[Slot], knights: Assignment, statements: list[Claim]
) -> list[Claim]:
    """Replace statements until ``knights`` is the only consistent assignment.

    Each round picks a surviving wrong assignment at random and replaces one speaker's statement
    by a claim that is true exactly when the speaker is a knight under ``knights`` but that
    contradicts the speaker under the wrong assignment (see ``replacement``)."""
    people = len(knights)
    statements = list(statements)
    target = index_of(knights)
    masks = [
        consistency_mask(truth_mask(claim, people), speaker, people)
        for speaker, claim in enumerate(statements)
    ]
    for _ in range(MAX_REPAIRS):
        alive = functools.reduce(int.__and__, masks)
        if alive == 1 << target:
            return statements
        wrong = rng.choice([x for x in set_bits(alive) if x != target])
        found = replacement(rng, slots, knights, statements, masks, assignment_of(wrong, people))
        if found is None:
            raise RuntimeError("no statement can rule out a surviving assignment")
        speaker, statements[speaker], masks[speaker] = found
    raise RuntimeError("could not repair the puzzle to a unique solution")


def fact_claim(rng: random.Random, true: bool) -> Claim:
    """A plain sum of two small numbers: right if ``true``, else off by at least ``FACT_MISS``."""
    low, high = FACT_TERMS
    terms = [rng.randint(low, high), rng.randint(low, high)]
    total = sum(terms)
    wrong = [v for v in range(1, len(NUMBER_WORDS)) if abs(v - total) >= FACT_MISS]
    return {"kind": FACT, "terms": terms, "value": total if true else rng.choice(wrong)}


def fact_case(rng: random.Random) -> tuple[Assignment, list[Claim]]:
    """Level 0: one knight states a true sum, one knave a false one (unique by construction)."""
    knights = (True, False) if rng.random() < 0.5 else (False, True)
    return knights, [fact_claim(rng, knight) for knight in knights]


def generate_case(rng: random.Random, level: Level) -> tuple[Assignment, list[Claim]]:
    """A hidden assignment and one statement per person, with that assignment the only solution.

    The hidden assignment is redrawn only when the first draft of statements cannot be made
    (nobody can be accused under it: everybody a knight with only plain claims); the statements
    are then repaired (never redrawn as a whole) until the solution is unique."""
    if level.kinds[0][0] == FACT:
        return fact_case(rng)
    slots = slots_for(rng, level)
    for _ in range(MAX_DRAFTS):
        knights = tuple(rng.random() < 0.5 for _ in range(level.people))
        statements = first_draft(rng, slots, knights)
        if statements is not None:
            return knights, repair(rng, slots, knights, statements)
    raise RuntimeError("no hidden assignment admits an accusation")  # pragma: no cover


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


def render(claim: Claim, speaker: int, names: list[str], nested: bool = False) -> str:
    """A claim as an English clause from the speaker's point of view (no final full stop).

    ``nested`` is set for what somebody would say: an 'and' there reads 'both of these are
    true: A; B', so that it cannot be mistaken for an 'and' outside the nested claim."""
    kind = claim["kind"]
    if kind == FACT:
        first, second = (NUMBER_WORDS[term] for term in claim["terms"])
        return f"{first} plus {second} is {NUMBER_WORDS[claim['value']]}"
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
    if kind == NESTED:
        inner = render(claim["claim"], speaker, names, nested=True)
        return f"{names[claim['who']]} would say that {inner}"
    first, second = (render(part, speaker, names) for part in claim["parts"])
    if kind == "and" and nested:
        return f"both of these are true: {first}; {second}"
    return {
        "if": f"if {first}, then {second}",
        "and": f"{first}, and {second}",
        "or": f"either {first}, or {second}",
        "xor": f"exactly one of these two is true: {first}; {second}",
    }[kind]


def sentence(claim: Claim, speaker: int, names: list[str]) -> str:
    """A whole quoted statement: capitalized, with a full stop."""
    clause = render(claim, speaker, names)
    return clause[0].upper() + clause[1:] + "."


def rules_for(statements: list[Claim], people: int) -> list[str]:
    """Reading rules for the kinds of statement that occur (short at low levels)."""
    claims = [inner for claim in statements for inner in inner_claims(claim)]
    kinds = {claim["kind"] for claim in claims}
    nested = [claim for claim in claims if claim["kind"] == NESTED]
    rules = []
    if FACT in kinds:
        rules.append("A knight's sum is right; a knave's sum is wrong.")
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
    if "xor" in kinds:
        rules.append(
            "'Exactly one of these two is true: A; B' is true when one of A and B is true and "
            "the other is false."
        )
    if any(claim["claim"]["kind"] == "and" for claim in nested):
        rules.append("'Both of these are true: A; B' is true when A and B are both true.")
    if nested:
        rules.append(
            "'X would say that S' is true when X is a knight and S is true, or when X is a knave "
            "and S is false (a knight would only say true things, a knave only false ones)."
        )
    if any(claim["claim"]["kind"] == NESTED for claim in nested):
        rules.append("S can itself be a 'would say' claim: 'X would say that Y would say that T'.")
    if any(
        speaker in mentioned(inner)
        for speaker, claim in enumerate(statements)
        for inner in inner_claims(claim)
        if inner["kind"] == NESTED
    ):
        rules.append("'I' and 'me' always mean the speaker, also after 'would say that'.")
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
    if all(claim["kind"] == FACT for claim in statements):
        question = "Exactly one of them is a knight. Who is the knight?"
        instruction = (
            "Write the knight's name. End your reply with one line of the form:\nANSWER: Name"
        )
    else:
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
_LABEL = re.compile(
    r"^(?:(?:the|final)\s+)?(?:answer|knight(?:s'|s’|'s|’s|s)?(?:\s+names?)?|names?\s+of\s+the\s+"
    r"knights?)\s*(?:are|is)?\s*[:=]?\s*"
)
_LEAD = re.compile(r"^(?:(?:both|only|just)\s+)+")
_SUFFIX = re.compile(
    r"\s+(?:is|are)\s+(?:the\s+)?(?:only\s+|both\s+|all\s+)?(?:a\s+)?knights?$"
    # A remark in brackets after a name ('Bram (knight)'); its closing bracket may already be
    # gone with the decoration. Never one about knaves or lies: 'Ada (knave)' stays unknown.
    r"|\s*\((?![^()]*\b(?:knaves?|liars?|lies|lying|false)\b)[^()]*\)?$"
    r"|,?\s+(?:who|which)\s+(?:always\s+)?tells?\s+the\s+truth$"
)
_REMARK = re.compile(r"\s*\([^()]*\)?$")
"""Any remark in brackets at the end ('none (all knaves)')."""


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
    block = peel_any_label(block)  # "The secret word is: Ada" names Ada
    text = normalize(block.replace("\n", ", "))
    previous = None
    while previous != text:
        previous = text
        text = strip_decoration(_LEAD.sub("", _SUFFIX.sub("", _LABEL.sub("", text))))
    if not text:
        return None
    if text in NONE_ANSWERS or _REMARK.sub("", text) in NONE_ANSWERS:
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
class Paradox(Room):
    """Tell the knights from the knaves."""

    id: ClassVar[str] = "paradox-v3"
    name: ClassVar[str] = "Paradox"
    Answer: ClassVar[type[BaseModel]] = ParadoxAnswer
    level_notes: ClassVar[dict[int, str]] = LEVEL_NOTES

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
            key=room_key(self.id, seed),
            data=data,
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Judgement:
        """Compare the named knights with the unique consistent assignment, as a set."""
        names: list[str] = puzzle.data["people"]
        items = parse_knights(reply)
        if items is None:
            return Judgement(solved=False, parsed=None, reason="no answer found in the reply")
        known = {normalize(name): name for name in names}
        unknown = [item for item in items if item not in known]
        if unknown:
            parsed = ", ".join(known.get(item, item) for item in items)
            reason = (
                "'none' mixed with names"
                if any(item in NONE_ANSWERS for item in unknown)
                else f"unknown person {unknown[0]!r} (the people are {', '.join(names)})"
            )
            return Judgement(
                solved=False, parsed=parsed, reason=reason, details={"unknown": unknown}
            )
        claimed = tuple(normalize(name) in items for name in names)
        parsed = knights_text(names, claimed)
        found = solutions(statements_of(puzzle.data))
        expected = found[0] if len(found) == 1 else None
        if claimed == expected:
            return Judgement(
                solved=True,
                parsed=parsed,
                reason="exactly the knights",
                details={"knights": sum(claimed)},
            )
        wrong = sum(a != b for a, b in zip(claimed, expected or claimed, strict=True))
        return Judgement(
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
        counts = violation_counts(statements)
        wrong = [x for x, count in enumerate(counts) if count > 0]
        fewest = min(counts[x] for x in wrong)
        pick = assignment_of(rng.choice([x for x in wrong if counts[x] == fewest]), len(names))
        return (
            "Only one assignment survives every statement, and it is this one.\n"
            "ANSWER: " + knights_text(names, pick)
        )
