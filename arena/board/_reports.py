"""Verdict reports: a candidate's verdict with the discordant pairs behind it (``GET
/api/submissions/{id}/verdict`` and the Verdicts tab)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from arena.analysis import (
    DegradationVerdict,
    DiscordantPair,
    LeaderboardGroup,
    Standing,
    discordant_pairs,
    group_of,
    seal,
)
from arena.engine import Store, profiles


class VerdictReport(BaseModel):
    """A submission's verdict against its baseline and the discordant pairs behind it."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    submission_id: int
    """The submission judged (the candidate)."""
    baseline_id: int | None
    """None when the submission is a baseline or its base model has none."""
    verdict: DegradationVerdict | None
    """The verdict: its ``profile`` (text form), equivalence ``margin_pp`` and
    ``equivalence_ci_pp``, and the ``no_signal`` rooms with their reasons are in it."""
    profile_label: str | None = None
    """The verdict's difficulty profile for people (``Cipher 4 · Map 6 · ...``); None without
    paired puzzles."""
    discordant: list[DiscordantPair]
    """The paired puzzles only one side solved (rooms without signal left out), with the
    matches to replay (``/api/matches/{match_id}``); empty without a baseline."""
    baseline_standing: Standing | None = None
    """How far its group's baseline is trusted: ``confirmed``, ``provisional`` (the verdict is
    provisional) or ``disputed`` (competing claims wait for the operator: no verdict); None
    without a baseline."""


def group_reports(store: Store, group: LeaderboardGroup) -> dict[int, VerdictReport]:
    """The report of every submission of one base model's leaderboard, its discordant pairs'
    seeds **not** sealed yet (:func:`sealed_report` hides them when one is shown)."""
    subs = {s["id"]: s for s in group.data.submissions}
    reports = {}
    for row in group.rows:
        baseline = group.baselines.get(group_of(subs[row.submission_id]))
        if baseline is None or baseline == row.submission_id or row.verdict is None:
            reports[row.submission_id] = VerdictReport(
                submission_id=row.submission_id,
                baseline_id=None,
                verdict=None,
                discordant=[],
                baseline_standing=row.baseline_standing,
            )
            continue
        pairs = discordant_pairs(
            store,
            row.submission_id,
            baseline,
            group.plays,
            group.pairs.get(row.submission_id),
            sealed=set(),
        )
        reports[row.submission_id] = VerdictReport(
            submission_id=row.submission_id,
            baseline_id=baseline,
            verdict=row.verdict,
            profile_label=profiles.describe_text(row.verdict.profile),
            discordant=pairs,
            baseline_standing=row.baseline_standing,
        )
    return reports


def sealed_report(report: VerdictReport, sealed: set[int]) -> VerdictReport:
    """``report`` with the seeds a scheduled match still has to play hidden."""
    if not any(p.seed in sealed for p in report.discordant):
        return report
    return report.model_copy(update={"discordant": seal(report.discordant, sealed)})


__all__ = ["VerdictReport", "group_reports", "sealed_report"]
