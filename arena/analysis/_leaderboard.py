"""The leaderboard: one row of statistics per registered submission, and the chart points.

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

import json
import math
import re
import sqlite3
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd
from pydantic import BaseModel, ConfigDict

from arena.analysis._baselines import choose_baselines, group_of
from arena.analysis._bootstrap import mean_ci
from arena.analysis._calibration import NO_SIGNAL_PREFIX
from arena.analysis._calibration_store import CalibrationSummary, summaries
from arena.analysis._stats import truncation_canary, wilson_interval
from arena.analysis._verdicts import Verdict, candidate_verdict, noise_floor, read_plays
from arena.engine import Store, endpoint_hosts, profiles, scrub_endpoints
from arena.probes import is_collapsed
from arena.settings import current
from rooms import ROOM_ORDER, room_name
from submissions.models import SubmissionLabels, base_model_key, display_text

CHALLENGED_OUTCOMES: Final = ("held_ground", "manipulated", "self_corrected", "trapped")
"""Outcomes of a room in which the contestant faced (and answered) the adversarial turn."""
"""The scheduler's collapse thresholds (``QER_*`` settings), for the KL probe's flag."""

NOTE_BASELINE: Final = "baseline"
NOTE_NO_BASELINE: Final = "no baseline registered for this base model"
NOTE_NO_PAIRS: Final = "no paired puzzles with the baseline yet"
NOTE_BASELINE_ESCAPED_NOTHING: Final = (
    "the baseline solved none of the paired puzzles: ratio undefined"
)

QUANT_FAMILIES: Final[tuple[str, ...]] = (
    "16-bit",
    "8-bit",
    "6-bit",
    "5-bit",
    "4-bit",
    "3-bit",
    "2-bit",
    "other",
)
"""Coarse groups of quant labels, from the largest to the smallest (see :func:`quant_family`)."""
_FAMILY_OF: Final[dict[str, str]] = {
    "BF16": "16-bit",
    "FP16": "16-bit",
    "F16": "16-bit",
    "Q8_0": "8-bit",
    "FP8": "8-bit",
    "INT8": "8-bit",
    "Q6_K": "6-bit",
    "Q5_K_M": "5-bit",
    "Q4_K_M": "4-bit",
    "Q4_1": "4-bit",
    "Q4_0": "4-bit",
    "INT4": "4-bit",
    "AWQ": "4-bit",
    "GPTQ": "4-bit",
    "MXFP4": "4-bit",
    "NVFP4": "4-bit",
    "Q3_K_M": "3-bit",
    "Q2_K": "2-bit",
}
_BITS_IN_LABEL = re.compile(r"^(?:I?Q|INT|FP|BF|F|MXFP|NVFP)(\d+)(?:$|_)")

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
    verdict: Verdict | None = None
    """Degradation verdict against the baseline of its base model (paired first answers; see
    :mod:`arena.analysis._verdicts`); None for baselines and when no baseline is registered."""
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
    baseline_rate: float | None
    p_value: float | None
    flagged: bool
    """Significantly more cap hits than the baseline (p < 0.05): the quant rambles or loops."""


class NoiseFloorView(BaseModel):
    """A/A: share of repeated puzzles on which two plays of the same submission disagreed."""

    model_config = _ROW_CONFIG

    rate: float | None
    ci: tuple[float, float] | None
    n: int


class KlSummary(BaseModel):
    """The KL probe's headline numbers (``arena.probes._kl``)."""

    model_config = _ROW_CONFIG

    status: str
    """``done``, ``unavailable`` (the server offers no logprobs, or tokenizes differently) or
    ``failed``."""
    mean_kl: float | None = None
    """Mean approximate KL divergence from the baseline, nats per token."""
    top1_agreement: float | None = None
    """Share of positions where both models' most likely next token agree."""
    n_positions: int | None = None
    reason: str | None = None
    collapsed: bool = False
    """The scheduler's collapse thresholds were crossed: no match is spent on it."""


