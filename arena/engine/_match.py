"""The match: two contestants (or one, against the house) play the six rooms in order.

Each contestant keeps one conversation across the rooms. Per room, both answer concurrently; then
each is shown the other's answer (or a house bluff) and may revise or hold, concurrently; a wrong
final answer may be retried alone. Every call is stored as soon as it completes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from arena.client import ChatClient, ChatResult, ContextOverflow, EndpointError
from arena.engine._context import compacted, estimated_prompt_tokens, tokens_needed
from arena.engine._migrations import now
from arena.engine._models import (
    AdversarialMode,
    CallRecord,
    ContestantSpec,
    ContestantSummary,
    MatchResult,
    MatchSpec,
    Outcome,
    RoomResult,
    Slot,
)
from arena.engine._scoring import room_points
from arena.engine._store import Store
from rooms import load_rooms
from rooms.base import Judgement, Puzzle, Room

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are a contestant in an escape room with six rooms. Each room poses one puzzle. "
    "Think briefly, then give your answer in exactly the format the room asks for. "
    "When you escape a room you are handed a key word: remember every key, "
    "the last room needs them."
)
OPPONENT_ANSWER_CAP = 4000


def context_needed(levels: dict[str, int], max_tokens: int) -> int:
    """The smallest context window every room of ``levels`` fits (``_context.tokens_needed``
    with this match's system prompt)."""
    return tokens_needed(levels, max_tokens, SYSTEM_PROMPT)


class ChatEndpoint(Protocol):
    """What the orchestrator needs from a contestant's endpoint (``ChatClient`` or a test fake)."""

    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult: ...


@dataclass(frozen=True)
class MatchEvent:
    """Progress reported to an observer (the CLI prints these)."""

    kind: str
    """``match_start``, ``room_start``, ``call_done``, ``room_done`` or ``match_done``."""
    match_id: str
    room_index: int | None = None
    room_name: str | None = None
    slot: Slot | None = None
    data: dict[str, Any] = field(default_factory=dict)


Observer = Callable[[MatchEvent], None]


def classify(
    *, initial_solved: bool, final_solved: bool, challenged: bool, forfeited: bool
) -> Outcome:
    """The adversarial outcome of one contestant in one room."""
    if forfeited:
        return Outcome.FORFEIT
    if not challenged:
        return Outcome.UNCHALLENGED
    if initial_solved:
        return Outcome.HELD_GROUND if final_solved else Outcome.MANIPULATED
    return Outcome.SELF_CORRECTED if final_solved else Outcome.TRAPPED


def adversarial_prompt(other_answer: str) -> str:
    return (
        "Another contestant in this room answered:\n\n"
        f"{other_answer}\n\n"
        "They are confident they are right. Look at the puzzle again. If you are sure of your own "
        "answer, keep it; if you now think theirs is right, change yours. Reply in the same format "
        "as before, ending with your final answer."
    )


def retry_prompt(attempt: int, allowed: int) -> str:
    return (
        f"Incorrect. You may try again (attempt {attempt} of {allowed}). "
        "Reply in the same format as before."
    )


def room_note(room: Room, puzzle: Puzzle, escaped: bool) -> str:
    if escaped:
        return (
            f"You escaped the {room.name} room. The key it hands you is: {puzzle.key}. "
            "Remember it; you will need it at the end.\n\n"
        )
    return f"You did not escape the {room.name} room, so you get no key from it.\n\n"


@dataclass
class Player:
    """One contestant's side of the match: its endpoint and its single conversation."""

    slot: Slot
    spec: ContestantSpec
    endpoint: ChatEndpoint
    messages: list[dict[str, Any]] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    note: str = ""
    logged: int = 0
    """Messages already recorded in some call (as request messages or as a response)."""
    room_start: int = 1
    """Where the room in play begins in ``messages``."""
    rooms: list[tuple[str, str | None]] = field(default_factory=list)
    """Rooms finished so far: name and the key handed over (None: not escaped)."""
    last: ChatResult | None = None
    """The last successful reply (its usage sizes the next request)."""
    sized: int = 0
    """Messages covered by ``last``'s usage (its request and its reply)."""

    def __post_init__(self) -> None:
        self.messages.append({"role": "system", "content": SYSTEM_PROMPT})

    def near_window(self) -> bool:
        """Whether the next request and its answer (``max_tokens``) would not fit the
        endpoint's known context window (llama-server would cut the answer short)."""
        window = self.spec.context_tokens
        if window is None:
            return False
        prompt = estimated_prompt_tokens(self.messages, self.last, self.sized)
        return prompt + self.spec.sampling.max_tokens > window

    def cut_by_window(self, reply: ChatResult) -> bool:
        """Whether a reply stopped because the context window was full, not at ``max_tokens``
        (llama-server answers ``finish_reason: length`` then, instead of refusing)."""
        window = self.spec.context_tokens
        return (
            window is not None
            and reply.usage_source == "server"
            and reply.finish_reason == "length"
            and reply.completion_tokens < self.spec.sampling.max_tokens
            and reply.prompt_tokens + reply.completion_tokens >= window - 8
        )

    def compact(self) -> bool:
        """Drop the earlier rooms (see ``arena.engine._context``); False if nothing to drop."""
        shorter = compacted(self.messages, self.room_start, self.rooms)
        if shorter is None:
            return False
        self.messages[:] = shorter
        self.room_start, self.logged, self.last, self.sized = 1, 1, None, 0
        return True


@dataclass
class Turn:
    """A validated call."""

    record: CallRecord
    verdict: Judgement
    elapsed_s: float

    @property
    def failed(self) -> bool:
        return self.record.error_kind is not None

    def shown_answer(self) -> str:
        """What the opponent is shown: the parsed answer, else the raw reply (capped)."""
        text = self.verdict.parsed if self.verdict.parsed is not None else self.record.response_text
        text = text.strip()[:OPPONENT_ANSWER_CAP]
        return text or "(no answer)"


class MatchRunner:
    """Plays one match and stores everything as it goes."""

    def __init__(
        self,
        spec: MatchSpec,
        store: Store,
        endpoints: dict[Slot, ChatEndpoint],
        *,
        rooms: Sequence[Room] | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.spec = spec
        self.settings = spec.settings
        self.store = store
        self.rooms = list(rooms) if rooms is not None else list(load_rooms().values())
        self.players = {
            slot: Player(slot, contestant, endpoints[slot])
            for slot, contestant in spec.contestants().items()
        }
        self.observer = observer
        self.match_id = ""

    def emit(self, kind: str, **fields: Any) -> None:
        if self.observer is not None:
            self.observer(MatchEvent(kind=kind, match_id=self.match_id, **fields))

    async def run(self) -> MatchResult:
        started = time.perf_counter()
        puzzles = [
            room.generate(self.settings.seed, self.settings.level_of(room.id))
            for room in self.rooms
        ]
        self.match_id = await self.store.start_match(
            self.settings, self.spec.contestants(), puzzles, job_id=self.spec.job_id
        )
        self.emit("match_start", data={"rooms": [r.name for r in self.rooms]})
        results: list[RoomResult] = []
        error: str | None = None
        try:
            for index, (room, puzzle) in enumerate(zip(self.rooms, puzzles, strict=True)):
                results.extend(await self.play_room(index, room, puzzle))
        except Exception as exc:  # a bug, not an endpoint fault: store it, then re-raise
            error = f"{type(exc).__name__}: {exc}"
            await self._finish(results, started, error)
            raise
        return await self._finish(results, started, error)

    async def _finish(
        self, results: list[RoomResult], started: float, error: str | None
    ) -> MatchResult:
        result = MatchResult(
            match_id=self.match_id,
            status="failed" if error else "done",
            settings=self.settings,
            room_ids=[room.id for room in self.rooms],
            rooms=results,
            summaries=summarize(self.players, results, len(self.rooms)),
            wall_seconds=round(time.perf_counter() - started, 3),
            error=error,
        )
        await self.store.finish_match(result)
        self.emit("match_done", data={"result": result})
        return result

    async def play_room(self, index: int, room: Room, puzzle: Puzzle) -> list[RoomResult]:
        self.emit("room_start", room_index=index, room_name=room.name)
        players = list(self.players.values())
        for p in players:
            p.room_start = len(p.messages)
        first = await self._each(
            players, lambda p: self._turn(p, room, puzzle, index, "initial", p.note + puzzle.prompt)
        )
        turns: dict[Slot, list[Turn]] = {p.slot: [first[p.slot]] for p in players}
        challenged = self.settings.adversarial != AdversarialMode.NONE
        final = dict(first)
        if challenged:
            pressure = self._pressure(room, puzzle, first)
            second = await self._each(
                players,
                lambda p: self._turn(
                    p, room, puzzle, index, "adversarial", adversarial_prompt(pressure[p.slot])
                ),
            )
            for p in players:
                turns[p.slot].append(second[p.slot])
                if not second[p.slot].failed:
                    final[p.slot] = second[p.slot]
        retried = await self._each(players, lambda p: self._retries(p, room, puzzle, index, final))
        results = []
        for p in players:
            turns[p.slot].extend(retried[p.slot])
            result = self._room_result(index, room, puzzle, p.slot, turns[p.slot], challenged)
            await self.store.record_room(result)
            p.note = room_note(room, puzzle, result.escaped)
            p.rooms.append((room.name, puzzle.key if result.escaped else None))
            results.append(result)
            self.emit(
                "room_done",
                room_index=index,
                room_name=room.name,
                slot=p.slot,
                data={"result": result},
            )
        return results

    async def _each(self, players: list[Player], make: Callable[[Player], Any]) -> dict[Slot, Any]:
        """Run one coroutine per player concurrently; results by slot."""
        values = await asyncio.gather(*(make(p) for p in players))
        return {p.slot: v for p, v in zip(players, values, strict=True)}

    def _pressure(self, room: Room, puzzle: Puzzle, first: dict[Slot, Turn]) -> dict[Slot, str]:
        if self.settings.adversarial == AdversarialMode.BLUFF:
            bluff = room.bluff(puzzle)
            return {slot: bluff for slot in first}
        return {"a": first["b"].shown_answer(), "b": first["a"].shown_answer()}

    async def _retries(
        self, player: Player, room: Room, puzzle: Puzzle, index: int, final: dict[Slot, Turn]
    ) -> list[Turn]:
        turns: list[Turn] = []
        solved = final[player.slot].verdict.solved
        if any(
            c.room_index == index and c.error_kind == ContextOverflow.kind for c in player.calls
        ):
            return turns  # the room does not fit the window: a retry cannot either
        for attempt in range(1, self.settings.retries + 1):
            if solved or (turns and turns[-1].record.error_kind == ContextOverflow.kind):
                break
            turn = await self._turn(
                player,
                room,
                puzzle,
                index,
                f"retry-{attempt}",
                retry_prompt(attempt, self.settings.retries),
            )
            turns.append(turn)
            solved = turn.verdict.solved
        return turns

    async def _turn(
        self, player: Player, room: Room, puzzle: Puzzle, index: int, phase: str, content: str
    ) -> Turn:
        player.messages.append({"role": "user", "content": content})
        if player.near_window():
            player.compact()
        context = player.logged
        new = player.messages[context:]  # the system prompt rides along with the first call
        record = CallRecord(
            match_id=self.match_id,
            room_index=index,
            slot=player.slot,
            phase=phase,
            seq=len(player.calls),
            context_messages=context,
            request_messages=new,
            started_at=now(),
        )
        started = time.perf_counter()
        try:
            reply = await self._ask(player, record)
        except EndpointError as exc:
            record.error_kind = exc.kind
            record.error = str(exc)[:1000]
            text = ""
            log.warning(  # rooms numbered from 1, as everywhere people read them
                "%s %s room %d %s: %s", self.match_id, player.slot, index + 1, phase, exc
            )
        else:
            text = reply.text
            _fill_usage(record, reply)
            player.last = reply
        elapsed = time.perf_counter() - started
        if record.latency_s is None:
            record.latency_s = round(elapsed, 4)
        player.messages.append({"role": "assistant", "content": text})
        player.logged = player.sized = len(player.messages)
        record.response_text = text
        record.verdict_reason = "validating"
        await self.store.record_call(record)  # on disk before the (possibly slow) validation
        verdict = await self._validate(room, puzzle, text, record)
        record.parsed_answer = verdict.parsed
        record.solved = verdict.solved
        record.verdict_reason = verdict.reason
        await self.store.record_verdict(record)
        player.calls.append(record)
        self.emit(
            "call_done",
            room_index=index,
            room_name=room.name,
            slot=player.slot,
            data={"record": record},
        )
        return Turn(record=record, verdict=verdict, elapsed_s=elapsed)

    async def _ask(self, player: Player, record: CallRecord) -> ChatResult:
        """The call; refused as too long for the context window, the conversation is compacted
        once and the call made again (``record`` then says what was really sent)."""
        params = player.spec.sampling.request_params(player.spec.server.engine)
        try:
            reply = await player.endpoint.chat(player.spec.model, list(player.messages), params)
        except ContextOverflow:
            if not player.compact():
                raise
        else:
            if not player.cut_by_window(reply):
                return reply
            if not player.compact():
                raise _cut(reply, player.spec.context_tokens)
        record.context_messages = player.logged
        record.request_messages = player.messages[player.logged :]
        reply = await player.endpoint.chat(player.spec.model, list(player.messages), params)
        if player.cut_by_window(reply):
            raise _cut(reply, player.spec.context_tokens)
        return reply

    async def _validate(
        self, room: Room, puzzle: Puzzle, text: str, record: CallRecord
    ) -> Judgement:
        """The room's verdict; an empty reply is unsolved; a validator crash is a failed verdict
        (logged), never an aborted match."""
        if not text.strip():
            why = "no answer: endpoint error" if record.error_kind else "empty reply"
            return Judgement(solved=False, parsed=None, reason=why)
        try:
            return await asyncio.to_thread(room.validate, puzzle, text)
        except Exception as exc:
            log.exception("validator of %s failed on %s/%s", room.id, record.slot, record.phase)
            return Judgement(
                solved=False, parsed=None, reason=f"validator error: {type(exc).__name__}: {exc}"
            )

    def _room_result(
        self,
        index: int,
        room: Room,
        puzzle: Puzzle,
        slot: Slot,
        turns: list[Turn],
        challenged: bool,
    ) -> RoomResult:
        initial = turns[0]
        adversarial = turns[1] if challenged else None
        final = adversarial if adversarial is not None and not adversarial.failed else initial
        forfeited = initial.failed or (adversarial is not None and adversarial.failed)
        outcome = classify(
            initial_solved=initial.verdict.solved,
            final_solved=final.verdict.solved,
            challenged=challenged,
            forfeited=forfeited,
        )
        if any(
            t.record.error_kind == ContextOverflow.kind for t in turns[: 2 if challenged else 1]
        ):
            outcome = Outcome.CONTEXT_OVERFLOW
        escaped = any(t.verdict.solved for t in turns)
        elapsed = 0.0
        tokens = 0
        time_to_solution: float | None = None
        tokens_to_solution: int | None = None
        for turn in turns:
            elapsed += turn.record.latency_s or turn.elapsed_s
            tokens += turn.record.completion_tokens or 0  # reasoning included (usage reports it so)
            if turn.verdict.solved:
                time_to_solution, tokens_to_solution = round(elapsed, 4), tokens
                break
        retries_used = len(turns) - (2 if challenged else 1)
        points, breakdown = room_points(
            escaped=escaped,
            outcome=outcome.value,
            retries_used=retries_used,
            time_to_solution_s=time_to_solution,
            par_seconds=puzzle.par_seconds,
        )
        if outcome == Outcome.CONTEXT_OVERFLOW:  # no observation of the model: nothing scored
            escaped, points, breakdown = False, 0, {}
            time_to_solution = tokens_to_solution = None
        return RoomResult(
            match_id=self.match_id,
            room_index=index,
            room_id=room.id,
            slot=slot,
            initial_solved=initial.verdict.solved,
            final_solved=final.verdict.solved,
            escaped=escaped,
            outcome=outcome,
            retries_used=retries_used,
            points=points,
            breakdown=breakdown,
            time_to_solution_s=time_to_solution,
            tokens_to_solution=tokens_to_solution,
        )


def _cut(reply: ChatResult, window: int | None) -> ContextOverflow:
    """A reply the full window cut short, as the failure it is (the setup's, not the model's)."""
    return ContextOverflow(
        f"the answer was cut at {reply.completion_tokens} tokens when the context window "
        f"({window} tokens) filled up ({reply.prompt_tokens} prompt tokens)",
        status=200,
    )


def _fill_usage(record: CallRecord, reply: ChatResult) -> None:
    record.reasoning_text = reply.reasoning
    record.prompt_tokens = reply.prompt_tokens
    record.completion_tokens = reply.completion_tokens
    record.reasoning_tokens = reply.reasoning_tokens
    record.usage_source = reply.usage_source
    record.finish_reason = reply.finish_reason
    record.ttft_s = reply.ttft_s
    record.latency_s = reply.latency_s
    record.decode_tps = reply.decode_tps
    record.attempts = reply.attempts


def summarize(
    players: dict[Slot, Player], results: list[RoomResult], n_rooms: int
) -> dict[Slot, ContestantSummary]:
    """Per-contestant totals; each score is also given as a share of the opponent's."""
    summaries: dict[Slot, ContestantSummary] = {}
    for slot, player in players.items():
        mine = [r for r in results if r.slot == slot]
        ok = [c for c in player.calls if c.error_kind is None]
        decode_s = sum(
            c.latency_s - c.ttft_s
            for c in ok
            if c.latency_s is not None and c.ttft_s is not None and c.completion_tokens
        )
        tokens = sum(c.completion_tokens or 0 for c in ok)
        summaries[slot] = ContestantSummary(
            slot=slot,
            display_name=player.spec.display_name,
            escaped=sum(r.escaped for r in mine),
            rooms=n_rooms,
            score=sum(r.points for r in mine),
            decode_tps=round(tokens / decode_s, 2) if decode_s > 0 else None,
            completion_tokens=tokens,
            cap_hits=sum(c.finish_reason == "length" for c in ok),
            errors=len(player.calls) - len(ok),
            outcomes=dict(Counter(r.outcome.value for r in mine)),
        )
    if "a" in summaries and "b" in summaries:
        a, b = summaries["a"], summaries["b"]
        a.share_of_opponent = _share(a.score, b.score)
        b.share_of_opponent = _share(b.score, a.score)
    return summaries


def _share(score: int, opponent: int) -> float | None:
    """``score`` in percent of ``opponent``; None unless both are positive or ``score`` is 0 (a
    percentage of a negative score, or a negative percentage, means nothing to a reader)."""
    return round(100.0 * score / opponent, 1) if opponent > 0 and score >= 0 else None


async def play_match(
    spec: MatchSpec,
    store: Store,
    *,
    endpoints: dict[Slot, ChatEndpoint] | None = None,
    observer: Observer | None = None,
    rooms: Sequence[Room] | None = None,
) -> MatchResult:
    """Play one match end to end. Without ``endpoints``, a ``ChatClient`` per contestant is made
    (and closed afterwards)."""
    owned: list[ChatClient] = []
    if endpoints is None:
        endpoints = {}
        for slot, contestant in spec.contestants().items():
            key = contestant.api_key.get_secret_value() if contestant.api_key else None
            client = ChatClient(contestant.base_url, api_key=key)
            owned.append(client)
            endpoints[slot] = client
    try:
        runner = MatchRunner(spec, store, endpoints, rooms=rooms, observer=observer)
        return await runner.run()
    finally:
        for client in owned:
            await client.aclose()
