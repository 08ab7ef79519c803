"""Degradation verdicts: the comparability contract, paired outcomes from the store, and the
verdict for a candidate against its baseline.

**Comparability contract.** Every side of a finished match has a settings *fingerprint*: the
sampling (temperature, top_p, top_k, max_tokens, thinking, sampling seed), the match settings
(difficulty profile, adversarial mode, retries, scoring version, tier, seed policy) and the room
versions. Two sides are compared only when their fingerprints are equal; otherwise the verdict is
``NOT COMPARABLE`` and names the fields that differ, instead of giving a number. Calibration runs
(``matches.purpose = 'calibration'``) are never paired.

**Paired outcomes.** A candidate and its baseline are paired on one puzzle, (room id+version, seed,
level) under equal fingerprints: a puzzle they played in one match together pairs those two
answers (same match, same history); otherwise the first play of each on the shared seed (solo
bluff-mode runs, or matches against other opponents: the scheduler gives every member of a group
the same seed list). "Solved" is the first answer's verdict (before any pressure or retry): the
adversarial part is measured by the Manipulated rate on its own. Fingerprint groups are never
mixed: the verdict uses the candidate's largest group shared with the baseline.

**Noise floor (A/A).** The first two plays of a puzzle the baseline played at least twice under
one fingerprint (a match against itself, both orders of a round, one seed against two
candidates): the share that disagree, with a Wilson interval, shown beside every verdict.

**Verdict.** ``degraded`` (the SPRT), ``equivalent`` (the 95 % interval of the difference inside
the margin), ``no detectable degradation`` (budget spent, or the SPRT's lower boundary), else
``undecided``; rooms the baseline's calibration found without signal are left out and named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from arena.analysis._calibration_store import no_signal_rooms
from arena.analysis._stats import (
    Pair,
    decide,
    difference_interval,
    discordant,
    mcnemar_exact,
    minimum_detectable_drop,
    shown_difference,
    shown_retention,
    sprt,
    wilson_interval,
)
from arena.engine import Store, profiles
from arena.settings import current
from arena.tiers import TIERS

FINGERPRINT_FIELDS = (
    "temperature", "top_p", "top_k", "max_tokens", "thinking", "sampling_seed",
    "profile", "adversarial", "retries", "scoring_version", "rooms", "tier", "seed_policy",
)  # fmt: skip

VerdictKind = Literal[
    "degraded", "equivalent", "no detectable degradation", "undecided", "NOT COMPARABLE"
]


def match_profile(match: dict[str, Any]) -> dict[str, int]:
    """Room id -> level of a stored match (``profile``; matches stored before profiles existed
    played every room at ``difficulty``)."""
    if match.get("profile"):
        return {str(room): int(level) for room, level in json.loads(match["profile"]).items()}
    return dict.fromkeys(json.loads(match["room_ids"]), int(match["difficulty"]))


def fingerprint(sampling: dict[str, Any], match: dict[str, Any]) -> dict[str, Any]:
    """The comparability fingerprint of one side of one match."""
    settings = json.loads(match["settings"]) if match.get("settings") else {}
    return {
        "temperature": sampling.get("temperature"),
        "top_p": sampling.get("top_p"),
        "top_k": sampling.get("top_k"),
        "max_tokens": sampling.get("max_tokens"),
        "thinking": sampling.get("thinking"),
        "sampling_seed": sampling.get("seed"),
        "profile": profiles.text(match_profile(match)),
        "adversarial": match["adversarial"],
        "retries": match["retries"],
        "scoring_version": match["scoring_version"],
        "rooms": tuple(json.loads(match["room_ids"])),
        "tier": settings.get("tier"),
        "seed_policy": settings.get("seed_policy", "ad hoc"),
    }


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The fingerprint fields that differ, with both values: ``max_tokens (512 vs 1024)``."""
    return [
        f"{f} ({a.get(f)!r} vs {b.get(f)!r})" for f in FINGERPRINT_FIELDS if a.get(f) != b.get(f)
    ]


