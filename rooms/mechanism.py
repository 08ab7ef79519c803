"""Mechanism: a broken Python function and its tests; the contestant returns the fixed function.

The fix is *executed* in the sandbox (``rooms/sandbox.py``) on the visible test inputs plus hidden
ones the model never sees; the parent compares the returned values, type-strict, against values
it computed from the correct source. Exit codes and output of the child decide nothing.

Puzzles come from templates whose source carries bug markers ``«family|correct|broken»``; the
difficulty decides how many markers are broken (1 at L1-L3, 2 at L4, 3 at L5) and which templates
are used. Names, constants and inputs are randomized per seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from rooms._sandbox_supervisor import encode_value
from rooms.base import Puzzle, Room, Verdict, register_room, room_key, seed_for
from rooms.extract import code_text
from rooms.sandbox import CaseResult, SandboxLimits, run_function

Cases = list[list[Any]]
Runner = Callable[[str, str, Cases], tuple[str, list[CaseResult], dict[str, Any]]]
_MARKER = re.compile(r"«(\w+)\|([^|«»]*)\|([^|«»]*)»")


class MechanismAnswer(BaseModel):
    """The corrected function's full source."""

    code: str


@dataclass(frozen=True)
class Template:
    """A function with bug markers, its names and an input generator."""

    key: str
    levels: tuple[int, ...]
    source: str
    names: tuple[str, ...]
    params: tuple[tuple[str, ...], ...]
    """Alternative names per placeholder ``{p0}``, ``{p1}``..."""
    inputs: Callable[[random.Random], list[Any]]
    constants: Callable[[random.Random], dict[str, int]] = lambda rng: {}


def _ints(rng: random.Random, n: int, lo: int = -9, hi: int = 20) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