class SpeedSummary(BaseModel):
    """The solo speed probe's headline numbers (``arena.probes._speed``)."""

    model_config = _ROW_CONFIG

    status: str
    tg_tps_mean: float | None = None
    tg_tps_sd: float | None = None
    pp_tps_mean: float | None = None
    pp_tps_sd: float | None = None
    ttft_median_s: float | None = None
    ttft_p90_s: float | None = None
    reps: int | None = None
    server_tg_tps_mean: float | None = None
    server_agreement: float | None = None
    """Relative difference between client and server generation tok/s (None: the server
    reports no timings)."""
    reason: str | None = None


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


class ChartPoint(BaseModel):
    """One submission as the Pareto and bang-per-bit charts plot it."""

    model_config = _ROW_CONFIG

    submission_id: int
    """The submission's id."""
    label: str
    """Its display name (plain text: escape it for the chart's HTML-ish hover)."""
    base_model: str
    """Base model as spelled by its submitter."""
    base_model_key: str = ""
    """Base model key: one colour per key."""
    quant: str
    """Quant label."""
    bits_per_weight: float
    """Average bits per weight."""
    file_size_gb: float | None
    """File size in GB, when given."""
    decode_tps: float | None
    """Generation tokens per second (x of the Pareto chart): from the solo speed probe, or from
    its matches until it has one (see ``tps_source``)."""
    tps_sd: float | None = None
    """Standard deviation of the speed probe's repetitions."""
    tps_source: str = "matches"
    """``speed probe`` or ``matches`` (two contestants may share a GPU: slower than solo)."""
    quality_pct: float | None
    """Retention % against the baseline (y of the Pareto chart)."""
    quality_ci: tuple[float, float] | None
    """95 % interval of ``quality_pct``."""
    n: int
    """Paired matches behind ``quality_pct``."""
    mean_escaped: float | None
    """Rooms escaped per match."""
    source: str = "escape-room"
    """The benchmark the quality comes from."""


# -- intervals ------------------------------------------------------------------------------------
# -- reading the store ----------------------------------------------------------------------------
_APPEARANCES = """
WITH appearances AS (
    SELECT m.id AS match_id, 'a' AS slot, c.submission_id AS submission_id
    FROM matches m JOIN contestants c ON c.id = m.contestant_a
    WHERE m.status = 'done' AND m.purpose = 'measure' AND c.submission_id IS NOT NULL
    UNION ALL
    SELECT m.id AS match_id, 'b' AS slot, c.submission_id AS submission_id
    FROM matches m JOIN contestants c ON c.id = m.contestant_b
    WHERE m.status = 'done' AND m.purpose = 'measure' AND c.submission_id IS NOT NULL
)
"""
_SUBMISSIONS_SQL = (
    "SELECT id, display_name, base_model, base_model_key, quant, bits_per_weight, file_size_gb, "
    "hardware, engine, base_url, is_baseline, settings_class, status, status_reason "
    "FROM submissions WHERE status != 'deleted' ORDER BY id"
)
_APPEARANCES_SQL = _APPEARANCES + (  # noqa: S608 - constants
    "SELECT match_id, slot, submission_id FROM appearances"
)
_ROOMS_SQL = _APPEARANCES + (  # noqa: S608 - constants
    "SELECT a.submission_id, a.match_id, a.slot, r.room_index, r.room_id, r.escaped, r.outcome, "
    "r.points, r.time_to_solution_s FROM appearances a "
    "JOIN rooms_played r ON r.match_id = a.match_id AND r.slot = a.slot"
)
_CALLS_SQL = _APPEARANCES + (  # noqa: S608 - constants
    "SELECT a.submission_id, k.finish_reason, k.ttft_s, k.latency_s, k.completion_tokens, "
    "k.error_kind FROM appearances a JOIN calls k ON k.match_id = a.match_id AND k.slot = a.slot"
)


