"""Mechanism: a broken Python function and its tests; the contestant returns the fixed function.

The fix is *executed* in the sandbox (``rooms/sandbox.py``) on the visible test inputs plus hidden
ones the model never sees; the parent compares the returned values, type-strict, against values
it computed from the correct source (or, where the docstring promises an exception, the raised
exception's type name). Exit codes and output of the child decide nothing.

Puzzles come from templates whose source carries bug markers ``«family|correct|broken»``; the
level decides how many markers are broken and which templates are used. Names, constants and
inputs are randomized per seed. The difficulty curve:

- L0: a one-line function with one flipped sign or comparison (add, subtract, negate,
  is_positive), plain names, 2 shown tests. (A hint naming the fixed line made SmolLM2-135M worse:
  it solved these one-liners 30 of 30 times without one and 16 of 45 with one, in matches.)
- L1: every one-liner (also constants, parity, min/max), 3 shown tests; L2-L3: one bug in a short
  loop or recursion;
  L4: 2 bugs, L5: up to 3 bugs (as many as the template has) in 5-14 line functions.
- L6-L10: 13-29 line functions with subtler families: state that leaks across calls (mutable
  defaults, a memo keyed on too little, a counter not reset per row), aliasing (``[[0] * w] * h``,
  ``b = a`` then mutating), off-by-one bounds, the wrong exception type, wrong defaults, ``//``
  for ``/`` and early returns. Cases run one after another in one process, as in real use, so
  leaked state shows. L6: 2 bugs (13-17 lines), L7: 2 bugs (18-29 lines), L8: 3 bugs (any),
  L9: 3 bugs with only 2 shown tests (the docstring is the spec), L10: 4 bugs, 2 shown tests, and
  the prompt does not say how many bugs there are. From L6 on, the generator proves that every
  partial fix (any non-empty set of the bugs left in) fails a shown or hidden test.
"""

from __future__ import annotations

import copy
import itertools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from rooms._sandbox_supervisor import UnsupportedValue, encode_value
from rooms.base import Judgement, Puzzle, Room, register_room, room_key, seed_for
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
    raises: tuple[str, ...] = ()
    """Exceptions (type names) the correct function may raise on generated inputs; a case whose
    correct outcome is one of these expects that exception."""


def _ints(rng: random.Random, n: int, lo: int = -9, hi: int = 20) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