TEMPLATES: tuple[Template, ...] = (
    Template(
        key="add",
        levels=(1, 2),
        source=(
            "def {fn}({p0}, {p1}):\n"
            '    """Return the sum of {p0} and {p1}."""\n'
            "    return {p0} «wrong_operator|+|-» {p1}\n"
        ),
        names=("add", "combine", "total_of", "join_counts", "merge_amounts"),
        params=(("a", "x", "left", "first"), ("b", "y", "right", "second")),
        inputs=lambda rng: [rng.randint(1, 30), rng.randint(1, 30)],
    ),
    Template(
        key="scale",
        levels=(1, 2),
        source=(
            "def {fn}({p0}):\n"
            '    """Return {p0} multiplied by {k}."""\n'
            "    return {p0} * «mutated_constant|{k}|{k_bad}»\n"
        ),
        names=("scale", "boost", "amplify", "stretch"),
        params=(("n", "value", "amount", "x"),),
        inputs=lambda rng: [rng.randint(1, 20)],
        constants=lambda rng: {"k": (k := rng.randint(2, 9)), "k_bad": k + rng.choice((1, -1))},
    ),
    Template(
        key="is_even",
        levels=(1, 2),
        source=(
            "def {fn}({p0}):\n"
            '    """Return True if {p0} is even, else False."""\n'
            "    return {p0} % 2 «wrong_condition|==|!=» 0\n"
        ),
        names=("is_even", "splits_evenly", "pairs_up", "even_count"),
        params=(("n", "value", "count", "x"),),
        inputs=lambda rng: [rng.randint(0, 50)],
    ),
    Template(
        key="subtract",
        levels=(1,),
        source=(
            "def {fn}({p0}, {p1}):\n"
            '    """Return {p0} minus {p1}."""\n'
            "    return {p0} «wrong_operator|-|+» {p1}\n"
        ),
        names=("subtract",),
        params=(("a",), ("b",)),
        inputs=lambda rng: [rng.randint(1, 30), rng.randint(1, 30)],
    ),
    Template(
        key="is_positive",
        levels=(1,),
        source=(
            "def {fn}({p0}):\n"
            '    """Return True if {p0} is greater than zero, else False."""\n'
            "    return {p0} «wrong_condition|>|<» 0\n"
        ),
        names=("is_positive",),
        params=(("x",),),
        inputs=lambda rng: [rng.randint(-20, 20)],
    ),
    Template(
        key="negate",
        levels=(1,),
        source=(
            'def {fn}({p0}):\n    """Return {p0} with its sign flipped."""\n'
            "    return «wrong_operator|-|+»{p0}\n"
        ),
        names=("negate",),
        params=(("x",),),
        inputs=lambda rng: [rng.randint(-30, 30)],
    ),
    Template(
        key="maximum",
        levels=(1,),
        source=(
            "def {fn}({p0}, {p1}):\n"
            '    """Return the larger of {p0} and {p1}."""\n'
            "    return «wrong_call|max|min»({p0}, {p1})\n"
        ),
        names=("maximum",),
        params=(("a",), ("b",)),
        inputs=lambda rng: [rng.randint(0, 30), rng.randint(0, 30)],
    ),
    Template(
        key="sum_to",
        levels=(2, 3),
        source=(
            'def {fn}({p0}):\n    """Return 1 + 2 + ... + {p0}."""\n'
            "    total = 0\n"
            "    for i in range(1, {p0}«off_by_one| + 1|»):\n"
            "        total += i\n"
            "    return total\n"
        ),
        names=("sum_to", "triangle", "stack_height", "running_total"),
        params=(("n", "limit", "top", "count"),),
        inputs=lambda rng: [rng.randint(1, 15)],
    ),
    Template(
        key="count_above",
        levels=(2, 3),
        source=(
            'def {fn}({p0}, {p1}):\n    """Count the items of {p0} that are greater than {p1}."""\n'
            "    count = 0\n"
            "    for item in {p0}:\n"
            "        if item «wrong_condition|>|>=» {p1}:\n"
            "            count += 1\n"
            "    return count\n"
        ),
        names=("count_above", "over_limit", "tally_high", "count_exceeding"),
        params=(("values", "items", "readings"), ("threshold", "limit", "cutoff")),
        inputs=lambda rng: [(xs := _ints(rng, rng.randint(4, 7), 0, 9)), rng.choice(xs)],
    ),
    Template(
        key="max_of",
        levels=(2, 3),
        source=(
            'def {fn}({p0}):\n    """Return the largest item of {p0}."""\n'
            "    best = {p0}[0]\n"
            "    for item in {p0}«off_by_one|[1:]|[1:-1]»:\n"
            "        if item «wrong_operator|>|<» best:\n"
            "            best = item\n"
            "    return best\n"
        ),
        names=("largest", "peak", "max_reading", "highest"),
        params=(("values", "items", "readings"),),
        inputs=lambda rng: [_ints(rng, rng.randint(3, 7))],
    ),
    Template(
        key="factorial",
        levels=(3, 4),
        source=(
            'def {fn}({p0}):\n    """Return {p0}! (the factorial of {p0})."""\n'
            "    if {p0} «wrong_condition|<=|<» 1:\n"
            "        return «mutated_constant|1|0»\n"
            "    return {p0} * {fn}({p0} - 1)\n"
        ),
        names=("factorial", "arrangements", "orderings", "permutations_of"),
        params=(("n", "k", "size"),),
        inputs=lambda rng: [rng.randint(1, 9)],
    ),
    Template(
        key="fib",
        levels=(3, 4, 5),
        source=(
            "def {fn}({p0}):\n"
            '    """Return the {p0}-th Fibonacci number (0, 1, 1, 2, 3, 5, ...)."""\n'
            "    a, b = 0, 1\n"
            "    for _ in range(«off_by_one|{p0}|{p0} - 1»):\n"
            "        a, b = b, a «wrong_operator|+|*» b\n"
            "    return a\n"
        ),
        names=("fibonacci", "rabbit_pairs", "spiral_step", "growth"),
        params=(("n", "steps", "k"),),
        inputs=lambda rng: [rng.randint(2, 18)],
    ),
    Template(
        key="clamp",
        levels=(3, 4),
        source=(
            'def {fn}({p0}, {p1}, {p2}):\n    """Return {p0} limited to the range {p1}..{p2}."""\n'
            "    if {p0} «wrong_condition|<|>» {p1}:\n"
            "        return {p1}\n"
            "    if {p0} > {p2}:\n"
            "        return «wrong_variable|{p2}|{p0}»\n"
            "    return {p0}\n"
        ),
        names=("clamp", "bound", "limit_to", "squeeze"),
        params=(("x", "value", "level"), ("low", "floor", "lo"), ("high", "ceiling", "hi")),
        inputs=lambda rng: [
            rng.randint(-20, 40),
            (lo := rng.randint(-5, 5)),
            lo + rng.randint(5, 20),
        ],
    ),
    Template(
        key="run_length",
        levels=(4, 5),
        source=(
            "def {fn}({p0}):\n"
            '    """Return the runs of equal characters in {p0} as (character, length) pairs."""\n'
            "    out = []\n"
            "    if not {p0}:\n"
            "        return out\n"
            "    current, count = {p0}[0], «mutated_constant|1|0»\n"
            "    for ch in {p0}[1:]:\n"
            "        if ch «wrong_condition|==|!=» current:\n"
            "            count += 1\n"
            "        else:\n"
            "            out.append((current, count))\n"
            "            current, count = ch, 1\n"
            "    «missing_step|out.append((current, count))|pass»\n"
            "    return out\n"
        ),
        names=("run_lengths", "compress", "group_runs", "encode_runs"),
        params=(("text", "s", "signal"),),
        inputs=lambda rng: [
            "".join(rng.choice("ab") * rng.randint(1, 3) for _ in range(rng.randint(2, 5)))
        ],
    ),
    Template(
        key="second_largest",
        levels=(4, 5),
        source=(
            "def {fn}({p0}):\n"
            '    """Return the second-largest distinct value in {p0}, or None."""\n'
            "    first = second = None\n"
            "    for x in {p0}:\n"
            "        if first is None or x «wrong_condition|>|>=» first:\n"
            "            if x != first:\n"
            "                second = first\n"
            "            first = x\n"
            "        elif x «wrong_operator|!=|==» first and (second is None or x > second):\n"
            "            second = «wrong_variable|x|first»\n"
            "    return second\n"
        ),
        names=("runner_up", "second_best", "silver", "next_highest"),
        params=(("values", "scores", "items"),),
        inputs=lambda rng: [_ints(rng, rng.randint(4, 8), 0, 15)],
    ),
    Template(
        key="digit_checksum",
        levels=(4, 5),
        source=(
            'def {fn}({p0}):\n    """Return True if {p0} passes the Luhn checksum."""\n'
            "    total = 0\n"
            "    for i, ch in enumerate(reversed(str({p0}))):\n"
            "        d = int(ch)\n"
            "        if i % 2 «wrong_condition|==|!=» 1:\n"
            "            d *= «mutated_constant|2|3»\n"
            "            if d > 9:\n"
            "                d -= «mutated_constant|9|10»\n"
            "        total += d\n"
            "    return total % 10 «wrong_operator|==|!=» 0\n"
        ),
        names=("luhn_ok", "checksum_valid", "badge_valid", "card_check"),
        params=(("number", "code", "badge"),),
        inputs=lambda rng: [rng.choice((_luhn(rng), rng.randint(10_000, 999_999)))],
    ),
    Template(
        key="merge_sorted",
        levels=(5,),
        source=(
            "def {fn}({p0}, {p1}):\n"
            '    """Merge the sorted lists {p0} and {p1} into one sorted list."""\n'
            "    i = j = 0\n"
            "    out = []\n"
            "    while i < len({p0}) and j < len({p1}):\n"
            "        if {p0}[i] «wrong_condition|<=|>=» {p1}[j]:\n"
            "            out.append({p0}[i])\n"
            "            i += 1\n"
            "        else:\n"
            "            out.append({p1}[j])\n"
            "            j += «mutated_constant|1|2»\n"
            "    out.extend({p0}[i:])\n"
            "    out.extend({p1}[«off_by_one|j|j + 1»:])\n"
            "    return out\n"
        ),
        names=("merge", "zip_sorted", "combine_queues", "interleave_sorted"),
        params=(("left", "xs", "first"), ("right", "ys", "second")),
        inputs=lambda rng: [
            sorted(_ints(rng, rng.randint(2, 5), 0, 30)),
            sorted(_ints(rng, rng.randint(2, 5), 0, 30)),
        ],
    ),
)