class DegradationVerdict(BaseModel):
    """What the leaderboard and the API say about a candidate against its baseline."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: VerdictKind
    """``degraded``, ``equivalent``, ``no detectable degradation``, ``undecided`` or ``NOT
    COMPARABLE`` (no pairs because the settings fingerprints differ: see ``differing``)."""
    label: str
    """The badge text, e.g. ``degraded: -12.0 pp [-20.1, -4.2]`` or ``NOT COMPARABLE: ...``."""
    n_pairs: int
    """Paired puzzles behind the verdict (rooms in ``no_signal`` left out)."""
    b: int
    """Paired puzzles only the baseline solved (first answers)."""
    c: int
    """Paired puzzles only the candidate solved (first answers)."""
    p_value: float | None
    """Exact McNemar on ``b`` and ``c``, two-sided (1.0 without discordant pairs); None without
    pairs."""
    difference_pp: float | None
    """Candidate minus baseline first-answer solve rate, percentage points (negative: worse);
    None without pairs."""
    ci_pp: tuple[float, float] | None
    """95 % percentile-bootstrap interval of ``difference_pp`` over seeds, percentage points."""
    detectable_drop_pp: float | None
    """The smallest drop (percentage points) this many pairs would detect (80 % power, two-sided
    5 %) at the observed discordance (taken as at least 1 / ``n_pairs``)."""
    discordance: float | None
    """Share of the pairs only one side solved, ``(b + c) / n_pairs`` (0 to 1); None without
    pairs."""
    differing: list[str] = []
    """For NOT COMPARABLE: the fingerprint fields that differ, with both values
    (``max_tokens (512 vs 1024)``); empty otherwise."""
    retention_pct: float | None = None
    """Candidate first-answer solves as a % of the baseline's on the paired puzzles (None when
    the baseline solved none of them, or without pairs)."""
    retention_ci: tuple[float, float] | None = None
    """95 % bootstrap interval of ``retention_pct`` over seeds."""
    tier: str | None = None
    """The tier of the pairs behind the verdict (``smoke``, ``standard`` or ``full``; None:
    ad-hoc matches, or NOT COMPARABLE)."""
    provisional: bool = False
    """Judged against a baseline the operator has not confirmed yet (the label starts with
    ``provisional · ``): it may change when the operator confirms or demotes that baseline."""
    source: str | None = None
    """``solo runs`` when the pairs were played in bluff mode, else ``matches`` (against each
    other, or on shared seeds); None for NOT COMPARABLE."""
    aa_rate: float | None = None
    """The baseline's A/A discordance under the same fingerprint (the noise floor, 0 to 1);
    None without repeated puzzles."""
    aa_ci: tuple[float, float] | None = None
    """Wilson 95 % interval of ``aa_rate``."""
    aa_n: int = 0
    """Repeated puzzles behind ``aa_rate``."""
    floor_note: str | None = None
    """This pair's discordance against the A/A floor, for display (``discordance 12.5 % vs A/A
    floor ...``); None without pairs."""
    margin_pp: float | None = None
    """The equivalence margin (percentage points): ``equivalent`` means the difference lies
    within plus or minus this. None for NOT COMPARABLE."""
    equivalence_ci_pp: tuple[float, float] | None = None
    """The 95 % interval the equivalence rule uses, percentage points (cluster-robust, never
    narrower than the discordance's Wilson bound allows)."""
    decided: bool = False
    """The sequential test stopped: degraded, equivalent, or the budget spent (the scheduler
    plays no more rounds of this pair under these settings). Always true for NOT COMPARABLE."""
    profile: str | None = None
    """The difficulty profile of the pairs (``cipher-v3=4,map-v2=6,...``)."""
    no_signal: dict[str, str] = {}
    """Rooms without signal for this model (room id -> why), left out of the pairs."""


_SIDES_SQL = (
    "SELECT m.id AS match_id, m.seed, m.difficulty, m.profile, m.adversarial, m.retries, "
    "m.scoring_version, m.room_ids, m.settings, m.started_at, c.sampling, c.submission_id, "
    "json_extract(m.settings, '$.tier') AS tier, "
    "json_extract(m.settings, '$.seed_policy') AS seed_policy, "
    "CASE WHEN c.id = m.contestant_a THEN 'a' ELSE 'b' END AS slot "
    "FROM matches m JOIN contestants c ON c.id IN (m.contestant_a, m.contestant_b) "
    "WHERE m.status = 'done' AND m.purpose = 'measure' AND c.submission_id IN ({ids}) "
    "ORDER BY m.started_at, m.id, slot"
)


_ROOMS_SQL = (
    "SELECT r.match_id, r.slot, r.room_index, r.initial_solved FROM rooms_played r "
    "JOIN matches m ON m.id = r.match_id JOIN contestants c "
    "ON c.id = CASE r.slot WHEN 'a' THEN m.contestant_a ELSE m.contestant_b END "
    "WHERE m.status = 'done' AND m.purpose = 'measure' AND c.submission_id IN ({ids}) "
    "AND r.outcome != 'context_overflow'"
)
"""The first-answer verdicts of the given submissions' finished matches only (not the whole
table); a room whose request did not fit the endpoint's context window is no observation of the
model."""

Frozen = tuple[tuple[str, str], ...]
PuzzleKey = tuple[str, int, int]
"""(room id, seed, level)."""


@dataclass(frozen=True)
class Play:
    """One first answer of one submission on one puzzle."""

    match_id: str
    solved: bool


@dataclass
class Plays:
    """A submission's first answers, grouped by fingerprint, then by puzzle, in play order."""

    by_print: dict[Frozen, dict[PuzzleKey, list[Play]]] = field(default_factory=dict)
    prints: dict[Frozen, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PairGroup:
    """Paired outcomes under one fingerprint."""

    fingerprint: dict[str, Any]
    pairs: list[Pair]
    joint: int
    """Pairs whose two answers come from one match between the two (the rest pair plays from
    different matches or solo runs on the shared seed)."""


def _freeze(print_: dict[str, Any]) -> Frozen:
    return tuple(sorted((k, str(v)) for k, v in print_.items()))


def _side_key(side: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a side's fingerprint and puzzle keys depend on (its seed apart): sides sharing it
    share them, so each distinct one is parsed once."""
    return tuple(side[k] for k in ("sampling", "profile", "room_ids", "difficulty",
                                   "adversarial", "retries", "scoring_version", "tier",
                                   "seed_policy"))  # fmt: skip


def read_plays(store: Store, ids: Sequence[int]) -> dict[int, Plays]:
    """First answers of the submissions ``ids`` (one query each for sides and rooms)."""
    wanted = sorted(set(ids))
    marks = ", ".join("?" * len(wanted))
    solved: dict[tuple[str, str], dict[int, bool]] = {}
    for row in store.query(_ROOMS_SQL.format(ids=marks), wanted):
        solved.setdefault((row["match_id"], row["slot"]), {})[row["room_index"]] = bool(
            row["initial_solved"]
        )
    found: dict[int, Plays] = {i: Plays() for i in wanted}
    parsed: dict[tuple[Any, ...], tuple[dict[str, Any], Frozen, list[str], dict[str, int]]] = {}
    for side in store.query(_SIDES_SQL.format(ids=marks), wanted):
        key = _side_key(side)
        if key not in parsed:
            print_ = fingerprint(json.loads(side["sampling"]), side)
            parsed[key] = (print_, _freeze(print_), json.loads(side["room_ids"]),
                           match_profile(side))  # fmt: skip
        print_, frozen, rooms, levels = parsed[key]
        plays = found[side["submission_id"]]
        plays.prints.setdefault(frozen, print_)
        by_puzzle = plays.by_print.setdefault(frozen, {})
        for index, ok in sorted(solved.get((side["match_id"], side["slot"]), {}).items()):
            puzzle = (rooms[index], side["seed"], levels[rooms[index]])
            by_puzzle.setdefault(puzzle, []).append(Play(side["match_id"], ok))
    return found


def pair_groups(plays: Mapping[int, Plays], candidate: int, baseline: int) -> list[PairGroup]:
    """Paired outcomes per shared fingerprint, largest group first. A puzzle both played in one
    match together pairs those two answers (same match, same history); otherwise the first play of
    each (a solo run, or matches against other opponents on the shared seed)."""
    mine, theirs = plays[candidate], plays[baseline]
    groups = []
    for frozen, puzzles in mine.by_print.items():
        other = theirs.by_print.get(frozen)
        if not other:
            continue
        pairs, joint = [], 0
        for key in sorted(puzzles, key=str):
            if key not in other:
                continue
            together = {p.match_id: p for p in other[key]}
            shared = next((p for p in puzzles[key] if p.match_id in together), None)
            if shared is not None:
                cand, base, joint = shared, together[shared.match_id], joint + 1
            else:
                cand, base = puzzles[key][0], other[key][0]
            pairs.append(Pair(seed=key[1], room_id=key[0], baseline_solved=base.solved,
                              candidate_solved=cand.solved, baseline_match=base.match_id,
                              candidate_match=cand.match_id))  # fmt: skip
        if pairs:
            groups.append(PairGroup(mine.prints[frozen], pairs, joint))
    groups.sort(key=lambda g: (-len(g.pairs), str(g.fingerprint)))
    return groups


def paired_outcomes(store: Store, candidate: int, baseline: int) -> tuple[list[Pair], list[str]]:
    """The pairs of the largest group of equal fingerprints; and, when nothing pairs because
    fingerprints differ, what differs."""
    plays = read_plays(store, (candidate, baseline))
    groups = pair_groups(plays, candidate, baseline)
    if groups:
        return groups[0].pairs, []
    mine, theirs = plays[candidate].prints, plays[baseline].prints
    if mine and theirs:
        return [], differences(next(iter(mine.values())), next(iter(theirs.values())))
    return [], []


@dataclass(frozen=True)
class NoiseFloor:
    """A/A: how often two plays of the same puzzle by the same submission disagree."""

    pairs: int
    discordant: int
    low: float | None
    high: float | None

    @property
    def rate(self) -> float | None:
        return self.discordant / self.pairs if self.pairs else None

    def describe(self) -> str:
        if not self.pairs:
            return "A/A floor: no repeated puzzles yet"
        return (
            f"A/A floor {100 * (self.rate or 0):.1f} % discordant "
            f"[{100 * (self.low or 0):.1f}, {100 * (self.high or 0):.1f}] (n={self.pairs})"
        )


def noise_floor(plays: Plays, frozen: Frozen | None = None) -> NoiseFloor:
    """The first two plays of every puzzle a submission played at least twice (an A/A match
    against itself, both orders of a round, or the same seed against two opponents), within one
    fingerprint (``frozen``; all fingerprints when None)."""
    n = k = 0
    for key, puzzles in plays.by_print.items():
        if frozen is not None and key != frozen:
            continue
        for answers in puzzles.values():
            if len(answers) >= 2:
                n += 1
                k += answers[0].solved != answers[1].solved
    interval = wilson_interval(k, n)
    return NoiseFloor(n, k, *(interval or (None, None)))


def equivalence_margin() -> float:
    """The equivalence margin as a fraction (``QER_EQUIVALENCE_MARGIN_PP``, default 5 pp)."""
    return current().verdicts.margin


def verdict(
    pairs: Sequence[Pair],
    differing: Sequence[str] = (),
    *,
    budget: int | None = None,
    floor: NoiseFloor | None = None,
    print_: dict[str, Any] | None = None,
    margin: float | None = None,
    no_signal: Mapping[str, str] | None = None,
) -> DegradationVerdict:
    """The verdict from paired outcomes (see the module docstring). ``budget``: paired puzzles
    after which an undecided test stops (default: the tier's round budget, else 600); ``floor``:
    the baseline's A/A noise floor under the same fingerprint; ``print_``: that fingerprint;
    ``margin``: the equivalence margin (default :func:`equivalence_margin`); ``no_signal``: rooms
    the calibration found without signal for this model (room id -> why), left out."""
    if not pairs and differing:
        return DegradationVerdict(
            kind="NOT COMPARABLE", label="NOT COMPARABLE: " + ", ".join(differing), n_pairs=0,
            b=0, c=0, p_value=None, difference_pp=None, ci_pp=None, detectable_drop_pp=None,
            discordance=None, differing=list(differing), decided=True,
        )  # fmt: skip
    margin = equivalence_margin() if margin is None else margin
    silent = dict(no_signal or {})
    pairs = [p for p in pairs if p.room_id not in silent]
    tier_name = print_.get("tier") if print_ else None
    context: dict[str, Any] = {
        "tier": tier_name,
        "source": None
        if print_ is None
        else ("solo runs" if print_.get("adversarial") == "bluff" else "matches"),
        "margin_pp": round(100 * margin, 2),
        "profile": print_.get("profile") if print_ else None,
        "no_signal": silent,
    }
    if floor is not None and floor.pairs:
        context.update(
            aa_rate=round(floor.rate or 0.0, 4),
            aa_ci=(round(floor.low or 0.0, 4), round(floor.high or 0.0, 4)),
            aa_n=floor.pairs,
        )
    if budget is None:
        budget = TIERS[tier_name].rounds * 6 if tier_name in TIERS else 600
    b, c = discordant(pairs)
    n = len(pairs)
    if n == 0:
        return DegradationVerdict(
            kind="undecided", label="undecided: no paired puzzles yet", n_pairs=0, b=0, c=0,
            p_value=None, difference_pp=None, ci_pp=None, detectable_drop_pp=None,
            discordance=None, **context,
        )  # fmt: skip
    effect = shown_difference(pairs)
    kept = shown_retention(pairs, effect)
    window = difference_interval(pairs)
    discordance = (b + c) / n
    mde = minimum_detectable_drop(n, max(discordance, 1.0 / n))
    decision = decide(b, c, window, margin=margin)
    diff, ci = 100 * effect.difference, (100 * effect.low, 100 * effect.high)
    interval = f"{diff:+.1f} pp [{ci[0]:+.1f}, {ci[1]:+.1f}]"
    spent = n >= budget
    if decision == "degraded":
        kind: VerdictKind = "degraded"
        label = f"degraded: {interval}"
    elif decision == "equivalent":
        kind = "equivalent"
        label = (
            f"equivalent within ±{100 * margin:g} pp at n={n}: {100 * window.difference:+.1f} pp "
            f"[{100 * window.low:+.1f}, {100 * window.high:+.1f}]"
        )
    elif sprt(b, c).decision == "no_degradation" or spent:
        kind = "no detectable degradation"
        label = f"no detectable degradation at n={n} (could have shown a drop of " + (
            f"{100 * mde:.0f} pp)" if mde is not None else "?)"
        )
    else:
        kind = "undecided"
        label = f"undecided at n={n}: {interval}"
    floor_note = f"discordance {100 * discordance:.1f} % vs " + (
        floor.describe() if floor is not None else "A/A floor: not measured"
    )
    return DegradationVerdict(
        kind=kind, label=label, n_pairs=n, b=b, c=c, p_value=mcnemar_exact(b, c),
        difference_pp=round(diff, 2), ci_pp=(round(ci[0], 2), round(ci[1], 2)),
        detectable_drop_pp=round(100 * mde, 2) if mde is not None else None,
        discordance=round(discordance, 4),
        retention_pct=round(kept.pct, 2) if kept.pct is not None else None,
        retention_ci=(round(kept.low, 2), round(kept.high, 2))
        if kept.low is not None and kept.high is not None else None,
        equivalence_ci_pp=(round(100 * window.low, 2), round(100 * window.high, 2)),
        decided=kind in ("degraded", "equivalent") or spent,
        floor_note=floor_note, **context,
    )  # fmt: skip


def _pairing(
    store: Store,
    candidate: int,
    baseline: int,
    plays: Mapping[int, Plays] | None,
    groups: list[PairGroup] | None,
) -> tuple[Mapping[int, Plays], list[PairGroup]]:
    """The plays and pair groups of a candidate and its baseline: those given, the rest read
    and made here."""
    plays = plays if plays is not None else read_plays(store, (candidate, baseline))
    groups = groups if groups is not None else pair_groups(plays, candidate, baseline)
    return plays, groups


def candidate_verdict(
    store: Store,
    candidate: int,
    baseline: int,
    plays: Mapping[int, Plays] | None = None,
    groups: list[PairGroup] | None = None,
) -> DegradationVerdict:
    """The verdict of ``candidate`` against ``baseline`` on their largest group of equal
    fingerprints, with the baseline's A/A floor under that fingerprint (``plays``: already read,
    with both in it; ``groups``: their :func:`pair_groups`, if already made)."""
    plays, groups = _pairing(store, candidate, baseline, plays, groups)
    if not groups:
        mine, theirs = plays[candidate].prints, plays[baseline].prints
        differing: list[str] = []
        if mine and theirs:
            differing = differences(next(iter(mine.values())), next(iter(theirs.values())))
        return verdict([], differing)
    group = groups[0]
    floor = noise_floor(plays[baseline], _freeze(group.fingerprint))
    silent = no_signal_rooms(store, baseline, group.fingerprint.get("profile"))
    return verdict(group.pairs, floor=floor, print_=group.fingerprint, no_signal=silent)


class DiscordantPair(BaseModel):
    """A paired puzzle only one side solved, with the replays to read."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    seed: int | None
    """The puzzle's seed; None while the seed is sealed (a match on it is still to be played)."""
    room_id: str
    """Versioned room id, e.g. ``cipher-v3``."""
    solved_by: Literal["baseline", "candidate"]
    """The side whose first answer solved it."""
    baseline_match: str | None
    """Id of the match (or solo run) the baseline's answer comes from, for its replay."""
    candidate_match: str | None
    """Likewise for the candidate's answer (the same match when they played together)."""


def sealed_seeds(store: Store) -> set[int]:
    """Seeds a queued or running job still has to play (their puzzles stay hidden)."""
    return {
        row["seed"]
        for row in store.query(
            "SELECT json_extract(payload, '$.seed') AS seed FROM job_queue "
            "WHERE status IN ('queued', 'running')"
        )
    }


def seal(pairs: Sequence[DiscordantPair], sealed: set[int]) -> list[DiscordantPair]:
    """``pairs`` with the seeds in ``sealed`` hidden."""
    return [p.model_copy(update={"seed": None}) if p.seed in sealed else p for p in pairs]


def discordant_pairs(
    store: Store,
    candidate: int,
    baseline: int,
    plays: Mapping[int, Plays] | None = None,
    groups: list[PairGroup] | None = None,
    *,
    sealed: set[int] | None = None,
) -> list[DiscordantPair]:
    """The discordant pairs behind a candidate's verdict (its largest fingerprint group), the
    seeds in ``sealed`` hidden (default: :func:`sealed_seeds` now)."""
    plays, groups = _pairing(store, candidate, baseline, plays, groups)
    if not groups:
        return []
    sealed = sealed_seeds(store) if sealed is None else sealed
    silent = no_signal_rooms(store, baseline, groups[0].fingerprint.get("profile"))
    return [
        DiscordantPair(
            seed=None if p.seed in sealed else p.seed,
            room_id=p.room_id,
            solved_by="baseline" if p.baseline_solved else "candidate",
            baseline_match=p.baseline_match,
            candidate_match=p.candidate_match,
        )
        for p in groups[0].pairs
        if p.baseline_solved != p.candidate_solved and p.room_id not in silent
    ]


def group_verdicts(
    store: Store, candidate: int, baseline: int
) -> list[tuple[dict, DegradationVerdict]]:
    """A verdict per group of equal fingerprints (largest first): for the scheduler, which
    stops a pair once the group it plays is decided."""
    plays = read_plays(store, (candidate, baseline))
    return [
        (
            g.fingerprint,
            verdict(
                g.pairs,
                floor=noise_floor(plays[baseline], _freeze(g.fingerprint)),
                print_=g.fingerprint,
                no_signal=no_signal_rooms(store, baseline, g.fingerprint.get("profile")),
            ),
        )
        for g in pair_groups(plays, candidate, baseline)
    ]
