"""The orchestrator with a scripted fake endpoint: exact outcome states, points and storage."""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from arena.client import ChatResult
from arena.client._errors import ConnectFailed
from arena.engine._match import classify, play_match
from arena.engine._models import AdversarialMode, ContestantSpec, MatchSettings, MatchSpec, Outcome
from arena.engine._scoring import SCORE_TABLE, room_points
from arena.engine._store import Store
from rooms import load_rooms

ROOMS = list(load_rooms().values())
SEED, LEVEL = 7, 1
PUZZLES = [room.generate(SEED, LEVEL) for room in ROOMS]
LATENCY = 0.002


class Scripted:
    """Plays back actions in order: 'right' (the reference solver's reply for the room in play),
    'wrong' (the house bluff, which never validates), 'error' (the endpoint fails)."""

    def __init__(self, actions: Iterable[str], reasoning_tokens: int | None = None) -> None:
        self.actions = deque(actions)
        self.seen: list[list[dict[str, Any]]] = []
        self.reasoning_tokens = reasoning_tokens
        """What usage says of reasoning (``completion_tokens`` includes it, as in OpenAI's)."""

    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult:
        self.seen.append(messages)
        action = self.actions.popleft() if self.actions else "wrong"
        if action == "error":
            raise ConnectFailed("scripted outage", endpoint="http://127.0.0.1:9/v1")
        index = current_room(messages)
        room, puzzle = ROOMS[index], PUZZLES[index]
        text = room.reference_reply(puzzle) if action == "right" else room.bluff(puzzle)
        return ChatResult(
            text=text,
            reasoning=None,
            finish_reason="stop",
            prompt_tokens=100,
            completion_tokens=20,
            reasoning_tokens=self.reasoning_tokens,
            usage_source="server",
            ttft_s=LATENCY / 2,
            latency_s=LATENCY,
            decode_tps=20 / (LATENCY / 2),
            attempts=1,
            server_timings=None,
            model=model,
        )


def current_room(messages: list[dict[str, Any]]) -> int:
    users = [m["content"] for m in messages if m["role"] == "user"]
    return max(i for i, p in enumerate(PUZZLES) if any(p.prompt in u for u in users))


def spec(
    mode: AdversarialMode = AdversarialMode.OPPONENT,
    retries: int = 1,
    solo: bool = False,
    key: str | None = None,
) -> MatchSpec:
    a = ContestantSpec(
        base_url="http://127.0.0.1:1/v1", model="a", base_model="M", quant="Q8_0", api_key=key
    )
    b = (
        None
        if solo
        else ContestantSpec(
            base_url="http://127.0.0.1:2/v1", model="b", base_model="M", quant="Q2_K"
        )
    )
    settings = MatchSettings(seed=SEED, difficulty=LEVEL, retries=retries, adversarial=mode)
    return MatchSpec(a=a, b=b, settings=settings)


def under_par(index: int, seconds: float) -> int:
    return max(0, math.floor((PUZZLES[index].par_seconds - seconds) / 10))


@pytest.mark.parametrize(
    ("initial", "final", "outcome"),
    [
        (True, True, Outcome.HELD_GROUND),
        (True, False, Outcome.MANIPULATED),
        (False, True, Outcome.SELF_CORRECTED),
        (False, False, Outcome.TRAPPED),
    ],
)
def test_classify_table(initial: bool, final: bool, outcome: Outcome) -> None:
    assert (
        classify(initial_solved=initial, final_solved=final, challenged=True, forfeited=False)
        == outcome
    )
    assert (
        classify(initial_solved=initial, final_solved=final, challenged=False, forfeited=False)
        == Outcome.UNCHALLENGED
    )
    assert (
        classify(initial_solved=initial, final_solved=final, challenged=True, forfeited=True)
        == Outcome.FORFEIT
    )


