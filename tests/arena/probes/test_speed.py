"""The speed probe against httpx.MockTransport servers that play llama.cpp on a fake clock.

The client's clock (``arena.client.time.perf_counter``) is replaced by a fake one that only the
mock server's stream advances: a prefill pause before the first token, a fixed step per token
after it. Every number the probe reports is then a function of the mocked numbers alone, and the
assertions recompute it by hand; nothing depends on the wall clock. Every mock client points at
127.0.0.1 (port 9), so a request that bypassed the mock could not leave the machine.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from arena.client import ChatClient, ClientLimits
from arena.client import _chat as client_module
from arena.client._reply import estimate_tokens, prompt_chars
from arena.probes._speed import run_speed_probe
from arena.probes._speed_prompts import (
    MIN_REPS,
    PP_TEXT,
    PROBE_VERSION,
    TG_MAX_TOKENS,
    pp_messages,
    tg_messages,
)
from arena.probes._speed_result import (
    SpeedResult,
    mean,
    median,
    p90,
    relative_difference,
    sample_sd,
    server_tps,
)

MOCK_BASE = "http://127.0.0.1:9/v1"
FAST = ClientLimits(deadline_s=10, max_retries=1, backoff_base_s=0.001, retry_after_cap_s=0.01)
CANARY = "sk-canary-5e1f0a9b3c7d4e2f8a6b1c0d9e8f7a6b"
REPS = MIN_REPS


# ------------------------------------------------------------------------------ statistics


def test_mean_and_sample_sd_on_hand_computed_values() -> None:
    values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]  # mean 5, squared deviations sum to 32
    assert mean(values) == 5.0
    assert sample_sd(values) == pytest.approx(math.sqrt(32 / 7))
    assert sample_sd([10.0, 12.0]) == pytest.approx(math.sqrt(2))
    assert sample_sd([3.0, 3.0, 3.0]) == 0.0


def test_median_odd_and_even() -> None:
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_p90_interpolates_between_closest_ranks() -> None:
    # sorted 1..5: rank 0.9 * 4 = 3.6 -> 4 + 0.6 * (5 - 4)
    assert p90([5.0, 3.0, 1.0, 4.0, 2.0]) == pytest.approx(4.6)
    # rank 0.9 * 1 = 0.9 -> 10 + 0.9 * 10
    assert p90([20.0, 10.0]) == pytest.approx(19.0)
    assert p90([7.0]) == 7.0
    # ten values 1..10: rank 8.1 -> 9.1
    assert p90([float(v) for v in range(1, 11)]) == pytest.approx(9.1)


def test_relative_difference() -> None:
    assert relative_difference(103.0, 100.0) == pytest.approx(0.03)
    assert relative_difference(90.0, 100.0) == pytest.approx(-0.1)
    with pytest.raises(ValueError):
        relative_difference(1.0, 0.0)


@pytest.mark.parametrize("helper", [mean, median, p90])
def test_statistics_refuse_no_values(helper: Any) -> None:
    with pytest.raises(ValueError):
        helper([])


def test_sample_sd_needs_two_values() -> None:
    with pytest.raises(ValueError):
        sample_sd([1.0])


def test_server_tps_from_llama_cpp_timings() -> None:
    assert server_tps({"predicted_per_second": 87.5}, "predicted") == 87.5
    assert server_tps({"prompt_n": 500.0, "prompt_ms": 250.0}, "prompt") == pytest.approx(2000.0)
    assert server_tps({"prompt_per_second": 10.0}, "predicted") is None
    assert server_tps({"predicted_n": 5.0, "predicted_ms": 0.0}, "predicted") is None
    assert server_tps({"predicted_per_second": math.inf}, "predicted") is None
    assert server_tps(None, "prompt") is None


# ------------------------------------------------------------------------------ prompts


def test_prompts_start_with_the_nonce_and_are_otherwise_fixed() -> None:
    first, second = pp_messages("[run a-00]"), pp_messages("[run a-01]")
    assert first[0]["content"].startswith("[run a-00] ")
    assert first[0]["content"][len("[run a-00]") :] == second[0]["content"][len("[run a-01]") :]
    assert PP_TEXT in first[0]["content"]
    assert 1500 < len(PP_TEXT) < 3500  # about 512 tokens of English prose
    assert tg_messages("[run b-03]")[0]["content"].startswith("[run b-03] ")


def test_prompts_are_pinned_to_the_probe_version() -> None:
    """Changing a prompt changes what is measured: bump PROBE_VERSION, then this digest."""
    texts = pp_messages("")[0]["content"] + "|" + tg_messages("")[0]["content"]
    digest = hashlib.sha256(texts.encode()).hexdigest()
    assert (PROBE_VERSION, digest) == (
        "speed-v1",
        "5403ca64fccc019216361d51c598e9b343831c2c844bbd78db4f7c7227372f1a",
    )


# ------------------------------------------------------------------------------ mock server


class FakeClock:
    """``perf_counter`` for the client: moves only when the mock stream says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(client_module, "time", SimpleNamespace(perf_counter=fake))
    return fake


