"""Reasoning in every format a server sends it, through the real ChatClient (scripted loopback
responses: no small local model produces these formats), and a match that never reads an answer
from the reasoning."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arena.client import ChatResult
from arena.client._think import split_inline_reasoning
from arena.engine._match import play_match
from arena.engine._models import AdversarialMode, ContestantSpec, MatchSettings, MatchSpec
from arena.engine._store import Store
from tests.arena.client.test_client import chat_with, chunk, sse, stream_response, usage_chunk
from tests.arena.engine.test_match import LEVEL, PUZZLES, ROOMS, SEED, current_room


def streamed(*events: Any) -> httpx.Response:
    return stream_response(sse(*events))


def plain(message: dict[str, Any], finish: str = "stop", **usage: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "object": "chat.completion",
        "model": "mock-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    return httpx.Response(200, json=body)


@pytest.mark.parametrize(
    ("text", "answer", "reasoning"),
    [
        ("ANSWER: 42", "ANSWER: 42", ""),
        ("<think>6*7 is 42</think>\n\nANSWER: 42", "ANSWER: 42", "6*7 is 42"),
        ("<THINKING>a</THINKING>ANSWER: 1", "ANSWER: 1", "a"),
        ("<think>a</think>ANSWER:<think>b</think> 1", "ANSWER: 1", "a\n\nb"),
        ("6*7... ANSWER: 41?</think>ANSWER: 42", "ANSWER: 42", "6*7... ANSWER: 41?"),
        ("<think>ANSWER: 42 is it? let me check", "", "ANSWER: 42 is it? let me check"),
        ("Sure.<think>hmm", "Sure.", "hmm"),
        ("<think></think>ANSWER: 3", "ANSWER: 3", ""),
    ],
    ids=[
        "none",
        "closed",
        "thinking-tag",
        "two-blocks",
        "close-only",
        "unclosed",
        "after",
        "empty",
    ],
)
def test_inline_reasoning_is_taken_out_of_the_answer(
    text: str, answer: str, reasoning: str
) -> None:
    assert split_inline_reasoning(text) == (answer, reasoning)


async def test_reasoning_content_streamed_is_counted_per_chunk() -> None:
    """llama-server with ``--reasoning-format deepseek``, vLLM, SGLang: ``reasoning_content``."""
    result = await chat_with(
        lambda r: streamed(
            chunk(None, reasoning_content="six times "),
            chunk(None, reasoning_content="seven"),
            chunk("ANSWER: 42"),
            chunk(finish="stop"),
            usage_chunk(12, 9),
        )
    )
    assert (result.text, result.reasoning) == ("ANSWER: 42", "six times seven")
    assert result.reasoning_tokens == 2  # counted: the server did not break usage down
    assert result.completion_tokens == 9


async def test_reasoning_field_and_server_count() -> None:
    """Ollama and newer vLLM: ``reasoning``; usage's own reasoning count wins."""
    details = {"completion_tokens_details": {"reasoning_tokens": 7}}
    result = await chat_with(
        lambda r: streamed(
            chunk(None, reasoning="thinking"),
            chunk("ANSWER: 42", finish="stop"),
            usage_chunk(12, 10, **details),
        )
    )
    assert (result.text, result.reasoning, result.reasoning_tokens) == ("ANSWER: 42", "thinking", 7)


async def test_inline_think_streamed_in_pieces() -> None:
    """llama-server without ``--reasoning-format``, TGI, LM Studio: tags split across chunks."""
    pieces = ["<thi", "nk>I think ", "ANSWER: 41", "</th", "ink>", "ANSWER: 42"]
    result = await chat_with(
        lambda r: streamed(*(chunk(p) for p in pieces), chunk(finish="stop"), usage_chunk(5, 6))
    )
    assert (result.text, result.reasoning) == ("ANSWER: 42", "I think ANSWER: 41")
    assert result.reasoning_tokens is not None and 1 <= result.reasoning_tokens <= 6


async def test_unclosed_think_at_the_cap_leaves_no_answer() -> None:
    result = await chat_with(
        lambda r: plain(
            {"content": "<think>ANSWER: 42 maybe, but"},
            "length",
            prompt_tokens=5,
            completion_tokens=8,
        )
    )
    assert result.text == "" and result.reasoning == "ANSWER: 42 maybe, but"
    assert result.finish_reason == "length" and result.reasoning_tokens == 6


async def test_no_reasoning_means_no_reasoning_tokens() -> None:
    result: ChatResult = await chat_with(lambda r: plain({"content": "ANSWER: 42"}))
    assert result.reasoning is None and result.reasoning_tokens is None


class ThinksTheAnswer:
    """A contestant whose right answer is only ever inside its reasoning: in a field, inline, or
    inline and unclosed."""

    def __init__(self, style: str) -> None:
        self.style = style

    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult:
        index = current_room(messages)
        right = ROOMS[index].reference_reply(PUZZLES[index])
        text, reasoning = {
            "field": ("I am not sure.", right),
            "inline": (f"<think>{right}</think>I am not sure.", None),
            "unclosed": (f"<think>{right}", None),
        }[self.style]
        return await chat_with(
            lambda r: plain(
                {"content": text, "reasoning_content": reasoning},
                prompt_tokens=9,
                completion_tokens=20,
            )
        )


@pytest.mark.parametrize("style", ["field", "inline", "unclosed"])
async def test_an_answer_only_in_the_reasoning_never_counts(style: str, tmp_path: Any) -> None:
    store = Store(tmp_path / "a.db")
    spec = MatchSpec(
        a=ContestantSpec(base_url="http://127.0.0.1:9/v1", model="m", base_model="M", quant="Q4"),
        b=None,
        settings=MatchSettings(
            seed=SEED, difficulty=LEVEL, retries=0, adversarial=AdversarialMode.BLUFF
        ),
    )
    result = await play_match(spec, store, endpoints={"a": ThinksTheAnswer(style)})
    assert result.rooms and not any(r.escaped for r in result.rooms)
    stored = store.query(
        "SELECT reasoning_text, response_text FROM calls WHERE match_id = ?", (result.match_id,)
    )
    assert all(row["reasoning_text"] for row in stored)  # the thinking is kept, never judged
    store.close()
