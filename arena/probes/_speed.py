"""Solo speed probe: prompt processing (pp) and generation (tg) throughput of one endpoint.

The throughput on the leaderboard and the Pareto x-axis comes from here, never from matches (two
contestants of a match may share one GPU). The probe follows llama-bench's pp512 / tg128:

* **pp**: a fixed synthetic prompt of about 512 tokens (deterministic text), ``max_tokens`` 1.
  Every repetition starts with a different short nonce, so a server prompt cache cannot reuse
  more than the chat template's own prefix. Prompt tok/s = ``prompt_tokens / ttft``.
* **tg**: a short prompt asking for a long story (also nonce-prefixed, so the TTFT is that of an
  uncached short prompt), ``max_tokens`` 128, temperature 0. Like llama-bench, it asks the
  server to generate all 128 tokens whatever the model says: ``ignore_eos: true`` (llama.cpp's
  ``llama-server``, vLLM) and ``min_tokens: 128`` (vLLM; the one llama-cpp-python's server
  honours: it accepts ``ignore_eos`` but drops it, as it drops any unknown field). A server that
  answers 400/422 to them gets the request again without them, and never again in this probe.
  Decode tok/s = ``completion_tokens / (latency - ttft)``. A run that stopped before
  ``max_tokens`` anyway (``finish_reason != "length"``) still counts, but is flagged: few tokens
  make it noisy.

Each phase runs ``warmup`` discarded repetitions, then ``reps`` (at least 5) measured ones, one
at a time. The result gives mean ± sample standard deviation of the per-run tok/s, and the median
and p90 of the TTFT, per phase.

**Token counts.** Server usage is preferred. A server that streams no usage (llama-cpp-python's
does not, whatever ``stream_options`` says) leaves the client with estimates (prompt: characters
/ 4; completion: streamed chunks). The probe then *calibrates*: right after each measured pp
run it sends the same request again, non-streamed (the prompt is then still in a prompt cache,
so this costs little and cannot speed up the next run, which starts with another nonce), and
after the last tg run it repeats that one non-streamed; it takes the server's usage from those
check replies (non-streamed replies carry usage even there). A tg run whose text equals the
check's text gets the server's count; the others get their chunk count scaled by the check's
tokens per chunk. ``pp_tokens_source`` and ``tg_tokens_source`` say which counts were used
(``server``, ``calibrated`` or ``estimated``).

**Server timings.** llama.cpp's ``llama-server`` sends a ``timings`` object
(``prompt_per_second``, ``predicted_per_second``, ...). When it does, the probe averages the
server's own tok/s over the same runs and reports the relative difference of the client's tg
tok/s to the server's (``server_agreement``; ``server_agrees`` is true within 3 %).
llama-cpp-python's server sends no timings.

Caveats: TTFT includes the request's network round trip and, for pp, the sampling of the one
token. The template prefix before the nonce (a default system prompt, for some models) may be
served from a prompt cache, which makes pp slightly optimistic (SmolLM2 on llama-cpp-python:
33 of 526 prompt tokens, so pp reads ~7 % high). The nonce is not put in a system message
because some chat templates refuse one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from arena.client import ChatClient, ChatResult, EndpointError, HTTPStatusError
from arena.probes._speed_prompts import (
    AGREEMENT_TOLERANCE,
    FORBIDDEN_PARAMS,
    FORCE_LENGTH_REJECT_STATUSES,
    MIN_REPS,
    PP_MAX_TOKENS,
    TG_MAX_TOKENS,
    nonce,
    pp_messages,
    tg_messages,
)
from arena.probes._speed_result import (
    SpeedResult,
    SpeedRun,
    TokenSource,
    mean,
    median,
    p90,
    relative_difference,
    sample_sd,
    server_tps,
)


class _ProbeFailed(Exception):
    """Internal: ends the probe with a failed result."""


@dataclass
class _Call:
    """One measured call: its request and what came back."""

    messages: list[dict[str, Any]]
    params: dict[str, Any]
    result: ChatResult
    check: ChatResult | None = None
    """The same request sent again non-streamed, for the server's token counts (if needed)."""


