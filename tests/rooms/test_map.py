"""Tests for the Map room: seeded manors told in prose, validated as walks along real corridors
(one-way doors honoured, locked doors passed only with their key)."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms.base import LEVELS, Puzzle, registered_rooms, room_key
from rooms.map import (
    DIRECTIONS,
    KEY_SIGNS,
    PASSAGE_ADJECTIVES,
    ROOM_NAMES,
    Map,
    MapAnswer,
    parse_path,
)

ROOM = Map()
DIFFICULTIES = LEVELS
SIZES = {0: 2, 1: 3, 2: 6, 3: 12, 4: 20, 5: 30, 6: 40, 7: 50, 8: 60, 9: 80, 10: 100}
ONE_WAY = {0: 0, 1: 0, 2: 0, 3: 0, 4: 3, 5: 6, 6: 8, 7: 9, 8: 10, 9: 14, 10: 18}
DEAD_ENDS = {0: 0, 1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 6, 7: 7, 8: 8, 9: 10, 10: 12}
ROUTE = {6: (10, 12), 7: (11, 13), 8: (12, 14), 9: (13, 15), 10: (14, 16)}
LOOPS = {6: (4, 6), 7: (5, 7), 8: (6, 8), 9: (7, 9), 10: (8, 10)}
ROUTE_LOCKS = {7: 1, 8: 2, 9: 2, 10: 2}
SIDE_LOCKS = {7: 0, 8: 0, 9: 1, 10: 2}
DECOYS = {8: 2, 9: 3, 10: 4}
PLANNED = (6, 7, 8, 9, 10)
LOCKED = (7, 8, 9, 10)
REPO = Path(__file__).resolve().parents[2]


def seeds(difficulty: int) -> range:
    """Many seeds for the small manors, fewer for the big ones (they take longer to check)."""
    return range(200) if difficulty <= 5 else range(80)


@functools.cache
def puzzle(seed: int, difficulty: int) -> Puzzle:
    return ROOM.generate(seed, difficulty)


def puzzles(difficulty: int) -> list[Puzzle]:
    return [puzzle(seed, difficulty) for seed in seeds(difficulty)]


def solution(p: Puzzle) -> list[str]:
    return p.solution.split(" -> ")


def answer(path: list[str]) -> str:
    return "ANSWER: " + " -> ".join(path)


# --- an independent oracle over the stored graph ----------------------------------------------


def moves(p: Puzzle, closed: frozenset[str] | None = None) -> set[tuple[str, str]]:
    """Allowed single steps (from, to), locked doors counted as open."""
    allowed = set()
    for c in p.data["corridors"]:
        if frozenset((c["a"], c["b"])) == closed:
            continue
        allowed.add((c["a"], c["b"]))
        if not c["one_way"]:
            allowed.add((c["b"], c["a"]))
    return allowed


def locks(p: Puzzle) -> dict[frozenset[str], str]:
    """The two rooms of each locked door -> its sign."""
    return {frozenset((c["a"], c["b"])): c["lock"] for c in p.data["corridors"] if c["lock"]}


def keys_in(p: Puzzle, room: str) -> frozenset[str]:
    return frozenset(sign for sign, where in p.data["keys"].items() if where == room)


def is_walk(p: Puzzle, path: list[str]) -> bool:
    """Whether ``path`` is a walk from the entrance to the exit that honours every door."""
    if not path or path[0] != p.data["entrance"] or path[-1] != p.data["exit"]:
        return False
    allowed, locked = moves(p), locks(p)
    held = set(keys_in(p, path[0]))
    for a, b in itertools.pairwise(path):
        if (a, b) not in allowed:
            return False
        sign = locked.get(frozenset((a, b)))
        if sign is not None and sign not in held:
            return False
        held |= keys_in(p, b)
    return True


def oracle(
    p: Puzzle,
    start: str | None = None,
    held: frozenset[str] = frozenset(),
    goal: str | None = None,
    closed: frozenset[str] | None = None,
    ignore_locks: bool = False,
) -> list[str] | None:
    """Breadth-first search over (room, keys held): a shortest walk from ``start`` (default the
    entrance) holding ``held`` to ``goal`` (default the exit), or None."""
    start = p.data["entrance"] if start is None else start
    goal = p.data["exit"] if goal is None else goal
    locked = locks(p)
    out: dict[str, list[str]] = {room: [] for room in p.data["rooms"]}
    for a, b in sorted(moves(p, closed)):
        out[a].append(b)
    first = (start, held | keys_in(p, start))
    back: dict[tuple[str, frozenset[str]], Any] = {first: None}
    queue = deque([first])
    while queue:
        state = queue.popleft()
        here, keys = state
        if here == goal:
            path = [state]
            while (prev := back[path[-1]]) is not None:
                path.append(prev)
            return [room for room, _ in reversed(path)]
        for there in out[here]:
            sign = locked.get(frozenset((here, there)))
            if sign is not None and sign not in keys and not ignore_locks:
                continue
            step = (there, keys | keys_in(p, there))
            if step not in back:
                back[step] = state
                queue.append(step)
    return None


def reachable(p: Puzzle, closed: frozenset[str] | None = None) -> set[str]:
    """Rooms reachable from the entrance along allowed steps, locked doors counted as open."""
    allowed = moves(p, closed)
    seen, queue = {p.data["entrance"]}, deque([p.data["entrance"]])
    while queue:
        here = queue.popleft()
        for a, b in allowed:
            if a == here and b not in seen:
                seen.add(b)
                queue.append(b)
    return seen


def degrees(p: Puzzle) -> dict[str, int]:
    count = dict.fromkeys(p.data["rooms"], 0)
    for c in p.data["corridors"]:
        count[c["a"]] += 1
        count[c["b"]] += 1
    return count


def dead_ends(p: Puzzle) -> list[str]:
    ends = {p.data["entrance"], p.data["exit"]}
    return [room for room, n in degrees(p).items() if n == 1 and room not in ends]


def side_locks(p: Puzzle) -> list[frozenset[str]]:
    """Locked doors off the route: the exit stays reachable (locks aside) without them."""
    exit_ = p.data["exit"]
    return [pair for pair in locks(p) if exit_ in reachable(p, closed=pair)]


def behind(p: Puzzle, pair: frozenset[str]) -> set[str]:
    """Rooms that cannot be reached (locks aside) without the corridor ``pair``."""
    return set(p.data["rooms"]) - reachable(p, closed=pair)


# --- the contract --------------------------------------------------------------------------------


def test_registered_and_described() -> None:
    assert isinstance(registered_rooms()["map-v2"], Map)
    assert (ROOM.id, ROOM.name, ROOM.Answer) == ("map-v2", "Map", MapAnswer)
    p = puzzle(1, 3)
    assert p.room_id == "map-v2"
    assert p.answer_schema == MapAnswer.model_json_schema()
    assert p.key == room_key("map-v2", 1)
    assert {puzzle(1, d).key for d in DIFFICULTIES} == {p.key}
    json.dumps(p.data)


def test_level_notes_cover_every_level() -> None:
    assert sorted(ROOM.level_notes) == list(DIFFICULTIES)
    for level, note in ROOM.level_notes.items():
        assert 0 < len(note) <= 90, (level, note)
        assert not note.endswith("."), note
        assert str(SIZES[level]) in note or (level == 0 and "two rooms" in note), note


@pytest.mark.parametrize("difficulty", [-1, 11, 3.0, True, "2"])
def test_invalid_difficulty_is_rejected(difficulty: Any) -> None:
    with pytest.raises(ValueError, match="difficulty"):
        ROOM.generate(1, difficulty)


def test_room_names_are_distinct_and_parseable() -> None:
    assert len(ROOM_NAMES) >= max(SIZES.values())
    firsts = [name.split()[0].casefold() for name in ROOM_NAMES]
    assert len(set(firsts)) == len(firsts), "first words must differ"
    taken = {*KEY_SIGNS, *PASSAGE_ADJECTIVES, *DIRECTIONS, "exit", "entrance", "locked"}
    assert not taken & set(firsts)
    for name in ROOM_NAMES:
        assert re.fullmatch(r"[A-Z][a-z]+( [A-Z][a-z]+)+", name), name
        assert not name.casefold().startswith(("the ", "then ", "and "))


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_different_seeds_give_different_manors(difficulty: int) -> None:
    prompts = {p.prompt for p in puzzles(difficulty)}
    assert len(prompts) >= 0.95 * len(seeds(difficulty))


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_same_seed_gives_the_same_puzzle(difficulty: int) -> None:
    for seed in (0, 7, 123):
        assert ROOM.generate(seed, difficulty) == puzzle(seed, difficulty)


def test_generation_does_not_depend_on_the_hash_seed() -> None:
    script = (
        "import hashlib, sys; sys.path.insert(0, '.');"
        "from rooms.map import Map;"
        "room = Map();"
        "text = ''.join(room.generate(5, d).model_dump_json() for d in range(11));"
        "print(hashlib.sha256(text.encode()).hexdigest())"
    )
    here = "".join(puzzle(5, d).model_dump_json() for d in DIFFICULTIES)
    for hash_seed in ("1", "987"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == hashlib.sha256(here.encode()).hexdigest()


def test_par_time_rises_with_difficulty() -> None:
    pars = [puzzle(0, d).par_seconds for d in DIFFICULTIES]
    assert pars == sorted(pars)
    assert len(set(pars)) == len(pars)
    assert 15 <= pars[0] <= 40


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_prompts_fit_the_estimate(difficulty: int) -> None:
    longest = max(len(p.prompt) for p in puzzles(difficulty)[:20])
    assert longest <= 6000 * 4, "the prompt grew past ~6k tokens"
    # The base class estimates from 3 seeds; the estimate is not far below the longest of 20.
    assert ROOM.prompt_tokens(difficulty) * 4 >= 0.8 * longest


# --- the manor -----------------------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_sizes_and_reachability(difficulty: int) -> None:
    for p in puzzles(difficulty):
        data = p.data
        assert len(data["rooms"]) == SIZES[difficulty]
        assert len(set(data["rooms"])) == len(data["rooms"])
        assert data["entrance"] != data["exit"]
        route = oracle(p)
        assert route is not None, p.seed
        assert len(route) == len(solution(p)), "the solution is a shortest walk"
        assert is_walk(p, solution(p))
        pairs = [frozenset((c["a"], c["b"])) for c in data["corridors"]]
        assert len(pairs) == len(set(pairs)), "at most one corridor between two rooms"
        assert all(len(pair) == 2 for pair in pairs)
        assert all(c["direction"] in DIRECTIONS for c in data["corridors"])
        assert max(degrees(p).values()) <= 5
        if difficulty == 0:
            assert route == [data["entrance"], data["exit"]]
        else:
            assert len(route) >= 3, p.seed  # the entrance never opens onto the exit
            assert frozenset((data["entrance"], data["exit"])) not in pairs


def test_level_zero_is_two_rooms_in_plain_words() -> None:
    for p in puzzles(0):
        data = p.data
        assert len(data["corridors"]) == 1
        assert not data["corridors"][0]["one_way"]
        assert p.solution == f"{data['entrance']} -> {data['exit']}"
        intro, manor, _ = p.prompt.split("\n\n")
        assert len(re.findall(r"[.!?](?:\s|$)", manor)) == 1, "one plain sentence"
        assert data["entrance"] in intro and data["exit"] in intro
        assert "one-way" not in p.prompt and "locked" not in p.prompt
        assert len(p.prompt) < 600


def test_level_zero_realistic_replies() -> None:
    p = puzzle(4, 0)
    entrance, exit_ = p.data["entrance"], p.data["exit"]
    right = [
        f"ANSWER: {entrance} -> {exit_}",
        f"I start in the {entrance} and walk to the {exit_}.\n\nANSWER: {entrance} -> {exit_}",
        f"ANSWER: {entrance} -> ... -> {exit_}",  # the format line copied: still the two rooms
        f"**ANSWER:** the {entrance.lower()} → the {exit_.lower()}",
        f"The path is: {entrance} -> {exit_}",
    ]
    for reply in right:
        assert ROOM.validate(p, reply).solved, reply
    wrong = {
        f"ANSWER: {exit_} -> {entrance}": "start at the entrance",
        f"ANSWER: {entrance}": "end at the exit",
        f"ANSWER: {entrance} -> Hallway -> {exit_}": "unknown room",
        f"ANSWER: {entrance} -> {exit_} -> {entrance}": "end at the exit",
    }
    for reply, reason in wrong.items():
        verdict = ROOM.validate(p, reply)
        assert not verdict.solved, reply
        assert reason in verdict.reason, (reply, verdict.reason)


def test_level_one_is_a_chain() -> None:
    for p in puzzles(1):
        assert len(p.data["corridors"]) == 2
        assert len(solution(p)) == 3
        assert not any(c["one_way"] for c in p.data["corridors"])


def test_level_two_has_a_branch() -> None:
    for p in puzzles(2):
        assert len(p.data["corridors"]) == 5
        # A fork: more than one way on somewhere (two ways out of the entrance counts).
        degree = degrees(p)
        degree[p.data["entrance"]] += 1
        assert max(degree.values()) >= 3, p.seed
        assert not any(c["one_way"] for c in p.data["corridors"])


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_dead_ends(difficulty: int) -> None:
    for p in puzzles(difficulty):
        assert len(dead_ends(p)) >= DEAD_ENDS[difficulty], p.seed


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_one_way_doors_from_level_four(difficulty: int) -> None:
    for p in puzzles(difficulty):
        one_way = [c for c in p.data["corridors"] if c["one_way"]]
        assert len(one_way) == ONE_WAY[difficulty], p.seed
        assert (p.prompt.count("one-way door ") > 0) == (difficulty >= 4)
        assert not any(c["one_way"] and c["lock"] for c in p.data["corridors"])


@pytest.mark.parametrize("difficulty", PLANNED)
def test_planned_levels_have_their_route_and_loops(difficulty: int) -> None:
    low, high = ROUTE[difficulty]
    for p in puzzles(difficulty):
        # Locks aside, a shortest walk is as long as the designed route: no loop cuts it short.
        open_walk = oracle(p, ignore_locks=True)
        assert open_walk is not None
        assert low <= len(open_walk) <= high, (p.seed, len(open_walk))
        # A tree of corridors plus the loops plus the wrong-way shortcut.
        loops = len(p.data["corridors"]) - (len(p.data["rooms"]) - 1) - 1
        assert LOOPS[difficulty][0] <= loops <= LOOPS[difficulty][1], (p.seed, loops)


@pytest.mark.parametrize("difficulty", range(4, 11))
def test_ignoring_one_way_doors_gives_a_wrong_shortcut(difficulty: int) -> None:
    for p in puzzles(difficulty):
        careless = {(c["a"], c["b"]) for c in p.data["corridors"]}
        careless |= {(b, a) for a, b in careless}
        shortcut = bfs_over(careless, p.data["entrance"], p.data["exit"])
        assert shortcut is not None
        assert len(shortcut) < len(solution(p))
        verdict = ROOM.validate(p, answer(shortcut))
        assert not verdict.solved
        assert "one-way" in verdict.reason or (difficulty in LOCKED and "locked" in verdict.reason)


def bfs_over(edges: set[tuple[str, str]], start: str, goal: str) -> list[str] | None:
    back: dict[str, str | None] = {start: None}
    queue = deque([start])
    ordered = sorted(edges)
    while queue:
        here = queue.popleft()
        if here == goal:
            path = [here]
            while (prev := back[path[-1]]) is not None:
                path.append(prev)
            return path[::-1]
        for a, b in ordered:
            if a == here and b not in back:
                back[b] = here
                queue.append(b)
    return None


@pytest.mark.parametrize("difficulty", range(4, 11))
def test_every_one_way_door_used_backwards_is_rejected(difficulty: int) -> None:
    for p in puzzles(difficulty)[:30]:
        checked = 0
        for c in p.data["corridors"]:
            if not c["one_way"]:
                continue
            to_b = oracle(p, goal=c["b"])
            if to_b is None:
                continue
            # A valid walk to the far side, then back through the door: the first problem.
            path = [*to_b, c["a"], p.data["exit"]]
            verdict = ROOM.validate(p, answer(path))
            assert not verdict.solved, (p.seed, path)
            assert verdict.reason.startswith(f"the door from the {c['b']} to the {c['a']}")
            assert "one-way" in verdict.reason
            checked += 1
        assert checked >= 1, p.seed


# --- locked doors and keys -----------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_locked_doors_and_keys_only_from_level_seven(difficulty: int) -> None:
    for p in puzzles(difficulty):
        locked = locks(p)
        wanted = ROUTE_LOCKS.get(difficulty, 0) + SIDE_LOCKS.get(difficulty, 0)
        assert len(locked) == wanted, p.seed
        assert sorted(p.data["keys"]) == sorted(locked.values())
        assert set(p.data["keys"]) <= set(KEY_SIGNS)
        rooms = list(p.data["keys"].values())
        assert len(set(rooms)) == len(rooms), "one key per room"
        assert not {p.data["entrance"], p.data["exit"]} & set(rooms)
        assert ("locked" in p.prompt) == bool(wanted)


@pytest.mark.parametrize("difficulty", LOCKED)
def test_every_locked_door_is_needed(difficulty: int) -> None:
    for p in puzzles(difficulty):
        for pair in locks(p):
            assert oracle(p, closed=pair) is None, (p.seed, sorted(pair))


@pytest.mark.parametrize("difficulty", LOCKED)
def test_keys_lie_off_the_route_before_their_door(difficulty: int) -> None:
    for p in puzzles(difficulty):
        for pair, sign in locks(p).items():
            key_room = p.data["keys"][sign]
            # The key can be fetched without passing its own door.
            assert oracle(p, goal=key_room, closed=pair) is not None, (p.seed, sign)
        # Straight through, the keys left where they lie: shorter, and rejected at a locked door.
        straight = oracle(p, ignore_locks=True)
        assert straight is not None
        assert len(straight) < len(solution(p)), p.seed
        verdict = ROOM.validate(p, answer(straight))
        assert not verdict.solved
        assert "is locked" in verdict.reason
        assert "key" in verdict.reason


@pytest.mark.parametrize("difficulty", LOCKED)
def test_side_doors_hold_keys_nested_in_wings(difficulty: int) -> None:
    for p in puzzles(difficulty):
        side = side_locks(p)
        assert len(side) == SIDE_LOCKS[difficulty], p.seed
        assert len(locks(p)) - len(side) == ROUTE_LOCKS[difficulty]
        key_rooms = p.data["keys"]
        for pair in side:
            wing = behind(p, pair)
            inside = [sign for sign, room in key_rooms.items() if room in wing]
            assert inside, (p.seed, "a locked wing without a key is pointless")
        if difficulty == 10:
            # The key to one locked wing lies inside the other.
            first, second = side
            assert key_rooms[locks(p)[second]] in behind(p, first) or key_rooms[
                locks(p)[first]
            ] in behind(p, second), p.seed


@pytest.mark.parametrize("difficulty", LOCKED)
def test_prose_says_where_each_key_lies_and_what_it_opens(difficulty: int) -> None:
    for p in puzzles(difficulty)[:40]:
        said = sentences(p.prompt)
        door_of = {sign: pair for pair, sign in locks(p).items()}
        for sign, room in p.data["keys"].items():
            a, b = sorted(door_of[sign])
            hits = [
                s
                for s in said
                if (f"{sign} key" in s or f"key marked with a {sign}" in s)
                and f"the {room}" in s
                and f"the {a}" in s
                and f"the {b}" in s
            ]
            assert len(hits) == 1, (p.seed, sign)
            doors = [s for s in said if f"locked door marked with a {sign}" in s and "key" not in s]
            assert len(doors) == 1, (p.seed, sign)


# --- decoy exits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_decoy_exits_from_level_eight(difficulty: int) -> None:
    for p in puzzles(difficulty):
        decoys = p.data["decoys"]
        assert len(decoys) == DECOYS.get(difficulty, 0), p.seed
        assert p.prompt.count("EXIT") == len(decoys)
        ends = dead_ends(p)
        for room in decoys:
            assert room in ends
            assert room not in p.data["keys"].values()
            assert room in reachable(p)
            [told] = [s for s in sentences(p.prompt) if "EXIT" in s and f"the {room}" in s]
            assert "brick" in told


@pytest.mark.parametrize("difficulty", [8, 9, 10])
def test_walking_out_through_a_decoy_is_rejected(difficulty: int) -> None:
    for p in puzzles(difficulty)[:40]:
        for room in p.data["decoys"]:
            walk = oracle(p, goal=room)
            assert walk is not None
            verdict = ROOM.validate(p, answer(walk))
            assert not verdict.solved
            assert "bricked up" in verdict.reason
            assert p.data["exit"] in verdict.reason


# --- prose ---------------------------------------------------------------------------------------


def sentences(prompt: str) -> list[str]:
    return re.split(r"(?<=[.])\s+", prompt)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_prose_mentions_every_corridor(difficulty: int) -> None:
    for p in puzzles(difficulty)[:60]:
        said = sentences(p.prompt.replace("The ", "the "))
        for c in p.data["corridors"]:
            a, b = f"the {c['a']}", f"the {c['b']}"
            hits = [s for s in said if a in s and b in s]
            assert hits, (p.seed, c)
            if c["one_way"]:
                assert any("one-way" in s for s in hits), (p.seed, c)
            if c["lock"]:
                assert any(f"locked door marked with a {c['lock']}" in s for s in hits)
        assert "corridors" not in p.prompt.split("\n\n")[1], "prose, not an edge list"
        assert "->" not in "".join(p.prompt.split("\n\n")[1:-1])


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_prompt_names_every_room_and_ends_with_the_format(difficulty: int) -> None:
    for p in puzzles(difficulty)[:50]:
        for room in p.data["rooms"]:
            assert f"the {room}" in p.prompt.replace("The ", "the ")
        last = p.prompt.splitlines()[-1]
        assert last == f"ANSWER: {p.data['entrance']} -> ... -> {p.data['exit']}"
        assert p.prompt.count("\n\n") >= (2 if difficulty == 0 else 3), "several paragraphs"
        assert ("fetch a key" in p.prompt) == (difficulty in LOCKED)


# --- validation ----------------------------------------------------------------------------------

FORMATS: dict[str, Callable[[list[str]], str]] = {
    "plain": lambda path: "ANSWER: " + " -> ".join(path),
    "unicode-arrow": lambda path: "Let me think.\nAnswer: " + " → ".join(path) + ".",
    "fat-arrow": lambda path: "ANSWER: " + " => ".join(path),
    "commas": lambda path: "ANSWER: " + ", ".join(path),
    "semicolons": lambda path: "ANSWER: " + "; ".join(path),
    "fenced": lambda path: "Here is my route:\n```\n" + " -> ".join(path) + "\n```",
    "bold": lambda path: "**ANSWER:** **" + " -> ".join(path) + "**",
    "upper": lambda path: "ANSWER: " + " -> ".join(path).upper(),
    "lower-with-the": lambda path: "answer: " + " -> ".join(f"the {r}".lower() for r in path),
    "numbered": lambda path: "ANSWER:\n" + "\n".join(f"{i}. {r}" for i, r in enumerate(path, 1)),
    "numbered-no-label": lambda path: (
        "Route:\n\n" + "\n".join(f"{i}) {r}" for i, r in enumerate(path, 1))
    ),
    "bullets": lambda path: "ANSWER:\n\n" + "\n".join(f"- **{r}**" for r in path),
    "quoted": lambda path: "ANSWER: " + " -> ".join(f'"{r}"' for r in path),
    "annotated": lambda path: (
        "ANSWER: " + " -> ".join([f"{path[0]} (entrance)", *path[1:-1], f"{path[-1]} (exit)"])
    ),
    "bracket-notes": lambda path: (
        "ANSWER: " + " -> ".join([f"{path[0]} [start]", *path[1:-1], f"{path[-1]} [way out]"])
    ),
    "json": lambda path: json.dumps({"path": path}),
    "last-line": lambda path: "I walked it through.\n\n" + " -> ".join(path),
    "crlf": lambda path: "Thinking...\r\nANSWER: " + " -> ".join(path) + "\r\n",
    "bold-label-own-line": lambda path: "**ANSWER:**\n" + " -> ".join(path),
    "numbered-after-label": lambda path: (
        "ANSWER: " + "\n".join(f"{i}. {r}" for i, r in enumerate(path, 1))
    ),
    "followed-by-a-note": lambda path: "ANSWER: " + " -> ".join(path) + "\n- it is the shortest",
    "so-the-route-is": lambda path: "Thinking.\n\nSo the route is " + " -> ".join(path) + ".",
}


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_reference_reply_solves_optimally(difficulty: int) -> None:
    for p in puzzles(difficulty):
        verdict = ROOM.validate(p, ROOM.reference_reply(p))
        assert verdict.solved, (p.seed, verdict)
        assert verdict.details["optimal"] is True
        assert verdict.details["length"] == len(solution(p)) - 1
        assert verdict.details["shortest"] == len(oracle(p) or []) - 1


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_reference_reply_solves_from_the_data_not_the_solution(difficulty: int) -> None:
    for seed in (3, 4):
        p = puzzle(seed, difficulty).model_copy(update={"solution": "nonsense"})
        assert ROOM.validate(p, ROOM.reference_reply(p)).solved


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_solution_in_any_format_validates(difficulty: int, fmt: str) -> None:
    for p in puzzles(difficulty)[: 40 if difficulty <= 5 else 8]:
        reply = FORMATS[fmt](solution(p))
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
        assert "ANSWER:" in bluff
        assert not is_walk(p, parse_bluff(p, bluff))


def parse_bluff(p: Puzzle, bluff: str) -> list[str]:
    spelled = {name.casefold(): name for name in p.data["rooms"]}
    return [spelled[item] for item in parse_path(bluff)]


@pytest.mark.parametrize("difficulty", LOCKED)
def test_bluff_is_tempting_at_the_locked_levels(difficulty: int) -> None:
    reasons = [ROOM.validate(p, ROOM.bluff(p)).reason for p in puzzles(difficulty)]
    locked = sum("is locked" in reason for reason in reasons)
    decoy = sum("bricked up" in reason for reason in reasons)
    assert locked + decoy == len(reasons)
    assert locked >= 0.3 * len(reasons)
    assert (decoy > 0) == (difficulty in DECOYS)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
@pytest.mark.parametrize("reply", ["", "   \n\n  ", "```\n```"])
def test_empty_reply_parses_to_nothing(difficulty: int, reply: str) -> None:
    verdict = ROOM.validate(puzzle(0, difficulty), reply)
    assert not verdict.solved
    assert verdict.parsed is None


@pytest.mark.parametrize(
    "reply",
    [
        "I don't know.",
        "ANSWER: 42",
        "ANSWER: north, north, east",
        "lorem ipsum dolor sit amet",
        "ANSWER: the exit",
        '{"path": []}',
    ],
)
def test_garbage_does_not_validate(reply: str) -> None:
    for difficulty in DIFFICULTIES:
        assert not ROOM.validate(puzzle(0, difficulty), reply).solved


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_near_misses_do_not_validate(difficulty: int) -> None:
    for p in puzzles(difficulty)[: 200 if difficulty <= 5 else 20]:
        path = solution(p)
        short = ROOM.validate(p, answer(path[:-1]))
        assert not short.solved
        assert "exit" in short.reason
        late = ROOM.validate(p, answer(path[1:]))
        assert not late.solved
        assert "entrance" in late.reason
        for i in range(1, len(path) - 1):
            wrongs = ([*path[:i], other, *path[i + 1 :]] for other in p.data["rooms"])
            for wrong in itertools.islice((w for w in wrongs if not is_walk(p, w)), 3):
                verdict = ROOM.validate(p, answer(wrong))
                assert not verdict.solved, (p.seed, wrong)
                assert verdict.reason.startswith(("there is no corridor", "the door")), (
                    verdict.reason
                )


def test_unknown_room_is_named_in_the_reason() -> None:
    for difficulty in DIFFICULTIES:
        p = puzzle(5, difficulty)
        path = solution(p)
        path.insert(1, "Banana Pantry")
        verdict = ROOM.validate(p, answer(path))
        assert not verdict.solved
        assert "banana pantry" in verdict.reason
        assert verdict.parsed is not None


def test_walks_with_repeated_rooms_count_but_are_not_optimal() -> None:
    for p in puzzles(1)[:20]:
        entrance, middle, exit_ = solution(p)
        reply = f"ANSWER: {entrance} -> {middle} -> {entrance} -> {middle} -> {exit_}"
        verdict = ROOM.validate(p, reply)
        assert verdict.solved
        assert verdict.details == {
            "path": [entrance, middle, entrance, middle, exit_],
            "length": 4,
            "shortest": 2,
            "optimal": False,
        }
        assert not ROOM.validate(
            p, f"ANSWER: {entrance} -> {entrance} -> {middle} -> {exit_}"
        ).solved


@pytest.mark.parametrize("difficulty", range(3, 11))
def test_longer_valid_routes_are_accepted(difficulty: int) -> None:
    for p in puzzles(difficulty)[:30]:
        path = solution(p)
        allowed = moves(p)
        locked = locks(p)
        # Step into an unlocked two-way neighbour of a room on the walk and back, then carry on.
        detours = [
            [*path[: k + 1], b, *path[k:]]
            for k, room in enumerate(path[:-1])
            for a, b in sorted(allowed)
            if a == room and (b, a) in allowed and frozenset((a, b)) not in locked
        ]
        assert detours, p.seed
        verdict = ROOM.validate(p, answer(detours[0]))
        assert verdict.solved, (p.seed, detours[0], verdict)
        assert verdict.details["optimal"] is False
        assert verdict.details["length"] == len(path) + 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    difficulty=st.integers(min_value=3, max_value=10),
    seed=st.integers(min_value=0, max_value=19),
    steps=st.lists(st.integers(min_value=0, max_value=9), max_size=30),
    finish=st.booleans(),
)
def test_validator_agrees_with_the_oracle_on_random_walks(
    difficulty: int, seed: int, steps: list[int], finish: bool
) -> None:
    """Wander along corridors (ignoring doors' rules), maybe finish by the shortest way from
    there: the validator accepts exactly the walks that honour every door."""
    p = puzzle(seed, difficulty)
    touching = {room: [] for room in p.data["rooms"]}
    for c in sorted(p.data["corridors"], key=lambda c: (c["a"], c["b"])):
        touching[c["a"]].append(c["b"])
        touching[c["b"]].append(c["a"])
    path = [p.data["entrance"]]
    for step in steps:
        here = path[-1]
        path.append(touching[here][step % len(touching[here])])
    if finish and is_walk_so_far(p, path):
        held = frozenset().union(*(keys_in(p, room) for room in path))
        rest = oracle(p, start=path[-1], held=held)
        if rest is not None:
            path += rest[1:]
    if path[-1] != p.data["exit"]:
        path.append(p.data["exit"])
    verdict = ROOM.validate(p, answer(path))
    assert verdict.solved == is_walk(p, path), (path, verdict.reason)
    if verdict.solved:
        assert verdict.details["length"] >= verdict.details["shortest"]


def is_walk_so_far(p: Puzzle, path: list[str]) -> bool:
    """Whether every step of ``path`` so far honours the doors (it may end anywhere)."""
    allowed, locked = moves(p), locks(p)
    held = set(keys_in(p, path[0]))
    for a, b in itertools.pairwise(path):
        sign = locked.get(frozenset((a, b)))
        if (a, b) not in allowed or (sign is not None and sign not in held):
            return False
        held |= keys_in(p, b)
    return True


# --- realistic replies at the new levels ---------------------------------------------------------


@pytest.mark.parametrize("difficulty", PLANNED)
def test_realistic_replies(difficulty: int) -> None:
    for p in puzzles(difficulty)[:10]:
        path = solution(p)
        keys = {room: sign for sign, room in p.data["keys"].items()}
        noted = [
            f"{room} (pick up the {keys[room]} key)" if room in keys else room for room in path
        ]
        right = [
            "Let me trace the manor carefully.\n\n**ANSWER:** " + " -> ".join(noted),
            "Route:\n" + "\n".join(f"{i}. **{room}**" for i, room in enumerate(path, 1)),
            "After checking every door, the final answer is:\n\nANSWER: " + " → ".join(path),
        ]
        for reply in right:
            verdict = ROOM.validate(p, reply)
            assert verdict.solved, (p.seed, reply, verdict.reason)
            assert verdict.details["optimal"]
        careless = bfs_over(
            {(c["a"], c["b"]) for c in p.data["corridors"]}
            | {(c["b"], c["a"]) for c in p.data["corridors"]},
            p.data["entrance"],
            p.data["exit"],
        )
        assert careless is not None
        wrong = [
            "I think the quickest way is\n\nANSWER: " + " -> ".join(careless),
            "ANSWER: " + " -> ".join(path[:-1]),
            "**ANSWER:** " + " -> ".join([*path[:-1], "Hidden Staircase", path[-1]]),
        ]
        if difficulty in LOCKED:
            straight = oracle(p, ignore_locks=True) or []
            wrong.append("The locked door is right there.\nANSWER: " + " -> ".join(straight))
        for room in p.data["decoys"]:
            wrong.append(
                "There is a door marked EXIT!\nANSWER: " + " -> ".join(oracle(p, goal=room) or [])
            )
        for reply in wrong:
            assert not ROOM.validate(p, reply).solved, (p.seed, reply)


def test_parse_path_handles_separators_and_labels() -> None:
    assert parse_path("Path: the Amber Hall -> the Old Library") == ["amber hall", "old library"]
    assert parse_path("ANSWER: Amber Hall - Old Library > Salt Cellar") == [
        "amber hall",
        "old library",
        "salt cellar",
    ]
    assert parse_path("ANSWER: 1. Amber Hall\n2. Old Library\nThat is all.") == [
        "amber hall",
        "old library",
    ]
    assert parse_path("Step 1: Amber Hall\nStep 2: then Old Library") == [
        "amber hall",
        "old library",
    ]
    assert parse_path('```json\n["Amber Hall", "Old Library"]\n```') == [
        "amber hall",
        "old library",
    ]
    assert parse_path("ANSWER: Amber Hall (get the star key) -> Old Library [exit]") == [
        "amber hall",
        "old library",
    ]
    assert parse_path("") == []


def test_details_are_json_serializable() -> None:
    for difficulty in (2, 5, 10):
        p = puzzle(2, difficulty)
        for reply in (ROOM.reference_reply(p), ROOM.bluff(p), "ANSWER: Nowhere -> Else", ""):
            verdict = ROOM.validate(p, reply)
            json.dumps(verdict.details)
            assert verdict.reason


def test_data_shape(tmp_path: Path) -> None:
    for difficulty in (4, 10):
        p = puzzle(9, difficulty)
        data: dict[str, Any] = p.data
        assert set(data) == {"rooms", "entrance", "exit", "corridors", "keys", "decoys"}
        for c in data["corridors"]:
            assert set(c) == {"a", "b", "one_way", "lock", "direction"}
        (tmp_path / "puzzle.json").write_text(p.model_dump_json())
        assert Puzzle.model_validate_json((tmp_path / "puzzle.json").read_text()) == p


def test_a_route_labelled_with_another_rooms_noun_is_judged_on_the_route() -> None:
    """SmolLM2 carries "The secret word is:" from the Cipher room into the next ones; the route
    after it is what counts."""
    puzzle = ROOM.generate(5, 0)
    route = " -> ".join([puzzle.data["entrance"], puzzle.data["exit"]])
    assert ROOM.validate(puzzle, f"The secret word is: {route}").solved
    backwards = " -> ".join([puzzle.data["exit"], puzzle.data["entrance"]])
    assert not ROOM.validate(puzzle, f"The secret word is: {backwards}").solved