BUGS_BY_LEVEL = {1: 1, 2: 1, 3: 1, 4: 2, 5: 3}
VISIBLE_CASES = {1: 3, 2: 3, 3: 4, 4: 4, 5: 5}
HIDDEN_CASES = 6
PAR_SECONDS = {1: 30.0, 2: 45.0, 3: 60.0, 4: 90.0, 5: 120.0}


def _luhn(rng: random.Random) -> int:
    digits = [rng.randint(0, 9) for _ in range(rng.randint(4, 7))]
    for check in range(10):
        number = int("".join(map(str, [*digits, check])))
        if _luhn_total(number) % 10 == 0:
            return number
    raise AssertionError("unreachable: one check digit always works")


def _luhn_total(number: int) -> int:
    total = 0
    for i, ch in enumerate(reversed(str(number))):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total


def render(template: Template, names: dict[str, str], broken: frozenset[int]) -> str:
    """Source with the markers numbered in ``broken`` rendered broken, the others correct."""
    counter = iter(range(1000))

    def pick(match: re.Match[str]) -> str:
        return match.group(3) if next(counter) in broken else match.group(2)

    return _MARKER.sub(pick, template.source).format(**names)


def markers(template: Template) -> list[str]:
    """Bug families of a template's markers, in order."""
    return [m.group(1) for m in _MARKER.finditer(template.source)]


