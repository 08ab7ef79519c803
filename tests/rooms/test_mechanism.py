"""Mechanism: generation is deterministic, the reference fix passes, broken and cheating code fails.

The sweep over many seeds uses an in-process runner on OUR OWN sources (reference fixes, the
generated buggy code, partial fixes and independent solutions written here from the docstrings);
a sample goes through the real sandbox."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooms._sandbox_supervisor import encode_value
from rooms.base import LEVELS, Puzzle
from rooms.mechanism import (
    BUGS_BY_LEVEL,
    HARD_TEMPLATES,
    HIDDEN_CASES,
    PAR_SECONDS,
    TEMPLATES,
    VISIBLE_CASES,
    Mechanism,
    call_trusted,
    markers,
    render,
    result_matches,
)
from rooms.sandbox import CaseResult

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(120)
HARD_SEEDS = range(60)
HARD_LEVELS = range(6, 11)


def trusted_runner(
    source: str, function: str, cases: list[list[Any]]
) -> tuple[str, list[CaseResult], dict[str, Any]]:
    """The sandbox's contract in this process, for sources of our own (never model output)."""
    results = []
    for kind, value in call_trusted(source, function, cases):
        if kind == "ok":
            results.append(CaseResult(ok=True, value=encode_value(value)))
        else:
            results.append(CaseResult(ok=False, error=f"{value}: (message)"))
    return "completed", results, {"isolation": "in-process (test)"}


FAST = Mechanism(runner=trusted_runner)
REAL = Mechanism()


def fenced(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code}```"


def template_of(puzzle: Puzzle) -> Any:
    return next(t for t in TEMPLATES if t.key == puzzle.data["template"])


def partial_fix(puzzle: Puzzle, left_broken: tuple[int, ...]) -> str:
    """The source with only the markers in ``left_broken`` still broken."""
    return render(template_of(puzzle), puzzle.data["names"], frozenset(left_broken))


def first_hard_puzzle(level: int, template: str, room: Mechanism = FAST) -> Puzzle:
    """The first seed's puzzle at ``level`` that uses ``template`` (deterministic)."""
    for seed in range(500):
        puzzle = room.generate(seed, level)
        if puzzle.data["template"] == template:
            return puzzle
    raise AssertionError(f"no {template} puzzle at level {level}")


# ---- every level -------------------------------------------------------------------------------


def test_different_seeds_differ() -> None:
    for level in (0, 3, 6, 10):
        prompts = {FAST.generate(seed, level).prompt for seed in range(40)}
        assert len(prompts) > 30, level


@pytest.mark.parametrize("level", LEVELS)
def test_reference_passes_and_buggy_bluff_and_empty_fail(level: int) -> None:
    for seed in SEEDS if level < 6 else HARD_SEEDS:
        puzzle = FAST.generate(seed, level)
        assert FAST.validate(puzzle, FAST.reference_reply(puzzle)).solved, (seed, level)
        assert FAST.validate(puzzle, f"ANSWER:\n{fenced(puzzle.solution)}").solved
        assert not FAST.validate(puzzle, fenced(puzzle.data["buggy_source"])).solved
        assert not FAST.validate(puzzle, FAST.bluff(puzzle)).solved, (seed, level)
        empty = FAST.validate(puzzle, "")
        assert not empty.solved and empty.parsed is None


@pytest.mark.parametrize("level", LEVELS)
def test_same_seed_and_level_same_puzzle(level: int) -> None:
    for seed in range(8):
        assert (
            FAST.generate(seed, level).model_dump_json()
            == FAST.generate(seed, level).model_dump_json()
        )


def test_same_puzzles_in_another_process_with_another_hash_seed() -> None:
    script = (
        "import hashlib; from rooms.mechanism import Mechanism\n"
        "room = Mechanism()\n"
        "print(hashlib.sha256(''.join(room.generate(s, lvl).model_dump_json() "
        "for lvl in range(11) for s in range(4)).encode()).hexdigest())\n"
    )
    here = "".join(FAST.generate(s, lvl).model_dump_json() for lvl in range(11) for s in range(4))
    digests = {hashlib.sha256(here.encode()).hexdigest()}
    for hash_seed in ("3", "4242"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.add(done.stdout.strip())
    assert len(digests) == 1


@pytest.mark.parametrize("level", LEVELS)
def test_counts_of_bugs_and_tests_by_level(level: int) -> None:
    for seed in range(30):
        puzzle = FAST.generate(seed, level)
        template = template_of(puzzle)
        want = {0: 1, 1: 1, 2: 1, 3: 1, 4: 2, 5: 3, 6: 2, 7: 2, 8: 3, 9: 3, 10: 4}[level]
        n_bugs = len(puzzle.data["broken_markers"])
        assert n_bugs == (want if level >= 6 else min(want, len(markers(template))))
        assert len(puzzle.data["visible_cases"]) == VISIBLE_CASES[level]
        assert len(puzzle.data["hidden_cases"]) == HIDDEN_CASES[level]
        assert len(puzzle.data["expected"]) == VISIBLE_CASES[level] + HIDDEN_CASES[level]
        assert puzzle.par_seconds == PAR_SECONDS[level]
        shown = len(re.findall(r"^(?:assert |with pytest\.raises)", puzzle.prompt, re.MULTILINE))
        assert shown == VISIBLE_CASES[level]
        assert puzzle.prompt.rstrip().endswith("in a ```python code block.")


