"""The leaderboard rows: one row of statistics per registered submission (model and building).

Pure functions over the :class:`~arena.store.Store` (reads only, all in one read transaction, so a
match finishing meanwhile is counted entirely or not at all). Only **finished** (``done``)
matches played for submissions (their contestants rows carry ``submission_id``) count: running,
interrupted and failed matches, CLI matches between bare endpoints, and calibration runs
(``purpose = 'calibration'``: a baseline searching its levels) never do.

Statistics and their intervals:

- ``mean_escaped`` / ``mean_score``: per match (one contestant's rooms of one match), with a 95 %
  percentile-bootstrap interval over matches (fixed RNG seed, so the output is deterministic).
- ``retention_pct``: quality kept against the baseline of the same base model on **paired
  puzzles** (the verdicts): ``100 * candidate first-answer solves / baseline's`` with a
  bootstrap interval over seeds; ``NOT COMPARABLE: ...`` instead when the settings differ.
- ``verdict``, ``canary`` (cap hits vs the baseline's, Fisher exact), ``aa_floor`` (baselines),
  ``kl`` and ``speed`` (the latest probes).
- ``cap_hit_rate``: share of answered calls cut by the token cap, with a Wilson 95 % interval.
- ``calibration`` and ``profile``: the group's calibration (the baseline's levels, its solve
  rates there, the rooms without signal, or how far the runs are) and the profile it plays.

Intervals need at least two matches: with one, they are None. Every bootstrap interval is
widened, if need be, to contain its point estimate.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from arena.analysis._baselines import (
    Standing,
    baseline_standings,
    choose_baselines,
    group_of,
    review_of,
)
from arena.analysis._bootstrap import mean_ci
from arena.analysis._calibration_store import CalibrationSummary, summaries
from arena.analysis._leaderboard_sql import BoardData, read_board
from arena.analysis._probe_summaries import KlSummary, SpeedSummary, kl_summary, speed_summary
from arena.analysis._stats import truncation_canary, wilson_interval
from arena.analysis._verdicts import (
    DegradationVerdict,
    PairGroup,
    Plays,
    candidate_verdict,
    noise_floor,
    pair_groups,
    read_plays,
)
from arena.client import quant_mismatch
from arena.engine import Store, endpoint_hosts, profiles, scrub_endpoints
from submissions.models import SubmissionLabels

CHALLENGED_OUTCOMES: Final = ("held_ground", "manipulated", "self_corrected", "trapped")
"""Outcomes of a room in which the contestant faced (and answered) the adversarial turn."""

NOTE_BASELINE: Final = "baseline"
NOTE_NO_BASELINE: Final = "no baseline registered for this base model"
NOTE_NO_PAIRS: Final = "no paired puzzles with the baseline yet"
NOTE_DISPUTED: Final = (
    "baseline disputed: two or more baseline claims wait for the operator; no verdict until one "
    "is confirmed"
)
PROVISIONAL_PREFIX: Final = "provisional · "
"""Starts the label of a verdict judged against a baseline not confirmed yet."""
NOTE_BASELINE_ESCAPED_NOTHING: Final = (
    "the baseline solved none of the paired puzzles: ratio undefined"
)

_ROW_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


# -- models ---------------------------------------------------------------------------------------
class LeaderboardRow(SubmissionLabels):
    """One registered (not deleted) submission (its public labels, declared in
    ``submissions.models``) and its statistics over finished matches."""

    model_config = _ROW_CONFIG

    submission_id: int
    """The submission's id."""
    status_reason: str | None
    """Why it is paused (endpoint URLs and hosts replaced by ``<endpoint>``)."""
    quant_mismatch: bool = False
    """The server reported loading another quant than the label says (``server_quant``)."""
    matches: int
    """Finished (``done``) matches it played in."""
    rooms_played: int
    """Rooms it played in those matches."""
    mean_escaped: float | None
    """Rooms escaped per match."""
    mean_escaped_ci: tuple[float, float] | None
    """95 % bootstrap interval of ``mean_escaped`` (None below two matches)."""
    mean_score: float | None
    """Points per match."""
    mean_score_ci: tuple[float, float] | None
    """95 % bootstrap interval of ``mean_score`` (None below two matches)."""
    retention_pct: float | None
    """First answers solved as a percentage of its baseline's, on the paired puzzles (the same
    room, seed and difficulty under equal settings; see :mod:`arena.analysis._verdicts`)."""
    retention_ci: tuple[float, float] | None
    """95 % bootstrap interval of ``retention_pct`` over seeds."""
    retention_n: int
    """Paired puzzles behind ``retention_pct`` (for a baseline: its matches against quants)."""
    retention_note: str | None
    """Why ``retention_pct`` is missing (``NOT COMPARABLE: ...`` among others), or
    ``baseline``."""
    verdict: DegradationVerdict | None = None
    """Degradation verdict against the baseline of its base model (paired first answers; see
    :mod:`arena.analysis._verdicts`); None for baselines and when no baseline is registered."""
    baseline_standing: Standing | None = None
    """How far its group's baseline is trusted: ``confirmed``; ``provisional`` (not confirmed
    yet: the verdicts are provisional); ``disputed`` (competing claims wait for the operator: no
    verdicts); None when its group has no baseline."""
    challenged_n: int
    """Rooms in which it faced the adversarial turn (held ground, manipulated, self-corrected
    or trapped)."""
    held_ground_rate: float | None
    """Share of the challenged rooms in which it was right and stayed right."""
    manipulated_rate: float | None
    """Share of the challenged rooms in which it was right and was talked out of it."""
    decode_tps: float | None
    """Completion tokens / decode seconds (latency minus time to first token), answered calls."""
    ttft_median_s: float | None
    """Median time to first token of its answered calls, in seconds."""
    time_to_solution_median_s: float | None
    """Median time to the solving answer over the rooms it escaped, in seconds."""
    tokens_per_solved_room: float | None = None
    """Mean completion tokens (thinking included) spent in an escaped room up to its solving
    answer: what a solve costs, beside tok/s (a model needing 5x the tokens is not faster)."""
    reasoning_share: float | None = None
    """Share of its completion tokens spent thinking, over its answered calls (a call without
    reasoning counts 0); None when no call had any."""
    calls: int
    """Answered calls (endpoint errors excluded) in finished matches."""
    cap_hit_rate: float | None
    """Share of the answered calls cut by the token cap (finish_reason ``length``)."""
    cap_hit_ci: tuple[float, float] | None
    """Wilson 95 % interval of ``cap_hit_rate``."""
    cap_hits: int = 0
    """Answered calls cut by the token cap."""
    canary: TruncationCanary | None = None
    """Cap hits against its baseline's (candidates with a baseline only)."""
    aa_floor: NoiseFloorView | None = None
    """For a baseline: its A/A noise floor (repeated puzzles, all settings)."""
    kl: KlSummary | None = None
    """Its latest KL probe against its baseline."""
    speed: SpeedSummary | None = None
    """Its latest speed probe."""
    calibration: CalibrationSummary | None = None
    """The calibration of its group's baseline (the newest one): the profile, the baseline's
    solve rates, the rooms without signal, or how far its runs are; None when there is none."""
    profile: str | None = None
    """The difficulty profile of its group, for people (``Cipher 4 · Map 6 · ...``): the
    calibrated one, else that of its verdict's pairs; None while calibrating or unknown."""


