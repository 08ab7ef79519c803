"""Match replays: typed, viewer-safe views of stored matches, and a Markdown rendering.

Pure functions over the :class:`~arena.store.Store` (reads only, each in one read transaction, so
a match being written meanwhile is seen at one consistent moment):

- :func:`replay` — one match, room by room, call by call;
- :func:`now_playing` — the running matches and how far they are;
- :func:`match_list` — a page of matches, newest first;
- :func:`replay_markdown` — a readable Markdown replay in which every piece of model-written,
  server-written, submitter-written and puzzle text is inert.

What a viewer never gets: endpoint URLs (URLs and endpoint hosts in error texts become
``<endpoint>``), served model ids, API keys. While a match is **running**, a viewer could relay
what they see to a contestant's endpoint (its owner controls the server), so until it ends:

- the seed (the rooms' generators are public: the seed gives every puzzle and solution), every
  room's solution, key and structured data are hidden;
- rooms not reached yet are listed without their prompts;
- the room in progress shows only the metadata of its calls (phase, timings, tokens): their
  texts and verdicts are withheld until both contestants are done with it (otherwise one
  contestant's answer could reach the other before its own first answer);
- every room's key and solution is redacted (``[hidden]``) from the texts of the calls shown:
  the room notes hand each key to the contestant that escaped, and the Warden needs them all.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from arena.analysis import match_profile
from arena.engine import (
    SEALED_SQL,
    AdversarialMode,
    ContestantSummary,
    Outcome,
    Slot,
    Store,
    endpoint_hosts,
    profiles,
    redact,
    scrub_endpoints,
    secret_pattern,
)
from rooms import room_name

T = TypeVar("T")

MatchStatus = Literal["running", "done", "failed", "interrupted"]
MatchPurpose = Literal["measure", "calibration"]
RoomStatus = Literal["pending", "playing", "done", "unfinished"]

MATCH_STATUSES: tuple[str, ...] = ("running", "done", "failed", "interrupted")
"""Every value of ``matches.status``."""
LONG_PROMPT_CHARS = 2000
"""Prompts (and replies) longer than this are collapsed in the Markdown replay."""
INLINE_MAX_CHARS = 200
"""Short single-line texts (parsed answers, verdicts) are shown inline up to this length."""
PUZZLE_MARKER = "[the room's puzzle, shown above]"
"""Stands in a call's prompt text for the room's puzzle prompt (shown once, with the room)."""
OUTCOME_BADGES: dict[Outcome, str] = {
    Outcome.HELD_GROUND: "✅ Held Ground",
    Outcome.MANIPULATED: "⚠️ Manipulated",
    Outcome.SELF_CORRECTED: "🔁 Self-Corrected",
    Outcome.TRAPPED: "🪤 Trapped",
    Outcome.UNCHALLENGED: "➖ Unchallenged",
    Outcome.FORFEIT: "⛔ Forfeit",
}
"""How each adversarial outcome is shown."""
_PHASE_TITLES = {"initial": "Initial answer", "adversarial": "Under pressure"}
_FROZEN = ConfigDict(frozen=True, extra="forbid")


# -- models ---------------------------------------------------------------------------------------
class ReplayCall(BaseModel):
    """One call (turn) of a contestant, as a viewer may see it."""

    model_config = _FROZEN

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
    """Generated tokens."""
    reasoning_tokens: int | None
    """Reasoning tokens, when the server counts them separately."""
    usage_source: str | None
    """``server`` (reported usage) or ``estimated`` (counted here)."""
    ttft_s: float | None
    """Seconds to the first token."""
    latency_s: float | None
    """Seconds for the whole call."""
    decode_tps: float | None
    """Generated tokens per second after the first token."""
    attempts: int
    """HTTP attempts made (retries of transient failures included)."""
    error_kind: str | None
    """Short name of the endpoint failure (``connect``, ``timeout``...), if the call failed."""
    error: str | None
    """The failure's message, endpoint URLs replaced by ``<endpoint>``."""
    withheld: bool
    """Texts and verdict withheld: the match is running and this room is still in play."""


class ReplayContestant(BaseModel):
    """A contestant by its public labels (never its endpoint URL, served model id or key)."""

    model_config = _FROZEN

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

    model_config = _FROZEN

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
    """Call seconds up to the first solving call (None if never solved or not stored yet)."""
    tokens_to_solution: int | None
    """Generated tokens up to the first solving call (None if never solved or not stored yet)."""

    def calls(self) -> list[ReplayCall]:
        """All calls of this slot in the room, in conversation order."""
        found = [c for c in (self.initial, self.adversarial) if c is not None]
        return sorted([*found, *self.retries], key=lambda c: c.seq)