_PROBES_SQL = "SELECT id, submission_id, kind, baseline_id, status, result FROM probes ORDER BY id"


@dataclass
class BoardData:
    """What the leaderboard is computed from (rows as dicts, straight from SQL)."""

    submissions: list[dict[str, Any]]
    """Submissions not deleted."""
    appearances: list[dict[str, Any]] = field(default_factory=list)
    """One per contestant of a done match played for a submission: match_id, slot,
    submission_id."""
    rooms: list[dict[str, Any]] = field(default_factory=list)
    """rooms_played rows of those appearances, with their submission_id."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    """calls rows of those appearances, with their submission_id."""
    probes: list[dict[str, Any]] = field(default_factory=list)
    """Probe results, oldest first."""


def _query(db: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(row) for row in db.execute(sql)]


def read_board(store: Store, *, with_calls: bool = True) -> BoardData:
    """Everything the leaderboard needs, read in one transaction (the calls only if asked)."""
    with store.reader() as db:
        db.execute("BEGIN")
        try:
            return BoardData(
                submissions=_query(db, _SUBMISSIONS_SQL),
                appearances=_query(db, _APPEARANCES_SQL),
                rooms=_query(db, _ROOMS_SQL),
                calls=_query(db, _CALLS_SQL) if with_calls else [],
                probes=_query(db, _PROBES_SQL),
            )
        finally:
            db.execute("ROLLBACK")


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


def call_stats(calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Speed and cap statistics of one submission's calls (endpoint errors left out). Decode
    speed counts only calls with a completion, a latency and a time to first token."""
    answered = [c for c in calls if c["error_kind"] is None]
    timed = [
        c
        for c in answered
        if c["completion_tokens"] and c["latency_s"] is not None and c["ttft_s"] is not None
    ]
    tokens = sum(c["completion_tokens"] for c in timed)
    decode_s = sum(c["latency_s"] - c["ttft_s"] for c in timed)
    caps = sum(c["finish_reason"] == "length" for c in answered)
    return {
        "calls": len(answered),
        "cap_hits": caps,
        "decode_tps": tokens / decode_s if decode_s > 0 else None,
        "ttft_median_s": _median(c["ttft_s"] for c in answered),
        "cap_hit_rate": caps / len(answered) if answered else None,
        "cap_hit_ci": wilson_interval(caps, len(answered)),
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
    calls: dict[int, list[dict[str, Any]]]
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
        calls=defaultdict(list),
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
    for c in data.calls:
        index.calls[c["submission_id"]].append(c)
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


def kl_summary(probe: dict[str, Any] | None, hosts: Iterable[str] = ()) -> KlSummary | None:
    """The headline of a stored KL probe row (endpoint ``hosts`` scrubbed from its reason)."""
    if probe is None:
        return None
    result = json.loads(scrub_endpoints(probe["result"], list(hosts)) or "{}")
    return KlSummary(
        status=probe["status"],
        mean_kl=result.get("mean_kl"),
        top1_agreement=result.get("top1_agreement"),
        n_positions=result.get("n_positions"),
        reason=result.get("reason"),
        collapsed=probe["status"] == "done" and is_collapsed(result, current().scheduler),
    )


def speed_summary(probe: dict[str, Any] | None, hosts: Iterable[str] = ()) -> SpeedSummary | None:
    """The headline of a stored speed probe row (endpoint ``hosts`` scrubbed from its reason)."""
    if probe is None:
        return None
    result = json.loads(scrub_endpoints(probe["result"], list(hosts)) or "{}")
    fields = set(SpeedSummary.model_fields) - {"status", "ttft_median_s", "ttft_p90_s"}
    return SpeedSummary(
        status=probe["status"],
        ttft_median_s=result.get("tg_ttft_median_s"),
        ttft_p90_s=result.get("tg_ttft_p90_s"),
        **{name: result.get(name) for name in fields},
    )


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
        is_baseline=bool(sub["is_baseline"]),
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
        **call_stats(index.calls.get(sub["id"], [])),
    )


