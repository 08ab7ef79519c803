"""Probes of an endpoint outside matches: the KL probe against a baseline and the llama-bench-style
speed probe."""

from __future__ import annotations

from arena.probes._kl import DEFAULT_TOP_K as KL_TOP_K
from arena.probes._kl import (
    KlResult,
    KlUnavailable,
    collect_logprobs,
    compare,
    is_collapsed,
    run_kl_probe,
)
from arena.probes._kl_models import PROBE_VERSION as KL_PROBE_VERSION
from arena.probes._records import ProbeRecord, store_probe
from arena.probes._speed import run_speed_probe
from arena.probes._speed_prompts import MIN_REPS
from arena.probes._speed_prompts import PROBE_VERSION as SPEED_PROBE_VERSION
from arena.probes._speed_result import SpeedResult

__all__ = [
    "KL_PROBE_VERSION",
    "KL_TOP_K",
    "MIN_REPS",
    "SPEED_PROBE_VERSION",
    "KlResult",
    "KlUnavailable",
    "ProbeRecord",
    "SpeedResult",
    "collect_logprobs",
    "compare",
    "is_collapsed",
    "run_kl_probe",
    "run_speed_probe",
    "store_probe",
]
