"""Tests for the Paradox room: knights and knaves with exactly one consistent assignment."""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rooms.base import Puzzle, registered_rooms, room_key
from rooms.paradox import (
    NONE_ANSWERS,
    PEOPLE,
    ParadoxAnswer,
    ParadoxRoom,
    parse_knights,
    render,
)

ROOM = ParadoxRoom()
SEEDS = range(200)
DIFFICULTIES = (1, 2, 3, 4, 5)
SIZES = {1: 2, 2: 3, 3: 4, 4: 5, 5: 6}
REPO = Path(__file__).resolve().parents[2]


@functools.cache
def puzzle(seed: int, difficulty: int) -> Puzzle:
    return ROOM.generate(seed, difficulty)


def puzzles(difficulty: int) -> list[Puzzle]:
    return [puzzle(seed, difficulty) for seed in SEEDS]


def knights_of(p: Puzzle) -> list[str]:
    return [] if p.solution == "none" else p.solution.split(", ")


def answer(names: list[str]) -> str:
    return "ANSWER: " + (", ".join(names) if names else "none")


# --- an independent brute-force oracle ------------------------------------------------------------


def true_in(claim: dict[str, Any], world: dict[int, bool]) -> bool:
    """Truth of a stored claim when ``world[i]`` says whether person i is a knight."""
    kind = claim["kind"]
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
    if kind in ("count", "at_most", "at_least"):
        knights = list(world.values()).count(True)
        return {
            "count": knights == claim["n"],
            "at_most": knights <= claim["n"],
            "at_least": knights >= claim["n"],
        }[kind]
    left, right = (true_in(part, world) for part in claim["parts"])
    if kind == "if":
        return right if left else True
    if kind == "and":
        return left and right
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


# --- the contract --------------------------------------------------------------------------------


def test_registered_and_described() -> None:
    assert isinstance(registered_rooms()["paradox-v2"], ParadoxRoom)
    assert (ROOM.id, ROOM.name, ROOM.Answer) == ("paradox-v2", "Paradox", ParadoxAnswer)
    p = puzzle(1, 3)
    assert p.room_id == "paradox-v2"
    assert p.answer_schema == ParadoxAnswer.model_json_schema()
    assert p.key == room_key("paradox-v2", 1, 3)
    json.dumps(p.data)


def test_invalid_difficulty_is_rejected() -> None:
    for difficulty in (0, 6):
        with pytest.raises(ValueError, match="difficulty"):
            ROOM.generate(1, difficulty)


def test_names_cannot_be_confused_with_separators_or_none() -> None:
    assert len(set(PEOPLE)) == len(PEOPLE) >= max(SIZES.values())
    for name in PEOPLE:
        assert re.fullmatch(r"[A-Z][a-z]+", name)
        assert name.casefold() not in NONE_ANSWERS
        assert name.casefold() not in {"and", "both", "only", "just", "the", "knight", "knights"}


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_different_seeds_give_different_puzzles(difficulty: int) -> None:
    prompts = {p.prompt for p in puzzles(difficulty)}
    assert len(prompts) >= 0.9 * len(SEEDS)


def test_par_time_rises_with_difficulty() -> None:
    pars = [puzzle(0, d).par_seconds for d in DIFFICULTIES]
    assert pars == sorted(pars)
    assert 15 <= pars[0] <= 40


# --- the puzzle ----------------------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_exactly_one_consistent_assignment(difficulty: int) -> None:
    for p in puzzles(difficulty):
        found = all_consistent(p)
        assert found == [frozenset(knights_of(p))], p.seed


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


def compound(claim: dict[str, Any]) -> bool:
    return claim["kind"] in ("if", "and", "or")


def test_statements_grow_more_indirect() -> None:
    def share(difficulty: int) -> float:
        claims = [e["claim"] for p in puzzles(difficulty) for e in p.data["statements"]]
        return sum(map(compound, claims)) / len(claims)

    assert share(1) == share(2) == 0
    assert 0 < share(3) < share(4) < share(5)
    for p in puzzles(5):
        assert sum(compound(e["claim"]) for e in p.data["statements"]) >= 3
        kinds = {e["claim"]["kind"] for e in p.data["statements"]}
        assert kinds & {"and", "or"} or "if" in kinds


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_statements_look_contradictory(difficulty: int) -> None:
    for p in puzzles(difficulty):
        assert "knave" in p.prompt.split("\n\n")[1] or "different kinds" in p.prompt, p.seed


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_prompt_ends_with_the_answer_format(difficulty: int) -> None:
    for p in puzzles(difficulty)[:20]:
        assert p.prompt.splitlines()[-1] == "ANSWER: Name, Name"
        assert "none" in p.prompt


def test_every_answer_shape_occurs() -> None:
    counts = {len(knights_of(p)) for d in DIFFICULTIES for p in puzzles(d)}
    assert 0 in counts, "sometimes nobody is a knight"
    assert max(counts) >= 5


def test_rendering_from_the_speakers_point_of_view() -> None:
    names = ["Ada", "Bram", "Cyrus"]
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
    for p in puzzles(difficulty)[:80]:
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
    for p in puzzles(difficulty)[:40]:
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
    assert parse_knights("ANSWER: nobody") == []
    assert parse_knights("ANSWER: []") == []
    assert parse_knights("") is None


def test_details_are_json_serializable() -> None:
    p = puzzle(2, 5)
    for reply in (ROOM.reference_reply(p), ROOM.bluff(p), "ANSWER: Zorro", "", "ANSWER: none"):
        verdict = ROOM.validate(p, reply)
        json.dumps(verdict.details)
        assert verdict.reason