def call_trusted(source: str, function: str, cases: Cases) -> list[Any]:
    """Outputs of OUR OWN generated source (never model output) in this process."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<mechanism>", "exec"), namespace)  # noqa: S102 - trusted template code
    func = namespace[function]
    outputs = []
    for args in cases:
        try:
            outputs.append(["ok", func(*args)])
        except Exception as exc:
            outputs.append(["raised", type(exc).__name__])
    return outputs


def sandbox_runner(
    source: str, function: str, cases: Cases
) -> tuple[str, list[CaseResult], dict[str, Any]]:
    report = run_function(source, function, cases, SandboxLimits())
    info = {"isolation": report.isolation, "sandbox_wall_s": report.wall_seconds}
    if report.output:
        info["output"] = report.output[:500]
    if report.detail:
        info["detail"] = report.detail
    return report.status, report.results, info


@register_room
class Mechanism(Room):
    """Fix a broken Python function so that it passes its tests (executed in a sandbox)."""

    id: ClassVar[str] = "mechanism-v2"
    name: ClassVar[str] = "Mechanism"
    Answer: ClassVar[type[BaseModel]] = MechanismAnswer

    def __init__(self, runner: Runner | None = None) -> None:
        self.runner: Runner = runner or sandbox_runner

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        rng = self.rng(seed, difficulty)
        candidates = [t for t in TEMPLATES if difficulty in t.levels]
        while True:
            template = rng.choice(candidates)
            families = markers(template)
            n_bugs = min(BUGS_BY_LEVEL[difficulty], len(families))
            broken = frozenset(rng.sample(range(len(families)), n_bugs))
            names = {"fn": rng.choice(template.names)}
            for i, options in enumerate(template.params):
                names[f"p{i}"] = rng.choice(options)
            if difficulty == 1:  # the plainest names: the docstring and the name say it all
                names = {"fn": template.names[0]}
                names.update({f"p{i}": options[0] for i, options in enumerate(template.params)})
            names.update({k: str(v) for k, v in template.constants(rng).items()})
            correct = render(template, names, frozenset())
            buggy = render(template, names, broken)
            visible = self._cases(rng, template, VISIBLE_CASES[difficulty])
            hidden = self._cases(rng, template, HIDDEN_CASES)
            want = call_trusted(correct, names["fn"], visible + hidden)
            got = call_trusted(buggy, names["fn"], visible)
            # every case must have a value, and the bug must show in the visible tests
            if all(o[0] == "ok" for o in want) and got != want[: len(visible)]:
                break
        expected = [value for _, value in want]
        prompt = self._prompt(names["fn"], buggy, visible, expected[: len(visible)], n_bugs)
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=prompt,
            solution=correct,
            par_seconds=PAR_SECONDS[difficulty],
            key=room_key(self.id, seed, difficulty),
            data={
                "template": template.key,
                "function": names["fn"],
                "names": names,
                "broken_markers": sorted(broken),
                "bug_families": [markers(template)[i] for i in sorted(broken)],
                "buggy_source": buggy,
                "visible_cases": visible,
                "hidden_cases": hidden,
                "expected": [encode_value(value) for value in expected],
            },
        )

    @staticmethod
    def _cases(rng: random.Random, template: Template, n: int) -> Cases:
        seen: list[list[Any]] = []
        for _ in range(n * 20):
            args = template.inputs(rng)
            if args not in seen:
                seen.append(args)
            if len(seen) == n:
                break
        return seen

    @staticmethod
    def _prompt(fn: str, buggy: str, cases: Cases, expected: list[Any], n_bugs: int) -> str:
        tests = "\n".join(
            f"assert {fn}({', '.join(map(repr, args))}) == {want!r}"
            for args, want in zip(cases, expected, strict=True)
        )
        bugs = "a bug" if n_bugs == 1 else f"{n_bugs} bugs"
        # Kept short: in a long conversation SmolLM2-135M answered v1's three sentences of
        # framing with prose and no code; with this wording it mostly writes a code block.
        return (
            f"The Mechanism room. This Python function has {bugs}:\n\n"
            f"```python\n{buggy}```\n\n"
            f"It must pass these tests:\n{tests}\n\n"
            f"Write the fixed function {fn} in a ```python code block."
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Verdict:
        fn = puzzle.data["function"]
        code = code_text(reply).strip()
        if not code:
            return Verdict(solved=False, parsed=None, reason="no code in the reply")
        if not re.search(rf"^\s*def\s+{re.escape(fn)}\s*\(", code, re.MULTILINE):
            return Verdict(solved=False, parsed=code, reason=f"no function named {fn} in the code")
        cases = puzzle.data["visible_cases"] + puzzle.data["hidden_cases"]
        status, results, info = self.runner(code, fn, cases)
        expected = puzzle.data["expected"]
        matches = [r.ok and r.value == e for r, e in zip(results, expected, strict=False)]
        passed = sum(matches) if status == "completed" else 0
        n_visible = len(puzzle.data["visible_cases"])
        details = {"passed": passed, "total": len(expected), "status": status, **info}
        if status != "completed":
            return Verdict(
                solved=False, parsed=code, reason=f"run ended: {status}", details=details
            )
        solved = passed == len(expected) and len(results) == len(expected)
        visible_ok = all(matches[:n_visible]) and len(matches) >= n_visible
        if solved:
            hidden = len(expected) - n_visible
            reason = f"passes all {len(expected)} tests ({n_visible} shown, {hidden} hidden)"
        elif visible_ok:
            reason = f"passes the shown tests but fails hidden ones ({passed}/{len(expected)})"
        else:
            reason = f"fails tests ({passed}/{len(expected)} pass)"
        return Verdict(solved=solved, parsed=code, reason=reason, details=details)

    def reference_reply(self, puzzle: Puzzle) -> str:
        template = next(t for t in TEMPLATES if t.key == puzzle.data["template"])
        fixed = render(template, puzzle.data["names"], frozenset())
        return f"The bug is fixed below.\n\n```python\n{fixed}```\n"

    def bluff(self, puzzle: Puzzle) -> str:
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        opener = rng.choice(
            (
                "I checked it carefully: the function is already correct; the tests are off.",
                "This is the fix, I verified every test by hand:",
                "Only the formatting was wrong. Here is the working version:",
            )
        )
        return f"{opener}\n\n```python\n{puzzle.data['buggy_source']}```\n"
