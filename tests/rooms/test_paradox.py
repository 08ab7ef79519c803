"""Tests for the Paradox room: knights and knaves with exactly one consistent assignment."""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooms.base import LEVELS, Puzzle, registered_rooms, room_key
from rooms.paradox import (
    LEVELS as SHAPES,
)
from rooms.paradox import (
    NONE_ANSWERS,
    PAR_SECONDS,
    PEOPLE,
    Paradox,
    ParadoxAnswer,
    consistent,
    first_draft,
    holds,
    parse_knights,
    random_claim,
    render,
    repair,
    slots_for,
    solutions,
    truth_mask,
)

ROOM = Paradox()
DIFFICULTIES = LEVELS
OLD = (1, 2, 3, 4, 5)
NEW = (6, 7, 8, 9, 10)
SIZES = {0: 2, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7, 7: 8, 8: 8, 9: 9, 10: 10}
COUNTING = ("count", "at_most", "at_least")
CONNECTIVES = ("if", "and", "or", "xor")
PLAIN = ("knight", "knave", "same", "different", "some_knave", "some_knight")


def seeds(difficulty: int) -> range:
    """Fewer seeds where the independent oracle is slow (1024 assignments at 10 people)."""
    return range(200) if difficulty <= 5 else range(150)


@functools.cache
def puzzle(seed: int, difficulty: int) -> Puzzle:
    return ROOM.generate(seed, difficulty)


def puzzles(difficulty: int) -> list[Puzzle]:
    return [puzzle(seed, difficulty) for seed in seeds(difficulty)]


def knights_of(p: Puzzle) -> list[str]:
    return [] if p.solution == "none" else p.solution.split(", ")


def answer(names: list[str]) -> str:
    return "ANSWER: " + (", ".join(names) if names else "none")


def claims_of(p: Puzzle) -> list[dict[str, Any]]:
    return [entry["claim"] for entry in p.data["statements"]]


# --- an independent brute-force oracle ------------------------------------------------------------


def true_in(claim: dict[str, Any], world: dict[int, bool]) -> bool:
    """Truth of a stored claim when ``world[i]`` says whether person i is a knight."""
    kind = claim["kind"]
    if kind == "fact":
        a, b = claim["terms"]
        return a + b == claim["value"]
    if kind == "knight":
        return world[claim["who"]]
    if kind == "knave":
        return not world[claim["who"]]
    if kind in ("same", "different", "some_knave", "some_knight"):
        a, b = (world[i] for i in claim["pair"])
        if kind == "same":
            return a is b
        if kind == "different":
            return a is not b
        if kind == "some_knave":
            return not a or not b
        return a or b
    if kind in COUNTING:
        knights = list(world.values()).count(True)
        return {
            "count": knights == claim["n"],
            "at_most": knights <= claim["n"],
            "at_least": knights >= claim["n"],
        }[kind]
    if kind == "would_say":
        # A knight would say S only if S is true; a knave only if S is false.
        inner = true_in(claim["claim"], world)
        return inner if world[claim["who"]] else not inner
    left, right = (true_in(part, world) for part in claim["parts"])
    if kind == "if":
        return right if left else True
    if kind == "and":
        return left and right
    if kind == "xor":
        return [left, right].count(True) == 1
    assert kind == "or", kind
    return left or right


def all_consistent(p: Puzzle) -> list[frozenset[str]]:
    """Every set of knights under which each knight's claim is true and each knave's false."""
    people = p.data["people"]
    found = []
    for bits in range(2 ** len(people)):
        world = {i: bool(bits >> i & 1) for i in range(len(people))}
        if all(
            true_in(entry["claim"], world) == world[i]
            for i, entry in enumerate(p.data["statements"])
        ):
            found.append(frozenset(people[i] for i in world if world[i]))
    return found