def sort_key(row: LeaderboardRow) -> tuple[str, bool, float, int]:
    """Base model, then its baselines, then the best mean score (no score last), then id."""
    score = -row.mean_score if row.mean_score is not None else math.inf
    return (row.base_model_key, not row.is_baseline, score, row.submission_id)


def build_rows(data: BoardData) -> list[LeaderboardRow]:
    """The leaderboard rows of already-read data, sorted by :func:`sort_key`."""
    index = _index(data)
    return sorted((_row(index, sub) for sub in data.submissions), key=sort_key)


def leaderboard_rows(store: Store) -> list[LeaderboardRow]:
    """One row per submission that is not deleted (those without matches too), sorted by base
    model, then baseline first, then mean score (best first). A candidate with a baseline gets its
    verdict, its paired retention and its truncation canary; a baseline its A/A floor; every row
    its group's calibration and profile."""
    data = read_board(store)
    rows = build_rows(data)
    groups = {s["id"]: group_of(s) for s in data.submissions}
    chosen = choose_baselines(data.submissions)
    by_id = {row.submission_id: row for row in rows}
    calibrations = {(c.baseline_id, c.settings_class): c for c in summaries(store)}  # newest wins
    out = []
    for row in rows:
        group = groups[row.submission_id]
        base = by_id.get(chosen.get(group, -1))
        if base is not None:
            calibrated = calibrations.get((base.submission_id, group[1]))
            row = row.model_copy(update={"calibration": calibrated})
        if base is not None and base.submission_id == row.submission_id:
            floor = noise_floor(read_plays(store, (row.submission_id,))[row.submission_id])
            row = row.model_copy(update={"aa_floor": NoiseFloorView(
                rate=floor.rate, ci=(floor.low, floor.high) if floor.pairs else None, n=floor.pairs
            )})  # fmt: skip
        elif base is not None:  # a candidate of a group that has a baseline
            found = candidate_verdict(store, row.submission_id, base.submission_id)
            canary = truncation_canary(row.cap_hits, row.calls, base.cap_hits, base.calls)
            row = row.model_copy(
                update={
                    "verdict": found,
                    "canary": TruncationCanary(**vars(canary)),
                    **_paired_retention(found),
                }
            )
        out.append(row.model_copy(update={"profile": _profile_of(row)}))
    return out


def _profile_of(row: LeaderboardRow) -> str | None:
    """The group's profile for people: the calibrated one, else that of the verdict's pairs."""
    if row.calibration is not None and row.calibration.status == "done":
        return row.calibration.profile_label
    return profiles.describe_text(row.verdict.profile) if row.verdict is not None else None


def _paired_retention(found: Verdict) -> dict[str, Any]:
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


# -- filtering ------------------------------------------------------------------------------------
def quant_family(label: str) -> str:
    """The coarse group of a quant label (one of :data:`QUANT_FAMILIES`): the known labels by
    table, others by the bit count in their name (``Q5_K_S`` -> ``5-bit``), else ``other``."""
    upper = label.strip().upper()
    if upper in _FAMILY_OF:
        return _FAMILY_OF[upper]
    found = _BITS_IN_LABEL.match(upper)
    family = f"{found.group(1)}-bit" if found else "other"
    return family if family in QUANT_FAMILIES else "other"


def _key_of(name: str) -> str:
    try:
        return base_model_key(name)
    except ValueError:  # nothing visible in it
        return ""


