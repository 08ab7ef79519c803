"""Tests for the Map room: seeded manors told in prose, validated as walks along real corridors."""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rooms.base import Puzzle, registered_rooms, room_key
from rooms.map import ROOM_NAMES, MapAnswer, MapRoom, parse_path

ROOM = MapRoom()
SEEDS = range(200)
DIFFICULTIES = (1, 2, 3, 4, 5)
SIZES = {1: 3, 2: 6, 3: 12, 4: 20, 5: 30}
REPO = Path(__file__).resolve().parents[2]


@functools.cache
def puzzle(seed: int, difficulty: int) -> Puzzle:
    return ROOM.generate(seed, difficulty)


def puzzles(difficulty: int) -> list[Puzzle]:
    return [puzzle(seed, difficulty) for seed in SEEDS]


def solution(p: Puzzle) -> list[str]:
    return p.solution.split(" -> ")


# --- an independent oracle over the stored graph ----------------------------------------------


def moves(p: Puzzle) -> set[tuple[str, str]]:
    """Allowed single steps (from, to)."""
    allowed = set()
    for c in p.data["corridors"]:
        allowed.add((c["a"], c["b"]))
        if not c["one_way"]:
            allowed.add((c["b"], c["a"]))
    return allowed


def is_walk(p: Puzzle, path: list[str]) -> bool:
    allowed = moves(p)
    return (
        bool(path)
        and path[0] == p.data["entrance"]
        and path[-1] == p.data["exit"]
        and all((a, b) in allowed for a, b in itertools.pairwise(path))
    )


def bfs(p: Puzzle, start: str, goal: str) -> list[str] | None:
    allowed = sorted(moves(p))
    back: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if here == goal:
            path = [here]
            while (prev := back[path[-1]]) is not None:
                path.append(prev)
            return path[::-1]
        for a, b in allowed:
            if a == here and b not in back:
                back[b] = here
                queue.append(b)
    return None


def degrees(p: Puzzle) -> dict[str, int]:
    count = dict.fromkeys(p.data["rooms"], 0)
    for c in p.data["corridors"]:
        count[c["a"]] += 1
        count[c["b"]] += 1
    return count


# --- the contract --------------------------------------------------------------------------------


def test_registered_and_described() -> None:
    assert isinstance(registered_rooms()["map-v1"], MapRoom)
    assert (ROOM.id, ROOM.name, ROOM.Answer) == ("map-v1", "Map", MapAnswer)
    p = puzzle(1, 3)
    assert p.room_id == "map-v1"
    assert p.answer_schema == MapAnswer.model_json_schema()
    assert p.key == room_key("map-v1", 1, 3)
    json.dumps(p.data)


def test_invalid_difficulty_is_rejected() -> None:
    for difficulty in (0, 6):
        with pytest.raises(ValueError, match="difficulty"):
            ROOM.generate(1, difficulty)


def test_room_names_are_distinct_and_parseable() -> None:
    assert len(ROOM_NAMES) >= max(SIZES.values())
    assert len({name.casefold() for name in ROOM_NAMES}) == len(ROOM_NAMES)
    for name in ROOM_NAMES:
        assert re.fullmatch(r"[A-Z][a-z]+( [A-Z][a-z]+)+", name), name
        assert not name.casefold().startswith(("the ", "then ", "and "))


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_different_seeds_give_different_manors(difficulty: int) -> None:
    prompts = {p.prompt for p in puzzles(difficulty)}
    assert len(prompts) >= 0.95 * len(SEEDS)


def test_par_time_rises_with_difficulty() -> None:
    pars = [puzzle(0, d).par_seconds for d in DIFFICULTIES]
    assert pars == sorted(pars)
    assert 15 <= pars[0] <= 40


# --- the manor -----------------------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_sizes_and_reachability(difficulty: int) -> None:
    for p in puzzles(difficulty):
        data = p.data
        assert len(data["rooms"]) == SIZES[difficulty]
        assert len(set(data["rooms"])) == len(data["rooms"])
        assert data["entrance"] != data["exit"]
        route = bfs(p, data["entrance"], data["exit"])
        assert route is not None, p.seed
        assert len(route) >= 3, p.seed  # the entrance never opens onto the exit
        assert len(route) == len(solution(p))
        assert is_walk(p, solution(p))
        pairs = [frozenset((c["a"], c["b"])) for c in data["corridors"]]
        assert len(pairs) == len(set(pairs)), "at most one corridor between two rooms"
        assert all(len(pair) == 2 for pair in pairs)
        assert frozenset((data["entrance"], data["exit"])) not in pairs


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


@pytest.mark.parametrize("difficulty", [3, 4, 5])
def test_dead_ends(difficulty: int) -> None:
    for p in puzzles(difficulty):
        ends = {p.data["entrance"], p.data["exit"]}
        dead = [room for room, n in degrees(p).items() if n == 1 and room not in ends]
        assert len(dead) >= 2, p.seed


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_one_way_doors_only_at_levels_four_and_five(difficulty: int) -> None:
    for p in puzzles(difficulty):
        one_way = [c for c in p.data["corridors"] if c["one_way"]]
        assert bool(one_way) == (difficulty >= 4)
        assert (p.prompt.count("one-way door ") > 0) == (difficulty >= 4)


@pytest.mark.parametrize("difficulty", [4, 5])
def test_ignoring_one_way_doors_gives_a_wrong_shortcut(difficulty: int) -> None:
    for p in puzzles(difficulty):
        careless = {(c["a"], c["b"]) for c in p.data["corridors"]}
        careless |= {(b, a) for a, b in careless}
        shortcut = bfs_over(careless, p.data["entrance"], p.data["exit"])
        assert shortcut is not None
        assert len(shortcut) < len(solution(p))
        verdict = ROOM.validate(p, "ANSWER: " + " -> ".join(shortcut))
        assert not verdict.solved
        assert "one-way" in verdict.reason


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


