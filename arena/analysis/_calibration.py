"""Calibration: per room, the level at which the baseline solves about ``target`` of its puzzles.

A paired test gets its power from discordant pairs, and a quant's lost skill shows most where
the baseline solves a room about half the time (see the README's power argument). So before any
candidate plays, the baseline plays solo runs on calibration seeds (never the measurement seeds),
and each room's level is searched on its own, all rooms at once (one run plays one level per room):

- **Search**: Kesten's accelerated stochastic approximation, a staircase with shrinking steps.
  Every room keeps a continuous position ``x`` (it plays ``round(x)``); after each run it moves by
  ``step / (1 + reversals) * (solved - target)``: up after a solve, down after a miss, by amounts
  that balance exactly where the solve rate is ``target``, with the step shrinking each time the
  direction changes. It walks from level 3 to 0 or to 10 in a few runs and then settles.
- **Choice**: a logistic curve of solve probability against level is fitted to every play of the
  room (maximum a posteriori, with a weak prior so that three plays give a sensible curve), and the
  played level whose fitted probability is closest to ``target`` is chosen.
- **No signal**: a room (almost) never solved at level 0, or (almost) always solved at its hardest
  level (at most 5 % otherwise, over ``dead_after`` plays or more) is reported as "no signal for
  this model" instead of being scored silently; verdicts leave such rooms out and say so.
- **Context window**: a level whose prompt (estimated tokens, plus a 25 % tokenizer margin) would
  take more than half the endpoint's window is never played; the rest is left for the
  conversation around it.

"Solved" is the first answer's verdict, as in the paired verdicts. A room whose call failed
(endpoint error) is no observation at all. The functions here are pure: the scheduler replays the
staircase from the stored calibration runs, so a restart continues where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import minimize

from arena.engine import TOKEN_MARGIN, profiles
from rooms import ROOM_ORDER, load_rooms
from rooms.base import MAX_DIFFICULTY, MIN_DIFFICULTY

METHOD: Final = "staircase-v1"
"""Version of the search and choice rules (a calibration records the method it used)."""
DEFAULT_TARGET: Final = 0.6
"""The baseline's solve rate aimed for in every room (see the README for why 0.6)."""
WINDOW_SHARE: Final = 0.5
"""A room's prompt may take at most this share of the context window."""
DEFAULT_CONTEXT: Final = 8192
"""The window assumed when the endpoint's is not stated."""

NO_SIGNAL_PREFIX: Final = "no signal for this model: "
"""How every no-signal reason starts (views may show the rest alone)."""

Observation = tuple[int, bool]
"""One play of one room: (level, first answer solved)."""
Run = Mapping[str, Observation | None]
"""One calibration run: room id -> its observation (None: the call failed, no observation)."""


class CalibrationConfig(BaseModel):
    """How a calibration searches (part of its identity: a changed config is a new
    calibration)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    target: float = Field(DEFAULT_TARGET, gt=0.05, lt=0.95)
    """The solve rate aimed for in every room."""
    runs: int = Field(32, ge=4, le=400)
    """Calibration runs (solo matches, one seed each) before the profile is chosen."""
    start_level: int = Field(3, ge=MIN_DIFFICULTY, le=MAX_DIFFICULTY)
    """Where every room's search starts."""
    step: float = Field(6.0, gt=0, le=20)
    """Kesten's step constant: the first move is ``step * |solved - target|`` levels."""
    min_step: float = Field(1.5, gt=0, le=20)
    """The step never shrinks below this, so the search keeps playing the levels around the
    target (the fitted curve needs them) instead of freezing on one."""
    dead_after: int = Field(4, ge=1, le=100)
    """Plays at the easiest (hardest) level needed before a room can be called "no signal"."""
    silent_rate: float = Field(0.05, ge=0, lt=0.5)
    """A room solved at most this often at its easiest level (or missed at most this often at
    its hardest) has no signal for the model."""
    context_tokens: int = Field(DEFAULT_CONTEXT, ge=256)
    """The endpoint's context window, in tokens (levels whose prompt would not fit are skipped)."""
    rooms: tuple[str, ...] = ROOM_ORDER
    """The rooms calibrated, in play order."""
    retries: int = Field(1, ge=0, le=5)
    """Retries per room in the calibration runs (they decide which keys the Warden can use)."""


@dataclass(frozen=True)
class RoomState:
    """Where one room's search stands."""

    x: float
    """The continuous position; the room plays ``level``."""
    reversals: int
    """How often the direction changed (the step shrinks with it)."""
    last_sign: int
    """+1 after a solve, -1 after a miss, 0 before any play."""

    @property
    def level(self) -> int:
        return math.floor(self.x + 0.5)