@pytest.mark.parametrize("level", LEVELS)
def test_a_shown_test_fails_on_the_buggy_code(level: int) -> None:
    for seed in range(30):
        puzzle = FAST.generate(seed, level)
        n = len(puzzle.data["visible_cases"])
        _, results, _ = trusted_runner(
            puzzle.data["buggy_source"], puzzle.data["function"], puzzle.data["visible_cases"]
        )
        expected = puzzle.data["expected"][:n]
        assert not all(result_matches(r, e) for r, e in zip(results, expected, strict=True))


@pytest.mark.parametrize("level", LEVELS)
def test_cases_survive_json_and_puzzles_round_trip(level: int) -> None:
    """The sandbox gets the cases as JSON: tuples or int dict keys would change on the way."""
    for seed in range(10):
        puzzle = FAST.generate(seed, level)
        cases = puzzle.data["visible_cases"] + puzzle.data["hidden_cases"]
        assert json.loads(json.dumps(cases)) == cases
        again = Puzzle.model_validate_json(puzzle.model_dump_json())
        assert FAST.validate(again, FAST.reference_reply(again)).solved


def test_level_notes_cover_every_level_in_plain_short_lines() -> None:
    notes = Mechanism.level_notes
    assert sorted(notes) == list(LEVELS)
    for note in notes.values():
        assert 0 < len(note) <= 90 and not note.endswith(".")


def test_generation_is_fast_at_every_level() -> None:
    slowest = 0.0
    for level in LEVELS:
        for seed in range(20):
            started = time.perf_counter()
            FAST.generate(seed, level)
            slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.5


def test_garbage_empty_and_wrong_name() -> None:
    puzzle = FAST.generate(5, 1)
    empty = FAST.validate(puzzle, "")
    assert not empty.solved and empty.parsed is None
    assert not FAST.validate(puzzle, "I don't know").solved
    renamed = puzzle.solution.replace(f"def {puzzle.data['function']}(", "def other(")
    verdict = FAST.validate(puzzle, fenced(renamed))
    assert not verdict.solved and "no function named" in verdict.reason


def test_hardcoding_the_shown_tests_fails_the_hidden_ones() -> None:
    for level in (2, 9):
        puzzle = FAST.generate(2, level)
        fn = puzzle.data["function"]
        visible = puzzle.data["visible_cases"]
        outputs = call_trusted(puzzle.solution, fn, visible)
        table = {repr(args): value for args, (_, value) in zip(visible, outputs, strict=True)}
        code = f"def {fn}(*args):\n    table = {table!r}\n    return table.get(repr(list(args)))\n"
        verdict = FAST.validate(puzzle, fenced(code))
        assert not verdict.solved
        assert "hidden" in verdict.reason, verdict


def test_every_level_one_template_is_used_and_its_bug_is_caught() -> None:
    seen = set()
    for seed in range(120):
        puzzle = FAST.generate(seed, 1)
        seen.add(puzzle.data["template"])
        assert FAST.validate(puzzle, FAST.reference_reply(puzzle)).solved, seed
        assert not FAST.validate(puzzle, fenced(puzzle.data["buggy_source"])).solved
    assert seen == {t.key for t in TEMPLATES if 1 in t.levels}


