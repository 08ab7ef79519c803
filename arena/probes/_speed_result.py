"""What the speed probe reports: the per-run records, the result model and the small pure
statistics (mean, sample SD, median, p90, server tok/s) behind them."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.probes._speed_prompts import MIN_REPS, PROBE_VERSION

TokenSource = Literal["server", "limit", "calibrated", "estimated"]
"""Where a run's token count (the one its tok/s uses) comes from: ``server`` usage; ``limit``: a
tg run without usage that ended with ``finish_reason: "length"``, so it generated ``max_tokens``;
``calibrated``: the server's usage on a non-streamed check run; ``estimated``: the client's
estimate (prompt characters / 4, streamed chunks)."""


# --------------------------------------------------------------------------------------------
# Statistics (pure)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; ValueError when empty."""
    if not values:
        raise ValueError("mean of no values")
    return statistics.fmean(values)


def sample_sd(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1 in the denominator); ValueError below two values."""
    if len(values) < 2:
        raise ValueError("a sample standard deviation needs at least two values")
    return statistics.stdev(values)


def median(values: Sequence[float]) -> float:
    """Median (mean of the two middle values for an even count); ValueError when empty."""
    if not values:
        raise ValueError("median of no values")
    return statistics.median(values)


def p90(values: Sequence[float]) -> float:
    """90th percentile, linear interpolation between closest ranks (numpy's default).

    For sorted ``x`` of length ``n`` it is ``x[k] + f * (x[k+1] - x[k])`` with
    ``k + f = 0.9 * (n - 1)``.
    """
    if not values:
        raise ValueError("percentile of no values")
    return float(np.percentile(np.asarray(values, dtype=float), 90))


def relative_difference(value: float, reference: float) -> float:
    """``(value - reference) / reference``; ValueError when ``reference`` is not positive."""
    if not reference > 0:
        raise ValueError("the reference must be positive")
    return (value - reference) / reference


def server_tps(
    timings: Mapping[str, float] | None, kind: Literal["prompt", "predicted"]
) -> float | None:
    """llama.cpp's own tok/s from its ``timings``: ``<kind>_per_second``, else
    ``<kind>_n / <kind>_ms * 1000``; None when absent or not positive."""
    if not timings:
        return None
    value = timings.get(f"{kind}_per_second")
    if value is None:
        count, millis = timings.get(f"{kind}_n"), timings.get(f"{kind}_ms")
        if count is None or millis is None or millis <= 0:
            return None
        value = count / millis * 1000
    return value if math.isfinite(value) and value > 0 else None


# --------------------------------------------------------------------------------------------
# Results


class SpeedRun(BaseModel):
    """One measured repetition."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    phase: Literal["pp", "tg"]
    rep: int = Field(ge=0)
    """Index among the measured runs of its phase (warm-ups are not recorded)."""
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    tokens_source: TokenSource
    """Source of the count the tok/s uses: ``prompt_tokens`` for pp, ``completion_tokens`` for
    tg (a tg run's ``prompt_tokens`` may be an estimate whatever this says)."""
    ttft_s: float | None
    """Seconds to the first streamed token (None when no text was streamed)."""
    latency_s: float
    finish_reason: str | None
    tps: float | None
    """pp: ``prompt_tokens / ttft``; tg: ``completion_tokens / (latency - ttft)``."""
    server_tps: float | None
    """pp: the server's ``prompt_per_second``; tg: its ``predicted_per_second``."""


class SpeedResult(BaseModel):
    """What the speed probe measured (``done``), or why it could not (``failed``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    status: Literal["done", "failed"]
    probe_version: str = PROBE_VERSION
    reps: int = Field(ge=MIN_REPS)
    """Measured repetitions asked for, per phase."""
    warmup: int = Field(ge=0)
    """Discarded warm-up repetitions per phase."""
    model: str
    """The model id the probe asked for."""

    pp_n: int = 0
    """pp runs that went into the pp statistics."""
    pp_tps_mean: float | None = None
    pp_tps_sd: float | None = None
    pp_ttft_median_s: float | None = None
    pp_ttft_p90_s: float | None = None
    pp_prompt_tokens_mean: float | None = None
    pp_tokens_source: TokenSource | None = None

    tg_n: int = 0
    """tg runs that went into the tg statistics."""
    tg_tps_mean: float | None = None
    tg_tps_sd: float | None = None
    tg_ttft_median_s: float | None = None
    tg_ttft_p90_s: float | None = None
    tg_tokens_mean: float | None = None
    """Tokens actually generated per tg run, on average (at most ``max_tokens`` 128)."""
    tg_tokens_source: TokenSource | None = None
    stopped_early: int = 0
    """tg runs that ended before ``max_tokens`` (finish_reason other than ``length``)."""
    length_forced: bool | None = None
    """Whether the measured tg runs were sent ``ignore_eos: true`` and ``min_tokens`` =
    ``max_tokens`` (False: not asked for, or the server refused them; None: no tg run made)."""

    server_pp_tps_mean: float | None = None
    """The server's own prompt tok/s over the pp runs (llama.cpp ``timings``), if reported."""
    server_tg_tps_mean: float | None = None
    """The server's own generation tok/s over the tg runs, if reported."""
    server_agreement: float | None = None
    """``(client - server) / server``: the client's mean tg tok/s over the runs the server
    reported timings for, relative to the server's mean over those same runs (all runs when
    it reported every time, then ``client`` is ``tg_tps_mean``)."""
    server_agrees: bool | None = None
    """``|server_agreement| <= 0.03``; None without server timings."""

    runs: list[SpeedRun] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    reason: str | None = None
    """Why the probe failed (``failed`` only; endpoint errors come with the API key redacted)."""

    @model_validator(mode="after")
    def _consistent(self) -> SpeedResult:
        if self.status == "failed":
            if not self.reason:
                raise ValueError("a failed speed result needs a reason")
        elif self.reason is not None:
            raise ValueError("a done speed result has no reason")
        elif self.pp_tps_mean is None or self.tg_tps_mean is None:
            raise ValueError("a done speed result needs pp and tg means")
        return self


# --------------------------------------------------------------------------------------------
# The probe