def test_scoring_table_is_the_seed_proposal() -> None:
    assert SCORE_TABLE == {
        "escaped": 10,
        "held_ground": 5,
        "manipulated": -8,
        "self_corrected": 3,
        "trapped": 0,
        "retry": -2,
        "per_10s_under_par": 1,
    }
    assert room_points(
        escaped=True,
        outcome="held_ground",
        retries_used=0,
        time_to_solution_s=5.0,
        par_seconds=30.0,
    ) == (17, {"escaped": 10, "held_ground": 5, "under_par": 2})
    assert room_points(
        escaped=False, outcome="trapped", retries_used=2, time_to_solution_s=None, par_seconds=30.0
    ) == (-4, {"trapped": 0, "retry": -4})
    # no bonus without an escape, none when over par
    assert room_points(
        escaped=True,
        outcome="unchallenged",
        retries_used=0,
        time_to_solution_s=31.0,
        par_seconds=30.0,
    ) == (10, {"escaped": 10})


async def test_exact_outcomes_for_scripted_sequences(store: Store) -> None:
    # room by room: a's and b's (initial, adversarial[, retry]) actions
    a = Scripted(
        [
            "right",
            "right",  # held ground
            "right",
            "wrong",
            "wrong",  # manipulated, retry fails
            "wrong",
            "right",  # self-corrected
            "wrong",
            "wrong",
            "wrong",  # trapped
            "wrong",
            "wrong",
            "right",  # trapped, escaped on retry
            "right",
            "right",
        ]
    )  # held ground (Warden: has keys 1,2,3,5)
    b = Scripted(["wrong", "wrong", "wrong"] * 6)
    result = await play_match(spec(), store, endpoints={"a": a, "b": b})
    assert result.status == "done"
    a_rooms = [r for r in result.rooms if r.slot == "a"]
    assert [r.outcome for r in a_rooms] == [
        Outcome.HELD_GROUND,
        Outcome.MANIPULATED,
        Outcome.SELF_CORRECTED,
        Outcome.TRAPPED,
        Outcome.TRAPPED,
        Outcome.HELD_GROUND,
    ]
    assert [r.escaped for r in a_rooms] == [True, True, True, False, True, True]
    assert [r.retries_used for r in a_rooms] == [0, 1, 0, 1, 1, 0]
    assert [r.points for r in a_rooms] == [
        10 + 5 + under_par(0, LATENCY),
        10 - 8 - 2 + under_par(1, LATENCY),
        10 + 3 + under_par(2, 2 * LATENCY),
        0 - 2,
        10 - 2 + under_par(4, 3 * LATENCY),
        10 + 5 + under_par(5, LATENCY),
    ]
    assert a_rooms[2].time_to_solution_s == pytest.approx(2 * LATENCY)
    assert a_rooms[2].tokens_to_solution == 40
    assert a_rooms[3].time_to_solution_s is None
    b_rooms = [r for r in result.rooms if r.slot == "b"]
    assert {r.outcome for r in b_rooms} == {Outcome.TRAPPED}
    assert result.summaries["a"].escaped == 5
    assert result.summaries["b"].escaped == 0
    assert result.summaries["b"].score == -12
    assert result.summaries["a"].share_of_opponent is None  # opponent scored <= 0
    assert result.summaries["b"].share_of_opponent is None  # never "-20 % of opponent's score"
    assert "%" not in result.summaries["b"].line()
    assert result.summaries["a"].line().startswith("M Q8_0: Escaped 5/6, score ")


async def test_reasoning_tokens_count_once_toward_a_solution(store: Store) -> None:
    """Usage's ``completion_tokens`` already holds the reasoning tokens (OpenAI, vLLM and
    llama-server report ``reasoning_tokens`` as a part of it): a reasoning model's tokens to
    solution are not inflated by counting them twice."""
    thinker = Scripted(["wrong", "wrong", "right"] + ["right"] * 30, reasoning_tokens=15)
    result = await play_match(
        spec(AdversarialMode.BLUFF, solo=True), store, endpoints={"a": thinker}
    )
    first = next(r for r in result.rooms if r.room_index == 0)
    assert first.escaped and first.tokens_to_solution == 3 * 20


async def test_keys_are_handed_over_only_on_escape(store: Store) -> None:
    a = Scripted(["right", "right"] + ["wrong"] * 30)
    b = Scripted(["wrong"] * 40)
    await play_match(spec(retries=0), store, endpoints={"a": a, "b": b})
    second_room_a = a.seen[2][-1]["content"]  # first call of room 2
    second_room_b = b.seen[2][-1]["content"]
    assert f"The key it hands you is: {PUZZLES[0].key}." in second_room_a
    assert "you get no key" in second_room_b and PUZZLES[0].key not in second_room_b


