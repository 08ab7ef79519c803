"""A conversation that outgrows the endpoint's context window: compacted (keys kept), and never a
forfeit: what cannot fit even compacted is a ``context_overflow``, a setup problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from arena.client import ChatResult, ContextOverflow, HTTPStatusError
from arena.client._errors import is_context_overflow
from arena.engine._context import compacted, keys_note
from arena.engine._match import play_match
from arena.engine._models import AdversarialMode, ContestantSpec, MatchSettings, MatchSpec, Outcome
from arena.engine._store import Store
from tests.arena.client.test_client import chat_with
from tests.arena.engine.test_match import LEVEL, PUZZLES, ROOMS, SEED, Scripted


class Windowed(Scripted):
    """A scripted contestant behind a server with a context window of ``window`` tokens
    (characters / 4), which refuses longer requests as llama-server does."""

    def __init__(self, window: int, actions: list[str], filler: int = 0) -> None:
        super().__init__(actions)
        self.window = window
        self.filler = filler
        self.sizes: list[int] = []
        self.refused = 0

    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult:
        size = sum(len(m["content"]) for m in messages) // 4
        if size > self.window:
            self.refused += 1
            raise ContextOverflow(
                json.dumps({"error": {"type": "exceed_context_size_error", "n_ctx": self.window}}),
                status=400,
                endpoint="http://127.0.0.1:9/v1",
            )
        self.sizes.append(size)
        reply = await super().chat(model, messages, params)
        text = "ramble " * self.filler + "\n" + reply.text
        usage = {"prompt_tokens": size, "completion_tokens": len(text) // 4}
        return reply.model_copy(update={"text": text, **usage})


class Truncating(Windowed):
    """Like llama-server: a prompt that fits but leaves less than ``max_tokens`` for the answer
    gets the answer cut where the window is full (``finish_reason: length``), no refusal."""

    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult:
        reply = await super().chat(model, messages, params)
        room = self.window - reply.prompt_tokens
        limit = (params or {}).get("max_tokens", 512)
        if room >= limit or reply.completion_tokens <= room:
            return reply
        self.cut += 1
        return reply.model_copy(
            update={
                "text": reply.text[: 4 * room],
                "finish_reason": "length",
                "completion_tokens": room,
            }
        )

    cut = 0


def solo(window: int | None = None, retries: int = 0) -> MatchSpec:
    a = ContestantSpec(
        base_url="http://127.0.0.1:1/v1",
        model="a",
        base_model="M",
        quant="Q2_K",
        context_tokens=window,
    )
    settings = MatchSettings(
        seed=SEED, difficulty=LEVEL, retries=retries, adversarial=AdversarialMode.BLUFF
    )
    return MatchSpec(a=a, b=None, settings=settings)


@pytest.mark.parametrize(
    ("status", "body", "overflow"),
    [
        (400, '{"error":{"code":400,"type":"exceed_context_size_error","n_ctx":2048}}', True),
        (400, "This model's maximum context length is 4096 tokens. However, you requested", True),
        (400, '{"error":{"code":"context_length_exceeded"}}', True),
        (400, "Requested tokens (5000) exceed context window of 4096", True),
        (422, "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048", True),
        (400, '{"error":"invalid temperature"}', False),
        (500, "maximum context length", False),
    ],
)
def test_servers_refusals_for_too_long_requests_are_recognised(
    status: int, body: str, overflow: bool
) -> None:
    assert is_context_overflow(status, body) is overflow


async def test_the_client_raises_context_overflow_for_llama_servers_refusal() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "the request exceeds the available context size",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 2100,
            "n_ctx": 2048,
        }
    }
    with pytest.raises(ContextOverflow) as caught:
        await chat_with(lambda r: httpx.Response(400, json=body))
    assert caught.value.kind == "context_overflow" and not caught.value.retryable
    assert isinstance(caught.value, HTTPStatusError)
    with pytest.raises(HTTPStatusError) as other:
        await chat_with(lambda r: httpx.Response(400, json={"error": "bad temperature"}))
    assert type(other.value) is HTTPStatusError


def test_compaction_keeps_the_system_prompt_the_room_and_every_key() -> None:
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "room 1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "room 2"},
        {"role": "assistant", "content": "a2"},
        {"role": "user", "content": "room 3 prompt"},
    ]
    rooms = [("Cipher", "EMBER"), ("Map", None)]
    shorter = compacted(messages, 5, rooms)
    assert shorter is not None and shorter[0] == messages[0] and len(shorter) == 2
    assert shorter[1]["content"].endswith("room 3 prompt")
    assert "Cipher: key EMBER" in shorter[1]["content"] and "Map: no key" in shorter[1]["content"]
    assert compacted(messages, 1, []) is None  # the first room: nothing to drop
    assert keys_note([]) == ""


async def test_an_overflowing_conversation_is_compacted_and_never_forfeits(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    biggest = max(len(p.prompt) for p in PUZZLES) // 4
    player = Windowed(biggest + 800, ["right"] * 12, filler=150)
    result = await play_match(solo(), store, endpoints={"a": player})
    outcomes = [r.outcome for r in result.rooms]
    assert Outcome.FORFEIT not in outcomes and Outcome.CONTEXT_OVERFLOW not in outcomes
    assert player.refused >= 1  # the server refused, the engine compacted and asked again
    assert all(r.escaped for r in result.rooms), outcomes  # the Warden still got every key
    compacted_calls = store.query(
        "SELECT request_messages FROM calls WHERE match_id = ? AND context_messages = 1",
        (result.match_id,),
    )
    assert compacted_calls
    note = json.loads(compacted_calls[0]["request_messages"])[0]["content"]
    assert "removed from this conversation" in note and PUZZLES[0].key in note
    store.close()


async def test_a_known_window_compacts_before_the_server_refuses(tmp_path: Path) -> None:
    """Ollama cuts the oldest messages silently: with the window known, nothing is ever sent
    that would reach it."""
    store = Store(tmp_path / "a.db")
    biggest = max(len(p.prompt) for p in PUZZLES) // 4
    window = biggest + 800
    player = Windowed(window, ["right"] * 12, filler=150)
    result = await play_match(solo(window), store, endpoints={"a": player})
    assert player.refused == 0 and max(player.sizes) < window
    assert all(r.escaped for r in result.rooms)
    store.close()


async def test_a_room_that_cannot_fit_is_a_context_overflow_not_a_forfeit(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    smallest = min(len(p.prompt) for p in PUZZLES) // 4
    player = Windowed(smallest - 10, ["right"] * 12)
    result = await play_match(solo(), store, endpoints={"a": player})
    assert {r.outcome for r in result.rooms} == {Outcome.CONTEXT_OVERFLOW}
    assert all(r.points == 0 and not r.escaped for r in result.rooms)
    kinds = {row["error_kind"] for row in store.query("SELECT error_kind FROM calls")}
    assert kinds == {"context_overflow"}
    store.close()


async def test_a_known_window_leaves_room_for_the_answer(tmp_path: Path) -> None:
    """llama-server cuts an answer short when the window fills: with the window known, the
    conversation is compacted before a prompt leaves less than max_tokens for the answer."""
    store = Store(tmp_path / "a.db")
    biggest = max(len(p.prompt) for p in PUZZLES) // 4
    window = biggest + 1400  # the answer's 512 tokens fit beside the longest room, not more
    player = Truncating(window, ["right"] * 12, filler=150)
    result = await play_match(solo(window), store, endpoints={"a": player})
    assert player.cut == 0 and all(r.escaped for r in result.rooms)
    store.close()


async def test_an_answer_cut_by_the_window_is_an_overflow_not_a_wrong_answer(
    tmp_path: Path,
) -> None:
    """A window too small for even one room's answer: the cut answers are context overflows
    (not wrong answers, not forfeits), score nothing and get no retry."""
    store = Store(tmp_path / "a.db")
    biggest = max(len(p.prompt) for p in PUZZLES) // 4
    player = Truncating(biggest + 200, ["right"] * 30, filler=150)
    result = await play_match(solo(biggest + 200, retries=2), store, endpoints={"a": player})
    overflowed = [r for r in result.rooms if r.outcome == Outcome.CONTEXT_OVERFLOW]
    assert overflowed and Outcome.FORFEIT not in {r.outcome for r in result.rooms}
    for room in overflowed:
        assert (room.points, room.breakdown, room.escaped, room.retries_used) == (0, {}, False, 0)
    retried = store.query(
        "SELECT COUNT(*) AS n FROM calls WHERE phase LIKE 'retry-%' AND "
        "error_kind = 'context_overflow'"
    )[0]["n"]
    assert retried == 0
    store.close()


async def test_an_overflowing_room_scores_nothing_even_if_the_first_answer_was_right(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "a.db")
    smallest = min(len(p.prompt) for p in PUZZLES) // 4
    player = Windowed(smallest + 120, ["right"] * 30, filler=150)  # the pressure turn overflows
    result = await play_match(solo(retries=1), store, endpoints={"a": player})
    for room in result.rooms:
        if room.outcome == Outcome.CONTEXT_OVERFLOW:
            assert (room.points, room.escaped, room.retries_used) == (0, False, 0)
    store.close()


def test_rooms_list_is_what_the_match_plays() -> None:
    assert len(ROOMS) == len(PUZZLES) == 6


def test_the_effective_window_is_the_smaller_known_one() -> None:
    from arena.engine import effective_window

    assert effective_window(32768, 2048) == 2048 == effective_window(2048, 32768)
    assert effective_window(None, 4096) == 4096 == effective_window(4096, None)
    assert effective_window(None, None) is None