# ---- level 0: the plainest one-liners -----------------------------------------------------------


def test_level_zero_is_a_flipped_sign_or_comparison_in_a_one_liner() -> None:
    zero = {t.key for t in TEMPLATES if 0 in t.levels}
    assert zero == {"add", "subtract", "negate", "is_positive"}
    assert zero < {t.key for t in TEMPLATES if 1 in t.levels}
    seen = set()
    for seed in range(60):
        puzzle = FAST.generate(seed, 0)
        seen.add(template_of(puzzle).key)
        assert len(puzzle.data["visible_cases"]) == 2 and puzzle.data["function"] in zero
        assert "The fix:" not in puzzle.prompt  # a hint made SmolLM2 worse, not better
        assert "a bug" in puzzle.prompt and len(puzzle.prompt) < 400
        body = [line for line in puzzle.solution.splitlines() if line.startswith("    return")]
        assert len(body) == 1
    assert seen == zero


# ---- levels 6-10 -------------------------------------------------------------------------------


def test_hard_templates_have_the_promised_sizes_and_markers() -> None:
    for template in HARD_TEMPLATES:
        names = {"fn": template.names[0], "k": "3"}
        names.update({f"p{i}": options[0] for i, options in enumerate(template.params)})
        lines = len(render(template, names, frozenset()).splitlines())
        assert 13 <= lines <= 30, template.key
        if 6 in template.levels:
            assert lines <= 17, template.key
        if {7, 9, 10} & set(template.levels):
            assert lines >= 18, template.key
        for level in template.levels:
            assert len(markers(template)) >= BUGS_BY_LEVEL[level], template.key
    for level in HARD_LEVELS:
        assert sum(level in t.levels for t in HARD_TEMPLATES) >= 6, level
    families = {family for t in HARD_TEMPLATES for family in markers(t)}
    assert {
        "state",
        "mutable_default",
        "aliasing",
        "off_by_one",
        "wrong_exception",
        "wrong_default",
        "int_division",
        "early_return",
    } <= families


def test_every_marker_variant_runs_the_inputs_quickly() -> None:
    """Every combination of broken markers of every hard template compiles and runs generated
    inputs in this process without hanging (no loop that a bug could make endless)."""
    rng = random.Random(7)
    for template in HARD_TEMPLATES:
        names = {"fn": template.names[0], "k": "4"}
        names.update({f"p{i}": options[-1] for i, options in enumerate(template.params)})
        cases = [template.inputs(rng) for _ in range(25)]
        n = len(markers(template))
        for size in range(n + 1):
            for broken in itertools.combinations(range(n), size):
                source = render(template, names, frozenset(broken))
                started = time.perf_counter()
                assert len(call_trusted(source, names["fn"], cases)) == len(cases)
                assert time.perf_counter() - started < 1.0, (template.key, broken)


@pytest.mark.parametrize("level", HARD_LEVELS)
def test_every_partial_fix_fails_and_every_bug_is_caught(level: int) -> None:
    for seed in range(25):
        puzzle = FAST.generate(seed, level)
        broken = puzzle.data["broken_markers"]
        for size in range(1, len(broken) + 1):
            for left in itertools.combinations(broken, size):
                verdict = FAST.validate(puzzle, fenced(partial_fix(puzzle, left)))
                assert not verdict.solved, (level, seed, left)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**40), level=st.integers(6, 10))
def test_hard_levels_on_any_seed(seed: int, level: int) -> None:
    puzzle = FAST.generate(seed, level)
    assert FAST.validate(puzzle, FAST.reference_reply(puzzle)).solved
    assert not FAST.validate(puzzle, FAST.bluff(puzzle)).solved
    for left in puzzle.data["broken_markers"]:
        assert not FAST.validate(puzzle, fenced(partial_fix(puzzle, (left,)))).solved