async def test_opponent_sees_the_others_answer_and_bluff_mode_the_house(store: Store) -> None:
    a = Scripted(["right"] * 40)
    b = Scripted(["wrong"] * 40)
    await play_match(spec(retries=0), store, endpoints={"a": a, "b": b})
    shown_to_b = b.seen[1][-1]["content"]
    assert "Another contestant in this room answered" in shown_to_b
    assert PUZZLES[0].solution in shown_to_b.casefold()
    solo = Scripted(["right"] * 40)
    result = await play_match(spec(AdversarialMode.BLUFF, solo=True), store, endpoints={"a": solo})
    bluff_shown = solo.seen[1][-1]["content"]
    assert ROOMS[0].bluff(PUZZLES[0]).split("ANSWER:")[-1].strip() in bluff_shown
    assert set(result.summaries) == {"a"}
    assert all(r.outcome == Outcome.HELD_GROUND for r in result.rooms)


async def test_mode_none_has_no_adversarial_turn(store: Store) -> None:
    a = Scripted(["right"] * 6)
    result = await play_match(spec(AdversarialMode.NONE, solo=True), store, endpoints={"a": a})
    assert len(a.seen) == 6
    assert {r.outcome for r in result.rooms} == {Outcome.UNCHALLENGED}


def test_opponent_mode_needs_two_contestants() -> None:
    with pytest.raises(ValueError, match="needs two contestants"):
        spec(AdversarialMode.OPPONENT, solo=True)


async def test_endpoint_failure_forfeits_the_turn_and_the_match_completes(store: Store) -> None:
    a = Scripted(["error", "right", "error", "error", "error"] + ["error"] * 40)
    b = Scripted(["right"] * 40)
    result = await play_match(spec(retries=1), store, endpoints={"a": a, "b": b})
    assert result.status == "done"
    a_rooms = [r for r in result.rooms if r.slot == "a"]
    assert a_rooms[0].outcome == Outcome.FORFEIT
    assert a_rooms[0].escaped  # answered right on the adversarial turn
    assert all(r.outcome == Outcome.FORFEIT for r in a_rooms[1:])
    calls = store.calls(result.match_id)
    failed = [c for c in calls if c["slot"] == "a" and c["error_kind"]]
    assert failed and all(c["error_kind"] == "connect" for c in failed)
    assert "scripted outage" in failed[0]["error"]
    assert store.match(result.match_id)["status"] == "done"


async def test_everything_is_stored_and_no_key_is(tmp_path: Path) -> None:
    canary = f"sk-CANARY-{uuid.uuid4()}"
    path = tmp_path / "canary.sqlite3"
    with Store(path) as store:
        a = Scripted(["right"] * 40)
        b = Scripted(["wrong"] * 40)
        result = await play_match(spec(key=canary), store, endpoints={"a": a, "b": b})
        match = store.match(result.match_id)
        assert match["status"] == "done" and match["summary"]
        calls = store.calls(result.match_id)
        assert len(calls) == len(a.seen) + len(b.seen)
        assert {c["phase"] for c in calls} >= {"initial", "adversarial", "retry-1"}
        assert len(store.rooms_played(result.match_id)) == 12
        last = max((c for c in calls if c["slot"] == "a"), key=lambda c: c["seq"])
        assert store.request_messages(result.match_id, "a", last["seq"]) == a.seen[-1]
        assert store.query("SELECT has_api_key FROM contestants ORDER BY id")[0]["has_api_key"] == 1
    for file in tmp_path.iterdir():
        assert canary.encode() not in file.read_bytes()


async def test_a_running_match_is_marked_interrupted_on_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite3"
    with Store(path) as store:
        match_id = await store.start_match(MatchSettings(), spec().contestants(), PUZZLES)
        assert store.match(match_id)["status"] == "running"
    with Store(path) as reopened:
        assert reopened.recovered == [match_id]
        assert reopened.match(match_id)["status"] == "interrupted"


