"""The typed failures of the chat client: EndpointError and its subclasses, each with a
stable ``kind`` and a ``retryable`` flag."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses that are worth another attempt (every other 4xx/5xx fails at once)."""


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


_OVERFLOW_MARKERS = (
    "exceed_context_size_error",  # llama-server
    "context_length_exceeded",  # OpenAI
    "maximum context length",  # vLLM
    "exceed context window",  # llama-cpp-python ("Requested tokens (n) exceed context window")
    "longer than the model's context length",  # SGLang
    "must be <= ",  # TGI ("`inputs` tokens + `max_new_tokens` must be <= n")
    "must have less than",  # TGI ("`inputs` must have less than n tokens")
    "context length exceeded",
    "exceeds the context",
)
"""Phrases with which servers refuse a request longer than their context window."""


def is_context_overflow(status: int, body: str) -> bool:
    """Whether a 400/413/422 answer says the request does not fit the context window."""
    text = body.casefold()
    return status in (400, 413, 422) and any(marker in text for marker in _OVERFLOW_MARKERS)


class ContextOverflow(HTTPStatusError):
    """The request does not fit the endpoint's context window (a server setting, not the
    model's skill): the conversation must be shortened or the window enlarged."""

    kind = "context_overflow"

    def headline(self) -> str:
        return f"answered {self.status} (the request exceeds its context window)"


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


def _outcome(err: EndpointError) -> str:
    """What a log line says about a failure: its kind, and its status if it has one."""
    status = getattr(err, "status", None)
    return err.kind if status is None else f"{err.kind} {status}"


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