def test_bug_count_is_stated_up_to_level_nine_and_not_at_ten() -> None:
    for seed in range(20):
        for level in range(6, 10):
            prompt = FAST.generate(seed, level).prompt
            assert f"has {BUGS_BY_LEVEL[level]} bugs:" in prompt
            assert "hidden" in prompt and "one after another" in prompt
        prompt = FAST.generate(seed, 10).prompt
        assert "has bugs:" in prompt and not re.search(r"\d bugs", prompt)


def test_bluff_is_a_confident_partial_fix_at_the_hard_levels() -> None:
    for seed in range(20):
        puzzle = FAST.generate(seed, 8)
        bluff = FAST.bluff(puzzle)
        code = re.search(r"```python\n(.*?)```", bluff, re.DOTALL)
        assert code is not None
        assert code.group(1) not in (puzzle.solution, puzzle.data["buggy_source"])
        assert bluff == FAST.bluff(puzzle)


def test_state_leaks_across_cases_as_in_real_use() -> None:
    """The cases run one after another on one function: a mutable default is seen by the next
    call (this is what the state bugs rely on), in call_trusted and in the real sandbox."""
    source = "def grow(x, acc=[]):\n    acc.append(x)\n    return len(acc)\n"
    cases = [[1], [2], [3]]
    assert call_trusted(source, "grow", cases) == [["ok", 1], ["ok", 2], ["ok", 3]]
    assert [r.value for r in REAL.runner(source, "grow", cases)[1]] == [
        ["int", "1"],
        ["int", "2"],
        ["int", "3"],
    ]


def test_call_trusted_copies_arguments_and_results() -> None:
    source = (
        "def push(xs, keep=[]):\n"
        "    xs.append(0)\n"  # mutates the caller's list
        "    keep.extend(xs)\n"
        "    return keep\n"  # the same object every call
    )
    cases = [[[1]], [[2]]]
    outcomes = call_trusted(source, "push", cases)
    assert cases == [[[1]], [[2]]]  # the stored cases are untouched
    assert outcomes == [["ok", [1, 0]], ["ok", [1, 0, 2, 0]]]  # copied when returned
    assert call_trusted("def f(x):\n    return {}[x]\n", "f", [["k"]]) == [["raised", "KeyError"]]


def test_expected_exceptions_are_matched_by_type_name() -> None:
    raises = ["raises", "ValueError"]
    assert result_matches(CaseResult(ok=False, error="ValueError: bad page"), raises)
    assert result_matches(CaseResult(ok=False, error="ValueError: "), raises)
    assert not result_matches(CaseResult(ok=False, error="KeyError: 'x'"), raises)
    assert not result_matches(CaseResult(ok=False, error="import: ValueError: x"), raises)
    assert not result_matches(CaseResult(ok=True, value=raises), raises)  # a forged value
    assert not result_matches(CaseResult(ok=True, value=["none", None]), raises)
    assert result_matches(CaseResult(ok=True, value=["int", "3"]), ["int", "3"])
    assert not result_matches(CaseResult(ok=False, error="ValueError: x"), ["int", "3"])


def test_hard_levels_expect_exceptions_and_show_them() -> None:
    raising_puzzles = 0
    shown_raises = 0
    for level in HARD_LEVELS:
        for seed in range(40):
            puzzle = FAST.generate(seed, level)
            expected = puzzle.data["expected"]
            raising = [e for e in expected if e[0] == "raises"]
            assert all(e == ["raises", "ValueError"] for e in raising)
            assert len(raising) * 3 <= len(expected)
            n = len(puzzle.data["visible_cases"])
            assert any(e[0] != "raises" for e in expected[:n])
            raising_puzzles += bool(raising)
            shown_raises += "with pytest.raises(ValueError):" in puzzle.prompt
    assert raising_puzzles > 50 and shown_raises > 10


def test_wrong_exception_bugs_are_caught_and_only_the_promised_type_passes() -> None:
    checked = 0
    for level in HARD_LEVELS:
        for seed in range(40):
            puzzle = FAST.generate(seed, level)
            if not any(e[0] == "raises" for e in puzzle.data["expected"]):
                continue
            families = markers(template_of(puzzle))
            if "wrong_exception" in puzzle.data["bug_families"]:
                wrong_type = partial_fix(puzzle, (families.index("wrong_exception"),))
                assert re.search(r"raise (KeyError|IndexError)\(", wrong_type)
                assert not FAST.validate(puzzle, fenced(wrong_type)).solved, (level, seed)
                checked += 1
            other = puzzle.solution.replace("raise ValueError(", "raise ArithmeticError(")
            assert not FAST.validate(puzzle, fenced(other)).solved, (level, seed)
    assert checked > 10