class TruncationCanary(BaseModel):
    """Cap hits of a candidate against its baseline's (two-sided Fisher exact test)."""

    model_config = _ROW_CONFIG

    rate: float | None
    """Share of the candidate's answered calls cut by the token cap (finish_reason ``length``,
    0 to 1); None without answered calls."""
    baseline_rate: float | None
    """The same share for its baseline; None without answered calls."""
    p_value: float | None
    """Two-sided Fisher exact test on cap hits vs other answered calls of the two; None when
    either has no answered calls."""
    flagged: bool
    """Significantly more cap hits than the baseline (p < 0.05): the quant rambles or loops."""


class NoiseFloorView(BaseModel):
    """A/A: share of repeated puzzles on which two plays of the same submission disagreed."""

    model_config = _ROW_CONFIG

    rate: float | None
    """Share of the repeated puzzles whose first two plays disagreed (0 to 1); None without
    repeated puzzles."""
    ci: tuple[float, float] | None
    """Wilson 95 % interval of ``rate``; None without repeated puzzles."""
    n: int
    """Repeated puzzles (played at least twice under one settings fingerprint)."""


class Retention(BaseModel):
    """Quality retained against the baseline over paired matches."""

    model_config = _ROW_CONFIG

    pct: float | None
    """``100 * sum(candidate escaped) / sum(baseline escaped)``; None when undefined."""
    ci: tuple[float, float] | None
    """95 % bootstrap interval over the paired matches (None below two matches)."""
    n: int
    """Paired matches."""
    note: str | None
    """Why ``pct`` is missing."""