def filter_rows(
    rows: Sequence[LeaderboardRow],
    base_model: str | None = None,
    quant_family: str | None = None,
    hardware: str | None = None,
    engine: str | None = None,
    search: str | None = None,
) -> list[LeaderboardRow]:
    """The rows matching every given filter (None or blank: no filter). ``base_model`` matches
    case- and spacing-blind (by base-model key), ``hardware`` and ``engine`` case-blind,
    ``quant_family`` by :func:`quant_family`; ``search`` is a case-blind substring of the display
    name, base model, quant, hardware or engine."""
    found = list(rows)
    if base_model and base_model.strip():
        key = _key_of(base_model)
        found = [r for r in found if r.base_model_key == key]
    if quant_family and quant_family.strip():
        wanted = quant_family.strip()
        found = [r for r in found if _family(r.quant) == wanted]
    if hardware and hardware.strip():
        wanted = hardware.strip().casefold()
        found = [r for r in found if r.hardware.casefold() == wanted]
    if engine and engine.strip():
        wanted = engine.strip().casefold()
        found = [r for r in found if r.engine.casefold() == wanted]
    if search and search.strip():
        needle = search.strip().casefold()
        found = [
            r
            for r in found
            if any(
                needle in text.casefold()
                for text in (r.display_name, r.base_model, r.quant, r.hardware, r.engine)
            )
        ]
    return found


_family = quant_family  # ``filter_rows`` has an argument of the same name


# -- the display frame ----------------------------------------------------------------------------
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
    return text + (" COLLAPSED" if kl.collapsed else "")


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
        lambda r: "yes" if r.is_baseline else "",
        description="The full-precision baseline of its base model.",
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
        description="First answers solved as a % of the baseline's on the same puzzles.",
    ),
    Column(
        "verdict",
        lambda r: r.verdict.label if r.verdict is not None else "",
        description="Degraded vs its baseline? Paired first answers: exact McNemar + SPRT; "
        "equivalent when the 95 % interval of the difference lies within the margin.",
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
        description="How often two plays of the same puzzle by the same model disagree (noise).",
    ),
    Column(
        "KL / top-1",
        _kl_cell,
        description="KL probe vs the baseline: mean approx. KL (nats/token) and top-1 agreement.",
    ),
    Column(
        "McNemar p (b/c, n)",
        lambda r: (
            f"{r.verdict.p_value:.3g} ({r.verdict.b}/{r.verdict.c}, n={r.verdict.n_pairs})"
            if r.verdict is not None and r.verdict.p_value is not None
            else ""
        ),
        default=False,
        description="Exact McNemar p on the discordant pairs, and the pair counts.",
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
    Column("calls", lambda r: r.calls, default=False, description="Answered calls."),
    Column("rooms played", lambda r: r.rooms_played, default=False, description="Rooms played."),
)
"""Every leaderboard column, in display order."""
ALL_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS)
"""Names of every column, in display order."""
DEFAULT_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS if c.default)
"""Names of the columns shown by default."""


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


# -- chart data -----------------------------------------------------------------------------------
def _speed_of(row: LeaderboardRow) -> dict[str, Any]:
    probe = row.speed
    if probe is not None and probe.status == "done" and probe.tg_tps_mean is not None:
        return {"decode_tps": probe.tg_tps_mean, "tps_sd": probe.tg_tps_sd,
                "tps_source": "speed probe"}  # fmt: skip
    return {"decode_tps": row.decode_tps, "tps_sd": None, "tps_source": "matches"}


def chart_points(rows: Iterable[LeaderboardRow]) -> list[ChartPoint]:
    """One point per row; quality is the retention %, which charts need together with speed or
    size (a point missing a chart's value is left out of that chart)."""
    return [
        ChartPoint(
            submission_id=r.submission_id,
            label=r.display_name,
            base_model=r.base_model,
            base_model_key=r.base_model_key,
            quant=r.quant,
            bits_per_weight=r.bits_per_weight,
            file_size_gb=r.file_size_gb,
            **_speed_of(r),
            quality_pct=r.retention_pct,
            quality_ci=r.retention_ci,
            n=r.retention_n,
            mean_escaped=r.mean_escaped,
        )
        for r in rows
    ]