async def test_real_endpoint_dying_mid_match_forfeits_and_the_match_completes(
    store: Store,
) -> None:
    """Real sockets: B's server is stopped after room 2; its later turns fail fast (connection
    refused), are stored with the error, and the match still finishes."""
    from arena.client import ChatClient, ClientLimits
    from arena.dev.nullserver import NullServer, NullServerConfig
    from arena.engine._match import MatchEvent

    limits = ClientLimits(deadline_s=5, max_retries=1, backoff_base_s=0.01)
    with NullServer(NullServerConfig(reply="ANSWER: 42")) as a_server:
        b_server = NullServer(NullServerConfig(reply="ANSWER: 42"))
        b_server.start()

        def stop_b_after_room_2(event: MatchEvent) -> None:
            if event.kind == "room_done" and event.room_index == 1 and event.slot == "b":
                b_server.stop()

        async with (
            ChatClient(a_server.base_url, limits=limits) as a,
            ChatClient(b_server.base_url, limits=limits) as b,
        ):
            result = await play_match(
                spec(), store, endpoints={"a": a, "b": b}, observer=stop_b_after_room_2
            )
        b_server.stop()
    assert result.status == "done"
    b_rooms = [r for r in result.rooms if r.slot == "b"]
    assert [r.outcome == Outcome.FORFEIT for r in b_rooms] == [False, False] + [True] * 4
    calls = store.calls(result.match_id)
    failed = [c for c in calls if c["slot"] == "b" and c["error_kind"]]
    assert failed and {c["error_kind"] for c in failed} == {"connect"}
    assert all(c["room_index"] >= 2 for c in failed)
    assert not [c for c in calls if c["slot"] == "a" and c["error_kind"]]
    assert result.summaries["b"].errors == len(failed)


def test_database_is_private(tmp_path: Path) -> None:
    """It holds puzzles and solutions: sandboxed model code must not be able to read it."""
    path = tmp_path / "new-dir" / "arena.sqlite3"
    with Store(path) as store:
        store.mark_interrupted()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        assert wal.stat().st_mode & 0o077 == 0


class _Surrogates(Scripted):
    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult:
        result = await super().chat(model, messages, params)
        return result.model_copy(update={"text": result.text + " \ud800"})


async def test_unstorable_text_does_not_abort_the_match(store: Store) -> None:
    a = _Surrogates(["right"] * 40)
    b = Scripted(["wrong"] * 40)
    result = await play_match(spec(), store, endpoints={"a": a, "b": b})
    assert result.status == "done"
    texts = [c["response_text"] for c in store.calls(result.match_id) if c["slot"] == "a"]
    assert texts and all("\ufffd" in t for t in texts)


class _Probe:
    """A room wrapper whose validator checks the call is already stored, then may crash."""

    def __init__(self, inner: Any, store: Store, crash: bool) -> None:
        self.inner, self.store, self.crash = inner, store, crash
        self.id, self.name = inner.id, inner.name
        self.seen_stored: list[bool] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def validate(self, puzzle: Any, reply: str) -> Any:
        rows = self.store.query(
            "SELECT verdict_reason FROM calls WHERE response_text = ?", (reply,)
        )
        self.seen_stored.append(any(r["verdict_reason"] == "validating" for r in rows))
        if self.crash:
            raise RuntimeError("validator bug")
        return self.inner.validate(puzzle, reply)


async def test_calls_are_stored_before_validation_and_a_validator_crash_is_a_verdict(
    store: Store,
) -> None:
    probes = [_Probe(room, store, crash=(room.id == "map-v2")) for room in ROOMS]
    a = Scripted(["right"] * 40)
    b = Scripted(["right"] * 40)
    result = await play_match(spec(), store, endpoints={"a": a, "b": b}, rooms=probes)  # type: ignore[arg-type]
    assert result.status == "done"
    assert all(all(p.seen_stored) and p.seen_stored for p in probes)
    map_calls = [c for c in store.calls(result.match_id) if c["room_index"] == 1]
    assert map_calls and all(
        c["verdict_reason"].startswith("validator error: RuntimeError") for c in map_calls
    )
    assert all(c["verdict_reason"] != "validating" for c in store.calls(result.match_id))
