"""Who plays whom and when: the pure planner, the durable job queue and the
scheduler that runs it."""

from __future__ import annotations

from arena.schedule._jobs import JobQueue
from arena.schedule._runner import Scheduler

__all__ = [
    "JobQueue",
    "Scheduler",
]