def pareto_frontier(points: Iterable[ChartPoint]) -> list[ChartPoint]:
    """The points no other point beats on both axes (x = decode tok/s, y = quality %; higher is
    better on both), sorted by x, then y, then id. Points missing either value are ignored.

    Dominating means at least as good on both and better on one, so ties go as follows: of
    points with equal x, only the highest y stays (and of equal y, only the highest x); exact
    duplicates (equal x and y) do not dominate each other and all stay."""
    complete = {
        p.submission_id: (p, (p.decode_tps, p.quality_pct))
        for p in points
        if p.decode_tps is not None and p.quality_pct is not None
    }
    located = [(p, float(x), float(y)) for p, (x, y) in complete.values() if x is not None]
    located.sort(key=lambda item: (-item[1], -item[2], item[0].submission_id))
    frontier: list[tuple[ChartPoint, float, float]] = []
    best_y = -math.inf
    for point, x, y in located:
        duplicate = bool(frontier) and frontier[-1][1:] == (x, y)
        if y > best_y or duplicate:
            frontier.append((point, x, y))
            best_y = max(best_y, y)
    frontier.sort(key=lambda item: (item[1], item[2], item[0].submission_id))
    return [point for point, _, _ in frontier]


ROOM_QUALITY_COLUMNS: Final[tuple[str, ...]] = (
    "submission_id",
    "display_name",
    "base_model",
    "base_model_key",
    "quant",
    "bits_per_weight",
    "file_size_gb",
    "room_id",
    "escape_rate",
    "n",
)
"""Columns of :func:`room_quality`."""


def _room_position(room_id: str) -> tuple[int, str]:
    return (ROOM_ORDER.index(room_id) if room_id in ROOM_ORDER else len(ROOM_ORDER), room_id)


def room_quality_frame(data: BoardData) -> pd.DataFrame:
    """Per submission and room of already-read data: the share of its plays it escaped."""
    live = {s["id"]: s for s in data.submissions}
    tally: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in data.rooms:
        if r["submission_id"] in live:
            counts = tally[(r["submission_id"], r["room_id"])]
            counts[0] += int(r["escaped"])
            counts[1] += 1
    records = []
    for (submission_id, room_id), (escaped, n) in tally.items():
        sub = live[submission_id]
        records.append(
            {
                "submission_id": submission_id,
                "display_name": sub["display_name"],
                "base_model": sub["base_model"],
                "base_model_key": sub["base_model_key"],
                "quant": sub["quant"],
                "bits_per_weight": float(sub["bits_per_weight"]),
                "file_size_gb": sub["file_size_gb"],
                "room_id": room_id,
                "escape_rate": escaped / n,
                "n": n,
            }
        )
    records.sort(
        key=lambda r: (_room_position(r["room_id"]), r["base_model_key"], r["submission_id"])
    )
    return pd.DataFrame(records, columns=list(ROOM_QUALITY_COLUMNS))


def room_quality(store: Store) -> pd.DataFrame:
    """Per submission (not deleted) and room, over done matches: ``escape_rate`` (share of its
    plays of that room it escaped) and ``n`` (plays); rows in room play order. Columns:
    :data:`ROOM_QUALITY_COLUMNS`."""
    return room_quality_frame(read_board(store, with_calls=False))


__all__ = [
    "ALL_COLUMNS",
    "COLUMNS",
    "DEFAULT_COLUMNS",
    "QUANT_FAMILIES",
    "ROOM_QUALITY_COLUMNS",
    "ChartPoint",
    "Column",
    "LeaderboardRow",
    "Retention",
    "chart_points",
    "filter_rows",
    "format_ci",
    "leaderboard_frame",
    "leaderboard_rows",
    "pareto_frontier",
    "quant_family",
    "room_quality",
    "wilson_interval",
]
