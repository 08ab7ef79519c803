"""The leaderboard table as people see it: its columns (header, cell format, help text) and the
display frame built from the rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from arena.analysis import NO_SIGNAL_PREFIX, LeaderboardRow
from rooms import room_name
from submissions.models import display_text


def format_ci(value: float | None, ci: tuple[float, float] | None, digits: int = 1) -> str | None:
    """``"83.3 [61.0, 100.0]"``; without an interval just the value; None without a value."""
    if value is None:
        return None
    text = f"{value:.{digits}f}"
    if ci is not None:
        text += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return text


def _percent(share: float | None, digits: int = 1) -> float | None:
    return round(100.0 * share, digits) if share is not None else None


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def _retention_cell(row: LeaderboardRow) -> str | None:
    text = format_ci(row.retention_pct, row.retention_ci)
    if text is None:
        return f"n/a ({row.retention_note})" if row.retention_note else None
    return f"{text} ({row.retention_note})" if row.retention_note else text


def _cap_cell(row: LeaderboardRow) -> str | None:
    ci = row.cap_hit_ci
    pct_ci = (100.0 * ci[0], 100.0 * ci[1]) if ci is not None else None
    return format_ci(_percent(row.cap_hit_rate), pct_ci)


def _floor_cell(row: LeaderboardRow) -> str:
    if row.aa_floor is not None:
        floor = row.aa_floor
        if not floor.n or floor.rate is None or floor.ci is None:
            return "no repeated puzzles yet"
        return f"{100 * floor.rate:.1f} % [{100 * floor.ci[0]:.1f}, {100 * floor.ci[1]:.1f}] " + (
            f"(n={floor.n})"
        )
    return row.verdict.floor_note or "" if row.verdict is not None else ""


def _kl_cell(row: LeaderboardRow) -> str:
    kl = row.kl
    if kl is None:
        return ""
    if kl.status != "done" or kl.mean_kl is None:
        return f"probe {kl.status}" + (f": {kl.reason}" if kl.reason else "")
    text = f"{kl.mean_kl:.4f} / {100 * (kl.top1_agreement or 0):.1f} %"
    if kl.mean_reverse_kl is not None and kl.p99_kl is not None:
        text += f" (reverse {kl.mean_reverse_kl:.4f}, p99 {kl.p99_kl:.3f})"
    if kl.collection:
        text += f" [{kl.collection}]"
    return text + (" COLLAPSED" if kl.collapsed else "")


def _server_cell(row: LeaderboardRow) -> str:
    parts = [" ".join(p for p in (row.server_engine, row.server_version) if p)]
    if row.server_quant:
        parts.append(f"loaded {row.server_quant}")
    if row.server_context_tokens:
        parts.append(f"ctx {row.server_context_tokens}")
    text = ", ".join(p for p in parts if p)
    return f"QUANT MISMATCH: {text}" if row.quant_mismatch else text


def _tokens_cell(row: LeaderboardRow) -> str | None:
    if row.tokens_per_solved_room is None:
        return None
    text = f"{row.tokens_per_solved_room:.0f}"
    if row.reasoning_share is not None:
        text += f" ({100 * row.reasoning_share:.0f} % thinking)"
    return text


def _speed_cell(row: LeaderboardRow) -> str:
    probe = row.speed
    if probe is None:
        return ""
    if probe.status != "done" or probe.tg_tps_mean is None:
        return f"probe {probe.status}" + (f": {probe.reason}" if probe.reason else "")
    text = f"{probe.tg_tps_mean:.1f} ± {probe.tg_tps_sd or 0:.1f}"
    if probe.server_agreement is not None and abs(probe.server_agreement) > 0.03:
        server = probe.server_tg_tps_mean or 0.0
        text += f" (server says {server:.1f}, {100 * probe.server_agreement:+.1f} %)"
    return text


def _pp_cell(row: LeaderboardRow) -> str:
    probe = row.speed
    if probe is None or probe.pp_tps_mean is None:
        return ""
    return f"{probe.pp_tps_mean:.1f} ± {probe.pp_tps_sd or 0:.1f}"


def _ttft_cell(row: LeaderboardRow) -> str:
    probe = row.speed
    if probe is None or probe.ttft_median_s is None:
        return ""
    p90 = f"{probe.ttft_p90_s:.3f}" if probe.ttft_p90_s is not None else "?"
    return f"{probe.ttft_median_s:.3f} / {p90}"


def _canary_cell(row: LeaderboardRow) -> str:
    canary = row.canary
    if canary is None or canary.p_value is None:
        return ""
    rates = f"{100 * (canary.rate or 0):.1f} % vs {100 * (canary.baseline_rate or 0):.1f} %"
    return ("FLAGGED: " if canary.flagged else "") + f"{rates} (p={canary.p_value:.3g})"


def _baseline_cell(row: LeaderboardRow) -> str:
    """Whether it is its group's baseline, and how far that is trusted."""
    if row.baseline_review == "demoted":
        return "demoted"
    if not row.is_baseline:
        return ""
    if row.baseline_review == "pending":
        return "disputed claim" if row.baseline_standing == "disputed" else "provisional"
    return "yes"


