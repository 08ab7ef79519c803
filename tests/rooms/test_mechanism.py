"""Mechanism: generation is deterministic, the reference fix passes, broken and cheating code fails.

The sweep over hundreds of seeds uses an in-process runner on OUR OWN sources (reference fixes and
the generated buggy code); a sample goes through the real sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from rooms._sandbox_supervisor import encode_value
from rooms.base import Puzzle
from rooms.mechanism import TEMPLATES, Mechanism, call_trusted, markers
from rooms.sandbox import CaseResult

SEEDS = range(120)
LEVELS = range(1, 6)


def trusted_runner(
    source: str, function: str, cases: list[list[Any]]
) -> tuple[str, list[CaseResult], dict[str, Any]]:
    results = []
    for kind, value in call_trusted(source, function, cases):
        if kind == "ok":
            results.append(CaseResult(ok=True, value=encode_value(value)))
        else:
            results.append(CaseResult(ok=False, error=value))
    return "completed", results, {"isolation": "in-process (test)"}


FAST = Mechanism(runner=trusted_runner)
REAL = Mechanism()


def test_different_seeds_differ() -> None:
    prompts = {FAST.generate(seed, 3).prompt for seed in range(40)}
    assert len(prompts) > 30


@pytest.mark.parametrize("level", LEVELS)
def test_reference_passes_and_buggy_and_bluff_fail(level: int) -> None:
    for seed in SEEDS:
        puzzle = FAST.generate(seed, level)
        assert FAST.validate(puzzle, FAST.reference_reply(puzzle)).solved, (seed, level)
        assert FAST.validate(puzzle, f"ANSWER:\n```python\n{puzzle.solution}```").solved
        assert not FAST.validate(puzzle, f"```python\n{puzzle.data['buggy_source']}```").solved
        assert not FAST.validate(puzzle, FAST.bluff(puzzle)).solved


@pytest.mark.parametrize("level", LEVELS)
def test_bug_count_by_level(level: int) -> None:
    for seed in range(30):
        puzzle = FAST.generate(seed, level)
        want = {1: 1, 2: 1, 3: 1, 4: 2, 5: 3}[level]
        template = next(t for t in TEMPLATES if t.key == puzzle.data["template"])
        assert len(puzzle.data["broken_markers"]) == min(want, len(markers(template)))


def test_garbage_empty_and_wrong_name() -> None:
    puzzle = FAST.generate(5, 1)
    empty = FAST.validate(puzzle, "")
    assert not empty.solved and empty.parsed is None
    assert not FAST.validate(puzzle, "I don't know").solved
    renamed = puzzle.solution.replace(f"def {puzzle.data['function']}(", "def other(")
    verdict = FAST.validate(puzzle, f"```python\n{renamed}```")
    assert not verdict.solved and "no function named" in verdict.reason


def test_hardcoding_the_shown_tests_fails_the_hidden_ones() -> None:
    puzzle = FAST.generate(2, 2)
    fn = puzzle.data["function"]
    table = {
        tuple(map(repr, args)): want
        for args, want in zip(
            puzzle.data["visible_cases"],
            _decoded(puzzle)[: len(puzzle.data["visible_cases"])],
            strict=True,
        )
    }
    code = (
        f"def {fn}(*args):\n    table = {table!r}\n    return table.get(tuple(map(repr, args)))\n"
    )
    verdict = FAST.validate(puzzle, f"```python\n{code}```")
    assert not verdict.solved
    assert "hidden" in verdict.reason


def _decoded(puzzle: Puzzle) -> list[Any]:
    outputs = call_trusted(puzzle.solution, puzzle.data["function"], puzzle.data["visible_cases"])
    return [value for _, value in outputs]


@pytest.mark.parametrize("level", LEVELS)
def test_real_sandbox_sample(level: int) -> None:
    for seed in range(3):
        puzzle = REAL.generate(seed, level)
        good = REAL.validate(puzzle, REAL.reference_reply(puzzle))
        assert good.solved, good
        assert good.details["isolation"] in {"namespaces", "user-namespaces", "rlimits"}
        bad = REAL.validate(puzzle, REAL.bluff(puzzle))
        assert not bad.solved


def test_real_sandbox_rejects_a_cheat_that_exits_early() -> None:
    puzzle = REAL.generate(1, 1)
    fn = puzzle.data["function"]
    cheat = f"import sys\ndef {fn}(*args):\n    sys.exit(0)\nsys.exit(0)\n"
    verdict = REAL.validate(puzzle, f"```python\n{cheat}```")
    assert not verdict.solved


def test_every_level_one_template_is_used_and_its_bug_is_caught() -> None:
    seen = set()
    for seed in range(120):
        puzzle = FAST.generate(seed, 1)
        seen.add(puzzle.data["template"])
        assert FAST.validate(puzzle, FAST.reference_reply(puzzle)).solved, seed
        assert not FAST.validate(puzzle, f"```python\n{puzzle.data['buggy_source']}```").solved
    assert seen == {t.key for t in TEMPLATES if 1 in t.levels}