# ---- independent solutions, written here from the docstrings ------------------------------------


def _tally(n: dict[str, str]) -> str:
    return (
        "from collections import Counter\n\n"
        f"def {n['fn']}({n['p0']}, counts=None):\n"
        f"    found = Counter(w.lower() for w in {n['p0']} if len(w) >= {n['k']})\n"
        "    if counts is None:\n"
        "        return dict(found)\n"
        "    for word, times in found.items():\n"
        "        counts[word] = counts.get(word, 0) + times\n"
        "    return counts\n"
    )


def _climb(n: dict[str, str]) -> str:
    a, b = n["p0"], n["p1"]
    return (
        f"def {n['fn']}({a}, {b}=2):\n"
        f"    if {a} < 0 or {b} < 1:\n"
        "        raise ValueError('bad input')\n"
        f"    ways = [1] + [0] * {a}\n"
        f"    for i in range(1, {a} + 1):\n"
        f"        ways[i] = sum(ways[max(0, i - {b}):i])\n"
        f"    return ways[{a}]\n"
    )


def _grid(n: dict[str, str]) -> str:
    pts, rows, cols = n["p0"], n["p1"], n["p2"]
    return (
        f"def {n['fn']}({pts}, {rows}, {cols}):\n"
        f"    grid = [[0 for _ in range({cols})] for _ in range({rows})]\n"
        "    off = 0\n"
        f"    for r, c in {pts}:\n"
        f"        if r in range({rows}) and c in range({cols}):\n"
        "            grid[r][c] += 1\n"
        "        else:\n"
        "            off += 1\n"
        "    return (grid, off)\n"
    )


def _summary(n: dict[str, str]) -> str:
    xs = n["p0"]
    return (
        "import statistics\n\n"
        f"def {n['fn']}({xs}):\n"
        f"    if len({xs}) == 0:\n"
        "        raise ValueError('empty')\n"
        f"    return {{'first': {xs}[0], 'median': statistics.median({xs}),\n"
        f"            'range': max({xs}) - min({xs})}}\n"
    )


def _order(n: dict[str, str]) -> str:
    order, prices, off = n["p0"], n["p1"], n["p2"]
    return (
        "import math\n\n"
        f"def {n['fn']}({order}, {prices}, {off}=0):\n"
        f"    for item, qty in {order}.items():\n"
        f"        if item not in {prices} or qty < 1:\n"
        "            raise ValueError(item)\n"
        f"    cents = sum({prices}[i] * q for i, q in {order}.items())\n"
        f"    return math.floor(cents * (100 - {off}) / 100)\n"
    )


def _window(n: dict[str, str]) -> str:
    xs, k = n["p0"], n["p1"]
    return (
        f"def {n['fn']}({xs}, {k}):\n"
        f"    if {k} < 1:\n"
        "        raise ValueError('window')\n"
        f"    return [sum({xs}[i:i + {k}]) / {k} for i in range(len({xs}) - {k} + 1)]\n"
    )


def _paginate(n: dict[str, str]) -> str:
    xs, page, size = n["p0"], n["p1"], n["p2"]
    return (
        "import math\n\n"
        f"def {n['fn']}({xs}, {page}, {size}=4):\n"
        f"    if {page} < 1 or {size} < 1:\n"
        "        raise ValueError('page and size')\n"
        f"    return ({xs}[({page} - 1) * {size}:{page} * {size}], math.ceil(len({xs}) / {size}))\n"
    )


def _runs(n: dict[str, str]) -> str:
    return (
        "import itertools\n\n"
        f"def {n['fn']}({n['p0']}):\n"
        "    return [max((len(list(g)) for _, g in itertools.groupby(row)), default=0)\n"
        f"            for row in {n['p0']}]\n"
    )