class _Prober:
    """State of one probe run: the client, the request parameters, what was learnt."""

    def __init__(
        self, client: ChatClient, model: str, params: dict[str, Any], force_length: bool
    ) -> None:
        self.client = client
        self.model = model
        self.params = params
        self.force_length = force_length
        self.counts_unavailable = False
        self.notes: list[str] = []

    async def call(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> _Call:
        """One streamed chat call.

        ``force_length`` in ``params`` asks for ``ignore_eos``/``min_tokens``; dropped for good
        once the server refused them.
        """
        params = {**self.params, **params}
        if params.pop("force_length", False) and self.force_length:
            force = {"ignore_eos": True, "min_tokens": params["max_tokens"]}
            sent = {**params, **force}
            try:
                return _Call(messages, sent, await self.client.chat(self.model, messages, sent))
            except HTTPStatusError as err:
                if err.status not in FORCE_LENGTH_REJECT_STATUSES:
                    raise
                result = await self.client.chat(self.model, messages, params)
                self.force_length = False  # only once the request without them succeeded
                self.notes.append(
                    f"the server answered {err.status} to ignore_eos/min_tokens; "
                    "sent without them from then on"
                )
                return _Call(messages, params, result)
        return _Call(messages, params, await self.client.chat(self.model, messages, params))

    async def phase(
        self,
        build: Callable[[str], list[dict[str, Any]]],
        params: dict[str, Any],
        salt: str,
        warmup: int,
        reps: int,
        check: Literal["each", "last"],
    ) -> list[_Call]:
        """``warmup`` discarded calls, then ``reps`` measured ones, one at a time.

        ``each``: every measured call whose reply carried no usage is checked
        (:meth:`recount`) right after it. ``last``: if any measured call lacks a count, neither
        usage nor a ``length`` finish (which means ``max_tokens`` were generated), the last
        call is checked.
        """
        for index in range(warmup):
            await self.call(build(nonce(salt, index)), params)
        calls = []
        for index in range(reps):
            call = await self.call(build(nonce(salt, warmup + index)), params)
            if check == "each":
                call.check = await self.recount(call)
            calls.append(call)
        uncounted = [
            call
            for call in calls
            if call.result.usage_source != "server" and call.result.finish_reason != "length"
        ]
        if check == "last" and uncounted:
            calls[-1].check = await self.recount(calls[-1], force=True)
        return calls

    async def recount(self, call: _Call, *, force: bool = False) -> ChatResult | None:
        """``call``'s request again, non-streamed, when its reply had no usage: the check
        reply, if the server reported usage for it.

        Sent right after the measured call, the prompt is still in the prompt cache of servers
        that have one, so the check costs little; the next measured call starts with another
        nonce either way. Once a check brings no usage, or fails, no more are sent; a failure
        does not fail the probe (the measurements stand, with estimated counts).
        """
        if self.counts_unavailable or (call.result.usage_source == "server" and not force):
            return None
        try:
            params = {**call.params, "stream": False}
            result = await self.client.chat(self.model, call.messages, params)
        except EndpointError as err:
            self.notes.append(f"token count check failed ({err.kind}: {err})")
            result = None
        if result is None or result.usage_source != "server":
            self.counts_unavailable = True
            return None
        return result


def _pp_runs(calls: list[_Call], counts: list[int] | None) -> list[SpeedRun]:
    runs = []
    for rep, call in enumerate(calls):
        res = call.result
        prompt = counts[rep] if counts is not None else res.prompt_tokens
        source: TokenSource = (
            "server" if res.usage_source == "server" else "calibrated" if counts else "estimated"
        )
        # a 1-token reply that streamed no text (e.g. an immediate end of sequence) has no TTFT;
        # its latency is the closest stand-in
        ttft = res.ttft_s if res.ttft_s is not None else res.latency_s
        runs.append(
            SpeedRun(
                phase="pp",
                rep=rep,
                prompt_tokens=prompt,
                completion_tokens=res.completion_tokens,
                tokens_source=source,
                ttft_s=res.ttft_s,
                latency_s=res.latency_s,
                finish_reason=res.finish_reason,
                tps=prompt / ttft if ttft and ttft > 0 and prompt > 0 else None,
                server_tps=server_tps(res.server_timings, "prompt"),
            )
        )
    return runs


def _tg_runs(calls: list[_Call], check: ChatResult | None, max_tokens: int) -> list[SpeedRun]:
    """tg runs, each with the best count there is (see :data:`TokenSource`).

    A run without usage that hit the limit generated ``max_tokens``. For the others, a
    non-streamed ``check`` of the last request with the server's usage gives the server's
    count to a run with the same text, and scales the streamed chunk counts of the rest by the
    check's tokens per chunk.
    """
    scale: float | None = None
    if check is not None:
        chunks = next(
            (c.result.completion_tokens for c in reversed(calls) if c.result.text == check.text),
            None,
        )
        if chunks:
            scale = check.completion_tokens / chunks
    runs = []
    for rep, call in enumerate(calls):
        res = call.result
        completion = res.completion_tokens
        source: TokenSource = "estimated"
        if res.usage_source == "server":
            source = "server"
        elif res.finish_reason == "length":
            source, completion = "limit", max_tokens
        elif check is not None and scale is not None:
            source = "calibrated"
            same = res.text == check.text
            completion = check.completion_tokens if same else round(completion * scale)
        ttft = res.ttft_s
        decoding = res.latency_s - ttft if ttft is not None else 0.0
        runs.append(
            SpeedRun(
                phase="tg",
                rep=rep,
                prompt_tokens=res.prompt_tokens,
                completion_tokens=completion,
                tokens_source=source,
                ttft_s=ttft,
                latency_s=res.latency_s,
                finish_reason=res.finish_reason,
                tps=completion / decoding if completion > 0 and decoding > 0 else None,
                server_tps=server_tps(res.server_timings, "predicted"),
            )
        )
    return runs


def _source(runs: list[SpeedRun]) -> TokenSource:
    """The weakest token source among ``runs``."""
    sources = {run.tokens_source for run in runs}
    order: tuple[TokenSource, ...] = ("estimated", "calibrated", "limit")
    return next((source for source in order if source in sources), "server")


def _spread(values: list[float]) -> tuple[float, float]:
    return mean(values), sample_sd(values)


def _summary(runs: list[SpeedRun], phase: Literal["pp", "tg"], notes: list[str]) -> dict[str, Any]:
    """The statistics fields of one phase (``ValueError``-free: needs >= 2 valid runs)."""
    valid = [run for run in runs if run.tps is not None]
    if len(valid) < 2:
        raise _ProbeFailed(
            f"only {len(valid)} of {len(runs)} {phase} runs gave a measurable tok/s "
            "(no streamed text, or no time between the first and the last token)"
        )
    if len(valid) < len(runs):
        notes.append(f"{len(runs) - len(valid)} {phase} run(s) gave no measurable tok/s; left out")
    tps_mean, tps_sd = _spread([run.tps for run in valid if run.tps is not None])
    ttfts = [run.ttft_s if run.ttft_s is not None else run.latency_s for run in valid]
    if any(run.ttft_s is None for run in valid):
        notes.append(f"some {phase} runs streamed no text: their latency stands in for the TTFT")
    return {
        f"{phase}_n": len(valid),
        f"{phase}_tps_mean": tps_mean,
        f"{phase}_tps_sd": tps_sd,
        f"{phase}_ttft_median_s": median(ttfts),
        f"{phase}_ttft_p90_s": p90(ttfts),
    }


def _server_mean(runs: list[SpeedRun], phase: str, notes: list[str]) -> float | None:
    """Mean of the server's own tok/s over the runs that reported it (and were measured)."""
    reported = [run.server_tps for run in runs if run.server_tps is not None and run.tps]
    if not reported:
        return None
    if len(reported) < len(runs):
        notes.append(f"the server reported timings for {len(reported)} of {len(runs)} {phase} runs")
    return mean(reported)


def _agreement(runs: list[SpeedRun], notes: list[str]) -> dict[str, Any]:
    """Client vs server tg tok/s over the same runs: the server fields of the result."""
    paired = [run for run in runs if run.server_tps is not None and run.tps is not None]
    server = _server_mean(runs, "tg", notes)
    if server is None:
        notes.append("server reports no timings")
        return {"server_tg_tps_mean": None}
    client = mean([run.tps for run in paired if run.tps is not None])
    difference = relative_difference(client, server)
    agrees = abs(difference) <= AGREEMENT_TOLERANCE
    if not agrees:
        notes.append(
            f"client tg {client:.2f} tok/s vs server {server:.2f} tok/s over the same "
            f"{len(paired)} runs: {difference:+.1%} apart (more than {AGREEMENT_TOLERANCE:.0%})"
        )
    return {
        "server_tg_tps_mean": server,
        "server_agreement": difference,
        "server_agrees": agrees,
    }


async def run_speed_probe(
    client: ChatClient,
    model: str,
    *,
    reps: int = MIN_REPS,
    warmup: int = 1,
    tg_max_tokens: int = TG_MAX_TOKENS,
    temperature: float = 0.0,
    force_length: bool = True,
    params: Mapping[str, Any] | None = None,
    salt: str | None = None,
) -> SpeedResult:
    """Measure ``model`` on ``client``'s endpoint alone: pp then tg, see the module docstring.

    ``params`` are extra request fields sent with every call (``seed``, ``top_k``...); they may
    not set the model, messages, ``stream``, ``n``, ``ignore_eos`` or a token limit
    (``min_tokens`` included). ``force_length=False`` leaves ``ignore_eos``/``min_tokens`` out
    of the tg requests. ``salt`` fixes the nonces (random otherwise). ``reps`` below 5 (or bad
    arguments) raise ValueError before any call; an endpoint error during the probe gives a
    ``failed`` result.
    """
    if reps < MIN_REPS:
        raise ValueError(f"reps must be at least {MIN_REPS}, got {reps}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if tg_max_tokens < 2:
        raise ValueError(f"tg_max_tokens must be at least 2, got {tg_max_tokens}")
    extra = dict(params or {})
    clashing = sorted(FORBIDDEN_PARAMS & set(extra))
    if clashing:
        raise ValueError(f"params must not set {', '.join(clashing)}")
    salt = salt if salt is not None else f"{secrets.randbelow(10_000):04d}"
    prober = _Prober(client, model, {**extra, "temperature": temperature}, force_length)
    notes = prober.notes
    runs: list[SpeedRun] = []
    fields: dict[str, Any] = {}

    def failed(reason: str) -> SpeedResult:
        return SpeedResult(
            status="failed", reps=reps, warmup=warmup, model=model, runs=runs, notes=notes,
            reason=reason, **fields,
        )  # fmt: skip

    try:
        pp_params: dict[str, Any] = {"max_tokens": PP_MAX_TOKENS}
        pp_calls = await prober.phase(pp_messages, pp_params, f"p{salt}", warmup, reps, "each")
        tg_params: dict[str, Any] = {"max_tokens": tg_max_tokens, "force_length": True}
        tg_calls = await prober.phase(tg_messages, tg_params, f"g{salt}", warmup, reps, "last")
        fields["length_forced"] = "ignore_eos" in tg_calls[-1].params
    except EndpointError as err:
        return failed(f"{err.kind}: {err}")
    pp_counts = _calibrated_prompts(pp_calls)
    tg_check = _tg_check(tg_calls, notes)

    pp_runs = _pp_runs(pp_calls, pp_counts)
    tg_runs = _tg_runs(tg_calls, tg_check, tg_max_tokens)
    runs.extend(pp_runs + tg_runs)
    try:
        fields.update(_summary(pp_runs, "pp", notes))
        fields.update(_summary(tg_runs, "tg", notes))
    except _ProbeFailed as err:
        return failed(str(err))

    fields["pp_prompt_tokens_mean"] = mean([run.prompt_tokens for run in pp_runs])
    fields["pp_tokens_source"] = _source(pp_runs)
    fields["tg_tokens_mean"] = mean([run.completion_tokens for run in tg_runs])
    fields["tg_tokens_source"] = _source(tg_runs)
    early = [run for run in tg_runs if run.finish_reason != "length"]
    fields["stopped_early"] = len(early)
    if early:
        eos = " despite ignore_eos/min_tokens" if fields["length_forced"] else ""
        notes.append(
            f"{len(early)} of {len(tg_runs)} tg runs stopped before {tg_max_tokens} tokens{eos} "
            f"(as few as {min(run.completion_tokens for run in early)}): their tok/s is noisier"
        )
    for phase, source in (("pp", fields["pp_tokens_source"]), ("tg", fields["tg_tokens_source"])):
        if source == "estimated":
            what = "prompt characters / 4" if phase == "pp" else "streamed chunks"
            notes.append(f"{phase} token counts are estimated ({what}): the server reported none")
        elif source == "calibrated":
            notes.append(
                f"{phase} token counts come from the server's usage on non-streamed re-runs "
                "(it streams none)"
            )
        elif source == "limit":
            notes.append(
                f"tg runs count {tg_max_tokens} tokens: they ended at max_tokens "
                "(finish_reason length) and the server streams no usage"
            )

    fields["server_pp_tps_mean"] = _server_mean(pp_runs, "pp", notes)
    fields.update(_agreement(tg_runs, notes))
    return SpeedResult(
        status="done", reps=reps, warmup=warmup, model=model, runs=runs, notes=notes, **fields
    )


def _calibrated_prompts(calls: list[_Call]) -> list[int] | None:
    """Server prompt counts of every pp run (from its reply or its check), or None."""
    counts = []
    for call in calls:
        if call.result.usage_source == "server":
            counts.append(call.result.prompt_tokens)
        elif call.check is not None:
            counts.append(call.check.prompt_tokens)
        else:
            return None
    return counts if any(call.check is not None for call in calls) else None


def _tg_check(calls: list[_Call], notes: list[str]) -> ChatResult | None:
    """The last tg run's check, if its text is that of some streamed run."""
    check = calls[-1].check
    if check is None:
        return None
    if not any(call.result.text == check.text for call in calls):
        notes.append(
            "the non-streamed tg check run's text matched no streamed run: tg counts stay estimated"
        )
        return None
    return check
