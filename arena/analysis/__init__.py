"""Statistics over stored matches: paired verdicts, calibration, ratings and the leaderboard rows
(pure functions over the store)."""

from __future__ import annotations

from arena.analysis import _calibration as calibration
from arena.analysis import _calibration_store as calibration_store
from arena.analysis._baseline_sanity import (
    BaselineEvidence,
    BeatenBy,
    baseline_evidence,
    kl_contradictions,
)
from arena.analysis._baselines import (
    Group,
    Standing,
    baseline_for,
    baseline_of,
    baseline_standings,
    baselines,
    choose_baselines,
    group_of,
    model_baselines,
    review_of,
)
from arena.analysis._bootstrap import RESAMPLES, SEED, mean_ci, percentile_interval
from arena.analysis._bradley_terry import Rating
from arena.analysis._calibration import (
    DEFAULT_CONTEXT,
    DEFAULT_TARGET,
    NO_SIGNAL_PREFIX,
    CalibrationConfig,
    CalibrationResult,
    Run,
    next_profile,
    result,
    run_of,
)
from arena.analysis._calibration_store import CalibrationSummary, save_result, summaries
from arena.analysis._chart_data import (
    ChartPoint,
    axis_range,
    chart_points,
    combine_room_quality,
    pareto_frontier,
    room_quality,
    room_quality_frame,
)
from arena.analysis._contagion import ContagionMatrix, contagion, contagion_frame, contagion_of
from arena.analysis._filters import QUANT_FAMILIES, filter_rows
from arena.analysis._head_to_head import HeadToHead, read_head_to_head
from arena.analysis._heatmap import (
    HeatmapCell,
    HeatmapRow,
    RetentionHeatmap,
    retention_heatmap,
    spelling,
)
from arena.analysis._leaderboard import (
    LeaderboardGroup,
    LeaderboardRow,
    base_model_keys,
    leaderboard_group,
    leaderboard_rows,
)
from arena.analysis._ratings import ratings, ratings_of
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
    DegradationVerdict,
    DiscordantPair,
    candidate_verdict,
    discordant_pairs,
    equivalence_margin,
    group_verdicts,
    match_profile,
    noise_floor,
    read_plays,
    seal,
    sealed_seeds,
)

__all__ = [
    "DEFAULT_CONTEXT",
    "DEFAULT_MARGIN",
    "DEFAULT_TARGET",
    "NO_SIGNAL_PREFIX",
    "QUANT_FAMILIES",
    "RESAMPLES",
    "SEED",
    "BaselineEvidence",
    "BeatenBy",
    "CalibrationConfig",
    "CalibrationResult",
    "CalibrationSummary",
    "ChartPoint",
    "ContagionMatrix",
    "DegradationVerdict",
    "DiscordantPair",
    "Group",
    "HeadToHead",
    "HeatmapCell",
    "HeatmapRow",
    "LeaderboardGroup",
    "LeaderboardRow",
    "Pair",
    "Rating",
    "RetentionHeatmap",
    "Run",
    "Standing",
    "axis_range",
    "base_model_keys",
    "baseline_evidence",
    "baseline_for",
    "baseline_of",
    "baseline_standings",
    "baselines",
    "calibration",
    "calibration_store",
    "candidate_verdict",
    "chart_points",
    "choose_baselines",
    "combine_room_quality",
    "contagion",
    "contagion_frame",
    "contagion_of",
    "decide",
    "difference_interval",
    "discordant",
    "discordant_pairs",
    "equivalence_margin",
    "filter_rows",
    "fixed_n_pairs",
    "group_of",
    "group_verdicts",
    "kl_contradictions",
    "leaderboard_group",
    "leaderboard_rows",
    "match_profile",
    "mean_ci",
    "model_baselines",
    "next_profile",
    "noise_floor",
    "pareto_frontier",
    "percentile_interval",
    "ratings",
    "ratings_of",
    "read_head_to_head",
    "read_plays",
    "result",
    "retention_heatmap",
    "review_of",
    "room_quality",
    "room_quality_frame",
    "run_of",
    "save_result",
    "seal",
    "sealed_seeds",
    "simulate",
    "spelling",
    "summaries",
]
