"""ChatClient against a real loopback NullServer (normal path) and httpx.MockTransport (faults).

Every address used is 127.0.0.1: the mock-transport clients also point there (port 9), so a
request that somehow bypassed the mock could not leave the machine.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import gzip
import json
import logging
import pickle
import re
import resource
import socket
import sqlite3
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from arena.client import (
    ChatClient,
    ChatResult,
    ClientLimits,
    EndpointError,
    HTTPStatusError,
    normalize_base_url,
)
from arena.client._errors import (
    ConnectFailed,
    DeadlineExceeded,
    EmptyChoices,
    IncompleteResponse,
    MalformedResponse,
    RedirectRefused,
    ResponseTooLarge,
)
from arena.client._http import parse_retry_after
from arena.dev.nullserver import NullServer, NullServerConfig

MOCK_BASE = "http://127.0.0.1:9/v1"
MESSAGES = [{"role": "user", "content": "What is six times seven? Reply ANSWER: n."}]
FAST = ClientLimits(deadline_s=10, backoff_base_s=0.01, retry_after_cap_s=0.05)
CANARY = "sk-canary-7f3a9c1e5b2d4068a1b2c3d4e5f60718"

Handler = Callable[[httpx.Request], Any]


# ------------------------------------------------------------------------------ helpers


def sse(*events: Any, done: bool = True) -> bytes:
    """An SSE body: one ``data:`` line per event (dicts JSON-encoded, str sent as is)."""
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    """A chat.completion.chunk with one choice delta."""
    if content is not None or "content" not in delta:
        delta["content"] = content
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"object": "chat.completion.chunk", "model": "mock-model", "choices": [choice]}


def usage_chunk(prompt: int, completion: int, **extra: Any) -> dict[str, Any]:
    """The final ``choices: []`` chunk carrying usage."""
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, **extra}
    return {"object": "chat.completion.chunk", "choices": [], "usage": usage}


def stream_response(body: bytes, status: int = 200, **headers: str) -> httpx.Response:
    """An SSE response."""
    return httpx.Response(
        status, content=body, headers={"content-type": "text/event-stream", **headers}
    )


def ok_stream() -> httpx.Response:
    """A small, valid streamed answer."""
    return stream_response(sse(chunk("ANSWER: 42"), chunk(finish="stop"), usage_chunk(10, 3)))


class Recorder:
    """A MockTransport handler that records requests and plays a script of responses."""

    def __init__(self, *script: httpx.Response | Exception | Callable[[], httpx.Response]):
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):  # a fresh copy: a response can be read only once
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        return step()

    @property
    def calls(self) -> int:
        return len(self.requests)


def mock_client(handler: Handler, limits: ClientLimits = FAST, **kwargs: Any) -> ChatClient:
    """A ChatClient whose requests go to ``handler``."""
    return ChatClient(MOCK_BASE, limits=limits, transport=httpx.MockTransport(handler), **kwargs)


async def chat_with(handler: Handler, limits: ClientLimits = FAST, **kwargs: Any) -> ChatResult:
    """One chat call through ``handler``."""
    async with mock_client(handler, limits, **kwargs) as client:
        return await client.chat("mock-model", MESSAGES)


class SlowStream(httpx.AsyncByteStream):
    """A body that yields ``pieces`` with ``pause`` seconds between them (forever if None)."""

    def __init__(self, piece: bytes, pause: float, count: int | None = None) -> None:
        self.piece, self.pause, self.count = piece, pause, count
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while self.count is None or sent < self.count:
            await asyncio.sleep(self.pause)
            yield self.piece
            sent += 1

    async def aclose(self) -> None:
        self.closed = True


def free_loopback_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def paced_server() -> Iterator[NullServer]:
    """Five words at 100 tokens/s."""
    with NullServer(NullServerConfig(reply="ANSWER: 42 is the answer", token_delay_s=0.01)) as s:
        yield s


@pytest.fixture(scope="module")
def fast_server() -> Iterator[NullServer]:
    """The default reply, no pacing."""
    with NullServer() as server:
        yield server


# ------------------------------------------------------------------------- loopback server


async def test_streams_text_with_server_usage_and_plausible_timings(
    paced_server: NullServer,
) -> None:
    async with ChatClient(paced_server.base_url, limits=FAST) as client:
        result = await client.chat("null-model", MESSAGES, {"temperature": 0, "seed": 7})
    assert result.text == "ANSWER: 42 is the answer"
    assert result.finish_reason == "stop"
    assert result.usage_source == "server"
    assert result.completion_tokens == 5
    assert result.prompt_tokens == -(-len(MESSAGES[0]["content"]) // 4)
    assert result.reasoning is None and result.reasoning_tokens is None
    assert result.model == "null-model"
    assert result.attempts == 1
    assert result.ttft_s is not None and result.decode_tps is not None
    assert 0 < result.ttft_s < result.latency_s < 5
    assert result.latency_s >= 5 * 0.01 * 0.8  # five paced tokens
    assert 0 < result.decode_tps < 10_000
    sent = paced_server.requests[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["temperature"] == 0 and sent["seed"] == 7
    assert sent["model"] == "null-model" and sent["messages"] == MESSAGES


async def test_length_finish_and_connection_reuse() -> None:
    with NullServer(NullServerConfig(reply="one two three four")) as server:
        async with ChatClient(server.base_url, limits=FAST) as client:
            first = await client.chat("null-model", MESSAGES, {"max_tokens": 2})
            second = await client.chat("null-model", MESSAGES)
            assert await client.list_models() == ["null-model"]
        assert server.connections == 1  # one pooled keep-alive connection for all three calls
    assert (first.text, first.finish_reason, first.completion_tokens) == ("one two ", "length", 2)
    assert (second.text, second.finish_reason) == ("one two three four", "stop")


async def test_estimated_usage_when_server_sends_none(fast_server: NullServer) -> None:
    params = {"stream_options": {"include_usage": False}}  # our own options are sent as is
    async with ChatClient(fast_server.base_url, limits=FAST) as client:
        result = await client.chat("null-model", MESSAGES, params)
    assert fast_server.requests[-1]["stream_options"] == {"include_usage": False}
    assert result.usage_source == "estimated"
    assert result.completion_tokens == 2  # "ANSWER: " and "42": one per streamed chunk
    assert result.prompt_tokens == -(-len(MESSAGES[0]["content"]) // 4)
    assert result.text == "ANSWER: 42"


async def test_stream_options_rejection_is_remembered() -> None:
    config = NullServerConfig(reply="ANSWER: 7", reject_stream_options=True)
    with NullServer(config) as server:
        async with ChatClient(server.base_url, limits=FAST) as client:
            first = await client.chat("null-model", MESSAGES)
            assert not client.stream_options_supported
            second = await client.chat("null-model", MESSAGES)
        bodies = server.requests
    assert [("stream_options" in body) for body in bodies] == [True, False, False]
    assert (first.attempts, second.attempts) == (2, 1)
    assert first.text == second.text == "ANSWER: 7"
    assert first.usage_source == second.usage_source == "estimated"


async def test_non_streamed_json_answer(fast_server: NullServer) -> None:
    async with ChatClient(fast_server.base_url, limits=FAST) as client:
        result = await client.chat("null-model", MESSAGES, {"stream": False})
    assert "stream_options" not in fast_server.requests[-1]
    assert result.text == "ANSWER: 42" and result.finish_reason == "stop"
    assert result.usage_source == "server" and result.completion_tokens == 2
    assert result.ttft_s is None and result.decode_tps is None


async def test_list_models(fast_server: NullServer) -> None:
    async with ChatClient(fast_server.base_url.removesuffix("/v1"), limits=FAST) as client:
        assert await client.list_models() == ["null-model"]


async def test_connection_refused_is_retried_then_connect_failed() -> None:
    port = free_loopback_port()
    async with ChatClient(f"http://127.0.0.1:{port}", limits=FAST) as client:
        with pytest.raises(ConnectFailed) as caught:
            await client.chat("m", MESSAGES)
    assert caught.value.attempts == 3 and caught.value.kind == "connect"
    assert f"endpoint http://127.0.0.1:{port}/v1 " in str(caught.value)


def test_null_server_token_split() -> None:
    assert NullServerConfig(reply="  a bc  d ").pieces() == ["  a ", "bc  ", "d "]
    assert NullServerConfig(reply="abcdefg", tokens=3).pieces() == ["ab", "cd", "efg"]
    with pytest.raises(ValueError, match="tokens"):
        NullServerConfig(reply="ab", tokens=3)


# ------------------------------------------------------------------------------ base url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:8000", "http://h:8000/v1"),
        ("http://h:8000/", "http://h:8000/v1"),
        ("http://h:8000/v1", "http://h:8000/v1"),
        ("http://h:8000/v1/", "http://h:8000/v1"),
        ("HTTPS://h/openai/v1/", "https://h/openai/v1"),
        ("http://h:8000/api", "http://h:8000/api"),
    ],
)
def test_base_url_normalization(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("ftp://h/v1", "http:// or https://"),
        ("127.0.0.1:8000", "http:// or https://"),
        ("http://user:pw@h/v1", "credentials"),
        ("http:///v1", "no host"),
        ("http://h/v1?x=1", "query"),
        ("http://h:99999/v1", "port"),
    ],
)
def test_bad_base_url_is_a_value_error(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChatClient(given)


# ------------------------------------------------------------------------------ deadline, size


async def test_slow_drip_stops_at_the_deadline() -> None:
    drip = SlowStream(b": still thinking\n", pause=0.2)
    limits = ClientLimits(deadline_s=0.5, max_retries=2, backoff_base_s=0.01)
    started = time.perf_counter()
    with pytest.raises(DeadlineExceeded) as caught:
        await chat_with(lambda r: httpx.Response(200, stream=drip), limits)
    assert time.perf_counter() - started < 3
    assert caught.value.attempts == 1 and not caught.value.retryable
    assert "0.5 s deadline" in str(caught.value) and "bytes read" in str(caught.value)
    assert drip.closed


async def test_endless_stream_is_bounded() -> None:
    endless = SlowStream(sse(chunk("la "), done=False), pause=0)
    limits = ClientLimits(deadline_s=5, max_response_bytes=64 * 1024)
    started = time.perf_counter()
    with pytest.raises((ResponseTooLarge, DeadlineExceeded)):
        await chat_with(lambda r: httpx.Response(200, stream=endless), limits)
    assert time.perf_counter() - started < 6
    assert endless.closed


async def test_huge_body_is_too_large() -> None:
    huge = json.dumps({"choices": [], "pad": "x" * 200_000}).encode()
    response = httpx.Response(200, content=huge, headers={"content-type": "application/json"})
    limits = ClientLimits(deadline_s=5, max_response_bytes=64 * 1024)
    with pytest.raises(ResponseTooLarge, match="larger than 65536 bytes") as caught:
        await chat_with(lambda r: response, limits)
    assert caught.value.kind == "too_large" and caught.value.attempts == 1


# ------------------------------------------------------------------------------ retries


async def test_429_with_retry_after_is_waited_for() -> None:
    handler = Recorder(httpx.Response(429, headers={"Retry-After": "1"}), ok_stream)
    limits = ClientLimits(deadline_s=10, backoff_base_s=0.01, retry_after_cap_s=5)
    started = time.perf_counter()
    result = await chat_with(handler, limits)
    assert time.perf_counter() - started >= 0.9
    assert result.attempts == 2 and handler.calls == 2 and result.text == "ANSWER: 42"


@pytest.mark.parametrize(
    "retry_after",
    ["3600", format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)],
    ids=["delta-seconds", "http-date"],
)
async def test_retry_after_beyond_the_cap_is_capped(retry_after: str) -> None:
    handler = Recorder(httpx.Response(503, headers={"Retry-After": retry_after}), ok_stream)
    limits = ClientLimits(deadline_s=30, retry_after_cap_s=0.1)
    started = time.perf_counter()
    result = await chat_with(handler, limits)
    assert time.perf_counter() - started < 5
    assert result.attempts == 2


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2", now) == 2.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("-5", now) == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad, now) is None


async def test_500_then_success_is_retried() -> None:
    handler = Recorder(httpx.Response(500, text="oops"), ok_stream)
    result = await chat_with(handler)
    assert result.attempts == 2 and handler.calls == 2


async def test_503_exhausted_raises_the_last_status_error() -> None:
    handler = Recorder(httpx.Response(503, text="overloaded"))
    with pytest.raises(HTTPStatusError) as caught:
        await chat_with(handler)
    err = caught.value
    assert handler.calls == 3 and err.attempts == 3 and err.status == 503 and err.retryable
    assert str(err) == f"endpoint {MOCK_BASE} answered 503 after 3 attempts: overloaded"


async def test_no_wait_beyond_the_overall_deadline() -> None:
    handler = Recorder(httpx.Response(503, headers={"Retry-After": "5"}), ok_stream)
    limits = ClientLimits(deadline_s=2, retry_after_cap_s=20)
    started = time.perf_counter()
    with pytest.raises(HTTPStatusError) as caught:
        await chat_with(handler, limits)
    assert time.perf_counter() - started < 4  # did not sleep 5 s into a 2 s budget
    assert caught.value.attempts == 1


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_other_4xx_are_never_retried(status: int) -> None:
    handler = Recorder(httpx.Response(status, json={"error": {"message": "nope"}}))
    with pytest.raises(HTTPStatusError) as caught:
        await chat_with(handler)
    assert handler.calls == 1 and caught.value.attempts == 1
    assert caught.value.status == status and not caught.value.retryable
    assert "nope" in caught.value.body


async def test_redirect_is_refused_and_never_followed() -> None:
    target = "http://127.0.0.1:9/v1/elsewhere"
    handler = Recorder(httpx.Response(302, headers={"Location": target}))
    with pytest.raises(RedirectRefused) as caught:
        await chat_with(handler)
    assert [str(r.url) for r in handler.requests] == [f"{MOCK_BASE}/chat/completions"]
    assert caught.value.status == 302 and caught.value.kind == "redirect"
    assert target in str(caught.value)


async def test_connection_error_then_success() -> None:
    handler = Recorder(httpx.ConnectError("refused"), ok_stream)
    result = await chat_with(handler)
    assert result.attempts == 2 and result.text == "ANSWER: 42"


async def test_connection_errors_exhausted() -> None:
    handler = Recorder(httpx.ConnectTimeout("timed out"))
    with pytest.raises(ConnectFailed, match="after 3 attempts: ConnectTimeout: timed out"):
        await chat_with(handler)
    assert handler.calls == 3


# ------------------------------------------------------------------------------ parsing


async def test_sse_tolerates_comments_events_crlf_and_tight_data_lines() -> None:
    body = (
        b": keep-alive\r\n\r\nevent: message\r\nid: 1\r\n"
        b'data:{"choices":[{"index":0,"delta":{"content":"AN"}}]}\r\n\r\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"SWER"},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\nignored after done\n"
    )
    result = await chat_with(lambda r: stream_response(body))
    assert (result.text, result.finish_reason) == ("ANSWER", "stop")
    assert result.usage_source == "estimated" and result.completion_tokens == 2


async def test_malformed_json_in_stream() -> None:
    body = sse(chunk("ok"), '{"choices": [ broken')
    with pytest.raises(MalformedResponse, match=r"undecodable JSON .*broken") as caught:
        await chat_with(lambda r: stream_response(body))
    assert caught.value.attempts == 1 and caught.value.kind == "malformed"


async def test_malformed_plain_json_body() -> None:
    response = httpx.Response(
        200, content=b"{not json", headers={"content-type": "application/json"}
    )
    with pytest.raises(MalformedResponse, match="not json"):
        await chat_with(lambda r: response)


async def test_in_stream_error_object_is_malformed() -> None:
    body = sse(chunk("par"), {"error": {"message": "CUDA out of memory", "code": 500}})
    with pytest.raises(MalformedResponse, match="CUDA out of memory"):
        await chat_with(lambda r: stream_response(body))


async def test_no_choices_at_all_is_empty_choices() -> None:
    with pytest.raises(EmptyChoices) as caught:
        await chat_with(lambda r: stream_response(sse(usage_chunk(5, 0))))
    assert caught.value.kind == "empty_choices"


def cut_short() -> httpx.Response:
    """What llama-cpp-python sends when a newer request interrupts: [DONE], no finish_reason."""
    return stream_response(sse(chunk("ANSWER: 4")))


async def test_stream_cut_short_is_retried_then_incomplete() -> None:
    recorder = Recorder(cut_short(), ok_stream())
    result = await chat_with(recorder)
    assert (result.text, result.attempts, recorder.calls) == ("ANSWER: 42", 2, 2)
    always_cut = Recorder(cut_short())
    with pytest.raises(IncompleteResponse) as caught:
        await chat_with(always_cut)
    assert caught.value.kind == "incomplete"
    assert always_cut.calls == FAST.max_retries + 1
    assert "no finish_reason" in str(caught.value)


async def test_null_content_is_empty_text() -> None:
    body = sse(chunk(None), chunk(None, finish="length"), usage_chunk(5, 0))
    result = await chat_with(lambda r: stream_response(body))
    assert (result.text, result.finish_reason) == ("", "length")
    assert result.ttft_s is None and result.decode_tps is None


async def test_reasoning_deltas_usage_details_timings_and_model() -> None:
    body = sse(
        chunk(None, reasoning_content="Six sevens "),
        chunk(None, reasoning_content="are 42."),
        chunk("ANSWER: 42", finish="stop"),
        {
            **usage_chunk(12, 9, completion_tokens_details={"reasoning_tokens": 6}),
            "timings": {"prompt_ms": 1.5, "predicted_per_second": 80, "note": "x"},
        },
    )
    result = await chat_with(lambda r: stream_response(body))
    assert result.reasoning == "Six sevens are 42." and result.text == "ANSWER: 42"
    assert (result.completion_tokens, result.reasoning_tokens) == (9, 6)
    assert result.server_timings == {"prompt_ms": 1.5, "predicted_per_second": 80.0}
    assert result.model == "mock-model" and result.ttft_s is not None


async def test_ollama_style_reasoning_field() -> None:
    body = sse(chunk(None, reasoning="hmm"), chunk("ANSWER: 1", finish="stop"))
    result = await chat_with(lambda r: stream_response(body))
    assert (result.reasoning, result.text) == ("hmm", "ANSWER: 1")


async def test_plain_json_answer_to_a_streaming_request() -> None:
    message = {"role": "assistant", "content": "ANSWER: 5", "reasoning_content": "think"}
    completion = {
        "model": "mock-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 4},
    }
    result = await chat_with(lambda r: httpx.Response(200, json=completion))
    assert (result.text, result.reasoning, result.completion_tokens) == ("ANSWER: 5", "think", 4)
    assert result.ttft_s is None and result.usage_source == "server"


# ------------------------------------------------------------------------------ secret, errors


def echo_headers(request: httpx.Request) -> httpx.Response:
    """A broken server that echoes the request headers in its error body."""
    return httpx.Response(500, json={"error": "boom", "headers": dict(request.headers)})


async def test_api_key_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return echo_headers(request)

    async with mock_client(handler, api_key=CANARY) as client:
        assert CANARY not in repr(client)
        with pytest.raises(HTTPStatusError) as caught:
            await client.chat("mock-model", MESSAGES)
    err = caught.value
    assert seen == [f"Bearer {CANARY}"] * 3  # it was sent, in the header only
    assert "[REDACTED]" in err.body and len(err.body) <= 300
    for text in (str(err), repr(err), err.body, err.detail, caplog.text, str(err.args)):
        assert CANARY not in text
    assert "sk-canary" not in caplog.text
    assert "attempt 1 failed (http_status 500); retrying" in caplog.text
    assert "authorization" not in caplog.text.lower()  # no headers, not even echoed ones


async def test_api_key_cut_by_the_snippet_limit_is_not_left_half_shown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"]
        return httpx.Response(400, text="x" * 280 + key + " and more" * 20)

    with pytest.raises(HTTPStatusError) as caught:
        await chat_with(handler, api_key=CANARY)
    body = caught.value.body  # unredacted, the cut at 300 chars would show "...Bearer sk-canary-"
    assert "sk-canary" not in str(caught.value) and len(body) <= 300 and "[REDACTED]" in body


async def test_api_key_not_in_results_or_malformed_snippets() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"]
        return stream_response(sse(chunk("ok"), f'{{"broken": "{key}'))

    with pytest.raises(MalformedResponse) as caught:
        await chat_with(handler, api_key=CANARY)
    assert CANARY not in str(caught.value)
    result = await chat_with(lambda r: ok_stream(), api_key=CANARY)
    assert CANARY not in repr(result)


def test_bad_api_key_and_params_are_value_errors() -> None:
    with pytest.raises(ValueError, match="printable ASCII") as caught:
        ChatClient(MOCK_BASE, api_key="sk-secret with space")
    assert "sk-secret" not in str(caught.value)


async def test_params_cannot_replace_model_or_messages() -> None:
    async with mock_client(Recorder(ok_stream())) as client:
        with pytest.raises(ValueError, match="model"):
            await client.chat("m", MESSAGES, {"model": "other"})


@pytest.mark.parametrize(
    ("err", "kind", "retryable"),
    [
        (DeadlineExceeded(deadline_s=1), "deadline", False),
        (ResponseTooLarge(limit_bytes=1), "too_large", False),
        (HTTPStatusError(status=502), "http_status", True),
        (HTTPStatusError(status=403), "http_status", False),
        (RedirectRefused(status=301), "redirect", False),
        (MalformedResponse(), "malformed", False),
        (EmptyChoices(), "empty_choices", False),
        (ConnectFailed(), "connect", True),
        (IncompleteResponse(), "incomplete", True),
    ],
)
def test_error_kinds_and_pickling(err: EndpointError, kind: str, retryable: bool) -> None:
    assert isinstance(err, EndpointError)
    assert (err.kind, err.retryable) == (kind, retryable)
    err.endpoint, err.attempts, err.detail = MOCK_BASE, 2, "why"
    copy = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes
    assert type(copy) is type(err) and str(copy) == str(err)
    assert str(err).startswith(f"endpoint {MOCK_BASE} ") and " after 2 attempts: why" in str(err)


# ------------------------------------------------------------------- key cut at the snippet edge

OLD_RAW_CUT = 4096  # where the client used to cut server text *before* redacting it
SNIPPET_CUT = 300 - len("...")  # where a folded error message is cut
KEY_HEAD = CANARY[:4]  # not even the first 4 characters of the key may show
BEARER = "Authorization: Bearer "
TAIL = " and more" * 40
RAW_LEAD = {"status": "", "line": '{"broken": "', "error": '{"message": "'}
"""What comes before the server's text in the raw text each error path quotes."""
MESSAGE_LEAD = {
    "status": "",
    "line": "undecodable JSON in a stream data line: " + RAW_LEAD["line"],
    "error": "error object: " + RAW_LEAD["error"],
}
"""What comes before the server's text in the detail of each error path."""


