"""Local and simulated contestants for the demo, tests and benchmarks: llama.cpp servers, a null
server and models of known skill."""

from __future__ import annotations

from arena.dev._demo import DEMO_SCHEDULE, demo_schedule, start_demo
from arena.dev._local_models import (
    LlamaServer,
    LocalModelError,
    find_smollm2_gguf,
    free_port,
    quantize,
)
from arena.dev._skillsim import (
    SkillModel,
    calibrate_offline,
    first_answer_probability,
    serve,
    simulate_run,
)

__all__ = [
    "DEMO_SCHEDULE",
    "LlamaServer",
    "LocalModelError",
    "SkillModel",
    "calibrate_offline",
    "demo_schedule",
    "find_smollm2_gguf",
    "first_answer_probability",
    "free_port",
    "quantize",
    "serve",
    "simulate_run",
    "start_demo",
]