@pytest.mark.parametrize("difficulty", [4, 5])
def test_every_one_way_door_used_backwards_is_rejected(difficulty: int) -> None:
    for p in puzzles(difficulty)[:60]:
        checked = 0
        for c in p.data["corridors"]:
            if not c["one_way"]:
                continue
            to_b = bfs(p, p.data["entrance"], c["b"])
            from_a = bfs(p, c["a"], p.data["exit"])
            if to_b is None or from_a is None:
                continue
            path = to_b + from_a
            verdict = ROOM.validate(p, "ANSWER: " + " -> ".join(path))
            assert not verdict.solved, (p.seed, path)
            assert "one-way" in verdict.reason
            checked += 1
        assert checked >= 1, p.seed


def sentences(prompt: str) -> list[str]:
    return re.split(r"(?<=[.])\s+", prompt)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_prose_mentions_every_corridor(difficulty: int) -> None:
    for p in puzzles(difficulty):
        said = sentences(p.prompt.replace("The ", "the "))
        for c in p.data["corridors"]:
            a, b = f"the {c['a']}", f"the {c['b']}"
            hits = [s for s in said if a in s and b in s]
            assert hits, (p.seed, c)
            if c["one_way"]:
                assert any("one-way" in s for s in hits), (p.seed, c)
        assert "corridors" not in p.prompt.split("\n\n")[1], "prose, not an edge list"
        assert "->" not in "".join(p.prompt.split("\n\n")[1:-1])


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_prompt_names_every_room_and_ends_with_the_format(difficulty: int) -> None:
    for p in puzzles(difficulty)[:50]:
        for room in p.data["rooms"]:
            assert f"the {room}" in p.prompt.replace("The ", "the ")
        last = p.prompt.splitlines()[-1]
        assert last == f"ANSWER: {p.data['entrance']} -> ... -> {p.data['exit']}"
        assert p.prompt.count("\n\n") >= 3, "several paragraphs"


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


def test_reference_reply_solves_from_the_data_not_the_solution() -> None:
    for difficulty in DIFFICULTIES:
        p = puzzle(3, difficulty).model_copy(update={"solution": "nonsense"})
        assert ROOM.validate(p, ROOM.reference_reply(p)).solved


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_solution_in_any_format_validates(difficulty: int, fmt: str) -> None:
    for p in puzzles(difficulty)[:60]:
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


@pytest.mark.parametrize("reply", ["", "   \n\n  ", "```\n```"])
def test_empty_reply_parses_to_nothing(reply: str) -> None:
    verdict = ROOM.validate(puzzle(0, 2), reply)
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
    for p in puzzles(difficulty):
        path = solution(p)
        short = ROOM.validate(p, "ANSWER: " + " -> ".join(path[:-1]))
        assert not short.solved
        assert "exit" in short.reason
        late = ROOM.validate(p, "ANSWER: " + " -> ".join(path[1:]))
        assert not late.solved
        assert "entrance" in late.reason
        for i in range(1, len(path) - 1):
            wrongs = [[*path[:i], other, *path[i + 1 :]] for other in p.data["rooms"]]
            for wrong in [w for w in wrongs if not is_walk(p, w)][:3]:
                verdict = ROOM.validate(p, "ANSWER: " + " -> ".join(wrong))
                assert not verdict.solved, (p.seed, wrong)
                assert verdict.reason.startswith(("there is no corridor", "the door")), (
                    verdict.reason
                )


def test_unknown_room_is_named_in_the_reason() -> None:
    for difficulty in DIFFICULTIES:
        p = puzzle(5, difficulty)
        path = solution(p)
        path[1] = "Banana Pantry"
        verdict = ROOM.validate(p, "ANSWER: " + " -> ".join(path))
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


@pytest.mark.parametrize("difficulty", [3, 4, 5])
def test_longer_valid_routes_are_accepted(difficulty: int) -> None:
    for p in puzzles(difficulty)[:50]:
        path = solution(p)
        allowed = moves(p)
        # Step into a two-way neighbour of a room on the route and back, then carry on.
        detours = [
            [*path[: k + 1], b, *path[k:]]
            for k, room in enumerate(path[:-1])
            for a, b in sorted(allowed)
            if a == room and (b, a) in allowed
        ]
        assert detours, p.seed
        verdict = ROOM.validate(p, "ANSWER: " + " -> ".join(detours[0]))
        assert verdict.solved, (p.seed, detours[0], verdict)
        assert verdict.details["optimal"] is False
        assert verdict.details["length"] == len(path) + 1


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
    assert parse_path("") == []


def test_details_are_json_serializable() -> None:
    p = puzzle(2, 5)
    for reply in (ROOM.reference_reply(p), ROOM.bluff(p), "ANSWER: Nowhere -> Else", ""):
        verdict = ROOM.validate(p, reply)
        json.dumps(verdict.details)
        assert verdict.reason


def test_data_shape(tmp_path: Path) -> None:
    p = puzzle(9, 4)
    data: dict[str, Any] = p.data
    assert set(data) == {"rooms", "entrance", "exit", "corridors"}
    for c in data["corridors"]:
        assert set(c) == {"a", "b", "one_way", "direction"}
    (tmp_path / "puzzle.json").write_text(p.model_dump_json())
    assert Puzzle.model_validate_json((tmp_path / "puzzle.json").read_text()) == p