def leak_texts(err: EndpointError, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Everything a caller, the database or the log could show of ``err``."""
    return [
        str(err),
        repr(err),
        err.detail,
        str(err.args),
        caplog.text,
        *map(str, vars(err).values()),
    ]


def echo_case(path: str, text: str) -> httpx.Response:
    """A response putting server ``text`` into the error of ``path``."""
    if path == "status":
        return httpx.Response(400, text=text)
    if path == "line":
        return stream_response(sse(chunk("ok"), '{"broken": "' + text))
    return stream_response(sse(chunk("par"), {"error": {"message": text}}))


def keyed_text(path: str, cut: str, offset: int) -> str:
    """Server text with ``Bearer CANARY`` placed so that a cut lands ``offset`` from its end.

    ``cut="raw"``: the cut the client used to make before redacting (``OLD_RAW_CUT`` characters
    into the raw text), with whitespace padding that folding later collapses (the reviewer's
    attack); ``cut="snippet"``: the final cut of the folded message, ``SNIPPET_CUT``.
    """
    if cut == "raw":
        pad = OLD_RAW_CUT - offset - len(RAW_LEAD[path] + BEARER + CANARY)
        return "x" + " " * (pad - 1) + BEARER + CANARY + TAIL
    pad = SNIPPET_CUT - offset - len(MESSAGE_LEAD[path] + BEARER + CANARY)
    return "x" * pad + BEARER + CANARY + TAIL


@pytest.mark.parametrize("offset", range(-10, 3))
@pytest.mark.parametrize("cut", ["raw", "snippet"])
@pytest.mark.parametrize("path", ["status", "line", "error"])
async def test_no_key_prefix_survives_a_cut_near_the_key_end(
    path: str, cut: str, offset: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    text = keyed_text(path, cut, offset)
    expected = HTTPStatusError if path == "status" else MalformedResponse
    with pytest.raises(expected) as caught:
        await chat_with(lambda r: echo_case(path, text), api_key=CANARY)
    err = caught.value
    assert "[REDACTED]" in err.detail and len(err.detail) <= 300
    for shown in leak_texts(err, caplog):
        assert KEY_HEAD not in shown


@pytest.mark.parametrize("offset", range(-10, 3))
@pytest.mark.parametrize("form", ["plain", "hex", "url-every-byte", "json-unicode"])
async def test_no_key_prefix_survives_the_error_body_clip(
    form: str, offset: int, caplog: pytest.LogCaptureFixture
) -> None:
    """An error body is read up to 64 KiB: that cut comes before any redaction."""
    caplog.set_level(logging.DEBUG)
    echoed = key_forms(CANARY)[form]
    key_end = 64 * 1024 - offset  # offset = where the clip falls, from the end of the key
    text = "x" + " " * (key_end - 1 - len(BEARER + echoed)) + BEARER + echoed + TAIL
    with pytest.raises(HTTPStatusError) as caught:
        await chat_with(lambda r: httpx.Response(400, text=text), api_key=CANARY)
    err = caught.value
    assert err.detail.startswith("x Authorization: Bearer")
    for shown in leak_texts(err, caplog):
        assert KEY_HEAD not in shown and survivors(echoed, shown, window=4) == []


@pytest.mark.parametrize("kept", [4, 5, 12, len(CANARY) - 1])
@pytest.mark.parametrize("path", ["status", "line", "error"])
async def test_key_prefix_the_server_left_at_the_cut_edge_is_dropped(
    path: str, kept: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that itself truncated the key it echoes, right where the snippet is cut."""
    caplog.set_level(logging.DEBUG)
    text = "x" * (SNIPPET_CUT - len(MESSAGE_LEAD[path]) - kept) + CANARY[:kept] + "/" + "y" * 400
    with pytest.raises(EndpointError) as caught:
        await chat_with(lambda r: echo_case(path, text), api_key=CANARY)
    err = caught.value
    assert err.detail.endswith("x...") and len(err.detail) <= 300
    for shown in leak_texts(err, caplog):
        assert KEY_HEAD not in shown


# ------------------------------------------------------------------- key echoed in other forms

SPECIAL_KEY = "sk-c4n4ry/Q+z=\"w\\v'%41~!*(7f3a9c1e5b2d)"  # every escaping rule has work to do


def key_forms(key: str) -> dict[str, str]:
    """The ways a server could echo ``key``: escaped, URL-encoded, hex, base64 at 3 offsets."""
    raw = key.encode()
    percent = quote(key, safe="")
    forms = {
        "plain": key,
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "url": percent,
        "url-path": quote(key),
        "url-plus": quote_plus(key),
        "url-lower-hex": re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), percent),
        "url-every-byte": "".join(f"%{byte:02X}" for byte in raw),
        "json": json.dumps(key)[1:-1],
        "json-slash": json.dumps(key)[1:-1].replace("/", "\\/"),
        "json-twice": json.dumps(json.dumps(key))[1:-1],
        "json-unicode": "".join(f"\\u{ord(char):04x}" for char in key),
        "bytes-repr": repr(raw)[2:-1],
    }
    for lead in range(3):
        for name, encode in (("b64", base64.b64encode), ("b64url", base64.urlsafe_b64encode)):
            forms[f"{name}-at-{lead}"] = encode(b"B" * lead + raw + b"!?").decode()
    return forms