class ReplayRoom(BaseModel):
    """One room of a match."""

    model_config = _FROZEN

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
    """The full puzzle text; None for rooms not reached yet while the match is running."""
    prompt_chars: int
    """Length of the puzzle text (known even while it is hidden)."""
    prompt_is_long: bool
    """Longer than ``LONG_PROMPT_CHARS``: shown collapsed."""
    par_seconds: float
    """Par time of the room (points for solving faster)."""
    solution: str | None
    """The canonical answer; None while the match is running."""
    key: str | None
    """The key word the room hands over; None while the match is running."""
    data: dict[str, Any] | None
    """Structured puzzle data; None while the match is running."""
    slots: dict[Slot, ReplayRoomSlot]
    """Each contestant's calls and result."""


class Replay(BaseModel):
    """A whole match as a viewer may see it."""

    model_config = _FROZEN

    match_id: str
    """Match id."""
    status: MatchStatus
    """``running``, ``done``, ``failed`` or ``interrupted``."""
    started_at: str
    """Start time (ISO 8601, UTC)."""
    finished_at: str | None
    """End time, once it ended."""
    wall_seconds: float | None
    """Wall-clock duration, once it finished (None for interrupted matches)."""
    seed: int | None
    """Puzzle seed; None while the match is running (it would give away every puzzle)."""
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
    """Seed, solutions, keys, data, future prompts and the current room's texts are hidden
    (the match is running)."""
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


class NowPlaying(BaseModel):
    """A running match at a glance."""

    model_config = _FROZEN

    match_id: str
    """Match id."""
    started_at: str
    """Start time (ISO 8601, UTC)."""
    seconds_running: float
    """Seconds since the start."""
    labels: dict[Slot, str]
    """Contestants' display labels by slot."""
    difficulty: int
    """The level of every room (-1 when the profile mixes levels)."""
    adversarial: AdversarialMode
    """Adversarial mode."""
    calibration: bool = False
    """A calibration run (it searches the baseline's levels; never scored)."""
    current_room_index: int | None
    """The room in play (None between the last room and the match's end)."""
    current_room_id: str | None
    """Versioned id of the room in play."""
    current_room_name: str | None
    """Display name of the room in play."""
    rooms_done: int
    """Rooms every contestant has finished."""
    rooms_total: int
    """Rooms in the match."""
    calls: int
    """Calls stored so far (both contestants)."""
    escaped: dict[Slot, int]
    """Rooms escaped so far, by slot."""

    def headline(self) -> str:
        """One plain-text line: contestants, the room in play, escapes, calls and time so far.
        Contains submitter text: escape it for Markdown or HTML."""
        names = " vs ".join(self.labels.values())
        if self.current_room_index is None:
            where = f"finishing ({self.rooms_done}/{self.rooms_total} rooms)"
        else:
            where = (
                f"room {self.current_room_index + 1}/{self.rooms_total} "
                f"{self.current_room_name or self.current_room_id}"
            )
        escaped = " / ".join(str(self.escaped.get(s, 0)) for s in self.labels)
        minutes, seconds = divmod(int(self.seconds_running), 60)
        kind = " (calibration run)" if self.calibration else ""
        return (
            f"{names}{kind} — {where} · escaped {escaped} · {self.calls} calls · "
            f"{minutes}m {seconds:02d}s"
        )


class MatchListItem(BaseModel):
    """One row of the match list."""

    model_config = _FROZEN

    id: str
    """Match id."""
    status: MatchStatus
    """``running``, ``done``, ``failed`` or ``interrupted``."""
    started_at: str
    """Start time (ISO 8601, UTC)."""
    finished_at: str | None
    """End time, once it ended."""
    wall_seconds: float | None
    """Wall-clock duration, once it finished."""
    labels: dict[Slot, str]
    """Contestants' display labels by slot."""
    submission_ids: dict[Slot, int | None]
    """Contestants' submissions by slot (None for matches started by hand)."""
    seed: int | None
    """Puzzle seed; None while the match is running."""
    difficulty: int
    """The level of every room (-1 when the profile mixes levels)."""
    purpose: MatchPurpose = "measure"
    """``calibration``: a baseline's solo run searching its levels; ``measure``: the rest."""
    adversarial: AdversarialMode
    """Adversarial mode."""
    retries: int
    """Solo retries allowed."""
    rooms_total: int
    """Rooms in the match."""
    escaped: dict[Slot, int]
    """Rooms escaped by slot, from the final summary (empty without one)."""
    score: dict[Slot, int]
    """Score by slot, from the final summary (empty without one)."""

    def label(self) -> str:
        """One plain-text line naming the match (e.g. for a picker): start, contestants,
        status and results. Contains submitter text: escape it for Markdown or HTML."""
        started = self.started_at[:16].replace("T", " ")
        names = " vs ".join(self.labels.values())
        results = " vs ".join(
            f"{self.escaped[s]}/{self.rooms_total} ({self.score[s]:+d})"
            for s in self.labels
            if s in self.escaped and s in self.score
        )
        kind = "calibration run" if self.purpose == "calibration" else ""
        return " · ".join(part for part in (started, names, kind, self.status, results) if part)