def walk(claim: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The claim and everything inside it."""
    yield claim
    for part in claim.get("parts", ()):
        yield from walk(part)
    if "claim" in claim:
        yield from walk(claim["claim"])


def kinds_in(claim: dict[str, Any]) -> set[str]:
    return {inner["kind"] for inner in walk(claim)}


def about(claim: dict[str, Any]) -> set[int]:
    """Everyone a claim names (atoms, pairs, and who would say what)."""
    found: set[int] = set()
    for inner in walk(claim):
        found |= {inner["who"]} if "who" in inner else set()
        found |= set(inner.get("pair", ()))
    return found


def doubly_nested(claim: dict[str, Any]) -> bool:
    return claim["kind"] == "would_say" and claim["claim"]["kind"] == "would_say"


def nested_compound(claim: dict[str, Any]) -> bool:
    """'Bram would say that if ... / either ... / both ... / exactly one ...'."""
    return claim["kind"] == "would_say" and claim["claim"]["kind"] in CONNECTIVES


def compound_with_nested_part(claim: dict[str, Any]) -> bool:
    return claim["kind"] in CONNECTIVES and any(
        part["kind"] == "would_say" for part in claim["parts"]
    )


def counting(claim: dict[str, Any]) -> bool:
    return bool(kinds_in(claim) & set(COUNTING))


# --- the contract --------------------------------------------------------------------------------


def test_registered_and_described() -> None:
    assert isinstance(registered_rooms()["paradox-v3"], Paradox)
    assert (ROOM.id, ROOM.name, ROOM.Answer) == ("paradox-v3", "Paradox", ParadoxAnswer)
    p = puzzle(1, 3)
    assert p.room_id == "paradox-v3"
    assert p.answer_schema == ParadoxAnswer.model_json_schema()
    assert p.key == room_key("paradox-v3", 1)
    assert {puzzle(1, d).key for d in DIFFICULTIES} == {p.key}, "the key ignores the level"
    json.dumps(p.data)


@pytest.mark.parametrize("difficulty", [-1, 11, 2.0, True, "3"])
def test_invalid_difficulty_is_rejected(difficulty: Any) -> None:
    with pytest.raises(ValueError, match="difficulty"):
        ROOM.generate(1, difficulty)


def test_every_level_is_described() -> None:
    assert sorted(ROOM.level_notes) == list(DIFFICULTIES) == sorted(SHAPES) == sorted(PAR_SECONDS)
    for level, note in ROOM.level_notes.items():
        assert 0 < len(note) <= 90, note
        assert note == note.strip() and not note.endswith("."), note
        assert note.startswith(f"{SIZES[level]} people"), note
    assert "would say" in ROOM.level_notes[7]
    assert "exactly one" in ROOM.level_notes[10]


def test_names_cannot_be_confused_with_separators_or_none() -> None:
    assert len(set(PEOPLE)) == len(PEOPLE) >= max(SIZES.values())
    for name in PEOPLE:
        assert re.fullmatch(r"[A-Z][a-z]+", name)
        assert name.casefold() not in NONE_ANSWERS
        assert name.casefold() not in {"and", "both", "only", "just", "the", "knight", "knights"}


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_same_seed_same_puzzle_and_different_seeds_differ(difficulty: int) -> None:
    random.seed(12345)  # the global generator must not matter
    first = ROOM.generate(7, difficulty)
    random.seed(54321)
    assert ROOM.generate(7, difficulty) == first
    assert first.model_dump_json() == puzzle(7, difficulty).model_dump_json()
    prompts = {p.prompt for p in puzzles(difficulty)}
    assert len(prompts) >= 0.9 * len(seeds(difficulty))


def test_par_time_rises_with_difficulty() -> None:
    pars = [puzzle(0, d).par_seconds for d in DIFFICULTIES]
    assert pars == sorted(pars) and len(set(pars)) == len(pars)
    assert 10 <= pars[0] <= 30
    assert 15 <= pars[1] <= 40


def test_generation_is_fast_at_every_level() -> None:
    for difficulty in DIFFICULTIES:
        slowest = 0.0
        for seed in range(1000, 1020):
            start = time.perf_counter()
            ROOM.generate(seed, difficulty)
            slowest = max(slowest, time.perf_counter() - start)
        assert slowest < 0.25, (difficulty, slowest)


# --- the puzzle ----------------------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_exactly_one_consistent_assignment(difficulty: int) -> None:
    for p in puzzles(difficulty):
        found = all_consistent(p)
        assert found == [frozenset(knights_of(p))], p.seed


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), difficulty=st.sampled_from(DIFFICULTIES))
def test_any_seed_gives_a_unique_solution(seed: int, difficulty: int) -> None:
    p = ROOM.generate(seed, difficulty)
    assert all_consistent(p) == [frozenset(knights_of(p))]
    assert ROOM.validate(p, ROOM.reference_reply(p)).solved
    assert not ROOM.validate(p, ROOM.bluff(p)).solved


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_sizes_and_statements(difficulty: int) -> None:
    for p in puzzles(difficulty):
        people = p.data["people"]
        assert len(people) == SIZES[difficulty]
        assert len(set(people)) == len(people)
        assert [entry["speaker"] for entry in p.data["statements"]] == people
        for i, entry in enumerate(p.data["statements"]):
            assert f'{people[i]} says: "{entry["text"]}"' in p.prompt
            assert entry["claim"] != {"kind": "knave", "who": i}, "no 'I am a knave'"
            assert entry["claim"] != {"kind": "knight", "who": i}, "no 'I am a knight'"
            assert about(entry["claim"]) <= set(range(len(people)))


def test_level_zero_is_two_plain_sums_one_true() -> None:
    for p in puzzles(0):
        claims = claims_of(p)
        assert [c["kind"] for c in claims] == ["fact", "fact"]
        truths = [true_in(c, {}) for c in claims]
        assert sorted(truths) == [False, True]
        assert knights_of(p) == [p.data["people"][truths.index(True)]]
        for entry in p.data["statements"]:
            assert re.fullmatch(r"[A-Z][a-z]+ plus [a-z]+ is [a-z]+\.", entry["text"])
            a, b = entry["claim"]["terms"]
            assert 1 <= a <= 4 and 1 <= b <= 4
            if not true_in(entry["claim"], {}):
                assert abs(a + b - entry["claim"]["value"]) >= 2, "obviously false"
        assert "A knight's sum is right; a knave's sum is wrong." in p.prompt
        assert p.prompt.splitlines()[-1] == "ANSWER: Name"
        assert len(p.prompt) < 700, "short enough for a 135M model"
    assert {tuple(knights_of(p)) == (p.data["people"][0],) for p in puzzles(0)} == {True, False}


def test_level_zero_reads_naturally() -> None:
    names = ["Ada", "Bram"]
    fact = {"kind": "fact", "terms": [2, 2], "value": 4}
    assert render(fact, 0, names) == "two plus two is four"
    assert holds(fact, (True, False))
    assert not holds({"kind": "fact", "terms": [2, 3], "value": 8}, (True, False))


def test_statements_grow_more_indirect() -> None:
    def share(difficulty: int, test: Callable[[dict[str, Any]], bool]) -> float:
        claims = [c for p in puzzles(difficulty) for c in claims_of(p)]
        return sum(map(test, claims)) / len(claims)

    def compound(claim: dict[str, Any]) -> bool:
        return claim["kind"] in CONNECTIVES

    def nested(claim: dict[str, Any]) -> bool:
        return "would_say" in kinds_in(claim)

    assert share(1, compound) == share(2, compound) == 0
    assert 0 < share(3, compound) < share(4, compound) < share(5, compound)
    for difficulty in DIFFICULTIES:
        kinds = {k for p in puzzles(difficulty) for c in claims_of(p) for k in kinds_in(c)}
        assert ("fact" in kinds) == (difficulty == 0)
        assert ("would_say" in kinds) == (difficulty >= 7)
        assert ("xor" in kinds) == (difficulty == 10)
    assert 0 < share(7, nested) <= share(8, nested) <= share(9, nested)
    for p in puzzles(5):
        assert sum(compound(c) for c in claims_of(p)) >= 3
    for p in puzzles(4):
        assert any(c["kind"] == "if" for c in claims_of(p))


@pytest.mark.parametrize(
    ("difficulty", "promises"),
    [
        (6, {"compound": 4}),
        (7, {"nested": 4}),
        (8, {"plain nested": 2, "compound with a nested part": 3, "compound": 4}),
        (9, {"nested compound": 3, "compound with a nested part": 2, "counting": 2}),
        (10, {"doubly nested": 3, "exactly one": 3, "counting": 2}),
    ],
)
def test_hard_levels_keep_their_promises(difficulty: int, promises: dict[str, int]) -> None:
    tests: dict[str, Callable[[dict[str, Any]], bool]] = {
        "compound": lambda c: c["kind"] in CONNECTIVES,
        "nested": lambda c: "would_say" in kinds_in(c),
        "plain nested": lambda c: c["kind"] == "would_say" and c["claim"]["kind"] in PLAIN,
        "compound with a nested part": compound_with_nested_part,
        "nested compound": nested_compound,
        "counting": counting,
        "doubly nested": doubly_nested,
        "exactly one": lambda c: "xor" in kinds_in(c),
    }
    for p in puzzles(difficulty):
        claims = claims_of(p)
        for promise, least in promises.items():
            assert sum(map(tests[promise], claims)) >= least, (p.seed, promise)
    if difficulty == 10:
        assert any("xor" in kinds_in(c) for p in puzzles(10) for c in claims_of(p))


@pytest.mark.parametrize("difficulty", NEW)
def test_nested_claims_are_well_formed(difficulty: int) -> None:
    for p in puzzles(difficulty):
        for speaker, claim in enumerate(claims_of(p)):
            for inner in walk(claim):
                if inner["kind"] == "would_say":
                    assert inner["who"] != speaker, "nobody says 'I would say'"
                    assert inner["who"] not in about(inner["claim"]), "no 'X would say X ...'"
                if inner["kind"] in ("and", "or", "xor"):
                    assert inner["parts"][0]["kind"] != "would_say", "the nested part comes last"
            for part in claim.get("parts", ()):
                assert "parts" not in part, "compounds are never nested in compounds"
            depth = 0
            inner = claim
            while inner["kind"] == "would_say":
                depth, inner = depth + 1, inner["claim"]
            assert depth <= (2 if difficulty == 10 else 1)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_reading_rules_match_the_statements(difficulty: int) -> None:
    rules = {
        "if": "'If A, then B' is false only when A is true and B is false.",
        "or": "'Either A, or B' is true when at least one of A and B is true (possibly both).",
        "xor": "'Exactly one of these two is true: A; B' is true when one of A and B is true",
        "would_say": "'X would say that S' is true when X is a knight and S is true, or when X "
        "is a knave and S is false",
        "same": "'Of the same kind' means both knights or both knaves.",
        "count": "'Us' means all",
    }
    for p in puzzles(difficulty)[:60]:
        kinds = set().union(*map(kinds_in, claims_of(p)))
        kinds |= {"same"} if "different" in kinds else set()
        kinds |= {"count"} if kinds & set(COUNTING) else set()
        for kind, rule in rules.items():
            assert (rule in p.prompt) == (kind in kinds), (p.seed, kind)
        if "count" in kinds:
            assert f"'Us' means all {SIZES[difficulty]} of the people here" in p.prompt
        said = "\n".join(entry["text"] for entry in p.data["statements"])
        assert ("Both of these are true:" in p.prompt) == ("both of these are true:" in said)
        assert ("would say that Y would say" in p.prompt) == any(
            doubly_nested(c) for c in claims_of(p)
        )
        mentions_me = any(
            i in about(inner["claim"])
            for i, claim in enumerate(claims_of(p))
            for inner in walk(claim)
            if inner["kind"] == "would_say"
        )
        assert ("'I' and 'me' always mean the speaker" in p.prompt) == mentions_me


def test_rendering_from_the_speakers_point_of_view() -> None:
    names = ["Ada", "Bram", "Cyrus", "Dora"]
    assert render({"kind": "knave", "who": 1}, 0, names) == "Bram is a knave"
    assert render({"kind": "same", "pair": [0, 1]}, 1, names) == "Ada and I are of the same kind"
    assert (
        render({"kind": "different", "pair": [0, 2]}, 1, names)
        == "Ada and Cyrus are of different kinds"
    )
    assert (
        render({"kind": "some_knave", "pair": [0, 2]}, 0, names)
        == "at least one of Cyrus and me is a knave"
    )
    assert render({"kind": "count", "n": 0}, 0, names) == "none of us is a knight"
    assert render({"kind": "count", "n": 2}, 0, names) == "exactly two of us are knights"
    assert render({"kind": "count", "n": 10}, 0, names) == "exactly ten of us are knights"
    assert render({"kind": "at_most", "n": 1}, 0, names) == "at most one of us is a knight"
    conditional = {
        "kind": "if",
        "parts": [{"kind": "knight", "who": 0}, {"kind": "knave", "who": 2}],
    }
    assert render(conditional, 0, names) == "if I am a knight, then Cyrus is a knave"
    either = {
        "kind": "or",
        "parts": [{"kind": "knave", "who": 1}, {"kind": "same", "pair": [0, 2]}],
    }
    assert render(either, 1, names) == "either I am a knave, or Ada and Cyrus are of the same kind"


def test_rendering_of_nested_and_exclusive_claims() -> None:
    names = ["Ada", "Bram", "Cyrus", "Dora"]
    knave = {"kind": "knave", "who": 2}
    says = {"kind": "would_say", "who": 1, "claim": knave}
    assert render(says, 0, names) == "Bram would say that Cyrus is a knave"
    me = {"kind": "would_say", "who": 1, "claim": {"kind": "same", "pair": [0, 2]}}
    assert render(me, 0, names) == "Bram would say that Cyrus and I are of the same kind"
    double = {"kind": "would_say", "who": 3, "claim": says}
    assert render(double, 0, names) == "Dora would say that Bram would say that Cyrus is a knave"
    both = {"kind": "and", "parts": [knave, {"kind": "knight", "who": 3}]}
    assert render(both, 0, names) == "Cyrus is a knave, and Dora is a knight"
    assert (
        render({"kind": "would_say", "who": 1, "claim": both}, 0, names)
        == "Bram would say that both of these are true: Cyrus is a knave; Dora is a knight"
    )
    exclusive = {"kind": "xor", "parts": [{"kind": "knight", "who": 3}, says]}
    assert (
        render(exclusive, 0, names) == "exactly one of these two is true: Dora is a knight; "
        "Bram would say that Cyrus is a knave"
    )


def test_would_say_means_knight_exactly_when_the_inner_claim_holds() -> None:
    says = {"kind": "would_say", "who": 1, "claim": {"kind": "knave", "who": 2}}
    # Bram a knight, Cyrus a knave: Bram would (truly) say Cyrus is a knave.
    assert holds(says, (False, True, False))
    # Bram a knave, Cyrus a knight: Bram would (falsely) say Cyrus is a knave.
    assert holds(says, (False, False, True))
    # Bram a knave, Cyrus a knave: Bram would never say the true 'Cyrus is a knave'.
    assert not holds(says, (True, False, False))
    assert not holds(says, (True, True, True))
    double = {"kind": "would_say", "who": 0, "claim": says}
    assert holds(double, (True, True, False)) and not holds(double, (False, True, False))
    xor = {"kind": "xor", "parts": [{"kind": "knight", "who": 0}, {"kind": "knight", "who": 1}]}
    assert [
        holds(xor, k) for k in ((True, True), (True, False), (False, True), (False, False))
    ] == [
        False,
        True,
        True,
        False,
    ]


SHAPE_NAMES = sorted({shape for level in SHAPES.values() for shape, _ in level.kinds} - {"fact"})


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    shape=st.sampled_from(SHAPE_NAMES),
    people=st.integers(4, 10),
)
def test_truth_tables_agree_with_the_plain_definition(seed: int, shape: str, people: int) -> None:
    """The bit-mask evaluation (the fast solver) matches ``holds`` and the test oracle."""
    rng = random.Random(seed)
    speaker = rng.randrange(people)
    claim = random_claim(rng, shape, speaker, people)
    mask = truth_mask(claim, people)
    for bits in rng.sample(range(2**people), min(64, 2**people)):
        knights = tuple(bool(bits >> i & 1) for i in range(people))
        world = dict(enumerate(knights))
        assert bool(mask >> bits & 1) == holds(claim, knights) == true_in(claim, world)


def test_solutions_brute_force_agrees_with_consistent() -> None:
    for difficulty in (2, 5, 8):
        statements = claims_of(puzzle(11, difficulty))
        people = len(statements)
        expected = [
            k for k in itertools.product((False, True), repeat=people) if consistent(statements, k)
        ]
        assert sorted(solutions(statements)) == sorted(expected)


@pytest.mark.parametrize("difficulty", range(1, 11))
def test_repair_makes_any_draft_unique(difficulty: int) -> None:
    """Repair only swaps statements (same shapes per speaker) until the hidden assignment is the
    only survivor."""
    level = SHAPES[difficulty]
    repaired = 0
    for seed in range(40):
        rng = random.Random(seed)
        slots = slots_for(rng, level)
        knights = tuple(rng.random() < 0.5 for _ in range(level.people))
        draft = first_draft(rng, slots, knights)
        if draft is None:
            assert all(knights), "only when nobody can be accused"
            continue
        assert all(holds(c, knights) == knights[i] for i, c in enumerate(draft))
        fixed = repair(rng, slots, knights, draft)
        assert solutions(fixed) == [knights]
        assert any(kinds_in(c) & {"knave", "different", "some_knave"} for c in fixed)
        repaired += fixed != draft
    assert repaired >= 2, "some drafts are not unique: repair is exercised"


@pytest.mark.parametrize("difficulty", range(1, 11))
def test_statements_look_contradictory(difficulty: int) -> None:
    for p in puzzles(difficulty):
        assert "knave" in p.prompt.split("\n\n")[1] or "different kinds" in p.prompt, p.seed


@pytest.mark.parametrize("difficulty", range(1, 11))
def test_prompt_ends_with_the_answer_format(difficulty: int) -> None:
    for p in puzzles(difficulty)[:20]:
        assert p.prompt.splitlines()[-1] == "ANSWER: Name, Name"
        assert "none" in p.prompt


def test_every_answer_shape_occurs() -> None:
    counts = {len(knights_of(p)) for d in DIFFICULTIES for p in puzzles(d)}
    assert 0 in counts, "sometimes nobody is a knight"
    assert max(counts) >= 8
    for difficulty in NEW:
        sizes = {len(knights_of(p)) for p in puzzles(difficulty)}
        assert len(sizes) >= 5, (difficulty, sizes)


def test_prompts_stay_small() -> None:
    for difficulty in DIFFICULTIES:
        longest = max(len(p.prompt) for p in puzzles(difficulty)[:20])
        assert longest / 4 < 800, (difficulty, longest)
        assert ROOM.prompt_tokens(difficulty) <= longest / 4 + 1


# --- validation ----------------------------------------------------------------------------------

FORMATS: dict[str, Callable[[list[str]], str]] = {
    "plain": answer,
    "reversed": lambda names: answer(names[::-1]),
    "and": lambda names: "ANSWER: " + (" and ".join(names) if names else "nobody"),
    "oxford": lambda names: (
        "Answer: "
        + (", ".join(names[:-1]) + ", and " + names[-1] if len(names) > 1 else answer(names)[8:])
    ),
    "upper": lambda names: answer(names).upper(),
    "lower": lambda names: answer(names).lower(),
    "bold": lambda names: "**ANSWER:** " + (", ".join(f"**{n}**" for n in names) or "**None**"),
    "fenced": lambda names: "Reasoning...\n```\n" + (", ".join(names) or "none") + "\n```",
    "sentence": lambda names: (
        "ANSWER: "
        + ("The knights are " + " and ".join(names) + "." if names else "There are no knights.")
    ),
    "list": lambda names: "ANSWER:\n" + ("\n".join(f"- {n}" for n in names) or "none"),
    "json": lambda names: json.dumps({"knights": names}),
    "last-line": lambda names: "Let me check each case.\n\n" + (", ".join(names) or "None."),
    "bold-label-own-line": lambda names: "**ANSWER:**\n" + (", ".join(names) or "none"),
    "followed-by-a-note": lambda names: answer(names) + "\n- checked every statement",
    "quoted": lambda names: "ANSWER: " + (", ".join(f'"{n}"' for n in names) or "'none'"),
    "bracketed-remark": lambda names: (
        "ANSWER: " + (", ".join(f"{n} (knight)" for n in names) or "none (all knaves)")
    ),
}


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_reference_reply_solves(difficulty: int) -> None:
    for p in puzzles(difficulty):
        verdict = ROOM.validate(p, ROOM.reference_reply(p))
        assert verdict.solved, (p.seed, verdict)
        assert verdict.parsed == p.solution


def test_reference_reply_solves_from_the_data_not_the_solution() -> None:
    for difficulty in DIFFICULTIES:
        p = puzzle(3, difficulty).model_copy(update={"solution": "nonsense"})
        assert ROOM.validate(p, ROOM.reference_reply(p)).solved


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_solution_in_any_format_validates(difficulty: int, fmt: str) -> None:
    for p in puzzles(difficulty)[:30]:
        reply = FORMATS[fmt](knights_of(p))
        verdict = ROOM.validate(p, reply)
        assert verdict.solved, (p.seed, reply, verdict)
        assert verdict.parsed == p.solution


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_bluff_never_validates(difficulty: int) -> None:
    for p in puzzles(difficulty):
        bluff = ROOM.bluff(p)
        assert bluff == ROOM.bluff(p)
        verdict = ROOM.validate(p, bluff)
        assert not verdict.solved, (p.seed, bluff)
        assert verdict.parsed is not None
        assert verdict.parsed != p.solution


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_empty_reply_never_validates(difficulty: int) -> None:
    for p in puzzles(difficulty)[:20]:
        for reply in ("", "ANSWER:", "  \n"):
            verdict = ROOM.validate(p, reply)
            assert not verdict.solved and verdict.parsed is None


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_one_person_flipped_does_not_validate(difficulty: int) -> None:
    for p in puzzles(difficulty):
        knights = set(knights_of(p))
        for person in p.data["people"]:
            flipped = knights ^ {person}
            names = [n for n in p.data["people"] if n in flipped]
            verdict = ROOM.validate(p, answer(names))
            assert not verdict.solved, (p.seed, names)
            assert verdict.details["wrong_people"] == 1


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_every_other_assignment_is_rejected(difficulty: int) -> None:
    for p in puzzles(difficulty)[: 40 if difficulty <= 5 else 3]:
        people = p.data["people"]
        right = set(knights_of(p))
        for size in range(len(people) + 1):
            for chosen in itertools.combinations(people, size):
                if set(chosen) != right:
                    assert not ROOM.validate(p, answer(list(chosen))).solved


@pytest.mark.parametrize("reply", ["", "  \n\n ", "ANSWER:", "```\n```"])
def test_empty_reply_parses_to_nothing(reply: str) -> None:
    verdict = ROOM.validate(puzzle(0, 3), reply)
    assert not verdict.solved
    assert verdict.parsed is None


@pytest.mark.parametrize(
    "reply",
    [
        "I have no idea.",
        "ANSWER: 42",
        "ANSWER: Name, Name",
        "ANSWER: Name",
        "ANSWER: everyone",
        "ANSWER: the knights",
        "lorem ipsum",
        '{"knights": ["Nobody Special"]}',
    ],
)
def test_garbage_does_not_validate(reply: str) -> None:
    for difficulty in DIFFICULTIES:
        verdict = ROOM.validate(puzzle(0, difficulty), reply)
        assert not verdict.solved


def test_unknown_name_is_named_in_the_reason() -> None:
    for difficulty in DIFFICULTIES:
        p = puzzle(4, difficulty)
        verdict = ROOM.validate(p, answer([*knights_of(p), "Zorro"]))
        assert not verdict.solved
        assert "zorro" in verdict.reason


def test_none_mixed_with_names_is_rejected() -> None:
    p = next(p for p in puzzles(2) if knights_of(p))
    verdict = ROOM.validate(p, "ANSWER: none, " + ", ".join(knights_of(p)))
    assert not verdict.solved
    assert "none" in verdict.reason


def test_all_or_none_when_wrong() -> None:
    for p in puzzles(3):
        everyone = ROOM.validate(p, answer(p.data["people"]))
        nobody = ROOM.validate(p, "ANSWER: none")
        assert everyone.solved == (len(knights_of(p)) == len(p.data["people"]))
        assert nobody.solved == (not knights_of(p))
        assert nobody.parsed == "none"


def test_parse_knights_is_forgiving_about_form_only() -> None:
    assert parse_knights("ANSWER: Ada and Bram") == ["ada", "bram"]
    assert parse_knights("Final answer: **Ada** & **Bram**.") == ["ada", "bram"]
    assert parse_knights("ANSWER: Only Ada is a knight.") == ["ada"]
    assert parse_knights("ANSWER: Ada is a knight, Bram is a knave") == ["ada", "bram is a knave"]
    assert parse_knights("ANSWER: Ada and Bram are both knights") == ["ada", "bram"]
    assert parse_knights("ANSWER: Ada, who always tells the truth") == ["ada"]
    assert parse_knights("ANSWER: Ada (knight), Bram (knight)") == ["ada", "bram"]
    assert parse_knights("ANSWER: Ada, Bram (both knights)") == ["ada", "bram"]
    assert parse_knights("ANSWER: Knights: Ada, Bram") == ["ada", "bram"]
    assert parse_knights("ANSWER: Ada (knave), Bram (knight)") == ["ada (knave", "bram"]
    assert parse_knights("ANSWER: none (they all lie)") == []
    assert parse_knights("ANSWER: nobody") == []
    assert parse_knights("ANSWER: []") == []
    assert parse_knights("") is None


def test_details_are_json_serializable() -> None:
    for difficulty in (0, 5, 10):
        p = puzzle(2, difficulty)
        for reply in (ROOM.reference_reply(p), ROOM.bluff(p), "ANSWER: Zorro", "", "ANSWER: none"):
            verdict = ROOM.validate(p, reply)
            json.dumps(verdict.details)
            assert verdict.reason


# --- realistic replies at the new levels ---------------------------------------------------------


def test_realistic_level_zero_replies() -> None:
    p = puzzle(3, 0)
    knight = knights_of(p)[0]
    knave = next(n for n in p.data["people"] if n != knight)
    true_text = next(e["text"] for e in p.data["statements"] if e["speaker"] == knight)
    right = [
        f'{knight} says "{true_text}" That is correct, so {knight} is the knight.\n\n'
        f"ANSWER: {knight}",
        f"**ANSWER:** {knight}",
        f"ANSWER: {knight.upper()}.",
        f"The knight is {knight}.\nANSWER: {knight} is the knight",
        f"{knight}",
    ]
    wrong = [
        f"ANSWER: {knave}",
        f"ANSWER: {knight}, {knave}",
        "ANSWER: Name",
        f"ANSWER: {knight}\n\nANSWER: {knave}",
        f"ANSWER: {knave} (the sum is right)",
        "ANSWER: none",
    ]
    for reply in right:
        assert ROOM.validate(p, reply).solved, reply
    for reply in wrong:
        assert not ROOM.validate(p, reply).solved, reply


@pytest.mark.parametrize("difficulty", NEW)
def test_realistic_replies_at_the_hard_levels(difficulty: int) -> None:
    p = next(p for p in puzzles(difficulty) if len(knights_of(p)) >= 2)
    people, knights = p.data["people"], knights_of(p)
    knaves = [n for n in people if n not in knights]
    working = "\n".join(
        f"- Suppose {name} is a knight; then {people[(i + 1) % len(people)]} is a knave..."
        for i, name in enumerate(people)
    )
    right = [
        f"Let me try cases.\n{working}\n\nSo the knights are {', '.join(knights)}.\n\n"
        f"ANSWER: {', '.join(knights)}",
        "<think>\n" + working + "\n</think>\n\n**ANSWER:** " + " and ".join(knights),
        "Knights: "
        + ", ".join(knights)
        + "\nKnaves: "
        + ", ".join(knaves)
        + "\n\nANSWER: "
        + ", ".join(f"{n} (knight)" for n in knights),
        "```json\n" + json.dumps({"knights": knights[::-1]}) + "\n```",
    ]
    wrong = [
        f"{working}\n\nANSWER: {', '.join(knights[:-1])}",
        f"ANSWER: {', '.join([*knights, knaves[0]])}" if knaves else "ANSWER: none",
        "ANSWER: " + ", ".join(knaves) if knaves else "ANSWER: none",
        f"ANSWER: {', '.join(knights)}\n\nWait, let me recheck.\nANSWER: {knights[0]}",
        "ANSWER: " + ", ".join(knights) + (f", {knaves[0]} (knave)" if knaves else ", Zorro"),
    ]
    for reply in right:
        verdict = ROOM.validate(p, reply)
        assert verdict.solved, (reply, verdict)
    for reply in wrong:
        assert not ROOM.validate(p, reply).solved, reply


@pytest.mark.parametrize(
    ("reply", "names"),
    [
        ("The knight's name is Ada.", ["ada"]),
        ("The knights' names are Ada and Bram", ["ada", "bram"]),
        ("The name of the knight is Ada", ["ada"]),
        ("The knights are Ada and Bram.", ["ada", "bram"]),
    ],
)
def test_a_sentence_naming_the_knights_counts_as_the_answer(reply: str, names: list[str]) -> None:
    assert parse_knights(reply) == names


def test_a_knight_named_under_another_rooms_label_counts() -> None:
    assert parse_knights("The secret word is: Ada") == ["ada"]
    assert parse_knights("The secret word is: HORSE") == ["horse"]  # an unknown person, refused