def survivors(form: str, shown: str, window: int = 8) -> list[str]:
    """Runs of ``window`` characters of ``form`` that ``shown`` still contains."""
    return [
        form[i : i + window] for i in range(len(form) - window + 1) if form[i : i + window] in shown
    ]


@pytest.mark.parametrize("key", [CANARY, SPECIAL_KEY], ids=["canary", "special"])
@pytest.mark.parametrize("form", list(key_forms(SPECIAL_KEY)))
@pytest.mark.parametrize("path", ["status", "error"])
async def test_key_echoed_encoded_is_redacted(path: str, form: str, key: str) -> None:
    echoed = key_forms(key)[form]
    with pytest.raises(EndpointError) as caught:
        await chat_with(lambda r: echo_case(path, f"echo: {echoed} end"), api_key=key)
    shown = str(caught.value)
    assert "[REDACTED]" in shown and " end" in shown
    for variant in (echoed, json.dumps(echoed)[1:-1]):  # as sent, and as re-encoded
        assert survivors(variant, shown) == []


async def test_ordinary_text_is_not_redacted() -> None:
    text = "sk-other-key 736b2d c2stY2Fu %73%6B-canary sk-canary"
    with pytest.raises(HTTPStatusError) as caught:
        await chat_with(lambda r: httpx.Response(400, text=text), api_key=CANARY)
    assert caught.value.body == text


