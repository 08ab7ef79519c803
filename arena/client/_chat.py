"""Async OpenAI-compatible chat client: every call streamed, timed, bounded and retried.

One :class:`ChatClient` talks to one endpoint (vLLM, llama.cpp, Ollama, TGI... anything that
speaks ``/v1/chat/completions``) through one pooled :class:`httpx.AsyncClient`.

What it guarantees:

* **Bounded.** One whole call (every attempt, the waits between attempts and the
  stream-options fallback) finishes within ``ClientLimits.deadline_s``, and a response body
  larger than ``max_response_bytes`` is cut off, so a slow-drip or endless stream cannot hang a
  match. Bodies are read raw (``Accept-Encoding: identity`` is asked for): a response that
  still comes with a ``Content-Encoding`` is refused unread, never decompressed, so a
  compression bomb cannot get past the size cap or the deadline.
* **Typed failures.** Whatever goes wrong with the endpoint raises an :class:`EndpointError`
  subclass with a ``kind`` and a ``retryable`` flag; redirects are refused, never followed.
* **Secret-safe.** The API key is sent only in the ``Authorization`` header. It is scrubbed from
  every error message (servers that echo request headers included, also when they echo it
  JSON-escaped, URL-encoded, hex- or base64-encoded), before the message is clipped, and never
  logged: the log lines carry the URL, status and attempt number, never headers. The errors
  raised carry no ``__context__``/``__cause__`` (whose httpx exceptions would hold the request
  and its headers).
* **Valid text.** Every string in a :class:`ChatResult` and in an error message is valid UTF-8
  (lone surrogates a server sent as JSON ``\\ud800`` escapes become ``?``), so it can be stored.
* **Timed.** ``time.perf_counter()`` stamps the start of the last attempt, the first content or
  reasoning token and the end of the stream (see :class:`ChatResult`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from arena.client._attempt import _ChatState, _Progress
from arena.client._errors import (
    ConnectFailed,
    ContextOverflow,
    DeadlineExceeded,
    EndpointError,
    HTTPStatusError,
    MalformedResponse,
    RedirectRefused,
    ResponseTooLarge,
    _describe_transport_error,
    _detach,
    _outcome,
    is_context_overflow,
)
from arena.client._http import (
    _raw_chunks,
    _refuse_encoded_body,
    normalize_base_url,
    parse_retry_after,
)
from arena.client._limits import DEFAULT_LIMITS, ClientLimits
from arena.client._logprobs import (
    COMPLETIONS_PATH,
    LOGPROBS_REJECT,
    LOGPROBS_STYLES,
    LogprobsStyle,
    LogprobsUnavailable,
    PromptLogprobs,
    _parse_prompt_logprobs,
)
from arena.client._redact import _check_api_key, _Redactor
from arena.client._reply import ChatResult, _Reply, prompt_chars
from arena.client._sse import _decode_json, _LineSplitter, _parse_model_ids

log = logging.getLogger(__name__)

CHAT_PATH = "/chat/completions"
"""Chat completions path, relative to the OpenAI root (``.../v1``)."""
MODELS_PATH = "/models"
"""Model list path, relative to the OpenAI root."""
USER_AGENT = "quant-escape-room/0.1"

_ERROR_BODY_BYTES = 64 * 1024  # how much of an error response body is read at most
_DRAIN_GRACE_S = 0.25  # after [DONE], how long to wait for the end of the body (pool reuse)
_T = TypeVar("_T")


def _check_params(params: Mapping[str, Any]) -> None:
    """Extra request fields may not replace the model or the messages."""
    clashing = sorted({"model", "messages"} & set(params))
    if clashing:
        raise ValueError(f"params must not set {', '.join(clashing)}: pass them as arguments")


_Attempt = Callable[[_Progress], Awaitable[_T]]


# --------------------------------------------------------------------------------------------
# The client


class ChatClient:
    """Async client of one OpenAI-compatible endpoint (one connection pool per client)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        limits: ClientLimits = DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = normalize_base_url(base_url)
        self._limits = limits
        api_key = api_key or None
        if api_key is not None:
            _check_api_key(api_key)
        self._redact = _Redactor(api_key)
        self._has_key = api_key is not None
        self._stream_options_supported = True
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(None, connect=limits.connect_timeout_s),
            follow_redirects=False,
            trust_env=False,
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        """The normalized OpenAI root, e.g. ``http://127.0.0.1:8000/v1``."""
        return self._base_url

    @property
    def limits(self) -> ClientLimits:
        """The limits every call of this client obeys."""
        return self._limits

    @property
    def stream_options_supported(self) -> bool:
        """False once the server rejected ``stream_options`` (it is not sent again)."""
        return self._stream_options_supported

    def __repr__(self) -> str:
        key = "set" if self._has_key else "none"
        return f"ChatClient(base_url={self._base_url!r}, api_key={key}, limits={self._limits!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # ----------------------------------------------------------------------------- public calls

    async def chat(
        self,
        model: str,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any] | None = None,
    ) -> ChatResult:
        """Stream one chat completion and return it with its usage and timings.

        ``params`` are extra request fields (``temperature``, ``max_tokens``, ``seed``...); they
        override the defaults (``"stream": False`` asks for a non-streamed reply, a
        ``stream_options`` of your own is sent as is and never dropped).
        """
        extra = dict(params or {})
        _check_params(extra)
        wants_options = extra.get("stream", True) is True and "stream_options" not in extra
        state = _ChatState(use_stream_options=wants_options and self._stream_options_supported)

        async def attempt(progress: _Progress) -> _Reply:
            body: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
            if state.use_stream_options:
                body["stream_options"] = {"include_usage": True}
            return await self._chat_attempt({**body, **extra}, progress, state)

        def fallback(err: EndpointError) -> bool:
            if not (state.rejected and state.use_stream_options):
                return False
            state.use_stream_options = self._stream_options_supported = False
            log.info("%s rejected stream_options; not sending it again", self._url(CHAT_PATH))
            return True

        try:
            reply, attempts = await self._with_retries("POST", CHAT_PATH, attempt, fallback)
            return reply.result(attempts=attempts, prompt_chars=prompt_chars(messages))
        except EndpointError as err:
            _detach(err)
            raise

    async def list_models(self) -> list[str]:
        """Ids of the models the endpoint serves (``GET {base}/models``)."""

        async def attempt(progress: _Progress) -> list[str]:
            async with self._http.stream("GET", self._url(MODELS_PATH)) as response:
                await self._check_status(response, progress, None)
                progress.phase = "reading the response body"
                raw = await self._read_body(response, progress)
            return _parse_model_ids(raw)

        try:
            ids, _ = await self._with_retries("GET", MODELS_PATH, attempt)
        except EndpointError as err:
            _detach(err)
            raise
        return ids

    async def server_json(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, root: bool = True
    ) -> dict[str, Any]:
        """A JSON object from a path of the server (``root``: from its root, ``/v1`` stripped:
        ``/props``, ``/version``, ``/api/show``...; else from the OpenAI root), with the usual
        deadline, size cap, retries and key redaction; EndpointError when it fails."""
        base = self._base_url.removesuffix("/v1") if root else self._base_url

        async def attempt(progress: _Progress) -> dict[str, Any]:
            async with self._http.stream(method, base + path, json=body) as response:
                await self._check_status(response, progress, None)
                progress.phase = "reading the response body"
                raw = await self._read_body(response, progress)
            return _decode_json(raw, path)

        try:
            found, _ = await self._with_retries(method, path, attempt)
        except EndpointError as err:
            _detach(err)
            raise
        return found

    async def prompt_logprobs(
        self, model: str, prompt: str, top_k: int, *, style: LogprobsStyle | None = None
    ) -> PromptLogprobs:
        """Top-``top_k`` logprobs at every position of ``prompt`` (``POST {base}/completions``).

        Asks with OpenAI's legacy ``echo: true, logprobs: k`` first, then with vLLM's
        ``prompt_logprobs: k`` (``style`` pins one of them); ``max_tokens`` is 1 and the
        generated token is dropped (see :func:`_parse_prompt_logprobs`). When neither works
        (an answer of 400/404/405/422/501, or a body without logprobs) it raises
        :class:`LogprobsUnavailable` saying why; every other failure raises as usual. Each of
        the (at most two) requests has the usual deadline and retries.
        """
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        failures: list[str] = []
        attempts_made = 0
        for each in [style] if style else list(LOGPROBS_STYLES):
            asked = {"echo": True, "logprobs": top_k} if each == "echo" else {each: top_k}
            body = {"model": model, "prompt": prompt, "max_tokens": 1, "temperature": 0, **asked}

            async def attempt(
                progress: _Progress, body: dict[str, Any] = body, each: LogprobsStyle = each
            ) -> PromptLogprobs:
                url = self._url(COMPLETIONS_PATH)
                async with self._http.stream("POST", url, json=body) as response:
                    await self._check_status(response, progress, None)
                    progress.phase = "reading the response body"
                    raw = await self._read_body(response, progress)
                return _parse_prompt_logprobs(raw, prompt, each)

            try:
                result, attempts = await self._with_retries("POST", COMPLETIONS_PATH, attempt)
                return result.model_copy(update={"attempts": attempts_made + attempts})
            except EndpointError as err:
                _detach(err)
                rejected = isinstance(err, HTTPStatusError) and err.status in LOGPROBS_REJECT
                if not (rejected or isinstance(err, LogprobsUnavailable)):
                    raise
                attempts_made += err.attempts
                failures.append(f"{each}: {self._redact(f'{err.headline()}: {err.detail}', 140)}")
        raise self._finish(LogprobsUnavailable("; ".join(failures)), attempts_made)

    # ------------------------------------------------------------------------- one attempt

    def _url(self, path: str) -> str:
        """Absolute URL of an API path."""
        return self._base_url + path

    async def _chat_attempt(
        self, body: dict[str, Any], progress: _Progress, state: _ChatState
    ) -> _Reply:
        """Send one chat request and read its reply (streamed, or a plain JSON body)."""
        reply = _Reply(started=time.perf_counter())
        async with self._http.stream("POST", self._url(CHAT_PATH), json=body) as response:
            await self._check_status(response, progress, state)
            progress.phase = "reading the response body"
            if "json" in response.headers.get("content-type", "").lower():
                reply.add_completion(await self._read_body(response, progress))
            else:
                await self._read_stream(response, progress, reply)
        reply.finish(time.perf_counter())
        return reply

    async def _check_status(
        self, response: httpx.Response, progress: _Progress, state: _ChatState | None
    ) -> None:
        """Raise the typed error of a non-2xx answer (3xx: refused, never followed).

        A body with a ``Content-Encoding`` is refused before any of it is read (2xx or not).
        """
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("location", "(none)")
            raise RedirectRefused(f"Location: {location}", status=status)
        _refuse_encoded_body(response)
        if 200 <= status < 300:
            return
        progress.phase = "reading an error body"
        raw = await self._read_body(response, progress, limit=_ERROR_BODY_BYTES, clip=True)
        text = raw.decode("utf-8", errors="replace")
        if len(raw) >= _ERROR_BODY_BYTES:  # clipped: the cut may have split an echoed key
            text = self._redact.drop_trailing_fragment(text)
        text = text.strip()
        if state is not None:
            state.note_error_body(status, text)
        error = ContextOverflow if is_context_overflow(status, text) else HTTPStatusError
        raise error(
            text or "(empty body)",  # all of it: _finish scrubs the key before clipping
            status=status,
            retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        )

    def _count(self, progress: _Progress, chunk: bytes) -> None:
        """Add a chunk to the bytes read; ResponseTooLarge beyond the cap."""
        progress.bytes_read += len(chunk)
        if progress.bytes_read > self._limits.max_response_bytes:
            raise ResponseTooLarge(
                f"stopped after {progress.bytes_read} bytes",
                limit_bytes=self._limits.max_response_bytes,
            )

    async def _read_body(
        self, response: httpx.Response, progress: _Progress, *, limit: int = 0, clip: bool = False
    ) -> bytes:
        """The whole body, within the size cap (``clip``: the first ``limit`` bytes, no error)."""
        body = bytearray()
        async for chunk in _raw_chunks(response):
            self._count(progress, chunk)
            body += chunk
            if clip and len(body) >= limit:
                return bytes(body[:limit])
        return bytes(body)

    async def _read_stream(
        self, response: httpx.Response, progress: _Progress, reply: _Reply
    ) -> None:
        """Read SSE lines into ``reply`` until ``data: [DONE]`` or the end of the body."""
        splitter = _LineSplitter()
        chunks = _raw_chunks(response)
        async for chunk in chunks:
            self._count(progress, chunk)
            now = time.perf_counter()
            if any(reply.add_line(line, now) for line in splitter.feed(chunk)):
                reply.finish(now)
                await self._drain(chunks, progress)
                return
        for line in splitter.flush():
            reply.add_line(line, time.perf_counter())

    async def _drain(self, chunks: AsyncIterator[bytes], progress: _Progress) -> None:
        """Briefly read what follows ``[DONE]`` so the connection can go back to the pool.

        Bounded by a short grace period, the remaining deadline and the size cap; whatever
        happens, the reply already read stands.
        """
        grace = min(_DRAIN_GRACE_S, progress.deadline_at - time.perf_counter() - 0.05)
        if grace <= 0:
            return
        with contextlib.suppress(TimeoutError, EndpointError, httpx.TransportError):
            async with asyncio.timeout(grace):
                async for chunk in chunks:
                    self._count(progress, chunk)

    # --------------------------------------------------------------------------- retries

    async def _with_retries(
        self,
        method: str,
        path: str,
        attempt: _Attempt[_T],
        free_retry: Callable[[EndpointError], bool] | None = None,
    ) -> tuple[_T, int]:
        """Run ``attempt`` under the deadline, retrying per the limits; (value, attempts).

        ``free_retry(err)`` True means: try again at once, without spending a retry.
        """
        url = self._url(path)
        deadline_at = time.perf_counter() + self._limits.deadline_s
        retries_left, attempts = self._limits.max_retries, 0
        while True:
            remaining = deadline_at - time.perf_counter()
            if remaining <= 0:
                err = DeadlineExceeded(
                    "budget spent before a retry", deadline_s=self.limits.deadline_s
                )
                raise self._finish(err, attempts)
            attempts += 1
            log.debug("%s %s attempt %d", method, url, attempts)
            try:
                value = await self._run_attempt(attempt, _Progress(deadline_at), remaining)
            except EndpointError as err:
                self._finish(err, attempts)
                if free_retry is not None and free_retry(err):
                    continue
                wait = self._backoff_s(err, self._limits.max_retries - retries_left)
                if not self._may_retry(err, retries_left, wait, deadline_at):
                    log.info("%s %s attempt %d failed (%s)", method, url, attempts, _outcome(err))
                    raise
                retries_left -= 1
                log.info(
                    "%s %s attempt %d failed (%s); retrying in %.2f s",
                    *(method, url, attempts, _outcome(err), wait),
                )
                await asyncio.sleep(wait)
                continue
            log.debug("%s %s succeeded on attempt %d", method, url, attempts)
            return value, attempts

    async def _run_attempt(self, attempt: _Attempt[_T], progress: _Progress, budget: float) -> _T:
        """One attempt under ``budget`` seconds, httpx failures turned into typed errors."""
        timeout = asyncio.timeout(budget)
        try:
            async with timeout:
                return await attempt(progress)
        except TimeoutError:
            if not timeout.expired():
                raise
            raise DeadlineExceeded(
                progress.describe(), deadline_s=self._limits.deadline_s
            ) from None
        except httpx.TransportError as exc:
            retryable = not isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError)
            raise ConnectFailed(_describe_transport_error(exc), retryable=retryable) from None
        except httpx.DecodingError as exc:
            raise MalformedResponse(_describe_transport_error(exc)) from None

    def _finish(self, err: EndpointError, attempts: int) -> EndpointError:
        """Stamp endpoint and attempt count on ``err`` and scrub its detail of the key.

        Every error of an attempt passes here, with all the server text it quotes: this is the
        one place where that text is redacted, made valid UTF-8 and clipped to a snippet.
        """
        err.endpoint = self._base_url
        err.attempts = attempts
        err.detail = self._redact(err.detail)
        return err

    def _backoff_s(self, err: EndpointError, retry_index: int) -> float:
        """Retry-After (capped) if the server sent one, else jittered exponential backoff."""
        cap = self._limits.retry_after_cap_s
        if isinstance(err, HTTPStatusError) and err.retry_after_s is not None:
            return min(err.retry_after_s, cap)
        ceiling = self._limits.backoff_base_s * 2**retry_index
        return min(random.uniform(ceiling / 2, ceiling), cap)

    @staticmethod
    def _may_retry(err: EndpointError, retries_left: int, wait: float, deadline_at: float) -> bool:
        """Whether ``err`` gets another attempt: retryable, retries left, time left to wait."""
        return err.retryable and retries_left > 0 and time.perf_counter() + wait < deadline_at