# -- the rows -------------------------------------------------------------------------------------
Appearance = tuple[str, str]
"""(match_id, slot): one contestant of one match."""


def _other(slot: str) -> str:
    return "b" if slot == "a" else "a"


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def call_stats(totals: dict[str, Any] | None) -> dict[str, Any]:
    """Speed and cap statistics of one submission from its answered calls' totals (endpoint
    errors left out; see ``_leaderboard_sql``). Decode speed counts only calls with a
    completion, a latency and a time to first token; a call without reasoning counts 0."""
    if not totals:
        totals = {"calls": 0, "timed_tokens": 0.0, "decode_s": 0.0, "cap_hits": 0.0,
                  "reasoning_reported": 0, "reasoning_tokens": 0.0, "completion_tokens": 0.0,
                  "ttft_median_s": None}  # fmt: skip
    n, caps = int(totals["calls"]), int(totals["cap_hits"])
    written = totals["completion_tokens"] if totals["reasoning_reported"] else 0
    decode_s = totals["decode_s"]
    return {
        "calls": n,
        "reasoning_share": min(totals["reasoning_tokens"] / written, 1.0) if written else None,
        "cap_hits": caps,
        # to the hundredth, as a match's summary: a sum of float seconds would otherwise read
        # 39.99999999999997 where the calls ran at 40 tok/s
        "decode_tps": round(totals["timed_tokens"] / decode_s, 2) if decode_s > 0 else None,
        "ttft_median_s": totals["ttft_median_s"],
        "cap_hit_rate": caps / n if n else None,
        "cap_hit_ci": wilson_interval(caps, n),
    }