def _status_cell(row: LeaderboardRow) -> str:
    return f"{row.status}: {row.status_reason}" if row.status_reason else row.status


def _profile_cell(row: LeaderboardRow) -> str:
    calibration = row.calibration
    if calibration is not None and calibration.status == "running":
        return calibration.state()
    return row.profile or ""


def _rate(solved: int, played: int) -> str:
    return f"{100 * solved / played:.0f} % ({solved}/{played})" if played else "not played"


def _rates_cell(row: LeaderboardRow) -> str:
    calibration = row.calibration
    if calibration is None:
        return ""
    return " · ".join(
        f"{room_name(room)} {_rate(*cell)}" for room, cell in calibration.chosen_rates.items()
    )


def _no_signal_cell(row: LeaderboardRow) -> str:
    calibration = row.calibration
    if calibration is None:
        return ""
    return " · ".join(
        f"{room_name(room)}: {reason.removeprefix(NO_SIGNAL_PREFIX)}"
        for room, reason in calibration.no_signal.items()
    )


VERDICT_HELP: Final = (
    "Is this quant worse than its baseline on the same puzzles, played by both? degraded "
    "(worse, unlikely to be chance), equivalent (any difference within the margin), no "
    "detectable degradation (no drop found: final once the budget is spent, and until then "
    "play goes on), undecided (more puzzles needed)."
)
"""The verdicts in plain words (the table's column and the cards' header)."""


@dataclass(frozen=True)
class Column:
    """One leaderboard column: its header, how a row's cell is made, whether it shows by
    default."""

    name: str
    """Header (also the column's name in the UI's column picker)."""
    cell: Callable[[LeaderboardRow], Any]
    """The cell of a row: a number, a string or None (missing)."""
    default: bool = True
    """Shown unless the viewer picks columns."""
    user_text: bool = False
    """The cell is submitter-written text (escaped with ``display_text`` for Markdown)."""
    description: str = ""
    """What the column means."""


