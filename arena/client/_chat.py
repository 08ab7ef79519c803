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
import base64
import contextlib
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Literal, Self, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

CHAT_PATH = "/chat/completions"
"""Chat completions path, relative to the OpenAI root (``.../v1``)."""
MODELS_PATH = "/models"
"""Model list path, relative to the OpenAI root."""
RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses that are worth another attempt (every other 4xx/5xx fails at once)."""
STREAM_OPTIONS_REJECT_STATUSES: frozenset[int] = frozenset({400, 422})
"""Statuses with which servers that do not know ``stream_options`` reject it."""
SNIPPET_CHARS = 300
"""Longest server-provided text kept in an error message."""
USER_AGENT = "quant-escape-room/0.1"

_MIN_FRAGMENT_CHARS = 4  # a key prefix this long left at a snippet's cut edge is removed
_MIN_BASE64_CHARS = 8  # shortest stable base64 part of the key that is worth redacting
_BACKSLASHES = r"\\\\{0,14}"  # 1 to 15: JSON-escaped 1 to 4 times (bounded: scans stay linear)
_ERROR_BODY_BYTES = 64 * 1024  # how much of an error response body is read at most
_DRAIN_GRACE_S = 0.25  # after [DONE], how long to wait for the end of the body (pool reuse)
_REDACTED = "[REDACTED]"
_T = TypeVar("_T")


class ClientLimits(BaseModel):
    """Bounds of one chat call: deadline, size cap and retry policy."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    deadline_s: float = Field(default=180.0, gt=0, allow_inf_nan=False)
    """Wall-clock budget of one whole ``chat()``/``list_models()`` call, in seconds.

    It bounds each attempt (connect, response headers and the entire stream) *and* the call as a
    whole: every attempt gets what is left of the budget, and a backoff wait that would not fit
    in what is left is not slept (the last error is raised instead). So no call ever takes much
    longer than ``deadline_s``, retries included."""
    connect_timeout_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """Timeout for establishing one connection; a timed-out connect is retried."""
    max_response_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    """Largest response body read, in bytes; beyond it the response is closed
    (``ResponseTooLarge``)."""
    max_retries: int = Field(default=2, ge=0)
    """Retries after the first attempt, only on 429/500/502/503/504 and connection errors."""
    backoff_base_s: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    """Exponential backoff: retry ``n`` (from 0) waits a uniform random time in
    ``[b * 2**n / 2, b * 2**n]`` (capped at ``retry_after_cap_s``) when the server sent no
    ``Retry-After``."""
    retry_after_cap_s: float = Field(default=20.0, ge=0, allow_inf_nan=False)
    """A ``Retry-After`` (delta-seconds or HTTP date) is honoured up to this many seconds."""


DEFAULT_LIMITS = ClientLimits()
"""The limits a client gets when none are given."""


class ChatResult(BaseModel):
    """One completed chat call: the reply, its token counts and its timings."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    text: str
    """The reply content (``""`` when the server sent ``content: null``)."""
    reasoning: str | None
    """``reasoning_content`` (or ``reasoning``) text, streamed deltas concatenated; None if
    the server sent none."""
    finish_reason: str | None
    """Why generation stopped; ``"length"`` means it hit ``max_tokens``."""
    prompt_tokens: int
    """Prompt tokens (from the server, or estimated: see ``usage_source``)."""
    completion_tokens: int
    """Completion tokens, reasoning included (from the server, or estimated)."""
    reasoning_tokens: int | None
    """``usage.completion_tokens_details.reasoning_tokens`` when the server reported it."""
    usage_source: Literal["server", "estimated"]
    """``estimated`` when the server sent no usage: prompt = ceil(prompt characters / 4);
    completion = number of streamed chunks that carried content or reasoning text (for a
    non-streamed body: ceil(reply characters / 4))."""
    ttft_s: float | None
    """Seconds from the start of the last attempt to the first content or reasoning token
    (None when the reply was not streamed or carried no text)."""
    latency_s: float
    """Seconds from the start of the last attempt to the end of the stream."""
    decode_tps: float | None
    """``completion_tokens / (latency_s - ttft_s)`` when both are positive, else None."""
    attempts: int
    """HTTP attempts made, the first one, retries and a stream-options fallback included."""
    server_timings: dict[str, float] | None
    """llama.cpp's ``timings`` object (its numeric entries) if the server sent one."""
    model: str | None
    """The model id the server reported."""