def server_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The mock's own tokenizer: one token per five characters, plus 12 for the template
    (deliberately not the client's characters / 4, so server counts can be told apart)."""
    return prompt_chars(messages) // 5 + 12


@dataclass
class MockLlama:
    """A llama.cpp-like chat endpoint on a fake clock.

    Prefill takes ``prompt_tokens / prompt_tps``; then ``max_tokens`` tokens (or ``stop_after``)
    stream one ``1 / decode_tps`` step apart, the rate of the i-th streamed tg request being
    ``decode_tps[i % len(decode_tps)]``.
    """

    clock: FakeClock
    prompt_tps: float = 400.0
    decode_tps: list[float] = field(default_factory=lambda: [100.0])
    stream_usage: bool = True
    """Usage in a final chunk when ``stream_options.include_usage`` is asked for."""
    whole_usage: bool = True
    """Usage in non-streamed replies."""
    timings_factor: float | None = None
    """Send llama.cpp ``timings`` claiming this multiple of the true rates (None: none)."""
    stop_after: int | None = None
    reject_force_length: bool = False
    """Answer 400 to ``ignore_eos``/``min_tokens`` (like OpenAI's own API)."""
    honour_min_tokens: bool = False
    """Generate at least ``min_tokens`` even past ``stop_after`` (llama-cpp-python does)."""
    fail_status: int | None = None
    whole_differs: bool = False
    """Non-streamed replies say something else than streamed ones."""
    tokens_per_chunk: int = 1
    """Streamed tokens per chunk (llama-cpp-python sends two in one when a character spans
    them)."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    tg_streams: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.fail_status is not None:
            echo = f"bad key {request.headers.get('authorization', '')}"
            return httpx.Response(self.fail_status, json={"error": {"message": echo}})
        if self.reject_force_length and ("ignore_eos" in body or "min_tokens" in body):
            return httpx.Response(
                400, json={"error": {"message": "Unrecognized request argument: ignore_eos"}}
            )
        prompt = server_prompt_tokens(body["messages"])
        tokens = body["max_tokens"]
        if self.stop_after is not None:
            floor = body.get("min_tokens", 0) if self.honour_min_tokens else 0
            tokens = min(tokens, max(self.stop_after, floor))
        finish = "length" if tokens == body["max_tokens"] else "stop"
        rate = self.decode_tps[0]
        if tokens > 1 and body.get("stream", False):
            rate = self.decode_tps[self.tg_streams % len(self.decode_tps)]
            self.tg_streams += 1
        tag = body["messages"][0]["content"].split("]", 1)[0]  # the text depends on the nonce
        pieces = [f"{tag}:w{i} " for i in range(tokens)]
        if not body.get("stream", False):
            text = "".join(pieces) + ("(differs)" if self.whole_differs else "")
            message = {"role": "assistant", "content": text}
            reply: dict[str, Any] = {
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            }
            if self.whole_usage:
                reply["usage"] = {"prompt_tokens": prompt, "completion_tokens": tokens}
            return httpx.Response(200, json=reply)
        include_usage = self.stream_usage and body.get("stream_options", {}).get("include_usage")
        stream = self._stream(body["model"], prompt, pieces, finish, rate, bool(include_usage))
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream)

    async def _stream(
        self, model: str, prompt: int, pieces: list[str], finish: str, rate: float, usage: bool
    ) -> AsyncIterator[bytes]:
        def event(choices: list[Any], **extra: Any) -> bytes:
            obj = {"object": "chat.completion.chunk", "model": model, "choices": choices, **extra}
            return f"data: {json.dumps(obj)}\n\n".encode()

        def delta(content: str | None, finish_reason: str | None = None) -> list[Any]:
            part = {"content": content} if content is not None else {}
            return [{"index": 0, "delta": part, "finish_reason": finish_reason}]

        yield event([{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}])
        self.clock.now += prompt / self.prompt_tps
        size = self.tokens_per_chunk
        for index in range(0, len(pieces), size):
            if index:
                self.clock.now += size / rate
            yield event(delta("".join(pieces[index : index + size])))
        extra: dict[str, Any] = {}
        if self.timings_factor is not None:
            n = len(pieces)
            extra["timings"] = {
                "prompt_n": prompt,
                "prompt_ms": prompt / self.prompt_tps * 1000,
                "prompt_per_second": self.prompt_tps * self.timings_factor,
                "predicted_n": n,
                "predicted_ms": n / rate * 1000,
                "predicted_per_second": rate * self.timings_factor,
            }
        yield event(delta(None, finish), **extra)
        if usage:
            counts = {"prompt_tokens": prompt, "completion_tokens": len(pieces)}
            yield event([], usage=counts)
        yield b"data: [DONE]\n\n"


async def probe(server: MockLlama, **kwargs: Any) -> SpeedResult:
    transport = httpx.MockTransport(server)
    async with ChatClient(MOCK_BASE, limits=FAST, transport=transport, api_key=CANARY) as client:
        return await run_speed_probe(client, "mock-model", **kwargs)


def streamed(server: MockLlama) -> list[dict[str, Any]]:
    return [body for body in server.requests if body.get("stream", False)]


def expected_client_tg(rate: float, tokens: int = TG_MAX_TOKENS) -> float:
    """Client decode tok/s on the mock: ``tokens`` over the ``tokens - 1`` steps after the
    first token."""
    return tokens / ((tokens - 1) / rate)


# ------------------------------------------------------------------------------ the probe


async def test_usage_and_timings_within_tolerance(clock: FakeClock) -> None:
    rates = [100.0, 110.0, 90.0, 105.0, 95.0, 120.0]  # the first one goes to the warm-up
    server = MockLlama(clock, decode_tps=rates, timings_factor=1.0)
    result = await probe(server, salt="7")

    assert result.status == "done" and result.reason is None
    assert result.probe_version == PROBE_VERSION == "speed-v1"
    assert result.reps == REPS and result.pp_n == REPS and result.tg_n == REPS
    assert len(server.requests) == 2 * (1 + REPS)  # no count check: usage was streamed

    pp_prompt = server_prompt_tokens(pp_messages("[run p7-00]"))
    assert result.pp_prompt_tokens_mean == pp_prompt
    assert result.pp_tokens_source == "server" and result.tg_tokens_source == "server"
    assert result.pp_tps_mean == pytest.approx(server.prompt_tps)  # tokens / prefill time
    assert result.pp_tps_sd == pytest.approx(0, abs=1e-6)
    assert result.pp_ttft_median_s == pytest.approx(pp_prompt / server.prompt_tps)

    client_tg = [expected_client_tg(rate) for rate in rates[1:]]
    assert result.tg_tps_mean == pytest.approx(statistics.fmean(client_tg))
    assert result.tg_tps_sd == pytest.approx(statistics.stdev(client_tg))
    assert result.tg_tokens_mean == TG_MAX_TOKENS and result.stopped_early == 0
    tg_prompt = server_prompt_tokens(tg_messages("[run g7-00]"))
    assert result.tg_ttft_median_s == pytest.approx(tg_prompt / server.prompt_tps)
    assert result.tg_ttft_p90_s == pytest.approx(tg_prompt / server.prompt_tps)

    assert result.server_pp_tps_mean == pytest.approx(server.prompt_tps)
    assert result.server_tg_tps_mean == pytest.approx(statistics.fmean(rates[1:]))
    difference = statistics.fmean(client_tg) / statistics.fmean(rates[1:]) - 1
    assert result.server_agreement == pytest.approx(difference)
    assert 0 < difference < 0.03 and result.server_agrees is True
    assert not any("apart" in note or "timings" in note for note in result.notes)

    assert [run.phase for run in result.runs] == ["pp"] * REPS + ["tg"] * REPS
    assert [run.tps for run in result.runs[REPS:]] == pytest.approx(client_tg)
    assert result.length_forced is True


async def test_requests_follow_pp512_tg128(clock: FakeClock) -> None:
    server = MockLlama(clock)
    await probe(server, params={"seed": 3, "top_k": 1})
    pp, tg = server.requests[: 1 + REPS], server.requests[1 + REPS :]
    assert all(body["max_tokens"] == 1 for body in pp)
    assert not any("ignore_eos" in body or "min_tokens" in body for body in pp)
    for body in tg:
        assert body["max_tokens"] == body["min_tokens"] == TG_MAX_TOKENS
        assert body["ignore_eos"] is True
    assert all(body["temperature"] == 0.0 and body["seed"] == 3 for body in server.requests)
    assert all(body["stream"] is True for body in server.requests)
    for bodies in (pp, tg):
        contents = [body["messages"][0]["content"] for body in bodies]
        tags = [content.split("]", 1)[0] for content in contents]
        assert len(set(tags)) == len(tags) and all(tag.startswith("[run ") for tag in tags)
        assert len({content.split("]", 1)[1] for content in contents}) == 1  # only the nonce varies


async def test_client_and_server_disagree_beyond_3_percent(clock: FakeClock) -> None:
    server = MockLlama(clock, decode_tps=[100.0], timings_factor=0.9)
    result = await probe(server)
    assert result.status == "done"
    assert result.tg_tps_mean == pytest.approx(expected_client_tg(100.0))
    assert result.server_tg_tps_mean == pytest.approx(90.0)
    assert result.server_agreement == pytest.approx(expected_client_tg(100.0) / 90.0 - 1)
    assert result.server_agreement > 0.03 and result.server_agrees is False
    assert result.server_pp_tps_mean == pytest.approx(0.9 * server.prompt_tps)
    assert any("apart" in note for note in result.notes)


async def test_no_usage_anywhere_gives_flagged_estimates(clock: FakeClock) -> None:
    server = MockLlama(clock, stream_usage=False, whole_usage=False, stop_after=40)
    result = await probe(server, salt="42")
    assert result.status == "done"
    assert result.pp_tokens_source == "estimated" and result.tg_tokens_source == "estimated"
    estimate = estimate_tokens(prompt_chars(pp_messages("[run p42-01]")))
    assert result.pp_prompt_tokens_mean == estimate
    ttft = server_prompt_tokens(pp_messages("[run p42-01]")) / server.prompt_tps
    assert result.pp_tps_mean == pytest.approx(estimate / ttft)
    assert result.tg_tokens_mean == 40  # one streamed chunk per token
    assert all(run.tokens_source == "estimated" for run in result.runs)
    assert any("pp token counts are estimated" in note for note in result.notes)
    assert any("tg token counts are estimated" in note for note in result.notes)
    assert "server reports no timings" in result.notes
    assert result.server_tg_tps_mean is None and result.server_agreement is None
    assert result.server_agrees is None


async def test_usage_only_when_not_streamed_is_calibrated(clock: FakeClock) -> None:
    """llama-cpp-python's server: no usage in streams, usage in whole replies, no timings."""
    server = MockLlama(clock, stream_usage=False, whole_usage=True)
    result = await probe(server, salt="5")
    assert result.status == "done"
    # each measured pp run is checked right after it (its prompt still cached), tg's last one
    kinds = ["check" if body.get("stream") is False else "run" for body in server.requests]
    # (tg runs that hit max_tokens need no check: they generated max_tokens tokens)
    assert kinds == ["run"] + ["run", "check"] * REPS + ["run"] * (1 + REPS)
    for run, check in zip(server.requests[1::2], server.requests[2::2], strict=False):
        if check.get("stream") is False:
            assert check["messages"] == run["messages"] and check["max_tokens"] == 1
    assert result.pp_tokens_source == "calibrated" and result.tg_tokens_source == "limit"
    pp_prompt = server_prompt_tokens(pp_messages("[run p5-01]"))
    assert result.pp_prompt_tokens_mean == pp_prompt
    assert result.pp_tps_mean == pytest.approx(server.prompt_tps)
    assert result.tg_tokens_mean == TG_MAX_TOKENS
    assert any("pp token counts come from the server's usage" in n for n in result.notes)
    assert any("tg runs count 128 tokens: they ended at max_tokens" in n for n in result.notes)
    assert "server reports no timings" in result.notes


async def test_length_finish_counts_max_tokens_even_with_merged_chunks(clock: FakeClock) -> None:
    server = MockLlama(clock, stream_usage=False, decode_tps=[100.0], tokens_per_chunk=2)
    result = await probe(server)
    assert result.tg_tokens_source == "limit" and result.tg_tokens_mean == TG_MAX_TOKENS
    chunks = TG_MAX_TOKENS // 2  # 64 chunks, the last 63 of them 2 / 100 s apart
    assert result.tg_tps_mean == pytest.approx(TG_MAX_TOKENS / ((chunks - 1) * 2 / 100.0))


async def test_early_stoppers_are_counted_by_a_check_of_the_last_run(clock: FakeClock) -> None:
    server = MockLlama(
        clock, stream_usage=False, decode_tps=[100.0], tokens_per_chunk=2, stop_after=20
    )
    result = await probe(server, salt="8")
    kinds = ["check" if body.get("stream") is False else "run" for body in server.requests]
    assert kinds[-(2 + REPS) :] == ["run"] * (1 + REPS) + ["check"]  # tg: the last one checked
    assert server.requests[-1]["messages"] == server.requests[-2]["messages"]
    assert result.tg_tokens_source == "calibrated" and result.stopped_early == REPS
    # the checked run gets the server's 20; the others 10 chunks x (20 tokens / 10 chunks)
    assert [run.completion_tokens for run in result.runs if run.phase == "tg"] == [20] * REPS
    assert result.tg_tps_mean == pytest.approx(20 / (9 * 2 / 100.0))


async def test_no_usage_in_checks_either_stops_checking(clock: FakeClock) -> None:
    server = MockLlama(clock, stream_usage=False, whole_usage=False, stop_after=20)
    await probe(server)
    assert sum(body.get("stream") is False for body in server.requests) == 1


async def test_count_check_with_other_text_leaves_tg_estimated(clock: FakeClock) -> None:
    server = MockLlama(clock, stream_usage=False, whole_differs=True, stop_after=20)
    result = await probe(server)
    assert result.status == "done"
    assert result.pp_tokens_source == "calibrated" and result.tg_tokens_source == "estimated"
    assert any("matched no streamed run" in note for note in result.notes)


async def test_early_stop_is_counted_and_flagged(clock: FakeClock) -> None:
    server = MockLlama(clock, decode_tps=[50.0], stop_after=20)
    result = await probe(server)
    assert result.status == "done"
    assert result.stopped_early == REPS and result.tg_tokens_mean == 20
    assert result.tg_tps_mean == pytest.approx(expected_client_tg(50.0, tokens=20))
    assert all(run.finish_reason == "stop" for run in result.runs if run.phase == "tg")
    assert any("stopped before 128 tokens despite ignore_eos" in note for note in result.notes)


async def test_min_tokens_keeps_an_early_stopper_generating(clock: FakeClock) -> None:
    server = MockLlama(clock, decode_tps=[50.0], stop_after=20, honour_min_tokens=True)
    result = await probe(server)
    assert result.stopped_early == 0 and result.tg_tokens_mean == TG_MAX_TOKENS


async def test_force_length_can_be_turned_off(clock: FakeClock) -> None:
    server = MockLlama(clock, stop_after=20, honour_min_tokens=True)
    result = await probe(server, force_length=False)
    assert result.length_forced is False and result.stopped_early == REPS
    assert not any("ignore_eos" in body or "min_tokens" in body for body in server.requests)
    assert not any("despite" in note for note in result.notes)


async def test_rejected_ignore_eos_is_dropped_and_remembered(clock: FakeClock) -> None:
    server = MockLlama(clock, reject_force_length=True)
    result = await probe(server)
    assert result.status == "done" and result.length_forced is False
    with_flag = [body for body in server.requests if "ignore_eos" in body]
    assert len(with_flag) == 1  # the warm-up tried once; never again
    assert not any("min_tokens" in body for body in server.requests[1 + REPS + 1 :])
    assert len(server.requests) == 2 * (1 + REPS) + 1
    assert all(run.tps is not None for run in result.runs)
    assert any("answered 400 to ignore_eos/min_tokens" in note for note in result.notes)


async def test_too_few_tokens_to_time_decoding_fails(clock: FakeClock) -> None:
    result = await probe(MockLlama(clock, stop_after=1))
    assert result.status == "failed"
    assert result.reason is not None and "0 of 5 tg runs" in result.reason
    assert result.pp_tps_mean is not None  # what was measured stays


@pytest.mark.parametrize("status", [401, 500])
async def test_endpoint_error_gives_failed_without_the_key(clock: FakeClock, status: int) -> None:
    server = MockLlama(clock, fail_status=status)
    result = await probe(server)
    assert result.status == "failed"
    assert result.reason is not None and f"answered {status}" in result.reason
    assert result.reason.startswith("http_status: ")
    assert CANARY not in result.reason and "[REDACTED]" in result.reason
    assert CANARY not in result.model_dump_json()
    assert result.pp_tps_mean is None and result.tg_tps_mean is None
    assert len(server.requests) == (2 if status == 500 else 1)  # 500 retried once (FAST)


async def test_unreachable_endpoint_gives_failed(clock: FakeClock) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("All connection attempts failed")

    async with ChatClient(MOCK_BASE, limits=FAST, transport=httpx.MockTransport(refuse)) as c:
        result = await run_speed_probe(c, "mock-model")
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("connect: ")


@pytest.mark.parametrize("reps", [0, 1, 4])
async def test_fewer_than_five_reps_are_refused(clock: FakeClock, reps: int) -> None:
    server = MockLlama(clock)
    with pytest.raises(ValueError, match="at least 5"):
        await probe(server, reps=reps)
    assert server.requests == []


@pytest.mark.parametrize(
    "key", ["max_tokens", "max_completion_tokens", "stream", "messages", "ignore_eos", "min_tokens"]
)
async def test_params_may_not_override_the_probe(clock: FakeClock, key: str) -> None:
    server = MockLlama(clock)
    with pytest.raises(ValueError, match=key):
        await probe(server, params={key: 1})
    assert server.requests == []


async def test_more_reps_and_warmups_are_honoured(clock: FakeClock) -> None:
    server = MockLlama(clock)
    result = await probe(server, reps=7, warmup=2)
    assert result.reps == 7 and result.warmup == 2 and result.pp_n == result.tg_n == 7
    assert len(server.requests) == 2 * (2 + 7)


def test_result_model_is_consistent() -> None:
    with pytest.raises(ValidationError):
        SpeedResult(status="failed", reps=5, warmup=1, model="m")  # no reason
    with pytest.raises(ValidationError):
        SpeedResult(status="done", reps=5, warmup=1, model="m")  # no means
    with pytest.raises(ValidationError):
        SpeedResult(status="failed", reps=4, warmup=1, model="m", reason="x")
    failed = SpeedResult(status="failed", reps=5, warmup=1, model="m", reason="boom")
    assert SpeedResult.model_validate_json(failed.model_dump_json()) == failed