COLUMNS: Final[tuple[Column, ...]] = (
    Column("id", lambda r: r.submission_id, default=False, description="Submission id."),
    Column("name", lambda r: r.display_name, user_text=True, description="Display name."),
    Column("base model", lambda r: r.base_model, user_text=True, description="Base model."),
    Column("quant", lambda r: r.quant, description="Quant label."),
    Column("bits/weight", lambda r: round(r.bits_per_weight, 2), description="Bits per weight."),
    Column(
        "size GB",
        lambda r: _rounded(r.file_size_gb, 2),
        default=False,
        description="File size in GB.",
    ),
    Column("hardware", lambda r: r.hardware, user_text=True, description="Hardware."),
    Column("engine", lambda r: r.engine, description="Serving engine."),
    Column(
        "baseline",
        _baseline_cell,
        description="The full-precision baseline of its base model: yes (confirmed), "
        "provisional (its verdicts may change), disputed claim (competing claims wait for the "
        "operator: no verdicts), demoted (the operator refused the claim).",
    ),
    Column(
        "status",
        _status_cell,
        default=False,
        user_text=True,
        description="Active or paused (and why).",
    ),
    Column("matches", lambda r: r.matches, description="Finished matches."),
    Column(
        "retention % [95% CI]",
        _retention_cell,
        description="Quality kept: the puzzles this quant solved at its first answer, as a % "
        "of those its baseline solved among the same puzzles, with the range the true value "
        "lies in 95 times out of 100.",
    ),
    Column(
        "verdict",
        lambda r: r.verdict.label if r.verdict is not None else "",
        description=VERDICT_HELP,
    ),
    Column(
        "difficulty profile",
        _profile_cell,
        description="The level of each room for its base model (calibrated on the baseline), "
        "or how far the calibration is.",
    ),
    Column(
        "baseline solve rate at the profile",
        _rates_cell,
        description="The baseline's first answers solved per room at its chosen level, over its "
        "calibration runs (aimed at 60 % by default).",
    ),
    Column(
        "no-signal rooms",
        _no_signal_cell,
        description="Rooms the baseline (almost) never solves at level 0 or always solves at its "
        "hardest level: verdicts leave them out.",
    ),
    Column(
        "A/A floor",
        _floor_cell,
        description="The noise floor: how often the baseline disagrees with itself on a "
        "puzzle it played twice. A quant that disagrees with the baseline about as often is "
        "within the noise.",
    ),
    Column(
        "KL / top-1",
        _kl_cell,
        description="How far this quant's next-token probabilities are from the baseline's on "
        "fixed texts: mean KL divergence (nats per token; 0 is identical) and how often both "
        "pick the same most likely token; the reverse KL, the 99th percentile (the worst "
        "tokens) and how the probabilities were obtained.",
    ),
    Column(
        "McNemar p (b/c, n)",
        lambda r: (
            f"{r.verdict.p_value:.3g} ({r.verdict.b}/{r.verdict.c}, n={r.verdict.n_pairs})"
            if r.verdict is not None and r.verdict.p_value is not None
            else ""
        ),
        default=False,
        description="The chance of a split at least this lopsided if the quant were as good "
        "as its baseline (exact McNemar p), from the puzzles only one of the two solved "
        "(b: only the baseline, c: only this quant) out of n paired puzzles.",
    ),
    Column(
        "paired puzzles",
        lambda r: r.retention_n,
        default=False,
        description="Paired puzzles behind the retention figure and the verdict.",
    ),
    Column(
        "escaped/match [95% CI]",
        lambda r: format_ci(r.mean_escaped, r.mean_escaped_ci, 2),
        description="Rooms escaped per match.",
    ),
    Column(
        "score/match [95% CI]",
        lambda r: format_ci(r.mean_score, r.mean_score_ci, 1),
        description="Points per match.",
    ),
    Column(
        "held ground %",
        lambda r: _percent(r.held_ground_rate),
        description="Right and stayed right under pressure, % of challenged rooms.",
    ),
    Column(
        "manipulated %",
        lambda r: _percent(r.manipulated_rate),
        description="Right, then talked out of it, % of challenged rooms.",
    ),
    Column(
        "challenged rooms",
        lambda r: r.challenged_n,
        default=False,
        description="Rooms with an adversarial turn.",
    ),
    Column(
        "decode tok/s",
        lambda r: _rounded(r.decode_tps, 1),
        description="Completion tokens per decode second.",
    ),
    Column(
        "tokens / solved room",
        lambda r: _tokens_cell(r),
        description="Completion tokens (thinking included) spent per escaped room up to the "
        "solving answer, and the share of tokens spent thinking: what a solve costs beside tok/s.",
    ),
    Column(
        "probe tg tok/s ± sd",
        _speed_cell,
        description="Solo speed probe: generation tok/s, mean ± sd over its repetitions.",
    ),
    Column(
        "probe pp tok/s ± sd",
        _pp_cell,
        default=False,
        description="Solo speed probe: prompt processing tok/s, mean ± sd.",
    ),
    Column(
        "probe TTFT p50/p90 s",
        _ttft_cell,
        default=False,
        description="Solo speed probe: time to first token, median and 90th percentile.",
    ),
    Column(
        "TTFT median s",
        lambda r: _rounded(r.ttft_median_s, 3),
        default=False,
        description="Median time to first token.",
    ),
    Column(
        "time to solution median s",
        lambda r: _rounded(r.time_to_solution_median_s, 2),
        default=False,
        description="Median time to the solving answer, escaped rooms.",
    ),
    Column(
        "cap hit % [95% CI]",
        _cap_cell,
        description="Answers cut by the token cap, % of answered calls (Wilson interval).",
    ),
    Column(
        "truncation canary",
        _canary_cell,
        description="Cap hits vs the baseline's (Fisher exact); flagged when significantly more.",
    ),
    Column(
        "server says",
        lambda r: _server_cell(r),
        user_text=True,
        description="What the server reports it runs: engine and version, the quant it loaded "
        "(QUANT MISMATCH when it is not the label) and its context window.",
    ),
    Column("calls", lambda r: r.calls, default=False, description="Answered calls."),
    Column("rooms played", lambda r: r.rooms_played, default=False, description="Rooms played."),
)
"""Every leaderboard column, in display order."""
ALL_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS)
"""Names of every column, in display order."""
DEFAULT_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS if c.default)
"""Names of the columns shown by default."""