# --------------------------------------------------------------------------------------------
# Errors


class EndpointError(Exception):
    """Something went wrong talking to an endpoint; subclasses say what.

    The message reads ``endpoint <base url> <what happened> after <n> attempts: <detail>``;
    ``detail`` holds server-provided text, scrubbed of the API key and at most
    ``SNIPPET_CHARS`` long.
    """

    kind: ClassVar[str] = "endpoint"
    """Short machine-readable name of the failure (stable; recorded with match results)."""
    retryable: bool = False
    """Whether another attempt could succeed (a retry policy decision, per instance)."""

    def __init__(self, detail: str = "", *, endpoint: str = "", attempts: int = 1) -> None:
        super().__init__()
        self.detail = detail
        self.endpoint = endpoint
        self.attempts = attempts

    def headline(self) -> str:
        """What happened, as a verb phrase following ``endpoint <url>``."""
        return "failed"

    def __str__(self) -> str:
        plural = "" if self.attempts == 1 else "s"
        text = f"endpoint {self.endpoint or '(unknown)'} {self.headline()}"
        text += f" after {self.attempts} attempt{plural}"
        return f"{text}: {self.detail}" if self.detail else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by state (the constructors take keyword-only arguments)."""
        return (_rebuild_error, (type(self), dict(self.__dict__)))


def _rebuild_error(cls: type[EndpointError], state: dict[str, Any]) -> EndpointError:
    """Unpickle an :class:`EndpointError` from its class and attributes."""
    err = cls.__new__(cls)
    err.__dict__.update(state)
    return err


class DeadlineExceeded(EndpointError):
    """The call did not finish within ``ClientLimits.deadline_s``."""

    kind = "deadline"

    def __init__(self, detail: str = "", *, deadline_s: float, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.deadline_s = deadline_s

    def headline(self) -> str:
        return f"did not finish within the {self.deadline_s:g} s deadline"


class ResponseTooLarge(EndpointError):
    """The response body exceeded ``ClientLimits.max_response_bytes``; it was closed."""

    kind = "too_large"

    def __init__(self, detail: str = "", *, limit_bytes: int, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.limit_bytes = limit_bytes

    def headline(self) -> str:
        return f"sent a response larger than {self.limit_bytes} bytes (closed)"


class HTTPStatusError(EndpointError):
    """The endpoint answered with a non-2xx status (retryable for 429/500/502/503/504)."""

    kind = "http_status"

    def __init__(
        self, detail: str = "", *, status: int, retry_after_s: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(detail, **kwargs)
        self.status = status
        self.retry_after_s = retry_after_s
        self.retryable = status in RETRY_STATUSES

    @property
    def body(self) -> str:
        """Snippet of the response body (scrubbed, at most ``SNIPPET_CHARS`` characters)."""
        return self.detail

    def headline(self) -> str:
        return f"answered {self.status}"


class RedirectRefused(EndpointError):
    """The endpoint answered with a 3xx redirect, which is never followed."""

    kind = "redirect"

    def __init__(self, detail: str = "", *, status: int, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.status = status

    def headline(self) -> str:
        return f"answered {self.status}, a redirect (never followed)"


class MalformedResponse(EndpointError):
    """The response could not be understood, or carried an ``{"error": ...}`` object."""

    kind = "malformed"

    def headline(self) -> str:
        return "sent a malformed response"


class EmptyChoices(EndpointError):
    """The whole response carried no choices at all."""

    kind = "empty_choices"

    def headline(self) -> str:
        return "sent a response without any choices"


class IncompleteResponse(EndpointError):
    """A streamed reply ended without a finish reason: the server cut it short.

    llama-cpp-python's server does this when a newer request interrupts a running one (its
    default ``interrupt_requests``): it sends ``[DONE]`` after a partial reply. Retryable.
    """

    kind = "incomplete"
    retryable = True

    def headline(self) -> str:
        return "ended its stream before the reply was finished (no finish_reason)"


class ConnectFailed(EndpointError):
    """The connection could not be made, or broke before the response was complete."""

    kind = "connect"

    def __init__(self, detail: str = "", *, retryable: bool = True, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retryable = retryable

    def headline(self) -> str:
        return "could not be reached or dropped the connection"


# --------------------------------------------------------------------------------------------
# Small pure helpers


def normalize_base_url(base_url: str) -> str:
    """The OpenAI root for ``base_url``: ``/v1`` appended when the path is empty or ``/``.

    ``http://h:p``, ``http://h:p/``, ``http://h:p/v1`` and ``http://h:p/v1/`` all give
    ``http://h:p/v1``; any other path is kept (without its trailing slash).
    """
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"base_url must be an http:// or https:// URL, got scheme {scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("base_url must not carry credentials; pass api_key instead")
    if not parts.hostname:
        raise ValueError(f"base_url {base_url!r} has no host")
    if parts.query or parts.fragment:
        raise ValueError(f"base_url {base_url!r} must not have a query or a fragment")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ValueError(f"base_url {base_url!r} has an invalid port: {exc}") from None
    path = parts.path.rstrip("/") or "/v1"
    return f"{scheme}://{parts.netloc}{path}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date), or None.

    Past dates give 0; unparsable values give None.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def estimate_tokens(chars: int) -> int:
    """The usual rough estimate: one token per four characters (rounded up)."""
    return math.ceil(chars / 4)


def prompt_chars(messages: list[dict[str, Any]]) -> int:
    """Characters of text in ``messages`` (string contents and ``text`` content parts)."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(
                len(part["text"])
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
    return total


