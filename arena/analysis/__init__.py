"""Statistics over stored matches: paired verdicts, calibration, ratings and the leaderboard rows
(pure functions over the store)."""

from __future__ import annotations

from arena.analysis import _calibration as calibration
from arena.analysis import _calibration_store as calibration_store
from arena.analysis._calibration import (
    DEFAULT_CONTEXT,
    DEFAULT_TARGET,
    CalibrationConfig,
    CalibrationResult,
    Run,
    next_profile,
    result,
    run_of,
)
from arena.analysis._calibration_store import CalibrationSummary, save_result, summaries
from arena.analysis._leaderboard import (
    ALL_COLUMNS,
    DEFAULT_COLUMNS,
    NO_SIGNAL_PREFIX,
    QUANT_FAMILIES,
    ChartPoint,
    LeaderboardRow,
    chart_points,
    filter_rows,
    leaderboard_frame,
    leaderboard_rows,
    pareto_frontier,
    room_quality,
)
from arena.analysis._ratings import ContagionMatrix, Rating, contagion, contagion_frame, ratings
from arena.analysis._stats import (
    DEFAULT_MARGIN,
    Pair,
    decide,
    difference_interval,
    discordant,
    fixed_n_pairs,
    simulate,
)
from arena.analysis._verdicts import (
    DiscordantPair,
    Verdict,
    candidate_verdict,
    discordant_pairs,
    equivalence_margin,
    group_verdicts,
    match_profile,
    noise_floor,
    read_plays,
)

__all__ = [
    "ALL_COLUMNS",
    "DEFAULT_COLUMNS",
    "DEFAULT_CONTEXT",
    "DEFAULT_MARGIN",
    "DEFAULT_TARGET",
    "NO_SIGNAL_PREFIX",
    "QUANT_FAMILIES",
    "CalibrationConfig",
    "CalibrationResult",
    "CalibrationSummary",
    "ChartPoint",
    "ContagionMatrix",
    "DiscordantPair",
    "LeaderboardRow",
    "Pair",
    "Rating",
    "Run",
    "Verdict",
    "calibration",
    "calibration_store",
    "candidate_verdict",
    "chart_points",
    "contagion",
    "contagion_frame",
    "decide",
    "difference_interval",
    "discordant",
    "discordant_pairs",
    "equivalence_margin",
    "filter_rows",
    "fixed_n_pairs",
    "group_verdicts",
    "leaderboard_frame",
    "leaderboard_rows",
    "match_profile",
    "next_profile",
    "noise_floor",
    "pareto_frontier",
    "ratings",
    "read_plays",
    "result",
    "room_quality",
    "run_of",
    "save_result",
    "simulate",
    "summaries",
]