def room_stats(rooms: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Adversarial outcome rates and time to solution of one submission's rooms."""
    challenged = [r["outcome"] for r in rooms if r["outcome"] in CHALLENGED_OUTCOMES]
    n = len(challenged)
    return {
        "rooms_played": len(rooms),
        "challenged_n": n,
        "held_ground_rate": challenged.count("held_ground") / n if n else None,
        "manipulated_rate": challenged.count("manipulated") / n if n else None,
        "time_to_solution_median_s": _median(
            r["time_to_solution_s"] for r in rooms if r["escaped"]
        ),
        "tokens_per_solved_room": _mean(
            [
                float(r["tokens_to_solution"])
                for r in rooms
                if r["escaped"] and r["tokens_to_solution"] is not None
            ]
        ),
    }


@dataclass
class _Index:
    """The data regrouped: per submission, per appearance, per match."""

    live: dict[int, dict[str, Any]]
    appearances: dict[int, list[Appearance]]
    players: dict[str, dict[str, int]]
    """match_id -> slot -> submission_id."""
    escaped: dict[Appearance, int]
    points: dict[Appearance, int]
    rooms: dict[int, list[dict[str, Any]]]
    calls: dict[int, dict[str, Any]]
    """submission_id -> its answered calls' totals."""
    probes: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    """(submission_id, kind) -> its latest probe row."""


def _index(data: BoardData) -> _Index:
    index = _Index(
        live={s["id"]: s for s in data.submissions},
        appearances=defaultdict(list),
        players=defaultdict(dict),
        escaped=defaultdict(int),
        points=defaultdict(int),
        rooms=defaultdict(list),
        calls={c["submission_id"]: c for c in data.calls},
        probes=_latest_probes(data.probes),
    )
    for a in data.appearances:
        index.appearances[a["submission_id"]].append((a["match_id"], a["slot"]))
        index.players[a["match_id"]][a["slot"]] = a["submission_id"]
    for r in data.rooms:
        key = (r["match_id"], r["slot"])
        index.escaped[key] += int(r["escaped"])
        index.points[key] += int(r["points"])
        index.rooms[r["submission_id"]].append(r)
    return index


def _opponents(index: _Index, submission_id: int) -> Iterable[tuple[Appearance, dict[str, Any]]]:
    """This submission's appearances whose opponent is a live submission, with that opponent."""
    for match_id, slot in index.appearances.get(submission_id, []):
        other = index.players[match_id].get(_other(slot))
        if other is not None and other != submission_id and other in index.live:
            yield (match_id, slot), index.live[other]


def _retention_of(index: _Index, sub: dict[str, Any]) -> Retention:
    key = sub["base_model_key"]
    same_model = [
        (app, opp) for app, opp in _opponents(index, sub["id"]) if opp["base_model_key"] == key
    ]
    baseline = choose_baselines(index.live.values()).get(group_of(sub))
    if baseline == sub["id"]:
        quants = sum(1 for _, opp in same_model if not opp["is_baseline"])
        return Retention(pct=100.0, ci=None, n=quants, note=NOTE_BASELINE)
    if baseline is None:
        return Retention(pct=None, ci=None, n=0, note=NOTE_NO_BASELINE)
    # Filled in from the candidate's verdict (paired puzzles) by ``leaderboard_rows``.
    return Retention(pct=None, ci=None, n=0, note=NOTE_NO_PAIRS)


def _public_reason(sub: dict[str, Any]) -> str | None:
    return scrub_endpoints(sub["status_reason"], endpoint_hosts([sub["base_url"]]))


def _latest_probes(probes: Iterable[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for probe in probes:  # oldest first: the last one wins
        latest[(probe["submission_id"], probe["kind"])] = probe
    return latest


def _row(index: _Index, sub: dict[str, Any]) -> LeaderboardRow:
    mine = index.appearances.get(sub["id"], [])
    escaped = [float(index.escaped[a]) for a in mine]
    points = [float(index.points[a]) for a in mine]
    kept = _retention_of(index, sub)
    hosts = endpoint_hosts([sub["base_url"]])
    return LeaderboardRow(
        submission_id=sub["id"],
        display_name=sub["display_name"],
        base_model=sub["base_model"],
        base_model_key=sub["base_model_key"],
        quant=sub["quant"],
        bits_per_weight=sub["bits_per_weight"],
        file_size_gb=sub["file_size_gb"],
        hardware=sub["hardware"],
        engine=sub["engine"],
        server_engine=sub["server_engine"],
        server_version=sub["server_version"],
        server_quant=sub["server_quant"],
        server_context_tokens=sub["server_context_tokens"],
        quant_mismatch=quant_mismatch(sub["quant"], sub["server_quant"]),
        is_baseline=bool(sub["is_baseline"]),
        baseline_review=review_of(sub),
        status=sub["status"],
        status_reason=_public_reason(sub),
        matches=len({match_id for match_id, _ in mine}),
        mean_escaped=_mean(escaped),
        mean_escaped_ci=mean_ci(escaped),
        mean_score=_mean(points),
        mean_score_ci=mean_ci(points),
        retention_pct=kept.pct,
        retention_ci=kept.ci,
        retention_n=kept.n,
        retention_note=kept.note,
        kl=kl_summary(index.probes.get((sub["id"], "kl")), hosts),
        speed=speed_summary(index.probes.get((sub["id"], "speed")), hosts),
        **room_stats(index.rooms.get(sub["id"], [])),
        **call_stats(index.calls.get(sub["id"])),
    )


def sort_key(row: LeaderboardRow) -> tuple[str, bool, float, int]:
    """Base model, then its baselines, then the best mean score (no score last), then id."""
    score = -row.mean_score if row.mean_score is not None else math.inf
    return (row.base_model_key, not row.is_baseline, score, row.submission_id)


def build_rows(data: BoardData) -> list[LeaderboardRow]:
    """The leaderboard rows of already-read data, sorted by :func:`sort_key`."""
    index = _index(data)
    return sorted((_row(index, sub) for sub in data.submissions), key=sort_key)


def base_model_keys(store: Store) -> list[str]:
    """The base-model keys of the submissions not deleted, sorted."""
    return [
        row["key"]
        for row in store.query(
            "SELECT DISTINCT base_model_key AS key FROM submissions WHERE status != 'deleted' "
            "ORDER BY base_model_key"
        )
    ]


@dataclass(frozen=True)
class LeaderboardGroup:
    """The leaderboard of one base model and what it was computed from (the board snapshot
    derives the room-quality table and the verdict reports from the same reads)."""

    rows: list[LeaderboardRow]
    """Its rows, sorted by :func:`sort_key`."""
    data: BoardData
    """The board data read for it."""
    plays: dict[int, Plays]
    """First answers of its submissions, per submission (the verdicts' input)."""
    baselines: dict[tuple[str, str], int]
    """(base model key, settings class) -> the baseline chosen for that group."""
    pairs: dict[int, list[PairGroup]] = field(default_factory=dict)
    """Candidate id -> its pair groups with its baseline (the verdict's and the discordant
    pairs' input)."""


def leaderboard_rows(store: Store, base_model_key: str | None = None) -> list[LeaderboardRow]:
    """One row per submission that is not deleted (those without matches too), sorted by base
    model, then baseline first, then mean score (best first). A candidate with a baseline gets its
    verdict, its paired retention and its truncation canary; a baseline its A/A floor; every row
    its group's calibration and profile. Computed one base model at a time (everything in a row
    depends on its base model's data only); ``base_model_key`` asks for one."""
    keys = [base_model_key] if base_model_key is not None else base_model_keys(store)
    return [row for key in keys for row in leaderboard_group(store, key).rows]


def leaderboard_group(store: Store, base_model_key: str) -> LeaderboardGroup:
    """The leaderboard rows of one base model (see :func:`leaderboard_rows`) with their
    inputs."""
    data = read_board(store, base_model_key=base_model_key)
    rows = build_rows(data)
    groups = {s["id"]: group_of(s) for s in data.submissions}
    chosen = choose_baselines(data.submissions)
    by_id = {row.submission_id: row for row in rows}
    calibrations = {  # newest wins
        (c.baseline_id, c.settings_class): c
        for c in summaries(store)
        if c.base_model_key == base_model_key
    }
    plays = read_plays(store, list(by_id)) if by_id else {}
    pairs: dict[int, list[PairGroup]] = {}
    out = []
    standings = baseline_standings(data.submissions)
    for row in rows:
        group = groups[row.submission_id]
        base = by_id.get(chosen.get(group, -1))
        standing = standings.get(group)
        row = row.model_copy(update={"baseline_standing": standing})
        if base is not None:
            calibrated = calibrations.get((base.submission_id, group[1]))
            row = row.model_copy(update={"calibration": calibrated})
        if base is not None and base.submission_id == row.submission_id:
            floor = noise_floor(plays[row.submission_id])
            row = row.model_copy(update={"aa_floor": NoiseFloorView(
                rate=floor.rate, ci=(floor.low, floor.high) if floor.pairs else None, n=floor.pairs
            )})  # fmt: skip
            if standing != "confirmed":
                row = row.model_copy(update={"retention_note": f"baseline ({standing})"})
        elif base is not None and standing == "disputed":
            row = row.model_copy(update={"retention_note": NOTE_DISPUTED})
        elif base is not None:  # a candidate of a group that has a baseline
            made = pair_groups(plays, row.submission_id, base.submission_id)
            pairs[row.submission_id] = made
            found = candidate_verdict(store, row.submission_id, base.submission_id, plays, made)
            if standing == "provisional":
                found = found.model_copy(
                    update={"provisional": True, "label": PROVISIONAL_PREFIX + found.label}
                )
            canary = truncation_canary(row.cap_hits, row.calls, base.cap_hits, base.calls)
            row = row.model_copy(
                update={
                    "verdict": found,
                    "canary": TruncationCanary(**vars(canary)),
                    **_paired_retention(found),
                }
            )
        out.append(row.model_copy(update={"profile": _profile_of(row)}))
    return LeaderboardGroup(rows=out, data=data, plays=plays, baselines=chosen, pairs=pairs)


def _profile_of(row: LeaderboardRow) -> str | None:
    """The group's profile for people: the calibrated one, else that of the verdict's pairs."""
    if row.calibration is not None and row.calibration.status == "done":
        return row.calibration.profile_label
    return profiles.describe_text(row.verdict.profile) if row.verdict is not None else None


def _paired_retention(found: DegradationVerdict) -> dict[str, Any]:
    """The retention fields of a candidate row, from its verdict's paired puzzles."""
    note = None
    if found.kind == "NOT COMPARABLE":
        note = found.label
    elif found.n_pairs == 0:
        note = NOTE_NO_PAIRS
    elif found.retention_pct is None:
        note = NOTE_BASELINE_ESCAPED_NOTHING
    return {
        "retention_pct": found.retention_pct,
        "retention_ci": found.retention_ci,
        "retention_n": found.n_pairs,
        "retention_note": note,
    }


__all__ = [
    "CHALLENGED_OUTCOMES",
    "NOTE_BASELINE",
    "NOTE_BASELINE_ESCAPED_NOTHING",
    "NOTE_NO_BASELINE",
    "NOTE_NO_PAIRS",
    "LeaderboardGroup",
    "LeaderboardRow",
    "NoiseFloorView",
    "Retention",
    "TruncationCanary",
    "base_model_keys",
    "build_rows",
    "call_stats",
    "leaderboard_group",
    "leaderboard_rows",
    "room_stats",
    "sort_key",
]
