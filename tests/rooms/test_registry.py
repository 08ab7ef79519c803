"""The registry and properties every room shares."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel

from rooms import ROOM_ORDER, level_table, load_rooms
from rooms.base import LEVELS, Judgement, Puzzle, Room, get_room, register_room

ROOT = Path(__file__).resolve().parents[2]
ROOMS = load_rooms()


def test_six_rooms_in_play_order() -> None:
    assert list(ROOMS) == list(ROOM_ORDER)
    assert [r.name for r in ROOMS.values()] == [
        "Cipher", "Map", "Mechanism", "Archive", "Paradox", "Warden",
    ]  # fmt: skip
    assert load_rooms() == ROOMS  # idempotent


def test_registering_an_id_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register_room
        class Again(Room):  # pragma: no cover - never instantiated
            id: ClassVar[str] = "cipher-v3"

    with pytest.raises(ValueError, match="versioned id"):

        @register_room
        class NoVersion(Room):  # pragma: no cover
            id: ClassVar[str] = "cipher"


def test_unknown_room_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="cipher-v3"):
        get_room("nope-v1")


@pytest.mark.parametrize("room_id", ROOM_ORDER)
def test_difficulty_out_of_range_is_a_clear_error(room_id: str) -> None:
    for bad in (-1, 11):
        with pytest.raises(ValueError, match="difficulty must be 0-10"):
            ROOMS[room_id].generate(1, bad)
    for bad in (True, 2.0, "3"):
        with pytest.raises(ValueError, match="difficulty must be"):
            ROOMS[room_id].generate(1, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("room_id", ROOM_ORDER)
def test_every_room_has_every_level_and_says_what_it_is(room_id: str) -> None:
    room = ROOMS[room_id]
    assert set(room.level_notes) == set(LEVELS) == set(range(11))
    for level, note in room.level_notes.items():
        assert 0 < len(note) <= 90 and not note.endswith("."), (room_id, level, note)
    assert len(set(room.level_notes.values())) == len(LEVELS)  # every level is its own
    sizes = [room.prompt_tokens(level) for level in LEVELS]
    assert all(size > 0 for size in sizes)


@pytest.mark.parametrize("room_id", ROOM_ORDER)
def test_every_level_reference_solves_bluff_and_empty_do_not(room_id: str) -> None:
    room = ROOMS[room_id]
    seeds = range(2) if room_id == "mechanism-v3" else range(12)  # Mechanism runs the sandbox
    for level in LEVELS:
        for seed in seeds:
            puzzle = room.generate(seed, level)
            assert isinstance(puzzle, Puzzle) and puzzle.room_id == room_id
            assert puzzle.key and puzzle.par_seconds > 0 and puzzle.answer_schema
            good = room.validate(puzzle, room.reference_reply(puzzle))
            assert isinstance(good, Judgement) and good.solved, (room_id, level, seed, good)
            assert not room.validate(puzzle, room.bluff(puzzle)).solved, (room_id, level, seed)
            empty = room.validate(puzzle, "")
            assert not empty.solved and empty.parsed is None


@pytest.mark.parametrize("room_id", ROOM_ORDER)
def test_same_seed_and_difficulty_same_puzzle(room_id: str) -> None:
    room = ROOMS[room_id]
    for level in LEVELS:
        for seed in range(4):
            assert (
                room.generate(seed, level).model_dump_json()
                == room.generate(seed, level).model_dump_json()
            )


def test_same_puzzles_in_another_process_with_another_hash_seed() -> None:
    """Byte-for-byte determinism must not depend on PYTHONHASHSEED or process state: every room,
    every level, several seeds, compared by digest across two processes and this one."""
    script = (
        "import hashlib; from rooms import load_rooms\n"
        "print(hashlib.sha256(''.join(r.generate(s, lvl).model_dump_json() "
        "for r in load_rooms().values() for lvl in range(0, 11) for s in range(3)).encode())"
        ".hexdigest())\n"
    )
    digests = []
    for hash_seed in ("1", "987"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.append(done.stdout.strip())
    here = "".join(
        r.generate(s, lvl).model_dump_json()
        for r in ROOMS.values()
        for lvl in range(0, 11)
        for s in range(3)
    )
    assert digests[0] == digests[1] == hashlib.sha256(here.encode()).hexdigest()


def test_answer_schemas_are_pydantic_models() -> None:
    for room in ROOMS.values():
        assert issubclass(room.Answer, BaseModel)
        assert room.generate(0, 1).answer_schema == room.Answer.model_json_schema()


def test_the_readme_level_table_is_the_code() -> None:
    """The README's table of every room and level is ``level_table()`` verbatim."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert level_table() in readme
    assert len(level_table().splitlines()) == 2 + len(ROOM_ORDER) * len(LEVELS)
