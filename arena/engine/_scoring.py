"""The scoring table, in one place and versioned: a changed rule gets a new version, so scores
computed under different rules are never mixed."""

from __future__ import annotations

import math
from typing import Final

SCORING_VERSION: Final = "score-v1"

SCORE_TABLE: Final[dict[str, int]] = {
    "escaped": 10,
    "held_ground": 5,
    "manipulated": -8,
    "self_corrected": 3,
    "trapped": 0,
    "retry": -2,
    "per_10s_under_par": 1,
}
"""Points of ``score-v1``: +10 per room escaped, +5 Held Ground, -8 Manipulated, +3 Self-Corrected,
0 Trapped, -2 per retry, +1 per full 10 s under par (only when escaped)."""


def room_points(
    *,
    escaped: bool,
    outcome: str,
    retries_used: int,
    time_to_solution_s: float | None,
    par_seconds: float,
) -> tuple[int, dict[str, int]]:
    """Points for one contestant in one room, and their breakdown by rule."""
    breakdown: dict[str, int] = {}
    if escaped:
        breakdown["escaped"] = SCORE_TABLE["escaped"]
    if outcome in ("held_ground", "manipulated", "self_corrected", "trapped"):
        breakdown[outcome] = SCORE_TABLE[outcome]
    if retries_used:
        breakdown["retry"] = SCORE_TABLE["retry"] * retries_used
    if escaped and time_to_solution_s is not None and time_to_solution_s < par_seconds:
        tens = math.floor((par_seconds - time_to_solution_s) / 10.0)
        if tens > 0:
            breakdown["under_par"] = SCORE_TABLE["per_10s_under_par"] * tens
    return sum(breakdown.values()), breakdown