def _settings(n: dict[str, str]) -> str:
    return (
        f"def {n['fn']}({n['p0']}, base={{'retries': {n['k']}, 'mode': 'safe'}}):\n"
        "    out = dict(base)\n"
        f"    for raw in {n['p0']}:\n"
        "        line = raw.strip()\n"
        "        if line == '' or line[0] == '#':\n"
        "            continue\n"
        "        key, sep, value = line.partition('=')\n"
        "        if not sep or not key.strip():\n"
        "            raise ValueError(raw)\n"
        "        value = value.strip()\n"
        "        out[key.strip()] = int(value) if value.isdigit() else value\n"
        "    return out\n"
    )


def _histogram(n: dict[str, str]) -> str:
    xs, lo, hi, bins = n["p0"], n["p1"], n["p2"], n["p3"]
    return (
        f"def {n['fn']}({xs}, {lo}, {hi}, {bins}):\n"
        f"    if {bins} < 1 or not {hi} > {lo}:\n"
        "        raise ValueError('range')\n"
        f"    counts = [0] * {bins}\n"
        f"    width = ({hi} - {lo}) / {bins}\n"
        f"    for v in {xs}:\n"
        f"        if {lo} <= v <= {hi}:\n"
        f"            counts[min(int((v - {lo}) // width), {bins} - 1)] += 1\n"
        "    return counts\n"
    )


def _ledger(n: dict[str, str]) -> str:
    moves, opening = n["p0"], n["p1"]
    return (
        f"def {n['fn']}({moves}, {opening}=0, history=None):\n"
        "    log = [] if history is None else history\n"
        f"    balance, refused = {opening}, 0\n"
        f"    for kind, amount in {moves}:\n"
        "        if kind not in ('in', 'out') or amount < 1:\n"
        "            raise ValueError(kind)\n"
        "        if kind == 'out' and amount > balance:\n"
        "            refused += 1\n"
        "            continue\n"
        "        balance = balance + amount if kind == 'in' else balance - amount\n"
        "        log.append(balance)\n"
        "    return (balance, refused, log)\n"
    )


def _wrap(n: dict[str, str]) -> str:
    text, width = n["p0"], n["p1"]
    return (
        f"def {n['fn']}({text}, {width}):\n"
        "    lines = []\n"
        f"    for word in {text}.split():\n"
        f"        if lines and len(lines[-1]) + 1 + len(word) <= {width}:\n"
        "            lines[-1] += ' ' + word\n"
        "        else:\n"
        "            lines.append(word)\n"
        "    return lines\n"
    )


def _bookings(n: dict[str, str]) -> str:
    xs = n["p0"]
    return (
        f"def {n['fn']}({xs}):\n"
        f"    if any(not (0 <= s < e <= 24) for s, e in {xs}):\n"
        "        raise ValueError('booking')\n"
        f"    spans = sorted({xs})\n"
        "    if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):\n"
        "        return -1\n"
        "    return sum(e - s for s, e in spans)\n"
    )


INDEPENDENT: dict[str, Callable[[dict[str, str]], str]] = {
    "tally_words": _tally,
    "climb_ways": _climb,
    "grid_counts": _grid,
    "summary": _summary,
    "order_total": _order,
    "window_means": _window,
    "paginate": _paginate,
    "longest_runs": _runs,
    "parse_settings": _settings,
    "histogram": _histogram,
    "ledger": _ledger,
    "wrap_words": _wrap,
    "bookings": _bookings,
}


def test_every_hard_template_has_an_independent_solution() -> None:
    assert set(INDEPENDENT) == {t.key for t in HARD_TEMPLATES}


@pytest.mark.parametrize("level", HARD_LEVELS)
def test_solutions_written_from_the_docstring_alone_pass(level: int) -> None:
    """The docstring is the spec: a different implementation of it passes every hidden test
    (no expected value depends on how the template happens to compute it)."""
    used = set()
    for seed in HARD_SEEDS:
        puzzle = FAST.generate(seed, level)
        used.add(puzzle.data["template"])
        code = INDEPENDENT[puzzle.data["template"]](puzzle.data["names"])
        verdict = FAST.validate(puzzle, f"My rewrite:\n\n{fenced(code, 'py')}\n")
        assert verdict.solved, (level, seed, puzzle.data["template"], verdict.reason, code)
    assert used == {t.key for t in HARD_TEMPLATES if level in t.levels}


