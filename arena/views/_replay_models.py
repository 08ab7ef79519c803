"""Replay view models: typed, viewer-safe shapes of a stored match, room by room, call by call."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from arena.engine import AdversarialMode, ContestantSummary, Outcome, Slot

MatchStatus = Literal["running", "done", "failed", "interrupted"]
MatchPurpose = Literal["measure", "calibration"]
RoomStatus = Literal["pending", "playing", "done", "unfinished"]

MATCH_STATUSES: tuple[str, ...] = ("running", "done", "failed", "interrupted")
"""Every value of ``matches.status``."""
LONG_PROMPT_CHARS = 2000
"""Prompts (and replies) longer than this are collapsed in a replay."""
INLINE_MAX_CHARS = 200
"""Short single-line texts (parsed answers, verdicts) are shown inline up to this length; longer
ones in a block."""
PUZZLE_MARKER = "[the room's puzzle, shown above]"
"""Stands in a call's prompt text for the room's puzzle prompt (shown once, with the room)."""
FROZEN = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
"""The configuration of every view model: immutable, no unknown fields, attribute docstrings
as field descriptions."""


class ReplayCall(BaseModel):
    """One call (turn) of a contestant, as a viewer may see it."""

    model_config = FROZEN

    room_index: int
    """Room it was played in (0-based)."""
    slot: Slot
    """Contestant slot."""
    phase: str
    """``initial``, ``adversarial`` or ``retry-N``."""
    seq: int
    """Position of the call in the contestant's conversation (0-based)."""
    started_at: str
    """When the request was sent (ISO 8601, UTC)."""
    prompt_text: str | None
    """What this call added to the conversation: its user messages (and, for seq 0, the system
    prompt), joined by blank lines; the room's puzzle prompt is replaced by ``PUZZLE_MARKER``.
    None while withheld."""
    includes_puzzle: bool
    """Whether the prompt carried the room's puzzle (where ``PUZZLE_MARKER`` stands)."""
    response_text: str | None
    """The contestant's reply (empty when the endpoint failed); None while withheld."""
    reasoning_text: str | None
    """Separate reasoning the server returned, if any; None while withheld."""
    parsed_answer: str | None
    """The answer the room's validator extracted; None when none was or while withheld."""
    solved: bool | None
    """Whether the answer solved the room; None while withheld."""
    verdict_pending: bool
    """The reply is stored but its validation has not finished yet."""
    verdict_reason: str | None
    """The validator's explanation; None while withheld."""
    finish_reason: str | None
    """Why generation stopped, as the server said (``stop``, ``length``...)."""
    cap_hit: bool
    """Generation hit the token cap (finish_reason ``length``)."""
    prompt_tokens: int | None
    """Prompt tokens of the whole request."""
    completion_tokens: int | None
    """Generated tokens, reasoning included."""
    reasoning_tokens: int | None
    """Reasoning tokens, part of ``completion_tokens``; None when not known."""
    usage_source: str | None
    """``server`` (reported usage) or ``estimated`` (counted here)."""
    ttft_s: float | None
    """Seconds to the first streamed token (None when not streamed, no text, or failed)."""
    latency_s: float | None
    """Seconds for the whole call."""
    decode_tps: float | None
    """Generated tokens per second after the first token."""
    attempts: int
    """HTTP attempts made (retries of transient failures included); 0 when the call failed."""
    error_kind: str | None
    """Short name of the endpoint failure (``connect``, ``timeout``...), if the call failed."""
    error: str | None
    """The failure's message, endpoint URLs replaced by ``<endpoint>``."""
    withheld: bool
    """Texts and verdict withheld: the match is running and this room is still in play."""


PHASE_TITLES: dict[str, str] = {"initial": "First answer", "adversarial": "Under pressure"}
"""How a replay names a call's phase (retries: ``Retry 1``, ...)."""


def phase_title(phase: str, *, code: Callable[[str], str] = str) -> str:
    """A call's phase for people; ``code`` marks up a phase this build does not know."""
    if phase in PHASE_TITLES:
        return PHASE_TITLES[phase]
    retry = re.fullmatch(r"retry-(\d{1,3})", phase)
    return f"Retry {retry.group(1)}" if retry else f"Phase {code(phase)}"


def call_facts(
    call: ReplayCall, *, code: Callable[[str], str] = str, cap: str = "hit the token cap"
) -> str:
    """A call's metadata on one line (shown even while its texts are withheld), for every view
    of a replay: ``code`` marks up the server's words (the finish reason), ``cap`` says that
    the call hit its token cap."""
    tokens = "—" if call.completion_tokens is None else f"{call.completion_tokens:,}"
    source = f" ({call.usage_source})" if call.usage_source else ""
    parts = [f"seq {call.seq}", f"{tokens} completion tokens{source}"]
    if call.reasoning_tokens:
        parts.append(f"{call.reasoning_tokens:,} reasoning tokens")
    if call.prompt_tokens is not None:
        parts.append(f"{call.prompt_tokens:,} prompt tokens")
    for name, seconds in (("TTFT", call.ttft_s), ("latency", call.latency_s)):
        parts.append(f"{name} " + ("—" if seconds is None else f"{seconds:,.3f} s"))
    if call.decode_tps is not None:
        parts.append(f"{call.decode_tps:,.1f} tok/s")
    if call.finish_reason:
        parts.append(f"finish {code(call.finish_reason)}")
    if call.cap_hit:
        parts.append(cap)
    if call.attempts > 1:
        parts.append(f"{call.attempts} attempts")
    return " · ".join(parts)