# ------------------------------------------------------------------- exception chains


def chain(err: BaseException) -> list[BaseException]:
    """``err`` and every exception reachable through ``__context__``/``__cause__``."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [err]
    while todo:
        exc = todo.pop()
        if exc is None or any(exc is known for known in seen):
            continue
        seen.append(exc)
        todo += [exc.__context__, exc.__cause__]
    return seen


def assert_clean_chain(err: EndpointError) -> None:
    """No exception behind ``err``, and nothing reachable from it that carries the key."""
    assert err.__context__ is None and err.__cause__ is None
    for exc in chain(err):
        try:
            request = exc.request
        except (AttributeError, RuntimeError):
            request = None
        if request is not None:
            assert KEY_HEAD not in str(request.headers.raw)
        texts = [str(exc), repr(exc), *map(repr, vars(exc).values())]
        assert not any(KEY_HEAD in text for text in texts)


class FailingStream(httpx.AsyncByteStream):
    """A body that sends a first piece, then breaks like a dropped connection."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield sse(chunk("par"), done=False)
        raise httpx.ReadError("connection dropped")


def connect_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused")  # httpx attaches the request, headers and all


def protocol_error(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("illegal status line", request=request)


CHAIN_CASES: dict[str, Handler] = {
    "connect": connect_error,
    "read": lambda r: httpx.Response(200, stream=FailingStream()),
    "json": lambda r: stream_response(sse(f'{{"x": "{r.headers["authorization"]}')),
    "status": echo_headers,
    "deadline": lambda r: httpx.Response(200, stream=SlowStream(b": wait\n", pause=0.2)),
    "protocol": protocol_error,
}


@pytest.mark.parametrize("case", list(CHAIN_CASES))
async def test_raised_errors_carry_no_context(case: str) -> None:
    limits = ClientLimits(deadline_s=0.5, backoff_base_s=0.01)
    async with mock_client(CHAIN_CASES[case], limits, api_key=CANARY) as client:
        with pytest.raises(EndpointError) as caught:
            await client.chat("mock-model", MESSAGES)
        assert_clean_chain(caught.value)
        if case in ("connect", "json", "status"):
            with pytest.raises(EndpointError) as listed:
                await client.list_models()
            assert_clean_chain(listed.value)


async def test_no_context_even_when_called_while_handling_an_error() -> None:
    async with mock_client(lambda r: stream_response(sse(usage_chunk(1, 0)))) as client:
        try:
            raise KeyError("the caller's own")
        except KeyError:
            with pytest.raises(EmptyChoices) as caught:
                await client.chat("mock-model", MESSAGES)
    assert caught.value.__context__ is None and caught.value.__cause__ is None


# ------------------------------------------------------------------- compressed bodies

BOMB_BYTES = 128 * 1024 * 1024


@functools.cache
def gzip_bomb(layers: int) -> bytes:
    """``BOMB_BYTES`` zero bytes, gzipped ``layers`` times (128 KB, or 300 bytes for two)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    body = b"".join([compressor.compress(zeros) for _ in range(BOMB_BYTES // len(zeros))])
    body += compressor.flush()
    for _ in range(layers - 1):
        body = gzip.compress(body)
    return body


class CountingStream(httpx.AsyncByteStream):
    """A body sent in 64 KiB pieces that counts how many pieces were taken."""

    def __init__(self, body: bytes) -> None:
        self.body, self.taken = body, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), 65536):
            self.taken += 1
            yield self.body[start : start + 65536]


def max_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize(
    ("encoding", "layers"),
    [("gzip", 1), ("gzip, gzip", 2), ("GZIP", 1), ("identity, gzip", 1), ("deflate", 1)],
)
async def test_compressed_body_is_refused_unread(encoding: str, layers: int, status: int) -> None:
    body = gzip_bomb(layers)
    streams: list[CountingStream] = []

    def handler(request: httpx.Request) -> httpx.Response:
        streams.append(CountingStream(body))
        headers = {"content-type": "text/event-stream", "content-encoding": encoding}
        return httpx.Response(status, headers=headers, stream=streams[-1])

    rss_before, started = max_rss_mb(), time.perf_counter()
    with pytest.raises(MalformedResponse) as caught:
        await chat_with(handler, ClientLimits(deadline_s=5))
    assert time.perf_counter() - started < 2
    assert max_rss_mb() - rss_before < 100
    err = caught.value
    assert f"refused a compressed body (Content-Encoding: {encoding}) we did not ask" in str(err)
    assert not err.retryable and err.attempts == 1 and len(streams) == 1
    assert streams[0].taken == 0  # not one byte of it was read


async def test_compressed_model_list_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, stream=CountingStream(gzip_bomb(1)))

    async with mock_client(handler) as client:
        with pytest.raises(MalformedResponse, match="refused a compressed body"):
            await client.list_models()


async def test_identity_content_encoding_is_read() -> None:
    response = stream_response(ok_stream().content, **{"Content-Encoding": "identity"})
    result = await chat_with(lambda r: response)
    assert result.text == "ANSWER: 42"


class CannedServer:
    """A loopback HTTP server answering every request with the same raw bytes, then closing."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.requests = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def __enter__(self) -> CannedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.settimeout(5)
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while length and len(body) < int(length[1]):
            body += conn.recv(65536)
        self.requests += 1
        conn.sendall(self.response)


async def test_double_gzip_over_a_real_socket_is_refused_quickly() -> None:
    """The reviewer's case: 'Content-Encoding: gzip, gzip' used to inflate to gigabytes."""
    body = gzip_bomb(2)
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        f"content-encoding: gzip, gzip\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    with CannedServer(head.encode() + body) as server:
        rss_before, started = max_rss_mb(), time.perf_counter()
        async with ChatClient(server.base_url, limits=ClientLimits(deadline_s=5)) as client:
            with pytest.raises(MalformedResponse, match=r"Content-Encoding: gzip, gzip\)"):
                await client.chat("m", MESSAGES)
        assert time.perf_counter() - started < 2
        assert max_rss_mb() - rss_before < 100
        assert server.requests == 1


# ------------------------------------------------------------------- valid UTF-8 only


async def test_lone_surrogates_from_the_server_are_replaced() -> None:
    body = sse(
        chunk(None, reasoning_content="think \ud800"),
        chunk("ANSWER: \udfff 42", finish="stop"),
        {**usage_chunk(3, 2), "model": "mock\udc80model", "timings": {"ms\ud801": 1.0}},
    )
    assert b"\\ud800" in body  # JSON escapes, as a server would send them
    result = await chat_with(lambda r: stream_response(body))
    assert (result.text, result.reasoning, result.model) == (
        "ANSWER: ? 42",
        "think ?",
        "mock?model",
    )
    assert result.server_timings == {"ms?": 1.0}
    with contextlib.closing(sqlite3.connect(":memory:")) as db:  # used to raise UnicodeEncodeError
        db.execute("create table t (a text, b text, c text)")
        db.execute("insert into t values (?, ?, ?)", (result.text, result.reasoning, result.model))
    models = json.dumps({"object": "list", "data": [{"id": "m\ud800"}]}).encode()
    answer = httpx.Response(200, content=models, headers={"content-type": "application/json"})
    async with mock_client(lambda r: answer) as client:
        assert await client.list_models() == ["m?"]


async def test_error_messages_are_valid_utf8() -> None:
    with pytest.raises(ConnectFailed) as caught:
        await chat_with(Recorder(httpx.ConnectError("refused \udc80 here")))
    assert str(caught.value).endswith("ConnectError: refused ? here")
    body = sse(chunk("x"), {"error": {"message": "bad \ud800 thing"}})
    with pytest.raises(MalformedResponse) as caught:
        await chat_with(lambda r: stream_response(body))
    str(caught.value).encode("utf-8")  # must not raise
    raw = b'data: {"choices": \xed\xa0\x80 \xff broken\n\n'  # an encoded surrogate, bad UTF-8
    with pytest.raises(MalformedResponse) as caught:
        await chat_with(lambda r: stream_response(raw))
    str(caught.value).encode("utf-8")