def _check_api_key(api_key: str) -> None:
    """Reject keys that cannot be a header value (the message never shows the key)."""
    if not all(0x21 <= ord(char) <= 0x7E for char in api_key):
        raise ValueError("api_key must be printable ASCII without spaces (key not shown)")


def _check_params(params: Mapping[str, Any]) -> None:
    """Extra request fields may not replace the model or the messages."""
    clashing = sorted({"model", "messages"} & set(params))
    if clashing:
        raise ValueError(f"params must not set {', '.join(clashing)}: pass them as arguments")


def _outcome(err: EndpointError) -> str:
    """What a log line says about a failure: its kind, and its status if it has one."""
    status = getattr(err, "status", None)
    return err.kind if status is None else f"{err.kind} {status}"


def _refuse_encoded_body(response: httpx.Response) -> None:
    """MalformedResponse if the body comes with a ``Content-Encoding`` we did not ask for.

    We ask for ``identity``; httpx would decompress anything else chunk by chunk before the
    size cap sees it (a small gzip bomb inflates to gigabytes and blocks the event loop), so
    such a body is not read at all.
    """
    encoding = response.headers.get("content-encoding", "")
    codings = [coding.strip().lower() for coding in encoding.split(",")]
    if any(coding not in ("", "identity") for coding in codings):
        status = response.status_code
        after = "" if 200 <= status < 300 else f" (with status {status})"
        raise MalformedResponse(
            f"refused a compressed body (Content-Encoding: {encoding}) we did not ask for{after}"
        )