BASIC_TEMPLATES: tuple[Template, ...] = (
    Template(
        key="add",
        levels=(0, 1, 2),
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
        levels=(0, 1),
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
        levels=(0, 1),
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
        levels=(0, 1),
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
            "    if {p0} <= «mutated_constant|1|2»:\n"
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
            "        if first is None or x > first:\n"
            "            if x != first:\n"
            "                second = «wrong_variable|first|x»\n"
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


# ---- levels 6-10: longer functions, subtler bug families, several bugs ------------------------
# The source is a whole function; every marker alone must change what some input returns (the
# generator proves it per puzzle on the shown and hidden cases). No marker variant can loop
# forever: the loops are ``for`` loops over bounded ranges and the recursion always descends.

_WORDS = ("ox", "Ox", "sun", "Sun", "moon", "MOON", "tree", "Tree", "apple", "stone", "Stone", "go")
_ITEMS = ("bolt", "gear", "nut", "pin", "spring", "valve")
_SETTING_KEYS = ("retries", "mode", "user", "port", "color")
_SETTING_WORDS = ("fast", "safe", "red", "blue", "ada", "x9")
_TEXT_WORDS = ("a", "to", "cat", "sky", "lamp", "river", "stone", "garden", "lantern")


def _tally_inputs(rng: random.Random) -> list[Any]:
    return [[rng.choice(_WORDS) for _ in range(rng.randint(2, 6))]]


def _climb_inputs(rng: random.Random) -> list[Any]:
    if rng.random() < 0.12:
        return rng.choice(([-rng.randint(1, 3)], [rng.randint(0, 9), 0]))
    stairs = rng.randint(0, 12)
    return [stairs] if rng.random() < 0.35 else [stairs, rng.randint(1, 4)]


def _grid_inputs(rng: random.Random) -> list[Any]:
    rows, cols = rng.randint(2, 4), rng.randint(2, 4)
    points = [
        [rng.randint(-1, rows), rng.randint(-1, cols)]
        if rng.random() < 0.35
        else [rng.randint(0, rows - 1), rng.randint(0, cols - 1)]
        for _ in range(rng.randint(2, 6))
    ]
    return [points, rows, cols]


def _summary_inputs(rng: random.Random) -> list[Any]:
    if rng.random() < 0.1:
        return [[]]
    return [_ints(rng, rng.randint(1, 7), -5, 30)]


def _order_inputs(rng: random.Random) -> list[Any]:
    items = rng.sample(_ITEMS, rng.randint(1, 4))
    order = {item: rng.randint(1, 4) for item in items}
    prices = {item: rng.randint(5, 95) for item in sorted(_ITEMS) if rng.random() < 0.6}
    prices.update({item: rng.randint(5, 95) for item in items})
    roll = rng.random()
    if roll < 0.08:
        order[items[-1]] = 0
    elif roll < 0.16:
        del prices[items[-1]]
    args: list[Any] = [order, dict(sorted(prices.items()))]
    if rng.random() < 0.5:
        args.append(rng.choice((5, 10, 15, 20, 25, 30, 50)))
    return args


def _window_inputs(rng: random.Random) -> list[Any]:
    size = rng.choice((0, -1)) if rng.random() < 0.1 else rng.randint(1, 4)
    return [_ints(rng, rng.randint(0, 7), -5, 20), size]


def _page_inputs(rng: random.Random) -> list[Any]:
    items = [rng.choice("abcdefghij") for _ in range(rng.choice((0, 3, 4, 6, 8, 9, 10)))]
    page = 0 if rng.random() < 0.08 else rng.randint(1, 4)
    if rng.random() < 0.5:
        return [items, page]
    return [items, page, 0 if rng.random() < 0.08 else rng.randint(1, 5)]


def _runs_inputs(rng: random.Random) -> list[Any]:
    rows = [[rng.randint(0, 2) for _ in range(rng.randint(0, 6))] for _ in range(rng.randint(1, 4))]
    return [rows]


def _config_line(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.12:
        return rng.choice(("", "   ", "# defaults below", "#port = 1"))
    if roll < 0.24:
        return rng.choice(("verbose", "debug", " = 3", "path = a=b", "expr=x=1", "url = h?q=1"))
    key = rng.choice(_SETTING_KEYS)
    value = str(rng.randint(0, 99)) if rng.random() < 0.5 else rng.choice(_SETTING_WORDS)
    return rng.choice(("{} = {}", "{}={}", "  {} =  {}")).format(key, value)


def _config_inputs(rng: random.Random) -> list[Any]:
    return [[_config_line(rng) for _ in range(rng.randint(1, 5))]]


def _histogram_inputs(rng: random.Random) -> list[Any]:
    bins, width, low = rng.randint(1, 4), rng.randint(1, 4), rng.randint(-5, 5)
    high = low + bins * width
    roll = rng.random()
    if roll < 0.06:
        high = low
    elif roll < 0.1:
        bins = 0
    values = [rng.randint(low - 2, high + 2) for _ in range(rng.randint(2, 7))]
    if rng.random() < 0.5:
        values.insert(rng.randint(0, len(values)), high)
    return [values, low, high, bins]


def _ledger_inputs(rng: random.Random) -> list[Any]:
    opening = rng.randint(0, 40) if rng.random() < 0.6 else None
    balance = opening or 0
    moves: list[list[Any]] = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(("in", "out", "out"))
        amount = rng.randint(1, 40)
        if kind == "out" and balance > 0 and rng.random() < 0.3:
            amount = balance  # an exact withdrawal: the balance may reach zero
        if kind == "in":
            balance += amount
        elif amount <= balance:
            balance -= amount
        moves.append([kind, amount])
    roll = rng.random()
    if roll < 0.06:
        moves.insert(rng.randint(0, len(moves)), ["fee", rng.randint(1, 9)])
    elif roll < 0.1:
        moves.insert(rng.randint(0, len(moves)), [rng.choice(("in", "out")), 0])
    return [moves] if opening is None else [moves, opening]


def _wrap_inputs(rng: random.Random) -> list[Any]:
    words = [rng.choice(_TEXT_WORDS) for _ in range(rng.randint(0, 6))]
    if len(words) >= 2 and rng.random() < 0.5:
        i = rng.randrange(len(words) - 1)
        width = len(words[i]) + 1 + len(words[i + 1])  # two words that fit exactly
    else:
        width = rng.randint(5, 12)
    text = "".join(word + rng.choice((" ", " ", "  ", "\n")) for word in words)
    return [text.rstrip() if rng.random() < 0.7 else text, width]


def _bookings_inputs(rng: random.Random) -> list[Any]:
    bookings: list[list[int]] = []
    hour = rng.randint(0, 6)
    for _ in range(rng.randint(1, 4)):
        start = hour + rng.choice((0, 0, 1, 2)) - (1 if rng.random() < 0.2 else 0)
        end = start + rng.randint(1, 4)
        bookings.append([max(start, 0), min(end, 24)])
        hour = end
    if rng.random() < 0.12:
        hour = rng.randint(1, 22)
        bookings.append(rng.choice(([hour, hour], [hour, hour], [20, 25], [-1, 3], [9, 8])))
    rng.shuffle(bookings)
    return [bookings]


HARD_TEMPLATES: tuple[Template, ...] = (
    Template(
        key="tally_words",
        levels=(6, 8),
        source=(
            "def {fn}({p0}, counts=«mutable_default|None|{{}}»):\n"
            '    """Count the items of {p0} (a list of words) that have at least {k} letters.\n'
            "\n"
            "    Case is ignored: return a dict mapping each counted word, in lower case, to how\n"
            "    often it occurs.\n"
            "    A dict passed as counts is updated and returned; without one, each call starts\n"
            "    from an empty dict.\n"
            '    """\n'
            "    if counts is None:\n"
            "        counts = {{}}\n"
            "    for word in {p0}:\n"
            "        word = word.«wrong_call|lower|strip»()\n"
            "        if len(word) «off_by_one|>=|>» {k}:\n"
            "            counts[word] = counts.get(word, «wrong_default|0|1») + 1\n"
            "    return counts\n"
        ),
        names=("tally_words", "word_counts", "count_terms", "vocabulary"),
        params=(("words", "tokens", "terms"),),
        inputs=_tally_inputs,
        constants=lambda rng: {"k": rng.randint(3, 4)},
    ),
    Template(
        key="climb_ways",
        levels=(7, 8, 9, 10),
        source=(
            "def {fn}({p0}, {p1}=«wrong_default|2|3», _memo={{}}):\n"
            '    """Return the number of ways to climb {p0} stairs taking 1 to {p1} stairs at a\n'
            "    time ({p1} is 2 unless given).\n"
            "\n"
            "    Orders count as different (1+2 and 2+1 are two ways), and there is exactly one\n"
            "    way to climb 0 stairs. Raise ValueError if {p0} is negative or {p1} is less\n"
            "    than 1. _memo caches results between calls.\n"
            '    """\n'
            "    if {p0} < 0 or {p1} «wrong_condition|<|<=» 1:\n"
            '        raise ValueError("stairs must be >= 0 and the stride >= 1")\n'
            "    key = «state|({p0}, {p1})|{p0}»\n"
            "    if key in _memo:\n"
            "        return _memo[key]\n"
            "    if {p0} == 0:\n"
            "        return 1\n"
            "    total = 0\n"
            "    for step in range(1, min({p0}, {p1})«off_by_one| + 1|»):\n"
            "        total += {fn}({p0} - step, {p1})\n"
            "    _memo[key] = total\n"
            "    return total\n"
        ),
        names=("climb_ways", "stair_paths", "count_climbs", "ways_up"),
        params=(("stairs", "n", "height"), ("stride", "max_step", "reach")),
        inputs=_climb_inputs,
        raises=("ValueError",),
    ),
    Template(
        key="grid_counts",
        levels=(6, 8),
        source=(
            "def {fn}({p0}, {p1}, {p2}):\n"
            '    """Count the [row, col] points of {p0} per cell of a {p1} x {p2} grid.\n'
            "\n"
            "    Rows and columns are numbered from 0. Return (grid, outside): grid is a list\n"
            "    of {p1} independent row lists of {p2} counts, and outside is the number of\n"
            "    points that fall off the grid.\n"
            '    """\n'
            "    grid = «aliasing|[[0] * {p2} for _ in range({p1})]|[[0] * {p2}] * {p1}»\n"
            "    outside = 0\n"
            "    for row, col in {p0}:\n"
            "        if 0 <= row «off_by_one|<|<=» {p1} and 0 «off_by_one|<=|<» col < {p2}:\n"
            "            grid[row][col] += 1\n"
            "        else:\n"
            "            outside «wrong_operator|+=|=» 1\n"
            "    return grid, outside\n"
        ),
        names=("grid_counts", "bin_points", "heat_map", "cell_tally"),
        params=(
            ("points", "hits", "marks"),
            ("rows", "height", "n_rows"),
            ("cols", "width", "n_cols"),
        ),
        inputs=_grid_inputs,
    ),
    Template(
        key="summary",
        levels=(7, 8, 9, 10),
        source=(
            "def {fn}({p0}):\n"
            '    """Summarise {p0}, a list of int readings, without changing the list.\n'
            "\n"
            '    Return a dict: "first" is the first reading as given, "median" the middle\n'
            "    reading in sorted order (for an even count, the mean of the two middle readings,\n"
            '    as a float) and "range" the largest reading minus the smallest. Raise\n'
            "    ValueError if {p0} is empty.\n"
            '    """\n'
            "    if not {p0}:\n"
            '        raise «wrong_exception|ValueError|IndexError»("no readings")\n'
            "    ordered = «aliasing|list({p0})|{p0}»\n"
            "    ordered.sort()\n"
            "    n = len(ordered)\n"
            "    mid = n // 2\n"
            "    if n % 2 «wrong_condition|==|!=» 1:\n"
            "        median = ordered[mid]\n"
            "    else:\n"
            "        median = (ordered[mid - 1] + ordered[mid]) «int_division|/|//» 2\n"
            "    return {{\n"
            '        "first": {p0}[0],\n'
            '        "median": median,\n'
            '        "range": ordered[-1] - ordered[«off_by_one|0|1»],\n'
            "    }}\n"
        ),
        names=("summarise", "describe", "reading_stats", "profile"),
        params=(("readings", "samples", "values"),),
        inputs=_summary_inputs,
        raises=("ValueError",),
    ),
    Template(
        key="order_total",
        levels=(6, 8),
        source=(
            "def {fn}({p0}, {p1}, {p2}=«wrong_default|0|10»):\n"
            '    """Return the price in cents of {p0}, an order mapping item -> quantity, with\n'
            "    {p2} percent off ({p2} is 0 unless given).\n"
            "\n"
            "    {p1} maps each item to its price in cents. The discounted total is rounded\n"
            "    down to whole cents. Raise ValueError for an item of {p0} that has no price\n"
            "    or a quantity below 1.\n"
            '    """\n'
            "    total = 0\n"
            "    for item, qty in {p0}.items():\n"
            "        if item not in {p1}:\n"
            '            raise «wrong_exception|ValueError|KeyError»(f"no price for {{item}}")\n'
            "        if qty «off_by_one|<|<=» 1:\n"
            '            raise ValueError(f"bad quantity for {{item}}")\n'
            "        total += {p1}[item] * qty\n"
            "«early_return|    |        »return total * (100 - {p2}) «int_division|//|/» 100\n"
        ),
        names=("order_total", "invoice_cents", "checkout", "bill"),
        params=(
            ("order", "basket", "cart"),
            ("prices", "price_list", "catalog"),
            ("discount", "percent_off", "rebate"),
        ),
        inputs=_order_inputs,
        raises=("ValueError",),
    ),
    Template(
        key="window_means",
        levels=(6, 8),
        source=(
            "def {fn}({p0}, {p1}):\n"
            '    """Return the mean of every run of {p1} consecutive numbers in the list {p0},\n'
            "    in order, as floats.\n"
            "\n"
            "    A list of n values has n - {p1} + 1 such runs (none when n < {p1}). Raise\n"
            "    ValueError if {p1} is less than 1.\n"
            '    """\n'
            "    if {p1} «wrong_condition|<|<=» 1:\n"
            '        raise «wrong_exception|ValueError|IndexError»("window must be at least 1")\n'
            "    means = []\n"
            "    for start in range(len({p0}) - {p1}«off_by_one| + 1|»):\n"
            "        window = {p0}[start:start + {p1}«off_by_one|| - 1»]\n"
            "        means.append(sum(window) «int_division|/|//» {p1})\n"
            "    return means\n"
        ),
        names=("window_means", "moving_average", "smooth", "rolling_mean"),
        params=(("values", "series", "readings"), ("size", "width", "span")),
        inputs=_window_inputs,
        raises=("ValueError",),
    ),
    Template(
        key="paginate",
        levels=(6, 8),
        source=(
            "def {fn}({p0}, {p1}, {p2}=«wrong_default|4|3»):\n"
            '    """Cut the list {p0} into pages of {p2} items ({p2} is 4 unless given) and\n'
            "    return (chunk, pages): the items on page number {p1} (pages are counted from 1)\n"
            "    and the total number of pages.\n"
            "\n"
            "    The last page may be shorter, a page past the end is [], and an empty list has\n"
            "    0 pages. Raise ValueError if {p1} or {p2} is less than 1.\n"
            '    """\n'
            "    if {p1} < 1 or {p2} «wrong_condition|<|<=» 1:\n"
            '        raise «wrong_exception|ValueError|IndexError»("page and size must be >= 1")\n'
            "    pages = (len({p0}) + {p2}«off_by_one| - 1|») // {p2}\n"
            "    start = («off_by_one|{p1} - 1|{p1}») * {p2}\n"
            "    return {p0}[start:start + {p2}], pages\n"
        ),
        names=("paginate", "page_of", "show_page", "slice_page"),
        params=(
            ("items", "rows", "entries"),
            ("page", "number", "page_no"),
            ("size", "per_page", "page_size"),
        ),
        inputs=_page_inputs,
        raises=("ValueError",),
    ),
    Template(
        key="longest_runs",
        levels=(7, 8, 9, 10),
        source=(
            "def {fn}({p0}):\n"
            '    """Return, for each row of {p0}, the length of its longest run of equal adjacent\n'
            "    items.\n"
            "\n"
            "    {p0} is a list of rows (lists of ints); an empty row gives 0.\n"
            '    """\n'
            "    out = []\n"
            "«state|    for row in {p0}:\n        best = run = 0|"
            "    best = run = 0\n    for row in {p0}:»\n"
            "        previous = None\n"
            "        for item in row:\n"
            "            if item «wrong_condition|==|!=» previous:\n"
            "                run += 1\n"
            "            else:\n"
            "                run = «off_by_one|1|0»\n"
            "            previous = item\n"
            "            best = max(best, run)\n"
            "        out.append(best)\n"
            "«early_return|    |        »return out\n"
        ),
        names=("longest_runs", "streaks", "max_repeats", "run_lengths"),
        params=(("rows", "table", "lines"),),
        inputs=_runs_inputs,
    ),
    Template(
        key="parse_settings",
        levels=(7, 8, 9, 10),
        source=(
            'def {fn}({p0}, base={{"retries": {k}, "mode": "safe"}}):\n'
            '    """Parse {p0}, a list of "key = value" lines, into a new settings dict that\n'
            "    starts as a copy of base; base itself is never changed.\n"
            "\n"
            '    Blank lines and lines starting with "#" are skipped. The first "=" of a line\n'
            "    separates its key from its value; both are stripped of spaces, and a value made\n"
            '    only of digits becomes an int. Raise ValueError for a line without "=" or with\n'
            "    an empty key.\n"
            '    """\n'
            "    settings = «aliasing|dict(base)|base»\n"
            "    for line in {p0}:\n"
            "        line = line.strip()\n"
            '        if not line or line.startswith("#"):\n'
            "            «early_return|continue|break»\n"
            '        if "=" not in line:\n'
            '            raise «wrong_exception|ValueError|KeyError»(f"no = in {{line!r}}")\n'
            '        key, value = line.split("=", «off_by_one|1|2»)\n'
            "        key, value = key.strip(), value.strip()\n"
            "        if not key:\n"
            '            raise ValueError(f"empty key in {{line!r}}")\n'
            "        digits = value.«wrong_call|isdigit|isalnum»()\n"
            "        settings[key] = int(value) if digits else value\n"
            "    return settings\n"
        ),
        names=("parse_settings", "read_config", "load_options", "settings_from"),
        params=(("lines", "text_lines", "config"),),
        inputs=_config_inputs,
        constants=lambda rng: {"k": rng.randint(2, 5)},
        raises=("ValueError",),
    ),
    Template(
        key="histogram",
        levels=(6, 8),
        source=(
            "def {fn}({p0}, {p1}, {p2}, {p3}):\n"
            '    """Count the numbers in {p0} per bin of {p3} equal-width bins from {p1} to {p2}.\n'
            "\n"
            "    With w = ({p2} - {p1}) / {p3}, bin i (from 0) holds the values v with\n"
            "    {p1} + i * w <= v < {p1} + (i + 1) * w, and {p2} itself goes in the last bin.\n"
            "    Values below {p1} or above {p2} are ignored. Return the list of {p3} counts.\n"
            "    Raise ValueError if {p3} is less than 1 or {p2} <= {p1}.\n"
            '    """\n'
            "    if {p3} < 1 or {p2} «wrong_condition|<=|<» {p1}:\n"
            '        raise ValueError("need at least one bin and a non-empty range")\n'
            "    counts = [0] * {p3}\n"
            "    for v in {p0}:\n"
            "        if v < {p1} or v «off_by_one|>|>=» {p2}:\n"
            "            «early_return|continue|break»\n"
            "        i = (v - {p1}) * {p3} «int_division|//|/» ({p2} - {p1})\n"
            "        counts[«off_by_one|min(i, {p3} - 1)|i»] += 1\n"
            "    return counts\n"
        ),
        names=("histogram", "bin_counts", "bucketize", "band_counts"),
        params=(
            ("values", "samples", "data"),
            ("low", "lo", "start"),
            ("high", "hi", "stop"),
            ("bins", "n_bins", "buckets"),
        ),
        inputs=_histogram_inputs,
        raises=("ValueError",),
    ),
    Template(
        key="ledger",
        levels=(7, 8, 9, 10),
        source=(
            "def {fn}({p0}, {p1}=«wrong_default|0|100», history=«mutable_default|None|[]»):\n"
            '    """Apply {p0}, a list of transactions, to an account that opens with {p1}\n'
            "    cents ({p1} is 0 unless given).\n"
            "\n"
            '    Each transaction is [kind, amount]: kind "in" adds amount, "out" takes it away.\n'
            '    An "out" that would leave the balance below zero is refused and skipped, and\n'
            "    the next transaction is applied. Return (balance, refused, history): the final\n"
            '    balance, how many "out"s were refused, and history, the list passed as history\n'
            "    (a new list when none is passed) with the balance after each accepted\n"
            "    transaction appended. Raise ValueError for any other kind or an amount below 1.\n"
            '    """\n'
            "    if history is None:\n"
            "        history = []\n"
            "    balance = {p1}\n"
            "    refused = 0\n"
            "    for kind, amount in {p0}:\n"
            "        if amount < 1:\n"
            '            raise ValueError(f"bad amount {{amount}}")\n'
            '        if kind == "in":\n'
            "            balance += amount\n"
            '        elif kind == "out":\n'
            "            if balance - amount «off_by_one|<|<=» 0:\n"
            "                refused += 1\n"
            "                «early_return|continue|break»\n"
            "            balance -= amount\n"
            "        else:\n"
            '            raise «wrong_exception|ValueError|KeyError»(f"unknown kind {{kind}}")\n'
            "        history.append(balance)\n"
            "    return balance, refused, history\n"
        ),
        names=("ledger", "apply_transactions", "run_account", "post_entries"),
        params=(("transactions", "entries", "moves"), ("opening", "start", "initial")),
        inputs=_ledger_inputs,
        raises=("ValueError",),
    ),
    Template(
        key="wrap_words",
        levels=(7, 8, 9, 10),
        source=(
            "def {fn}({p0}, {p1}):\n"
            '    """Wrap the words of {p0} into lines of at most {p1} characters.\n'
            "\n"
            "    Words are separated by any whitespace in {p0} and keep their order; the words\n"
            "    of a line are joined by one space. Each word goes on the current line if it\n"
            "    fits there, else it starts a new line (so a word longer than {p1} gets a line\n"
            "    of its own). Return the list of lines ([] when {p0} has no words).\n"
            '    """\n'
            "    lines = []\n"
            '    current = ""\n'
            "    for word in {p0}.split():\n"
            "        if not current:\n"
            "            current = word\n"
            "        elif len(current) + 1 + len(word) «off_by_one|<=|<» {p1}:\n"
            '            current += «missing_step|" " + word|word»\n'
            "        else:\n"
            "            lines.append(current)\n"
            '            current = «wrong_variable|word|""»\n'
            "    if current:\n"
            "        «missing_step|lines.append(current)|pass»\n"
            "    return lines\n"
        ),
        names=("wrap_words", "wrap_text", "fill_lines", "reflow"),
        params=(("text", "paragraph", "message"), ("width", "limit", "columns")),
        inputs=_wrap_inputs,
    ),
    Template(
        key="bookings",
        levels=(7, 8, 9, 10),
        source=(
            "def {fn}({p0}):\n"
            '    """Check a day of bookings: {p0} is a list of [start, end] hours.\n'
            "\n"
            "    Return the total booked hours when no two bookings overlap (bookings that only\n"
            "    touch, like [9, 10] and [10, 12], do not overlap), or -1 when two overlap.\n"
            "    An empty list books 0 hours. First of all, raise ValueError if any booking\n"
            "    breaks 0 <= start < end <= 24.\n"
            '    """\n'
            "    for start, end in {p0}:\n"
            "        if not 0 <= start «wrong_condition|<|<=» end <= 24:\n"
            '            raise «wrong_exception|ValueError|IndexError»(f"bad {{start}}-{{end}}")\n'
            "    ordered = sorted({p0})\n"
            "    total = 0\n"
            "    for i, (start, end) in enumerate(ordered):\n"
            "        if i > 0 and start «off_by_one|<|<=» ordered[i - 1][1]:\n"
            "            return -1\n"
            "        total += end - start\n"
            "«early_return|    |        »return total\n"
        ),
        names=("booked_hours", "check_bookings", "schedule_hours", "room_usage"),
        params=(("bookings", "slots", "meetings"),),
        inputs=_bookings_inputs,
        raises=("ValueError",),
    ),
)

TEMPLATES: tuple[Template, ...] = BASIC_TEMPLATES + HARD_TEMPLATES

BUGS_BY_LEVEL = {0: 1, 1: 1, 2: 1, 3: 1, 4: 2, 5: 3, 6: 2, 7: 2, 8: 3, 9: 3, 10: 4}
VISIBLE_CASES = {0: 2, 1: 3, 2: 3, 3: 4, 4: 4, 5: 5, 6: 4, 7: 4, 8: 4, 9: 2, 10: 2}
HIDDEN_CASES = {level: 6 if level <= 5 else 8 for level in BUGS_BY_LEVEL}
PAR_SECONDS = {
    0: 20.0, 1: 30.0, 2: 45.0, 3: 60.0, 4: 90.0, 5: 120.0,
    6: 180.0, 7: 240.0, 8: 300.0, 9: 360.0, 10: 480.0,
}  # fmt: skip
STRICT_FROM = 6
"""From this level on every broken marker is proved to be caught (see ``_every_bug_caught``),
cases may expect an exception, and the bluff is a partial fix."""
STATED_BUG_COUNT_UNTIL = 9
"""Level 10's prompt does not say how many bugs there are."""
MAX_RAISING_SHARE = 3
"""At most one case in this many may expect an exception (the rest return values)."""
MAX_ATTEMPTS = 2000
RAISES = "raises"
"""Tag of an expected exception, ``["raises", "ValueError"]``: never a tag of ``encode_value``."""


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


def call_trusted(source: str, function: str, cases: Cases) -> list[list[Any]]:
    """Outcomes of OUR OWN generated source (never model output) in this process.

    Like the sandbox, the cases run one after another on one function object (state left by one
    call is seen by the next), each on its own deep copy of the arguments (a function that
    mutates its input never changes the stored cases), and each return value is copied at once
    (a later call cannot change what an earlier one returned). Each outcome is ``["ok", value]``
    or ``["raised", exception type name]``.
    """
    namespace: dict[str, Any] = {}
    exec(compile(source, "<mechanism>", "exec"), namespace)  # noqa: S102 - trusted template code
    func = namespace[function]
    outputs: list[list[Any]] = []
    for args in cases:
        try:
            outputs.append(["ok", copy.deepcopy(func(*copy.deepcopy(args)))])
        except Exception as exc:
            outputs.append(["raised", type(exc).__name__])
    return outputs


def expected_entry(outcome: list[Any]) -> Any:
    """A ``call_trusted`` outcome as the validator stores it: the ``encode_value`` of a returned
    value, or ``["raises", name]`` for an exception (a value that cannot be encoded fails in the
    sandbox, so it counts as raising ``UnsupportedValue``)."""
    kind, value = outcome
    if kind != "ok":
        return [RAISES, value]
    try:
        return encode_value(value)
    except UnsupportedValue:
        return [RAISES, UnsupportedValue.__name__]


def is_raises(entry: Any) -> bool:
    """Whether an expected entry is an exception (``["raises", name]``)."""
    return isinstance(entry, list) and len(entry) == 2 and entry[0] == RAISES


def exception_name(error: str | None) -> str:
    """The exception type name at the start of a sandbox error (``"ValueError: msg"``)."""
    return (error or "").split(":", 1)[0].strip()


def result_matches(result: CaseResult, expected: Any) -> bool:
    """One case passes: it returned exactly the expected value (type-strict), or, when an
    exception is expected, it raised one of that type name."""
    if is_raises(expected):
        return not result.ok and exception_name(result.error) == expected[1]
    return result.ok and result.value == expected


def raised_note(error: str) -> str:
    """Why a shown case failed, for the judgement: the exception it raised (an import the
    sandbox does not offer said as such)."""
    text = " ".join(error.split())[:200]
    if "ModuleNotFoundError" in text or "ImportError" in text:
        return f"it could not import a module: {text} (the sandbox does not offer it)"
    return f"a shown test raised {text}"


def outcomes(source: str, function: str, cases: Cases) -> list[Any]:
    """Expected entries of trusted source on the cases (see ``expected_entry``)."""
    return [expected_entry(o) for o in call_trusted(source, function, cases)]


def _every_bug_caught(
    template: Template, names: dict[str, str], broken: frozenset[int], cases: Cases, want: list[Any]
) -> bool:
    """True when every source that leaves any non-empty part of ``broken`` broken (the other
    markers correct) fails at least one case: no partial fix passes, and each bug alone shows."""
    ordered = sorted(broken)
    for size in range(1, len(ordered) + 1):
        for subset in itertools.combinations(ordered, size):
            source = render(template, names, frozenset(subset))
            if outcomes(source, names["fn"], cases) == want:
                return False
    return True


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


@dataclass(frozen=True)
class _Draft:
    """One candidate puzzle: a template with names, broken markers, cases and expected entries."""

    template: Template
    names: dict[str, str]
    broken: frozenset[int]
    correct: str
    buggy: str
    visible: Cases
    hidden: Cases
    expected: list[Any]
    shown: list[list[Any]]
    """The correct function's outcomes on the visible cases (for the prompt's tests)."""


@register_room
class Mechanism(Room):
    """Fix a broken Python function so that it passes its tests (executed in a sandbox)."""

    id: ClassVar[str] = "mechanism-v3"
    name: ClassVar[str] = "Mechanism"
    Answer: ClassVar[type[BaseModel]] = MechanismAnswer
    level_notes: ClassVar[dict[int, str]] = {
        0: "a one-line function with one flipped sign or comparison, plain names, 2 tests",
        1: "a one-line function with one flipped operator, plain names",
        2: "one bug (operator, constant or loop bound) in a 3-7 line function",
        3: "one bug in a short loop or recursion (sum, max, factorial, Fibonacci)",
        4: "2 bugs in a 5-14 line function (clamp, run lengths, Luhn, second largest)",
        5: "up to 3 bugs in a 6-14 line function (merge, Luhn, run lengths), 5 shown tests",
        6: "2 bugs in a 13-17 line function: aliasing, state, off-by-one, wrong exception",
        7: "2 bugs in an 18-29 line function (mutable defaults, memo keys, parsing, ledgers)",
        8: "3 bugs in a 13-29 line function",
        9: "3 bugs in an 18-29 line function, 2 shown tests: the docstring is the spec",
        10: "4 bugs, their number unstated, in an 18-29 line function, 2 shown tests",
    }

    def __init__(self, runner: Runner | None = None) -> None:
        self.runner: Runner = runner or sandbox_runner

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        rng = self.rng(seed, difficulty)
        candidates = [t for t in TEMPLATES if difficulty in t.levels]
        template = rng.choice(candidates)  # drawn once: every template equally likely
        for _ in range(MAX_ATTEMPTS):
            draft = self._draft(rng, template, difficulty)
            if draft is not None:
                break
        else:  # pragma: no cover - the tests generate every level on many seeds
            raise RuntimeError(f"no {self.id} puzzle for seed {seed} at level {difficulty}")
        fn = draft.names["fn"]
        prompt = self._prompt(
            fn, draft.buggy, draft.visible, draft.shown, len(draft.broken), difficulty
        )
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=prompt,
            solution=draft.correct,
            par_seconds=PAR_SECONDS[difficulty],
            key=room_key(self.id, seed),
            data={
                "template": draft.template.key,
                "function": fn,
                "names": draft.names,
                "broken_markers": sorted(draft.broken),
                "bug_families": [markers(draft.template)[i] for i in sorted(draft.broken)],
                "buggy_source": draft.buggy,
                "visible_cases": draft.visible,
                "hidden_cases": draft.hidden,
                "expected": draft.expected,
            },
        )

    def _draft(self, rng: random.Random, template: Template, difficulty: int) -> _Draft | None:
        """Draw names, bugs and cases for one template; None when the draw does not qualify
        (a case without an allowed outcome, no shown test failing, or a bug no test catches)."""
        families = markers(template)
        n_bugs = min(BUGS_BY_LEVEL[difficulty], len(families))
        broken = frozenset(rng.sample(range(len(families)), n_bugs))
        names = {"fn": rng.choice(template.names)}
        for i, options in enumerate(template.params):
            names[f"p{i}"] = rng.choice(options)
        if difficulty <= 1:  # the plainest names: the docstring and the name say it all
            names = {"fn": template.names[0]}
            names.update({f"p{i}": options[0] for i, options in enumerate(template.params)})
        names.update({k: str(v) for k, v in template.constants(rng).items()})
        correct = render(template, names, frozenset())
        buggy = render(template, names, broken)
        visible = self._cases(rng, template, VISIBLE_CASES[difficulty])
        hidden = self._cases(rng, template, HIDDEN_CASES[difficulty])
        raw = call_trusted(correct, names["fn"], visible + hidden)
        want = [expected_entry(outcome) for outcome in raw]
        got = outcomes(buggy, names["fn"], visible)
        raising = [e for e in want if is_raises(e)]
        if any(e[1] not in template.raises for e in raising):
            return None  # every case must return a value or raise a promised exception
        if got == want[: len(visible)]:
            return None  # the bug must show in the shown tests
        if len(broken) > 1 and not _every_bug_caught(
            template, names, broken, visible + hidden, want
        ):
            return None  # every bug must matter: no partial fix may pass (levels 4-10)
        if difficulty >= STRICT_FROM:
            if len(raising) * MAX_RAISING_SHARE > len(want):
                return None
            if all(is_raises(e) for e in want[: len(visible)]):
                return None  # at least one shown test returns a value
        shown = raw[: len(visible)]
        return _Draft(template, names, broken, correct, buggy, visible, hidden, want, shown)

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
    def _prompt(
        fn: str,
        buggy: str,
        cases: Cases,
        shown: list[list[Any]],
        n_bugs: int,
        difficulty: int,
    ) -> str:
        tests = "\n".join(
            _test_line(fn, args, outcome) for args, outcome in zip(cases, shown, strict=True)
        )
        if difficulty < STRICT_FROM:
            bugs = "a bug" if n_bugs == 1 else f"{n_bugs} bugs"
            # Kept short: in a long conversation SmolLM2-135M answered v1's three sentences of
            # framing with prose and no code; with this wording it mostly writes a code block.
            return (
                f"The Mechanism room. This Python function has {bugs}:\n\n"
                f"```python\n{buggy}```\n\n"
                f"It must pass these tests:\n{tests}\n\n"
                f"Write the fixed function {fn} in a ```python code block."
            )
        bugs = f"{n_bugs} bugs" if difficulty <= STATED_BUG_COUNT_UNTIL else "bugs"
        return (
            f"The Mechanism room. This Python function has {bugs}:\n\n"
            f"```python\n{buggy}```\n\n"
            "Fix it so that it does exactly what its docstring says. It is checked on these "
            "tests, run one after another in one process, and then on hidden ones:\n"
            f"{tests}\n\n"
            f"Write the fixed function {fn} in a ```python code block."
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Judgement:
        fn = puzzle.data["function"]
        code = code_text(reply).strip()
        if not code:
            return Judgement(solved=False, parsed=None, reason="no code in the reply")
        if not re.search(rf"^\s*def\s+{re.escape(fn)}\s*\(", code, re.MULTILINE):
            return Judgement(
                solved=False, parsed=code, reason=f"no function named {fn} in the code"
            )
        cases = puzzle.data["visible_cases"] + puzzle.data["hidden_cases"]
        status, results, info = self.runner(code, fn, cases)
        expected = puzzle.data["expected"]
        matches = [result_matches(r, e) for r, e in zip(results, expected, strict=False)]
        passed = sum(matches) if status == "completed" else 0
        n_visible = len(puzzle.data["visible_cases"])
        details = {"passed": passed, "total": len(expected), "status": status, **info}
        if status != "completed":
            return Judgement(
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
        raised = [r.error for r, ok in zip(results[:n_visible], matches, strict=False)
                  if not ok and not r.ok and r.error]  # fmt: skip
        if raised:  # a shown case's error (a hidden one's could tell its input)
            reason += f"; {raised_note(raised[0])}"
        return Judgement(solved=solved, parsed=code, reason=reason, details=details)

    def reference_reply(self, puzzle: Puzzle) -> str:
        template = _template(puzzle.data["template"])
        fixed = render(template, puzzle.data["names"], frozenset())
        return f"The bug is fixed below.\n\n```python\n{fixed}```\n"

    def bluff(self, puzzle: Puzzle) -> str:
        """The buggy source presented as correct; from level 6 on, a partial fix (all bugs but
        one fixed), which the generator proved fails a test."""
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        broken = puzzle.data["broken_markers"]
        if puzzle.difficulty >= STRICT_FROM and len(broken) > 1:
            left = frozenset({rng.choice(broken)})
            code = render(_template(puzzle.data["template"]), puzzle.data["names"], left)
            opener = rng.choice(
                (
                    "Found and fixed every bug; I traced all the tests by hand:",
                    "Fixed. The remaining code is correct as it stands:",
                    "Here is the corrected function, checked against the docstring line by line:",
                )
            )
            return f"{opener}\n\n```python\n{code}```\n"
        opener = rng.choice(
            (
                "I checked it carefully: the function is already correct; the tests are off.",
                "This is the fix, I verified every test by hand:",
                "Only the formatting was wrong. Here is the working version:",
            )
        )
        return f"{opener}\n\n```python\n{puzzle.data['buggy_source']}```\n"


def _template(key: str) -> Template:
    return next(t for t in TEMPLATES if t.key == key)


def _test_line(fn: str, args: list[Any], outcome: list[Any]) -> str:
    """One shown test: an assert on the returned value, or ``pytest.raises`` for an exception."""
    call = f"{fn}({', '.join(map(repr, args))})"
    kind, value = outcome
    if kind != "ok":
        return f"with pytest.raises({value}): {call}"
    return f"assert {call} == {value!r}"