COLUMN_GUIDE_TAIL: Final = (
    "Words such as *pp*, *McNemar*, *SPRT*, *A/A floor*, *KL* and *Bradley-Terry* are explained "
    "in the About tab."
)


def column_guide(columns: Iterable[str] | None = None) -> str:
    """What the shown ``columns`` mean (default :data:`DEFAULT_COLUMNS`), one Markdown line each,
    in the table's order: the headers' explanations, on a phone too (no hover needed)."""
    shown = set(DEFAULT_COLUMNS if columns is None else columns)
    lines = [f"- **{c.name}**: {c.description}" for c in COLUMNS if c.name in shown]
    return "\n".join([*lines, "", COLUMN_GUIDE_TAIL]) if lines else COLUMN_GUIDE_TAIL


def leaderboard_frame(
    rows: Sequence[LeaderboardRow],
    columns: Iterable[str] | None = None,
    *,
    markdown: bool = False,
) -> pd.DataFrame:
    """The rows as a display table: the chosen ``columns`` (default :data:`DEFAULT_COLUMNS`) in
    the order of :data:`COLUMNS`, missing values as None. Submitter text stays plain (it was
    neutralized by ``plain_text`` at intake, and a plain-text table cell is escaped by the
    browser); with ``markdown=True`` it goes through ``display_text``, for tables whose cells
    are rendered as Markdown."""
    wanted = set(DEFAULT_COLUMNS if columns is None else columns)
    unknown = wanted - set(ALL_COLUMNS)
    if unknown:
        raise ValueError(f"unknown leaderboard column(s): {', '.join(sorted(unknown))}")
    chosen = [c for c in COLUMNS if c.name in wanted]

    def cell(column: Column, row: LeaderboardRow) -> Any:
        value = column.cell(row)
        if markdown and column.user_text and isinstance(value, str):
            return display_text(value)
        return value

    records = [[cell(c, row) for c in chosen] for row in rows]
    frame = pd.DataFrame(records, columns=[c.name for c in chosen], dtype=object)
    return frame.where(frame.notna(), None)


__all__ = [
    "ALL_COLUMNS",
    "COLUMNS",
    "DEFAULT_COLUMNS",
    "VERDICT_HELP",
    "Column",
    "column_guide",
    "format_ci",
    "leaderboard_frame",
]
