"""ClientLimits: the deadline, size cap and retry policy that every call of a chat client
obeys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