class ReplayContestant(BaseModel):
    """A contestant by its public labels (never its endpoint URL, served model id or key)."""

    model_config = FROZEN

    slot: Slot
    """``a`` or ``b``."""
    label: str
    """Display label: base model and quant."""
    base_model: str
    """The model before quantization."""
    quant: str
    """Quant label, e.g. ``Q4_K_M``."""
    bits_per_weight: float | None
    """Average bits per weight, when known."""
    submission_id: int | None
    """The registered submission it played for (None for matches started by hand)."""
    has_api_key: bool
    """Whether its endpoint was called with an API key."""


class ReplayRoomSlot(BaseModel):
    """One contestant's part of one room: its calls by phase and its result."""

    model_config = FROZEN

    slot: Slot
    """Contestant slot."""
    initial: ReplayCall | None
    """The first answer (None before it is stored)."""
    adversarial: ReplayCall | None
    """The answer after seeing the opponent's answer or the house bluff (None in mode ``none``
    or before it is stored)."""
    retries: list[ReplayCall]
    """Solo retries after a wrong final answer, in order (calls of any other phase too)."""
    outcome: Outcome | None
    """Adversarial outcome; None until the room's result is stored."""
    initial_solved: bool | None
    """The first answer was right (None until the result is stored)."""
    final_solved: bool | None
    """Right after the adversarial turn, before retries (None until the result is stored)."""
    escaped: bool | None
    """Solved at any point (None until the result is stored)."""
    points: int | None
    """Points scored in the room (None until the result is stored)."""
    breakdown: dict[str, int] | None
    """Points per scoring item (None until the result is stored)."""
    retries_used: int | None
    """Retries taken (None until the result is stored)."""
    time_to_solution_s: float | None
    """Seconds of calls up to and including the first solving call (None if never solved or
    not stored yet)."""
    tokens_to_solution: int | None
    """Generated tokens up to and including the first solving call (None if never solved or
    not stored yet)."""

    def calls(self) -> list[ReplayCall]:
        """All calls of this slot in the room, in conversation order."""
        found = [c for c in (self.initial, self.adversarial) if c is not None]
        return sorted([*found, *self.retries], key=lambda c: c.seq)


class ReplayRoom(BaseModel):
    """One room of a match."""

    model_config = FROZEN

    index: int
    """Position in the match (0-based)."""
    room_id: str
    """Versioned room id, e.g. ``cipher-v1``."""
    room_name: str
    """Display name, e.g. ``Cipher`` (the id when the room is unknown to this build)."""
    level: int
    """The level (difficulty, 0-10) this room was played at."""
    status: RoomStatus
    """``done`` (every contestant's result stored), ``playing`` (the running match's current
    room), ``pending`` (not reached) or ``unfinished`` (the match stopped during it)."""
    prompt: str | None
    """The full puzzle text; None for rooms not reached yet while ``secrets_hidden``."""
    prompt_chars: int
    """Length of the puzzle text (known even while it is hidden)."""
    prompt_is_long: bool
    """Longer than ``LONG_PROMPT_CHARS``: shown collapsed."""
    par_seconds: float
    """Par time of the room, in seconds (escaping faster than par earns points)."""
    solution: str | None
    """The canonical answer; None while ``secrets_hidden``."""
    key: str | None
    """The key word the room hands over; None while ``secrets_hidden``."""
    data: dict[str, Any] | None
    """Structured puzzle data; None while ``secrets_hidden``."""
    slots: dict[Slot, ReplayRoomSlot]
    """Each contestant's calls and result."""


class Replay(BaseModel):
    """A whole match as a viewer may see it."""

    model_config = FROZEN

    match_id: str
    """Match id."""
    status: MatchStatus
    """``running``, ``done``, ``failed`` or ``interrupted``."""
    started_at: str
    """Start time (ISO 8601, UTC)."""
    finished_at: str | None
    """End time, once it ended."""
    wall_seconds: float | None
    """Wall-clock duration in seconds, once it finished (None for interrupted matches)."""
    seed: int | None
    """Puzzle seed; None while ``secrets_hidden`` (it would give away every puzzle)."""
    difficulty: int
    """The level of every room (-1 when the profile mixes levels)."""
    profile: dict[str, int]
    """The difficulty profile: room id -> level (0-10)."""
    purpose: MatchPurpose = "measure"
    """``calibration``: a baseline's solo run searching its levels (never scored or paired);
    ``measure``: every other match."""
    adversarial: AdversarialMode
    """Adversarial mode."""
    retries: int
    """Solo retries allowed after a wrong final answer."""
    scoring_version: str
    """Scoring table the points were computed with."""
    error: str | None
    """Why the match failed or was interrupted (endpoint URLs replaced)."""
    secrets_hidden: bool
    """Seed, solutions, keys (redacted from call texts too), data and future prompts are hidden:
    the match is running, or it stopped and a scheduled match still has to play its seed
    (sealed). While it is running, the current room's texts are withheld too."""
    contestants: dict[Slot, ReplayContestant]
    """The contestants by slot."""
    rooms: list[ReplayRoom]
    """Every room of the match in play order, pending ones included."""
    summary: dict[Slot, ContestantSummary] | None
    """Per-contestant totals, once the match finished (None while running or if interrupted)."""
    rooms_done: int
    """Rooms every contestant has finished."""
    rooms_total: int
    """Rooms in the match."""
    progress: float
    """``rooms_done / rooms_total`` (0 to 1)."""
    current_room_index: int | None
    """The room in play while running; None otherwise."""