# ---- realistic replies at the new levels ---------------------------------------------------------


@pytest.mark.parametrize("level", HARD_LEVELS)
def test_realistic_replies(level: int) -> None:
    puzzle = FAST.generate(7, level)
    fn = puzzle.data["function"]
    right = [
        f"**ANSWER:**\n{fenced(puzzle.solution)}\nI fixed the bugs in {fn}.",
        f"Tracing first.\n\n```\nstep 1 ...\n```\n\nFixed:\n{fenced(puzzle.solution)}",
        f"ANSWER:\n{fenced(puzzle.solution)}",
    ]
    for reply in right:
        assert FAST.validate(puzzle, reply).solved, reply
    one_left = partial_fix(puzzle, (puzzle.data["broken_markers"][-1],))
    wrong = [
        f"The fixed function:\n{fenced(one_left)}",  # all bugs but one fixed
        f"{fenced(puzzle.solution)}\nActually, on second thought:\n{fenced(one_left)}",
        f"The function is fine as written.\n{fenced(puzzle.data['buggy_source'])}",
        f"{fenced(puzzle.solution.replace(f'def {fn}(', f'def {fn}_fixed('))}",
        "I would need to run the code to know which line is wrong.",
    ]
    for reply in wrong:
        assert not FAST.validate(puzzle, reply).solved, reply


def test_the_aliasing_bug_shows_in_the_returned_values() -> None:
    """``ordered = readings`` then ``ordered.sort()`` sorts the caller's list, so "first" is
    wrong: the bug shows in what the function returns."""
    puzzle = first_hard_puzzle(7, "summary")
    index = markers(template_of(puzzle)).index("aliasing")
    aliased = partial_fix(puzzle, (index,))
    verdict = FAST.validate(puzzle, fenced(aliased))
    assert not verdict.solved


# ---- the real sandbox ----------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_real_sandbox_sample(level: int) -> None:
    for seed in range(3):
        puzzle = REAL.generate(seed, level)
        good = REAL.validate(puzzle, REAL.reference_reply(puzzle))
        assert good.solved, good
        assert good.details["isolation"] in {"namespaces", "user-namespaces", "rlimits"}
        bad = REAL.validate(puzzle, REAL.bluff(puzzle))
        assert not bad.solved


def test_real_sandbox_independent_solutions_and_expected_exceptions() -> None:
    """Independent solutions pass in the sandbox, where an expected exception comes back as the
    ``"ValueError: ..."`` error text and is matched by type name; the KeyError variant fails."""
    for key in ("parse_settings", "ledger", "longest_runs"):
        puzzle = first_hard_puzzle(9, key, REAL)
        code = INDEPENDENT[key](puzzle.data["names"])
        assert REAL.validate(puzzle, fenced(code)).solved, key
    puzzle = next(
        p
        for p in (REAL.generate(seed, 8) for seed in range(200))
        if "wrong_exception" in p.data["bug_families"]
        and any(e[0] == "raises" for e in p.data["expected"])
    )
    assert REAL.validate(puzzle, REAL.reference_reply(puzzle)).solved
    index = markers(template_of(puzzle)).index("wrong_exception")
    verdict = REAL.validate(puzzle, fenced(partial_fix(puzzle, (index,))))
    assert not verdict.solved and verdict.details["status"] == "completed"


def test_real_sandbox_rejects_a_cheat_that_exits_early() -> None:
    puzzle = REAL.generate(1, 1)
    fn = puzzle.data["function"]
    cheat = f"import sys\ndef {fn}(*args):\n    sys.exit(0)\nsys.exit(0)\n"
    verdict = REAL.validate(puzzle, fenced(cheat))
    assert not verdict.solved


def test_a_fix_that_imports_what_the_sandbox_lacks_is_told_why() -> None:
    """``import threading`` in a fix: the judgement names the missing module, not only
    "fails tests (0/9 pass)"."""
    room = REAL
    puzzle = room.generate(3, 2)
    fixed = room.reference_reply(puzzle)
    judged = room.validate(puzzle, fixed.replace("```python\n", "```python\nimport threading\n"))
    assert not judged.solved
    assert "could not import a module" in judged.reason and "'threading'" in judged.reason
    assert "(the sandbox does not offer it)" in judged.reason