async def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it comes off the wire: ``aiter_raw()``, never decompressed.

    A transport that hands over an already-read response (``httpx.MockTransport`` does)
    leaves nothing to stream; its content is then the one chunk.
    """
    if response.is_stream_consumed:
        yield response.content
        return
    async for chunk in response.aiter_raw():
        yield chunk


def _detach(err: EndpointError) -> None:
    """Drop the exceptions ``err`` was raised from or during.

    ``raise ... from None`` only hides them from tracebacks: they would stay reachable as
    ``__context__`` (an httpx error holds the request, Authorization header included; a
    JSONDecodeError holds the unredacted server text).
    """
    err.__cause__ = None
    err.__context__ = None
    err.__suppress_context__ = False


def _describe_transport_error(exc: httpx.HTTPError) -> str:
    """``ConnectError: All connection attempts failed`` (the class name alone if no message)."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _clean_text(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (JSON ``"\\ud800"``) become ``?``."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _hex_class(char: str) -> str:
    """Regex for the two hex digits of an ASCII ``char``, in either case."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{ord(char):02x}")


def _escaped_secret_pattern(secret: str) -> str:
    """Regex for ``secret`` with each character literal, ``%XX``, ``\\u00XX`` or (quotes,
    backslash, slash) backslash-escaped: URL-encoded and JSON- or repr-escaped echoes, in any
    mix and at any depth of backslash escaping (JSON text quoted inside a JSON string)."""
    parts = []
    for char in secret:
        forms = [re.escape(char), "%" + _hex_class(char), _BACKSLASHES + "u00" + _hex_class(char)]
        if char in "\"'\\/":
            forms.append(_BACKSLASHES + re.escape(char))
        parts.append(f"(?:{'|'.join(forms)})")
    return "".join(parts)


def _base64_cores(secret: str) -> list[str]:
    """The parts of ``secret``'s base64 encodings that do not depend on its neighbours.

    The key may start at any of the 3 byte offsets of a base64 group; for each, the characters
    that mix in bits of the bytes before or after it are left out (standard and URL-safe
    alphabets; cores shorter than ``_MIN_BASE64_CHARS`` are not used).
    """
    raw = secret.encode()
    cores: list[str] = []
    for offset in range(3):
        first = -(-8 * offset // 6)  # first character made of key bits only
        end = 8 * (offset + len(raw)) // 6  # past the last one
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(b"\0" * offset + raw).decode("ascii")[first:end]
            if len(core) >= _MIN_BASE64_CHARS:
                cores.append(core)
    return list(dict.fromkeys(cores))


class _Redactor:
    """Scrubs the API key out of server-provided text, then clips the text to a snippet.

    Besides the key as is, it scrubs the forms a server may echo it in: JSON-, repr- or
    URL-escaped (any mix), hex (either case) and base64 (standard or URL-safe, at any
    alignment). The patterns are computed once per client.
    """

    def __init__(self, secret: str | None) -> None:
        self._escaped: re.Pattern[str] | None = None
        self._hex: re.Pattern[str] | None = None
        self._literals: list[str] = []
        self._fragments: list[str] = []
        if not secret:
            return
        hex_form = secret.encode().hex()
        self._escaped = re.compile(_escaped_secret_pattern(secret))
        self._hex = re.compile(re.escape(hex_form), re.IGNORECASE)
        self._literals = _base64_cores(secret)
        fragments = [secret, json.dumps(secret)[1:-1], quote(secret, safe=""), hex_form]
        for digits in ("02x", "02X"):  # every character escaped, hex digits in either case
            fragments.append("".join(f"%{ord(char):{digits}}" for char in secret))
            fragments.append("".join(f"\\u00{ord(char):{digits}}" for char in secret))
        fragments.append(hex_form.upper())
        self._fragments = list(dict.fromkeys([*fragments, *self._literals]))

    def __call__(self, text: str, limit: int = SNIPPET_CHARS) -> str:
        """``text`` with the key replaced, on one line, valid UTF-8, at most ``limit`` characters.

        The whole text is redacted before it is folded onto one line and clipped, so neither
        can leave part of a key behind; a key prefix (of at least ``_MIN_FRAGMENT_CHARS``) left
        at the cut edge anyway is removed as well.
        """
        text = self.scrub(_clean_text(text))
        text = " ".join(text.split())  # one line (keys never contain whitespace)
        if len(text) > limit:
            text = self.drop_trailing_fragment(text[: max(limit - 3, 0)]) + "..."
        return text

    def scrub(self, text: str) -> str:
        """``text`` with every form of the key replaced (nothing else changed)."""
        if self._escaped is None or self._hex is None:
            return text
        text = self._escaped.sub(_REDACTED, text)
        text = self._hex.sub(_REDACTED, text)
        for literal in self._literals:
            text = text.replace(literal, _REDACTED)
        return text

    def drop_trailing_fragment(self, text: str) -> str:
        """``text`` without the longest key-form prefix it ends with (if long enough).

        For text that was cut: the cut may have fallen inside an echoed key.
        """
        cut = 0
        for form in self._fragments:
            for size in range(min(len(form), len(text)), _MIN_FRAGMENT_CHARS - 1, -1):
                if size <= cut:
                    break
                if text.endswith(form[:size]):
                    cut = size
                    break
        return text[: len(text) - cut]


class _LineSplitter:
    """Splits a byte stream into text lines (``\\n`` or ``\\r\\n``), in linear time."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[str]:
        """The complete lines that ``chunk`` finishes."""
        scan_from = len(self._buffer)
        self._buffer += chunk
        lines: list[str] = []
        start = 0
        while (newline := self._buffer.find(b"\n", scan_from)) >= 0:
            lines.append(_decode_line(self._buffer[start:newline]))
            start = scan_from = newline + 1
        del self._buffer[:start]
        return lines

    def flush(self) -> list[str]:
        """The last, unterminated line (if any) at the end of the stream."""
        rest = self._buffer
        self._buffer = bytearray()
        return [_decode_line(rest)] if rest else []