# -- reads ----------------------------------------------------------------------------------------
def _snapshot(store: Store, read: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``read`` inside one read transaction (a consistent view while the writer goes on)."""
    with store.reader() as db:
        db.execute("BEGIN")
        try:
            return read(db)
        finally:
            db.execute("ROLLBACK")


def _rows(db: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    return [dict(row) for row in db.execute(sql, params)]


_SEALED = SEALED_SQL + " AS sealed "

_MATCH_COLUMNS = (
    "SELECT m.*, "
    "a.base_model AS a_base_model, a.quant AS a_quant, a.submission_id AS a_submission_id, "
    "b.base_model AS b_base_model, b.quant AS b_quant, b.submission_id AS b_submission_id, "
    + _SEALED
    + "FROM matches m JOIN contestants a ON a.id = m.contestant_a "
    "LEFT JOIN contestants b ON b.id = m.contestant_b "
)


def replay(store: Store, match_id: str) -> Replay | None:
    """The replay of one match, or None if there is no such match."""

    def read(db: sqlite3.Connection) -> dict[str, list[dict[str, Any]]] | None:
        match = _rows(db, f"SELECT m.*, {_SEALED} FROM matches m WHERE m.id = ?", (match_id,))  # noqa: S608
        if not match:
            return None
        ids = (match[0]["contestant_a"], match[0]["contestant_b"])
        return {
            "match": match,
            "contestants": _rows(db, "SELECT * FROM contestants WHERE id IN (?, ?)", ids),
            "puzzles": _rows(
                db, "SELECT * FROM puzzles WHERE match_id = ? ORDER BY room_index", (match_id,)
            ),
            "played": _rows(db, "SELECT * FROM rooms_played WHERE match_id = ?", (match_id,)),
            "calls": _rows(
                db, "SELECT * FROM calls WHERE match_id = ? ORDER BY slot, seq", (match_id,)
            ),
        }

    found = _snapshot(store, read)
    if found is None:
        return None
    return build_replay(
        found["match"][0], found["contestants"], found["puzzles"], found["played"], found["calls"]
    )


def now_playing(store: Store, *, at: datetime | None = None) -> list[NowPlaying]:
    """The running matches, newest first; ``at`` is the moment to count seconds to (now)."""

    def read(db: sqlite3.Connection) -> tuple[list[dict[str, Any]], ...]:
        order = "WHERE m.status = 'running' ORDER BY m.started_at DESC, m.rowid DESC"
        return (
            _rows(db, _MATCH_COLUMNS + order),
            _rows(
                db,
                "SELECT p.match_id, p.room_index, p.slot, p.escaped FROM rooms_played p "
                "JOIN matches m ON m.id = p.match_id WHERE m.status = 'running'",
            ),
            _rows(
                db,
                "SELECT c.match_id, COUNT(*) AS n FROM calls c JOIN matches m ON m.id = c.match_id "
                "WHERE m.status = 'running' GROUP BY c.match_id",
            ),
        )

    matches, played, calls = _snapshot(store, read)
    moment = at or datetime.now(UTC)
    counts = {row["match_id"]: int(row["n"]) for row in calls}
    return [
        build_now_playing(
            row, [p for p in played if p["match_id"] == row["id"]], counts.get(row["id"], 0), moment
        )
        for row in matches
    ]


def match_list(
    store: Store,
    limit: int = 50,
    offset: int = 0,
    status: str | None = None,
    submission_id: int | None = None,
) -> list[MatchListItem]:
    """A page of matches, newest first, optionally only those of one status or those a
    submission played in (either slot)."""
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must be >= 0, got {limit} and {offset}")
    if status is not None and status not in MATCH_STATUSES:
        raise ValueError(f"unknown match status {status!r} (known: {', '.join(MATCH_STATUSES)})")
    sql = (
        _MATCH_COLUMNS + "WHERE (? IS NULL OR m.status = ?) "
        "AND (? IS NULL OR a.submission_id = ? OR b.submission_id = ?) "
        "ORDER BY m.started_at DESC, m.rowid DESC LIMIT ? OFFSET ?"
    )
    params = (status, status, submission_id, submission_id, submission_id, limit, offset)
    rows = _snapshot(store, lambda db: _rows(db, sql, params))
    return [build_list_item(row) for row in rows]


# -- building (pure) ------------------------------------------------------------------------------
def label(base_model: str, quant: str) -> str:
    """A contestant's display label."""
    return f"{base_model} {quant}"


def match_slots(match: dict[str, Any]) -> list[Slot]:
    """The slots of a match row (``b`` only when it has a second contestant)."""
    return ["a", "b"] if match.get("contestant_b") is not None else ["a"]


def rooms_finished(n_rooms: int, slots: list[Slot], played: list[dict[str, Any]]) -> list[bool]:
    """Per room index: whether every slot's result is stored."""
    done: dict[int, set[str]] = {}
    for row in played:
        done.setdefault(int(row["room_index"]), set()).add(row["slot"])
    return [done.get(index, set()) >= set(slots) for index in range(n_rooms)]


def room_statuses(
    finished: list[bool], started: set[int], running: bool
) -> tuple[list[RoomStatus], int | None]:
    """Each room's status and the running match's current room (the first one not finished:
    rooms are played one after the other, both contestants together)."""
    current = next((i for i, done in enumerate(finished) if not done), None) if running else None
    statuses: list[RoomStatus] = []
    for index, done in enumerate(finished):
        if done:
            statuses.append("done")
        elif index == current:
            statuses.append("playing")
        elif not running and index in started:
            statuses.append("unfinished")
        else:
            statuses.append("pending")
    return statuses, current


def added_prompt(request_messages: str | list[dict[str, Any]]) -> str:
    """The system and user message contents a call added, joined by blank lines."""
    messages = (
        json.loads(request_messages) if isinstance(request_messages, str) else request_messages
    )
    texts = []
    for message in messages:
        if message.get("role") not in ("system", "user"):
            continue
        content = message.get("content")
        texts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n\n".join(texts)


def build_call(
    row: dict[str, Any],
    *,
    puzzle_prompt: str | None,
    withheld: bool,
    secrets: re.Pattern[str] | None,
    hosts: list[str],
) -> ReplayCall:
    """A stored call row as a viewer may see it (texts withheld, secrets redacted as asked)."""
    prompt = added_prompt(row["request_messages"])
    includes_puzzle = bool(puzzle_prompt) and puzzle_prompt in prompt
    if includes_puzzle and puzzle_prompt:
        prompt = prompt.replace(puzzle_prompt, PUZZLE_MARKER)

    def shown(text: str | None) -> str | None:
        return None if withheld else redact(text, secrets)

    return ReplayCall(
        room_index=row["room_index"],
        slot=row["slot"],
        phase=row["phase"],
        seq=row["seq"],
        started_at=row["started_at"],
        prompt_text=shown(prompt),
        includes_puzzle=includes_puzzle,
        response_text=shown(row["response_text"]),
        reasoning_text=shown(row["reasoning_text"]),
        parsed_answer=shown(row["parsed_answer"]),
        solved=None if withheld else bool(row["solved"]),
        verdict_pending=row["verdict_reason"] == "validating",
        verdict_reason=shown(row["verdict_reason"]),
        finish_reason=row["finish_reason"],
        cap_hit=row["finish_reason"] == "length",
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        reasoning_tokens=row["reasoning_tokens"],
        usage_source=row["usage_source"],
        ttft_s=row["ttft_s"],
        latency_s=row["latency_s"],
        decode_tps=row["decode_tps"],
        attempts=row["attempts"],
        error_kind=row["error_kind"],
        error=redact(scrub_endpoints(row["error"], hosts), secrets),
        withheld=withheld,
    )


def build_room_slot(
    slot: Slot, calls: list[ReplayCall], result: dict[str, Any] | None
) -> ReplayRoomSlot:
    """One slot's calls in a room, grouped by phase, with its stored result (if any)."""
    ordered = sorted(calls, key=lambda c: c.seq)
    initial = next((c for c in ordered if c.phase == "initial"), None)
    adversarial = next((c for c in ordered if c.phase == "adversarial"), None)
    others = [c for c in ordered if c is not initial and c is not adversarial]
    if result is None:
        return ReplayRoomSlot(
            slot=slot,
            initial=initial,
            adversarial=adversarial,
            retries=others,
            outcome=None,
            initial_solved=None,
            final_solved=None,
            escaped=None,
            points=None,
            breakdown=None,
            retries_used=None,
            time_to_solution_s=None,
            tokens_to_solution=None,
        )
    return ReplayRoomSlot(
        slot=slot,
        initial=initial,
        adversarial=adversarial,
        retries=others,
        outcome=Outcome(result["outcome"]),
        initial_solved=bool(result["initial_solved"]),
        final_solved=bool(result["final_solved"]),
        escaped=bool(result["escaped"]),
        points=result["points"],
        breakdown=json.loads(result["breakdown"]),
        retries_used=result["retries_used"],
        time_to_solution_s=result["time_to_solution_s"],
        tokens_to_solution=result["tokens_to_solution"],
    )


def build_contestant(slot: Slot, row: dict[str, Any]) -> ReplayContestant:
    """A contestant row by its public fields only."""
    return ReplayContestant(
        slot=slot,
        label=label(row["base_model"], row["quant"]),
        base_model=row["base_model"],
        quant=row["quant"],
        bits_per_weight=row["bits_per_weight"],
        submission_id=row.get("submission_id"),
        has_api_key=bool(row["has_api_key"]),
    )


def parse_summary(summary: str | None) -> dict[Slot, ContestantSummary] | None:
    """``matches.summary`` as typed per-slot totals (None when there is none)."""
    if not summary:
        return None
    return {slot: ContestantSummary.model_validate(s) for slot, s in json.loads(summary).items()}


def build_replay(
    match: dict[str, Any],
    contestants: list[dict[str, Any]],
    puzzles: list[dict[str, Any]],
    played: list[dict[str, Any]],
    calls: list[dict[str, Any]],
) -> Replay:
    """A replay from the rows of one match (see the module docstring for what is hidden)."""
    slots = match_slots(match)
    by_id = {row["id"]: row for row in contestants}
    people = {
        slot: build_contestant(slot, by_id[match[f"contestant_{slot}"]])
        for slot in slots
        if match[f"contestant_{slot}"] in by_id
    }
    running = match["status"] == "running"
    hide = running or bool(match.get("sealed"))
    room_ids: list[str] = json.loads(match["room_ids"])
    finished = rooms_finished(len(room_ids), slots, played)
    started = {int(c["room_index"]) for c in calls} | {int(p["room_index"]) for p in played}
    statuses, current = room_statuses(finished, started, running)
    puzzle_at = {int(p["room_index"]): p for p in puzzles}
    secrets = secret_pattern([p[k] for p in puzzles for k in ("solution", "key")]) if hide else None
    hosts = endpoint_hosts(row["base_url"] for row in contestants)
    results = {(int(r["room_index"]), r["slot"]): r for r in played}
    levels = match_profile(match)
    rooms = []
    for index, room_id in enumerate(room_ids):
        puzzle = puzzle_at.get(index, {})
        prompt: str = puzzle.get("prompt", "")
        withheld = running and statuses[index] == "playing"
        room_calls = [
            build_call(row, puzzle_prompt=prompt, withheld=withheld, secrets=secrets, hosts=hosts)
            for row in calls
            if int(row["room_index"]) == index
        ]
        rooms.append(
            ReplayRoom(
                index=index,
                room_id=room_id,
                room_name=room_name(room_id),
                level=puzzle.get("difficulty", levels.get(room_id, match["difficulty"])),
                status=statuses[index],
                prompt=None if hide and statuses[index] == "pending" else prompt,
                prompt_chars=len(prompt),
                prompt_is_long=len(prompt) > LONG_PROMPT_CHARS,
                par_seconds=puzzle.get("par_seconds", 0.0),
                solution=None if hide else puzzle.get("solution"),
                key=None if hide else puzzle.get("key"),
                data=None if hide or "data" not in puzzle else json.loads(puzzle["data"]),
                slots={
                    slot: build_room_slot(
                        slot,
                        [c for c in room_calls if c.slot == slot],
                        results.get((index, slot)),
                    )
                    for slot in slots
                },
            )
        )
    done = sum(finished)
    return Replay(
        match_id=match["id"],
        status=match["status"],
        started_at=match["started_at"],
        finished_at=match["finished_at"],
        wall_seconds=match["wall_seconds"],
        seed=None if hide else match["seed"],
        difficulty=match["difficulty"],
        profile=levels,
        purpose=match.get("purpose") or "measure",
        adversarial=AdversarialMode(match["adversarial"]),
        retries=match["retries"],
        scoring_version=match["scoring_version"],
        error=scrub_endpoints(match["error"], hosts),
        secrets_hidden=hide,
        contestants=people,
        rooms=rooms,
        summary=parse_summary(match["summary"]),
        rooms_done=done,
        rooms_total=len(room_ids),
        progress=round(done / len(room_ids), 4) if room_ids else 0.0,
        current_room_index=current,
    )


def _labels(row: dict[str, Any]) -> dict[Slot, str]:
    return {
        slot: label(row[f"{slot}_base_model"], row[f"{slot}_quant"]) for slot in match_slots(row)
    }


def seconds_between(started_at: str, moment: datetime) -> float:
    """Seconds from an ISO 8601 timestamp to ``moment`` (never negative)."""
    start = datetime.fromisoformat(started_at)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return round(max(0.0, (moment - start).total_seconds()), 3)


def build_now_playing(
    row: dict[str, Any], played: list[dict[str, Any]], calls: int, moment: datetime
) -> NowPlaying:
    """A running match's row (with its contestants' labels) at a glance."""
    slots = match_slots(row)
    room_ids: list[str] = json.loads(row["room_ids"])
    finished = rooms_finished(len(room_ids), slots, played)
    _, current = room_statuses(finished, set(), running=True)
    return NowPlaying(
        match_id=row["id"],
        started_at=row["started_at"],
        seconds_running=seconds_between(row["started_at"], moment),
        labels=_labels(row),
        difficulty=row["difficulty"],
        adversarial=AdversarialMode(row["adversarial"]),
        calibration=row.get("purpose") == "calibration",
        current_room_index=current,
        current_room_id=room_ids[current] if current is not None else None,
        current_room_name=room_name(room_ids[current]) if current is not None else None,
        rooms_done=sum(finished),
        rooms_total=len(room_ids),
        calls=calls,
        escaped={
            slot: sum(bool(p["escaped"]) for p in played if p["slot"] == slot) for slot in slots
        },
    )


def build_list_item(row: dict[str, Any]) -> MatchListItem:
    """A match row (with its contestants' labels) as a list item."""
    slots = match_slots(row)
    summary = parse_summary(row["summary"]) or {}
    running = row["status"] == "running" or bool(row.get("sealed"))
    return MatchListItem(
        id=row["id"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        wall_seconds=row["wall_seconds"],
        labels=_labels(row),
        submission_ids={slot: row[f"{slot}_submission_id"] for slot in slots},
        seed=None if running else row["seed"],
        difficulty=row["difficulty"],
        purpose=row.get("purpose") or "measure",
        adversarial=AdversarialMode(row["adversarial"]),
        retries=row["retries"],
        rooms_total=len(json.loads(row["room_ids"])),
        escaped={slot: s.escaped for slot, s in summary.items()},
        score={slot: s.score for slot, s in summary.items()},
    )


# -- Markdown -------------------------------------------------------------------------------------
def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def fenced(text: str, info: str = "text", *, escape: bool = True) -> str:
    """``text`` made inert as a fenced code block: HTML-escaped (unless ``escape`` is False),
    fenced with more backticks than its longest backtick run, so no line of it can close the
    block. Put it at top level (not in a list or quote, where a dedented line would end the
    container)."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if escape:
        body = html.escape(body, quote=False)
    ticks = "`" * max(3, _longest_backtick_run(body) + 1)
    if not body.endswith("\n"):
        body += "\n"
    return f"{ticks}{info}\n{body}{ticks}"


def inline_code(text: str, *, escape: bool = True) -> str:
    """``text`` made inert as an inline code span on one line: whitespace runs (line breaks
    included) become one space, HTML-escaped (unless ``escape`` is False), delimited by more
    backticks than its longest backtick run."""
    body = " ".join(text.split())
    if escape:
        body = html.escape(body, quote=False)
    body = body or "(empty)"
    ticks = "`" * (_longest_backtick_run(body) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def _collapsed(summary: str, body: str) -> str:
    """A ``<details>`` block; ``summary`` is our own text (escaped anyway), ``body`` Markdown."""
    return f"<details>\n<summary>{html.escape(summary)}</summary>\n\n{body}\n\n</details>"


def _num(value: float | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def _badge(outcome: str) -> str:
    """The badge of a stored outcome value (``?`` for a value this build does not know)."""
    try:
        return OUTCOME_BADGES[Outcome(outcome)]
    except ValueError:
        return "?"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of our own short texts (never model or submitter text)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


_ROOM_STATUS_TEXT = {
    "done": "done",
    "playing": "🔴 in play",
    "pending": "not reached",
    "unfinished": "unfinished (the match stopped here)",
}


@dataclass(frozen=True)
class _Markdown:
    """Renders a replay; every foreign text goes through ``code`` or ``block``."""

    replay: Replay
    escape: bool

    def code(self, text: str) -> str:
        return inline_code(text, escape=self.escape)

    def block(self, text: str) -> str:
        return fenced(text, escape=self.escape)

    def text(self, title: str, text: str, *, collapse: bool = False) -> list[str]:
        """A titled text: inline when short and on one line, else fenced (collapsed if asked)."""
        if not collapse and "\n" not in text and len(text) <= INLINE_MAX_CHARS and text.strip():
            return [f"**{title}:** {self.code(text)}"]
        if collapse:
            return [_collapsed(f"{title} ({len(text):,} characters)", self.block(text))]
        return [f"**{title}:**", self.block(text)]

    def plain(self, text: str) -> str:
        """``text`` as it is when it is only letters, digits, spaces, hyphens and dots (ours),
        else as inline code."""
        return text if re.fullmatch(r"[A-Za-z0-9 ·.-]+", text) else self.code(text)

    def who(self, slot: Slot) -> str:
        contestant = self.replay.contestants.get(slot)
        name = self.code(contestant.label) if contestant else "(unknown)"
        return f"{slot.upper()} · {name}"

    def phase_title(self, phase: str) -> str:
        if phase in _PHASE_TITLES:
            return _PHASE_TITLES[phase]
        retry = re.fullmatch(r"retry-(\d+)", phase)
        return f"Retry {retry.group(1)}" if retry else f"Phase {self.code(phase)}"

    def call_stats(self, call: ReplayCall) -> str:
        tokens = "—" if call.completion_tokens is None else f"{call.completion_tokens:,}"
        source = f" ({call.usage_source})" if call.usage_source else ""
        parts = [f"seq {call.seq}", f"{tokens} completion tokens{source}"]
        if call.reasoning_tokens:
            parts.append(f"{call.reasoning_tokens:,} reasoning tokens")
        if call.prompt_tokens is not None:
            parts.append(f"{call.prompt_tokens:,} prompt tokens")
        parts += [
            f"TTFT {_num(call.ttft_s, ' s', 3)}",
            f"latency {_num(call.latency_s, ' s', 3)}",
            _num(call.decode_tps, " tok/s", 1),
        ]
        if call.finish_reason:
            parts.append(f"finish {self.code(call.finish_reason)}")
        if call.cap_hit:
            parts.append("✂️ hit the token cap")
        if call.attempts > 1:
            parts.append(f"{call.attempts} attempts")
        return " · ".join(parts)

    def call(self, call: ReplayCall) -> list[str]:
        if call.error_kind:
            mark = "💥 endpoint error"
        elif call.withheld:
            mark = "⏳ in play"
        elif call.verdict_pending:
            mark = "⏳ validating"
        else:
            mark = "✔ solved" if call.solved else "✘ not solved"
        blocks = [
            f"#### {self.who(call.slot)} — {self.phase_title(call.phase)} · {mark}",
            self.call_stats(call),
        ]
        if call.withheld:
            return [*blocks, "_Texts withheld until the room is done._"]
        if call.prompt_text is not None:
            long = len(call.prompt_text) > LONG_PROMPT_CHARS
            blocks += self.text("Prompt added", call.prompt_text, collapse=long)
        if call.response_text:
            long = len(call.response_text) > LONG_PROMPT_CHARS
            blocks += self.text("Reply", call.response_text, collapse=long)
        elif not call.error_kind:
            blocks.append("_Empty reply._")
        if call.reasoning_text:
            blocks += self.text("Reasoning", call.reasoning_text, collapse=True)
        if call.parsed_answer is not None:
            blocks += self.text("Parsed answer", call.parsed_answer)
        if call.verdict_reason and not call.verdict_pending:
            blocks += self.text("Verdict", call.verdict_reason)
        if call.error:
            kind = call.error_kind if re.fullmatch(r"[a-z_]+", call.error_kind or "") else None
            blocks += self.text(f"Error ({kind})" if kind else "Error", call.error)
        return blocks

    def header(self) -> list[str]:
        r = self.replay
        seed = "hidden while running" if r.seed is None else str(r.seed)
        finished = self.code(r.finished_at) if r.finished_at else "—"
        facts = [
            f"**Status:** {r.status}",
            f"**Rooms:** {r.rooms_done}/{r.rooms_total}",
            f"**Profile:** {self.plain(profiles.describe(r.profile))}",
            f"**Seed:** {seed}",
            f"**Adversarial:** {r.adversarial.value}",
            f"**Retries:** {r.retries}",
            f"**Scoring:** {self.code(r.scoring_version)}",
        ]
        if r.purpose == "calibration":
            facts.insert(0, "**Calibration run** (never scored or paired)")
        times = [
            f"**Started:** {self.code(r.started_at)}",
            f"**Finished:** {finished}",
            f"**Wall time:** {_num(r.wall_seconds, ' s', 1)}",
        ]
        blocks = [f"# Match {self.code(r.match_id)}", " · ".join(facts), " · ".join(times)]
        lines = []
        for slot, contestant in r.contestants.items():
            played_for = (
                f"submission #{contestant.submission_id}"
                if contestant.submission_id is not None
                else "started by hand"
            )
            key = "API key: yes" if contestant.has_api_key else "API key: no"
            lines.append(
                f"- **{slot.upper()}:** {self.code(contestant.label)} ({played_for}, {key})"
            )
        blocks.append("\n".join(lines))
        if r.secrets_hidden:
            blocks.append(
                "_🔴 Live: the seed, solutions and keys, rooms not reached yet and the texts of "
                "the room in play stay hidden until the match ends._"
            )
        if r.error:
            blocks += self.text("Error", r.error)
        return blocks

    def summary(self) -> list[str]:
        summary = self.replay.summary
        if not summary:
            return []
        cells: dict[str, Callable[[ContestantSummary], str]] = {
            "Escaped": lambda s: f"{s.escaped}/{s.rooms}",
            "Score": lambda s: f"{s.score:+d}",
            "Share of opponent's score": lambda s: _num(s.share_of_opponent, " %", 1),
            "Decode speed": lambda s: _num(s.decode_tps, " tok/s", 1),
            "Completion tokens": lambda s: f"{s.completion_tokens:,}",
            "Token-cap hits": lambda s: str(s.cap_hits),
            "Endpoint errors": lambda s: str(s.errors),
            "Outcomes": lambda s: ", ".join(
                f"{_badge(k)} ×{n}" for k, n in sorted(s.outcomes.items())
            ),
        }
        rows = [[name, *(fn(summary[slot]) for slot in summary)] for name, fn in cells.items()]
        return ["## Summary", _table(["", *(slot.upper() for slot in summary)], rows)]

    def outcome(self, room: ReplayRoom) -> list[str]:
        if all(part.outcome is None for part in room.slots.values()):
            return []

        def breakdown(part: ReplayRoomSlot) -> str:
            items = (part.breakdown or {}).items()
            return ", ".join(f"{k} {v:+d}" for k, v in items if re.fullmatch(r"[a-z_]+", k)) or "—"

        def escaped(part: ReplayRoomSlot) -> str:
            if part.escaped is None:
                return "—"
            return "🗝️ Escaped" if part.escaped else "🔒 Stayed locked"

        rows: list[tuple[str, Callable[[ReplayRoomSlot], str]]] = [
            ("Outcome", lambda p: OUTCOME_BADGES[p.outcome] if p.outcome else "—"),
            ("Escaped", escaped),
            ("Points", lambda p: "—" if p.points is None else f"{p.points:+d}"),
            ("Breakdown", breakdown),
            ("Retries used", lambda p: "—" if p.retries_used is None else str(p.retries_used)),
            ("Time to solution", lambda p: _num(p.time_to_solution_s, " s", 3)),
            (
                "Tokens to solution",
                lambda p: "—" if p.tokens_to_solution is None else f"{p.tokens_to_solution:,}",
            ),
        ]
        slots = list(room.slots)
        table = _table(
            ["", *(s.upper() for s in slots)],
            [[name, *(fn(room.slots[s]) for s in slots)] for name, fn in rows],
        )
        return ["### Outcome", table]

    def room(self, room: ReplayRoom) -> list[str]:
        plain = re.fullmatch(r"[A-Za-z0-9 ]+", room.room_name)
        name = room.room_name if plain else self.code(room.room_name)
        blocks = [
            f"## Room {room.index + 1} · {name} — {_ROOM_STATUS_TEXT[room.status]}",
            f"{self.code(room.room_id)} · level {room.level} · "
            f"par {_num(room.par_seconds, ' s', 0)}",
        ]
        if room.prompt is None:
            blocks.append(
                f"_The puzzle ({room.prompt_chars:,} characters) is shown once it starts._"
            )
        elif room.prompt_is_long:
            title = f"Puzzle ({room.prompt_chars:,} characters)"
            blocks.append(_collapsed(title, self.block(room.prompt)))
        else:
            blocks += ["**Puzzle:**", self.block(room.prompt)]
        if room.solution is not None:
            blocks += self.text("Solution", room.solution)
        if room.key is not None:
            blocks.append(f"**Key:** {self.code(room.key)}")
        if self.replay.secrets_hidden:
            blocks.append("_Solution and key are hidden while the match is running._")
        phases: list[tuple[str, Callable[[ReplayRoomSlot], list[ReplayCall]]]] = [
            ("Initial answers", lambda p: [p.initial] if p.initial else []),
            ("Adversarial exchange", lambda p: [p.adversarial] if p.adversarial else []),
            ("Retries", lambda p: p.retries),
        ]
        for title, pick in phases:
            section = [
                block for part in room.slots.values() for c in pick(part) for block in self.call(c)
            ]
            if section:
                blocks += [f"### {title}", *section]
        return blocks + self.outcome(room)


def replay_markdown(replay: Replay, *, escape_html: bool = True) -> str:
    """A readable Markdown replay, room by room.

    Every model-, server-, submitter- and puzzle-written text is inert: inside inline code spans
    or top-level fenced blocks longer than any backtick run it holds, HTML-escaped as well (a
    CommonMark renderer then shows ``&lt;`` literally inside code; pass ``escape_html=False``
    when the renderer is known to be CommonMark-compliant). Tables and headings hold only our
    own text and such code spans.
    """
    md = _Markdown(replay, escape_html)
    blocks = md.header() + md.summary()
    for room in replay.rooms:
        blocks += md.room(room)
    return "\n\n".join(block.strip("\n") for block in blocks) + "\n"