class NoSignal(BaseModel):
    """A room whose solve rate cannot be brought near the target for this model."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    room_id: str
    """The room."""
    level: int
    """The level it is left at (the easiest or the hardest playable one)."""
    solved: int
    """First answers solved at that level."""
    played: int
    """Plays at that level."""
    reason: str
    """For people, e.g. ``no signal for this model: solved 0 of 6 at level 0 (the easiest)``."""


class CalibrationResult(BaseModel):
    """What a calibration found (``python -m arena calibrate --json`` writes this)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    profile: dict[str, int]
    """Room id -> the chosen level."""
    solve_rates: dict[str, dict[str, list[int]]]
    """Room id -> level -> ``[solved, played]`` over the calibration runs."""
    dead_rooms: list[str]
    """Rooms without signal for this model (solved never at the easiest level, or always at
    the hardest playable one)."""
    no_signal: list[NoSignal] = []
    """The details behind ``dead_rooms``."""
    fitted: dict[str, float] = {}
    """Room id -> the fitted solve probability at the chosen level."""
    target: float
    """The solve rate aimed for."""
    runs: int
    """Calibration runs behind the result."""
    method: str = METHOD
    """Version of the search and choice rules."""
    level_caps: dict[str, int] = {}
    """Room id -> the hardest level the context window allowed."""


def level_caps(context_tokens: int, room_ids: Sequence[str] = ROOM_ORDER) -> dict[str, int]:
    """Per room, the hardest level whose prompt fits in ``WINDOW_SHARE`` of the window (level 0
    when none does: the easiest is always playable)."""
    rooms = load_rooms()
    budget = context_tokens * WINDOW_SHARE
    caps: dict[str, int] = {}
    for room_id in room_ids:
        cap = MIN_DIFFICULTY
        for level in range(MIN_DIFFICULTY, MAX_DIFFICULTY + 1):
            if rooms[room_id].prompt_tokens(level) * TOKEN_MARGIN <= budget:
                cap = level
            else:
                break
        caps[room_id] = cap
    return caps


def walk(observations: Sequence[Observation], config: CalibrationConfig, cap: int) -> RoomState:
    """Replay one room's search over its observations (in play order)."""
    low, high = MIN_DIFFICULTY - 0.49, cap + 0.49
    state = RoomState(x=float(min(config.start_level, cap)), reversals=0, last_sign=0)
    for _, solved in observations:
        sign = 1 if solved else -1
        reversals = state.reversals + (state.last_sign != 0 and sign != state.last_sign)
        size = max(config.step / (1 + reversals), config.min_step)
        move = size * (float(solved) - config.target)
        state = RoomState(min(high, max(low, state.x + move)), reversals, sign)
    return state


def observations_of(runs: Sequence[Run], room_id: str) -> list[Observation]:
    """One room's observations across runs, in order (failed calls left out)."""
    return [obs for run in runs if (obs := run.get(room_id)) is not None]


def next_profile(runs: Sequence[Run], config: CalibrationConfig) -> dict[str, int]:
    """The levels the next calibration run plays, after ``runs``."""
    caps = level_caps(config.context_tokens, config.rooms)
    return {
        room: walk(observations_of(runs, room), config, caps[room]).level for room in config.rooms
    }


def counts(observations: Sequence[Observation]) -> dict[int, list[int]]:
    """Level -> [solved, played]."""
    table: dict[int, list[int]] = {}
    for level, solved in observations:
        cell = table.setdefault(level, [0, 0])
        cell[0] += int(solved)
        cell[1] += 1
    return dict(sorted(table.items()))


CENTRE: Final = 5.0
"""Levels are centred here in the logistic fit (the prior on the intercept is about this level)."""


def fit_curve(observations: Sequence[Observation]) -> tuple[float, float]:
    """A decreasing logistic curve ``P(solved | level) = 1 / (1 + exp(-(a - b (level - 5))))``
    fitted by maximum a posteriori (priors ``a ~ N(0, 3^2)``, ``log b ~ N(0, 0.75^2)``); returns
    ``(a, b)``. The prior keeps the fit finite when the plays separate perfectly."""
    levels = np.array([level for level, _ in observations], dtype=float) - CENTRE
    solved = np.array([float(s) for _, s in observations])

    def loss(params: np.ndarray) -> float:
        a, log_b = float(params[0]), float(params[1])
        z = a - math.exp(log_b) * levels
        nll = float(np.sum(np.logaddexp(0.0, z) - solved * z))
        return nll + a * a / (2 * 3.0**2) + log_b * log_b / (2 * 0.75**2)

    found = minimize(loss, x0=np.array([0.0, 0.0]), method="Nelder-Mead",
                     options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000})  # fmt: skip
    return float(found.x[0]), math.exp(float(found.x[1]))