def _clean_optional(text: str | None) -> str | None:
    """:func:`_clean_text`, None kept."""
    return None if text is None else _clean_text(text)


def _decode_line(raw: bytes | bytearray) -> str:
    """One line as text, without its ``\\r``; invalid UTF-8 is replaced, not fatal."""
    return bytes(raw).rstrip(b"\r").decode("utf-8", errors="replace")


def _sse_data(line: str) -> str | None:
    """The payload of a ``data:`` line; None for comments, ``event:``/``id:`` and blank lines.

    Every data line is taken as one event: OpenAI-compatible servers put one JSON object on
    one ``data:`` line.
    """
    if not line.startswith("data:"):
        return None
    payload = line[5:]
    return payload[1:] if payload.startswith(" ") else payload


def _text_field(part: Mapping[str, Any], key: str) -> str:
    """A string field of a delta or message; null is ``""``, anything else is malformed."""
    value = part.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedResponse(f"{key} is a {type(value).__name__}, not a string")
    return value


def _reasoning_field(part: Mapping[str, Any]) -> str:
    """``reasoning_content`` (vLLM, llama.cpp, DeepSeek) or ``reasoning`` (Ollama, newer vLLM)."""
    for key in ("reasoning_content", "reasoning"):
        value = part.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _is_int(value: Any) -> bool:
    """A JSON integer (booleans are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Usage:
    """Token counts the server reported."""

    prompt: int
    completion: int
    reasoning: int | None


def _parse_usage(raw: Any) -> _Usage | None:
    """A usage object with integer prompt and completion counts, else None."""
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if not (_is_int(prompt) and _is_int(completion)):
        return None
    details = raw.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return _Usage(prompt, completion, reasoning if _is_int(reasoning) else None)


def _parse_timings(raw: Any) -> dict[str, float] | None:
    """The numeric entries of llama.cpp's ``timings`` object, or None."""
    if not isinstance(raw, dict):
        return None
    timings = {
        _clean_text(str(key)): float(value)
        for key, value in raw.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    return timings or None


def _as_text(raw: str | bytes) -> str:
    """Server-provided bytes or text as text (invalid UTF-8 replaced)."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _decode_json(raw: str | bytes, what: str) -> dict[str, Any]:
    """A JSON object, or MalformedResponse quoting the text.

    The whole text goes into the error: :meth:`ChatClient._finish` scrubs the key out of all
    of it before clipping it to a snippet (clipping first could cut a key in half).
    """
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise MalformedResponse(f"undecodable JSON in {what}: {_as_text(raw)}") from None
    if not isinstance(value, dict):
        raise MalformedResponse(f"{what} is JSON but not an object: {_as_text(raw)}")
    return value


def _json_text(value: Any) -> str:
    """``value`` (decoded from the server) as JSON text again, for an error message."""
    try:
        return json.dumps(value)
    except (ValueError, RecursionError):
        return repr(value)


def _parse_model_ids(raw: bytes) -> list[str]:
    """Model ids from a ``GET /models`` body (``{"data": [{"id": ...}, ...]}``)."""
    body = _decode_json(raw, "the model list")
    data = body.get("data")
    if not isinstance(data, list):
        raise MalformedResponse(f"model list has no data array: {_as_text(raw)}")
    ids = [item.get("id") for item in data if isinstance(item, dict)]
    if len(ids) != len(data) or not all(isinstance(model_id, str) for model_id in ids):
        raise MalformedResponse(f"model list entries lack string ids: {_as_text(raw)}")
    return [_clean_text(model_id) for model_id in ids]


# --------------------------------------------------------------------------------------------
# Accumulating one reply


@dataclass
class _Reply:
    """Everything gathered from one attempt's response, streamed or not."""

    started: float
    streamed: bool = True
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: _Usage | None = None
    timings: dict[str, float] | None = None
    model: str | None = None
    saw_choices: bool = False
    token_chunks: int = 0
    first_token_at: float | None = None
    finished_at: float | None = None

    def add_line(self, line: str, now: float) -> bool:
        """Take one SSE line; True once ``data: [DONE]`` arrived."""
        payload = _sse_data(line)
        if payload is None or not payload.strip():
            return False
        if payload.strip() == "[DONE]":
            return True
        self._add_object(_decode_json(payload, "a stream data line"), "delta", now)
        return False

    def add_completion(self, raw: bytes) -> None:
        """Take a whole non-streamed completion body."""
        self.streamed = False
        self._add_object(_decode_json(raw, "the response body"), "message", None)

    def _add_object(self, obj: dict[str, Any], part_key: str, now: float | None) -> None:
        """Take one chunk or completion object: its envelope, then its choices."""
        error = obj.get("error")
        if error:
            raise MalformedResponse(f"error object: {_json_text(error)}")
        if isinstance(obj.get("model"), str) and obj["model"]:
            self.model = obj["model"]
        self.usage = _parse_usage(obj.get("usage")) or self.usage
        self.timings = _parse_timings(obj.get("timings")) or self.timings
        choices = obj.get("choices")
        if choices is None:
            return
        if not isinstance(choices, list):
            raise MalformedResponse(f"choices is a {type(choices).__name__}, not an array")
        for choice in choices:
            self._add_choice(choice, part_key, now)

    def _add_choice(self, choice: Any, part_key: str, now: float | None) -> None:
        """Take the text, reasoning and finish reason of choice 0 (others are ignored)."""
        if not isinstance(choice, dict):
            raise MalformedResponse(f"a choice is a {type(choice).__name__}, not an object")
        self.saw_choices = True
        if choice.get("index", 0) != 0:
            return
        part = choice.get(part_key, choice.get("message"))
        if part is None:
            part = {}
        if not isinstance(part, dict):
            raise MalformedResponse(f"{part_key} is a {type(part).__name__}, not an object")
        content, reasoning = _text_field(part, "content"), _reasoning_field(part)
        if content:
            self.text.append(content)
        if reasoning:
            self.reasoning.append(reasoning)
        if (content or reasoning) and now is not None:
            self.token_chunks += 1
            if self.first_token_at is None:
                self.first_token_at = now
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]

    def finish(self, now: float) -> None:
        """Mark the end of the reply (first call wins); EmptyChoices if it had no choices."""
        if self.finished_at is None:
            self.finished_at = now
        if not self.saw_choices:
            raise EmptyChoices("no choice in the whole response")
        if self.streamed and self.finish_reason is None:
            raise IncompleteResponse(f"{self.token_chunks} token chunk(s) received")

    def result(self, *, attempts: int, prompt_chars: int) -> ChatResult:
        """The :class:`ChatResult` of this reply."""
        text, reasoning = _clean_text("".join(self.text)), _clean_text("".join(self.reasoning))
        latency = (self.finished_at or self.started) - self.started
        ttft = None if self.first_token_at is None else self.first_token_at - self.started
        if self.usage is not None:
            prompt, completion = self.usage.prompt, self.usage.completion
        else:
            prompt = estimate_tokens(prompt_chars)
            completion = (
                self.token_chunks if self.streamed else estimate_tokens(len(text + reasoning))
            )
        decoding = latency - ttft if ttft is not None else 0.0
        return ChatResult(
            text=text,
            reasoning=reasoning or None,
            finish_reason=_clean_optional(self.finish_reason),
            prompt_tokens=prompt,
            completion_tokens=completion,
            reasoning_tokens=self.usage.reasoning if self.usage else None,
            usage_source="server" if self.usage is not None else "estimated",
            ttft_s=ttft,
            latency_s=latency,
            decode_tps=completion / decoding if completion > 0 and decoding > 0 else None,
            attempts=attempts,
            server_timings=self.timings,
            model=_clean_optional(self.model),
        )


