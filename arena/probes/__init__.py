"""Probes of an endpoint outside matches: the KL probe against a baseline and the llama-bench-style
speed probe."""

from __future__ import annotations

from arena.probes._kl import (
    KlResult,
    KlUnavailable,
    collect_logprobs,
    compare,
    is_collapsed,
    run_kl_probe,
)
from arena.probes._speed import MIN_REPS, PROBE_VERSION, SpeedResult, run_speed_probe

__all__ = [
    "MIN_REPS",
    "PROBE_VERSION",
    "KlResult",
    "KlUnavailable",
    "SpeedResult",
    "collect_logprobs",
    "compare",
    "is_collapsed",
    "run_kl_probe",
    "run_speed_probe",
]