def probability(curve: tuple[float, float], level: int) -> float:
    """The fitted solve probability at ``level``."""
    a, b = curve
    return 1.0 / (1.0 + math.exp(-(a - b * (level - CENTRE))))


def no_signal(
    room_id: str, table: Mapping[int, list[int]], cap: int, config: CalibrationConfig
) -> NoSignal | None:
    """Whether a room is without signal: (almost) never solved at level 0, or (almost) always at
    its cap (``silent_rate``)."""
    rate = config.silent_rate
    easiest = table.get(MIN_DIFFICULTY)
    if easiest is not None and easiest[1] >= config.dead_after and easiest[0] <= rate * easiest[1]:
        return NoSignal(
            room_id=room_id, level=MIN_DIFFICULTY, solved=easiest[0], played=easiest[1],
            reason=f"{NO_SIGNAL_PREFIX}solved {easiest[0]} of {easiest[1]} at level "
            f"{MIN_DIFFICULTY} (the easiest)",
        )  # fmt: skip
    hardest = table.get(cap)
    if (
        hardest is not None
        and hardest[1] >= config.dead_after
        and hardest[1] - hardest[0] <= rate * hardest[1]
    ):
        which = "the hardest" if cap == MAX_DIFFICULTY else "the hardest the context window allows"
        return NoSignal(
            room_id=room_id, level=cap, solved=hardest[0], played=hardest[1],
            reason=f"{NO_SIGNAL_PREFIX}solved {hardest[0]} of {hardest[1]} at level "
            f"{cap} ({which})",
        )  # fmt: skip
    return None


def choose(observations: Sequence[Observation], target: float, cap: int) -> tuple[int, float]:
    """The level whose fitted solve probability is closest to ``target`` (ties: more plays, then
    the lower level), and that probability: a level played, or next to one played, within the
    cap (the curve is not trusted further out)."""
    table = counts(observations)
    curve = fit_curve(observations)
    low, high = max(MIN_DIFFICULTY, min(table) - 1), min(cap, max(table) + 1)
    options = list(range(low, high + 1)) or [min(cap, min(table))]
    best = min(
        options,
        key=lambda lvl: (abs(probability(curve, lvl) - target), -table.get(lvl, [0, 0])[1], lvl),
    )
    return best, probability(curve, best)


def result(runs: Sequence[Run], config: CalibrationConfig) -> CalibrationResult:
    """The profile, solve rates and rooms without signal after ``runs``."""
    caps = level_caps(config.context_tokens, config.rooms)
    chosen: dict[str, int] = {}
    fitted: dict[str, float] = {}
    rates: dict[str, dict[str, list[int]]] = {}
    silent: list[NoSignal] = []
    for room in config.rooms:
        seen = observations_of(runs, room)
        table = counts(seen)
        rates[room] = {str(level): cell for level, cell in table.items()}
        if not seen:
            chosen[room] = min(config.start_level, caps[room])
            continue
        found = no_signal(room, table, caps[room], config)
        if found is not None:
            silent.append(found)
            chosen[room] = found.level
            continue
        chosen[room], fitted[room] = choose(seen, config.target, caps[room])
        fitted[room] = round(fitted[room], 4)
    return CalibrationResult(
        profile=profiles.normalize(chosen, config.rooms),
        solve_rates=rates,
        dead_rooms=[s.room_id for s in silent],
        no_signal=silent,
        fitted=fitted,
        target=config.target,
        runs=len(runs),
        level_caps=caps,
    )


def run_of(rooms_played: Sequence[Mapping[str, object]], profile: Mapping[str, int]) -> Run:
    """One calibration run from its stored rooms (``room_id``, ``initial_solved``, ``outcome``):
    a forfeited room (the endpoint failed) or one over the context window is no observation."""
    found: dict[str, Observation | None] = {}
    for row in rooms_played:
        room_id = str(row["room_id"])
        if room_id not in profile:
            continue
        found[room_id] = (
            None
            if row["outcome"] in ("forfeit", "context_overflow")
            else (profile[room_id], bool(row["initial_solved"]))
        )
    return found
