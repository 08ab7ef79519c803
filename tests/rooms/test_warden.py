"""Warden: the keys of rooms 1-5 combined by the level's rule."""

from __future__ import annotations

import pytest

from rooms import ROOM_ORDER
from rooms.base import room_key
from rooms.warden import Warden

WARDEN = Warden()


def test_keys_are_the_other_rooms_keys() -> None:
    puzzle = WARDEN.generate(9, 2)
    assert puzzle.data["keys"] == [room_key(rid, 9, 2) for rid in ROOM_ORDER[:5]]
    for key in puzzle.data["keys"]:
        assert key not in puzzle.prompt  # the contestant must remember them


@pytest.mark.parametrize("level", range(1, 6))
def test_hundreds_of_seeds(level: int) -> None:
    for seed in range(300):
        puzzle = WARDEN.generate(seed, level)
        assert WARDEN.validate(puzzle, WARDEN.reference_reply(puzzle)).solved
        assert not WARDEN.validate(puzzle, WARDEN.bluff(puzzle)).solved
        assert not WARDEN.validate(puzzle, "ANSWER: " + puzzle.solution + "x").solved


def test_list_answers_accept_any_separator_but_not_another_order() -> None:
    puzzle = WARDEN.generate(3, 2)
    keys = puzzle.data["keys"][::-1]  # level 2: the keys in reverse order
    for reply in (
        f"ANSWER: {'-'.join(keys)}",
        f"ANSWER: {', '.join(keys)}",
        f"ANSWER: **{' '.join(k.upper() for k in keys)}**.",
        f"```\n{' -> '.join(keys)}\n```",
    ):
        assert WARDEN.validate(puzzle, reply).solved, reply
    assert not WARDEN.validate(puzzle, f"ANSWER: {'-'.join(reversed(keys))}").solved
    assert not WARDEN.validate(puzzle, f"ANSWER: {'-'.join(keys[:4])}").solved


def test_level_one_takes_any_key_it_handed_out() -> None:
    puzzle = WARDEN.generate(3, 1)
    keys = puzzle.data["keys"]
    for reply in (
        f"ANSWER: {keys[2]}",
        f"The key is {keys[4].upper()}.",
        f"ANSWER: {keys[0]}, {keys[1]}",
    ):
        assert WARDEN.validate(puzzle, reply).solved, reply
    for reply in (
        "ANSWER: banana",
        f"ANSWER: {keys[0]}, banana",
        f"ANSWER: {keys[0]}x",
        "I lost them",
    ):
        assert not WARDEN.validate(puzzle, reply).solved, reply


def test_level_rules() -> None:
    keys = ["amber", "raven", "onyx", "delta", "cobalt"]
    puzzle = WARDEN.generate(0, 5).model_copy(update={"data": {"keys": keys, "rule": ""}})
    # N-th letter of the N-th key: a, a, y (onyx[2]), t (delta[3]), l (cobalt[4]); 25 letters
    assert WARDEN.reference_reply(puzzle) == "ANSWER: aaytl25"
    level3 = WARDEN.generate(0, 3).model_copy(update={"data": {"keys": keys, "rule": ""}})
    assert WARDEN.reference_reply(level3) == "ANSWER: arodc"