@dataclass
class _Progress:
    """Where an attempt is (for deadline messages) and how many body bytes it read."""

    deadline_at: float
    phase: str = "waiting for the response headers"
    bytes_read: int = 0

    def describe(self) -> str:
        """``stopped while reading the response body (1234 bytes read)``."""
        return f"stopped while {self.phase} ({self.bytes_read} bytes read)"


@dataclass
class _ChatState:
    """Per-call state of the stream_options negotiation."""

    use_stream_options: bool
    rejected: bool = False

    def note_error_body(self, status: int, body: str) -> None:
        """Remember whether an error answer rejects the stream_options we sent."""
        lowered = body.lower()
        self.rejected = (
            self.use_stream_options
            and status in STREAM_OPTIONS_REJECT_STATUSES
            and ("stream_options" in lowered or "include_usage" in lowered)
        )


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
        raise HTTPStatusError(
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


# --------------------------------------------------------------------------------------------
# Prompt logprobs (``/completions`` with ``echo`` + ``logprobs``, or vLLM's ``prompt_logprobs``)

COMPLETIONS_PATH = "/completions"
"""Legacy completions path, relative to the OpenAI root."""
LogprobsStyle = Literal["echo", "prompt_logprobs"]
LOGPROBS_STYLES: tuple[LogprobsStyle, ...] = ("echo", "prompt_logprobs")
"""How prompt logprobs are asked for, in the order they are tried."""
LOGPROBS_REJECT: frozenset[int] = frozenset({400, 404, 405, 422, 501})
"""Statuses taken to mean "this server does not offer that kind of logprobs"."""


class PromptLogprobs(BaseModel):
    """The top-k next-token distributions a server reported at each position of one prompt."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    style: LogprobsStyle
    """Which request produced them."""
    tokens: list[str | None]
    """The prompt's tokens as text, in order (None where the server did not say: position 0
    of vLLM's ``prompt_logprobs``). Only prompt tokens: the generated one is dropped."""
    top_logprobs: list[dict[str, float] | None]
    """Per position, token text -> logprob (natural log, at most 0), as the server put it;
    None at position 0 (always) and wherever the server sent none."""
    attempts: int = 1
    """HTTP attempts made, retries and the fallback from ``echo`` included."""


class LogprobsUnavailable(EndpointError):
    """The endpoint answered, but offers no prompt logprobs (or not in a form we know)."""

    kind = "no_logprobs"

    def headline(self) -> str:
        return "offers no prompt logprobs"


def _parse_prompt_logprobs(raw: bytes, prompt: str, style: LogprobsStyle) -> PromptLogprobs:
    """The prompt logprobs in a ``/completions`` body (either format, whichever it carries).

    Only the prompt's positions are kept. The echoed list may end with the generated token
    (``max_tokens`` is 1), which is dropped: a position is kept only while its ``text_offset``
    (when sent) is below ``len(prompt)`` and its index below ``usage.prompt_tokens`` (when
    sent). llama-cpp-python's echo lists the prompt tokens only (BOS stripped); vLLM's echo
    lists BOS, the prompt tokens and the generated token.
    """
    body = _decode_json(raw, "the completion body")
    if body.get("error"):
        raise MalformedResponse(f"error object: {_json_text(body['error'])}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LogprobsUnavailable("the completion body has no choice object")
    choice = choices[0]
    usage = _parse_usage(body.get("usage"))
    limit = usage.prompt if usage is not None else None
    legacy = choice.get("logprobs")
    if isinstance(legacy, dict) and legacy.get("tokens"):
        tokens, tops = _legacy_logprobs(legacy, prompt)
    elif isinstance(choice.get("prompt_logprobs"), list):
        tokens, tops = _vllm_prompt_logprobs(choice["prompt_logprobs"])
    else:
        asked = "echo + logprobs" if style == "echo" else "prompt_logprobs"
        raise LogprobsUnavailable(f"the answer to {asked} carries no prompt logprobs")
    n = len(tokens) if limit is None else min(len(tokens), limit)
    tops = [None, *tops[1:n]]  # position 0 has no distribution (nothing before it)
    if n < 2 or all(top is None for top in tops):
        raise LogprobsUnavailable(f"logprobs for only {n} prompt position(s) (echo ignored?)")
    return PromptLogprobs(style=style, tokens=tokens[:n], top_logprobs=tops)


def _legacy_logprobs(
    logprobs: dict[str, Any], prompt: str
) -> tuple[list[str | None], list[dict[str, float] | None]]:
    """Tokens and top logprobs of OpenAI's legacy ``logprobs`` object, cut at the prompt's end."""
    tokens, tops = logprobs.get("tokens"), logprobs.get("top_logprobs")
    offsets = logprobs.get("text_offset")
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise MalformedResponse("logprobs.tokens is not an array of strings")
    if not isinstance(tops, list) or len(tops) != len(tokens):
        raise LogprobsUnavailable("logprobs.top_logprobs is missing or not one per token")
    n = len(tokens)
    if isinstance(offsets, list) and len(offsets) == n and all(map(_is_int, offsets)):
        if offsets and offsets[0] != 0:
            raise LogprobsUnavailable(f"the prompt was not echoed (first offset {offsets[0]})")
        n = next((i for i, offset in enumerate(offsets) if offset >= len(prompt)), n)
    return (
        [_clean_text(token) for token in tokens[:n]],
        [_top_logprobs(top) for top in tops[:n]],
    )


def _vllm_prompt_logprobs(
    entries: list[Any],
) -> tuple[list[str | None], list[dict[str, float] | None]]:
    """Tokens and top logprobs of vLLM's ``prompt_logprobs`` (token id -> {logprob, rank,
    decoded_token}); vLLM lists the prompt's own token first in each entry."""
    tokens: list[str | None] = []
    tops: list[dict[str, float] | None] = []
    for entry in entries:
        if not entry:
            tokens.append(None)
            tops.append(None)
            continue
        if not isinstance(entry, dict):
            raise MalformedResponse(f"a prompt_logprobs entry is a {type(entry).__name__}")
        named: list[tuple[str, Any]] = []
        for token_id, value in entry.items():
            if isinstance(value, dict):
                text = value.get("decoded_token")
                named.append((text if isinstance(text, str) else f"<id {token_id}>", value))
            else:
                named.append((f"<id {token_id}>", {"logprob": value}))
        merged: dict[str, float] = {}
        for text, value in named:
            _merge_logprob(merged, text, value.get("logprob"))
        tokens.append(_clean_text(named[0][0]))
        tops.append(merged or None)
    return tokens, tops


def _top_logprobs(raw: Any) -> dict[str, float] | None:
    """A ``{token text: logprob}`` map, checked (None for null or empty)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MalformedResponse(f"a top_logprobs entry is a {type(raw).__name__}, not an object")
    merged: dict[str, float] = {}
    for text, logprob in raw.items():
        _merge_logprob(merged, str(text), logprob)
    return merged or None


def _merge_logprob(into: dict[str, float], text: str, logprob: Any) -> None:
    """Add one token's logprob; texts that clean to the same string have their mass summed.

    ``-inf`` (probability 0) is left out; positive values (rounding) are clamped to 0.
    """
    if not isinstance(logprob, int | float) or isinstance(logprob, bool) or math.isnan(logprob):
        raise MalformedResponse(f"a logprob is {_json_text(logprob)}, not a number")
    if logprob == -math.inf:
        return
    if logprob == math.inf:
        raise MalformedResponse("a logprob is +Infinity")
    text, logprob = _clean_text(text), min(float(logprob), 0.0)
    if text in into:
        high, low = max(into[text], logprob), min(into[text], logprob)
        logprob = min(high + math.log1p(math.exp(low - high)), 0.0)
    into[text] = logprob
