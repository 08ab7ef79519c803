"""The latest KL and speed probes of a submission as the leaderboard shows them: their headline
numbers, read from stored probe rows."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from arena.engine import scrub_endpoints
from arena.probes import is_collapsed
from arena.settings import current

_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class KlSummary(BaseModel):
    """The KL probe's headline numbers (``arena.probes._kl``)."""

    model_config = _CONFIG

    status: str
    """``done``, ``unavailable`` (the server offers no logprobs, or tokenizes differently) or
    ``failed``."""
    mean_kl: float | None = None
    """Mean over token positions of KL(baseline || candidate), in nats (a top-k lower bound)."""
    mean_reverse_kl: float | None = None
    """Mean of the same bound for KL(candidate || baseline), nats: mass the candidate puts where
    the baseline would not."""
    p99_kl: float | None = None
    """The KL tail: 99th percentile over positions of KL(baseline || candidate), nats."""
    top1_agreement: float | None = None
    """Share of positions where both models' most likely next token agree."""
    collection: str | None = None
    """How the distributions were obtained: ``echo``, ``prompt_logprobs`` or
    ``teacher_forcing`` (one generated token per prefix, on servers such as llama-server)."""
    n_positions: int | None = None
    """Token positions compared over all probe texts; None unless ``done``."""
    reason: str | None = None
    """Why it is unavailable (``probe unavailable: ...``, endpoint hosts scrubbed); None when
    ``done``."""
    collapsed: bool = False
    """The scheduler's collapse thresholds were crossed: no match is spent on it."""


class SpeedSummary(BaseModel):
    """The solo speed probe's headline numbers (``arena.probes._speed``)."""

    model_config = _CONFIG

    status: str
    """``done`` or ``failed`` (no complete measurement: see ``reason``)."""
    tg_tps_mean: float | None = None
    """Generation speed, tok/s: mean over the measured tg runs (up to 128 tokens each) of
    ``completion_tokens / (latency - TTFT)``; None when not measured."""
    tg_tps_sd: float | None = None
    """Sample standard deviation of the tg runs' tok/s."""
    pp_tps_mean: float | None = None
    """Prompt processing speed, tok/s: mean over the pp runs (a ~512-token prompt) of
    ``prompt_tokens / TTFT``; None when not measured."""
    pp_tps_sd: float | None = None
    """Sample standard deviation of the pp runs' tok/s."""
    ttft_median_s: float | None = None
    """Median time to first token of the tg runs (a short prompt), in seconds."""
    ttft_p90_s: float | None = None
    """90th percentile of the tg runs' time to first token, in seconds."""
    reps: int | None = None
    """Measured repetitions asked for per phase (warm-ups not counted)."""
    server_tg_tps_mean: float | None = None
    """The server's own generation tok/s over the tg runs (llama.cpp ``timings``); None when
    it reports none."""
    server_agreement: float | None = None
    """Relative difference between client and server generation tok/s (None: the server
    reports no timings)."""
    reason: str | None = None
    """Why the probe failed (endpoint hosts scrubbed); None when ``done``."""


def kl_summary(probe: dict[str, Any] | None, hosts: Iterable[str] = ()) -> KlSummary | None:
    """The headline of a stored KL probe row (endpoint ``hosts`` scrubbed from its reason)."""
    if probe is None:
        return None
    result = json.loads(scrub_endpoints(probe["result"], list(hosts)) or "{}")
    return KlSummary(
        status=probe["status"],
        mean_kl=result.get("mean_kl"),
        mean_reverse_kl=result.get("mean_reverse_kl"),
        p99_kl=result.get("p99_kl"),
        top1_agreement=result.get("top1_agreement"),
        collection=result.get("collection"),
        n_positions=result.get("n_positions"),
        reason=result.get("reason"),
        collapsed=probe["status"] == "done" and is_collapsed(result, current().scheduler),
    )


def speed_summary(probe: dict[str, Any] | None, hosts: Iterable[str] = ()) -> SpeedSummary | None:
    """The headline of a stored speed probe row (endpoint ``hosts`` scrubbed from its reason)."""
    if probe is None:
        return None
    result = json.loads(scrub_endpoints(probe["result"], list(hosts)) or "{}")
    fields = set(SpeedSummary.model_fields) - {"status", "ttft_median_s", "ttft_p90_s"}
    return SpeedSummary(
        status=probe["status"],
        ttft_median_s=result.get("tg_ttft_median_s"),
        ttft_p90_s=result.get("tg_ttft_p90_s"),
        **{name: result.get(name) for name in fields},
    )


__all__ = ["KlSummary", "SpeedSummary", "kl_summary", "speed_summary"]
