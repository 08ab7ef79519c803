"""Degradation verdicts: the comparability contract, paired outcomes from the store, and the
verdict for a candidate against its baseline.

**Comparability contract.** Every side of a finished match has a settings *fingerprint*: the
sampling (temperature, top_p, top_k, max_tokens, thinking, sampling seed), the match settings
(difficulty, adversarial mode, retries, scoring version) and the room versions. Two sides are
compared only when their fingerprints are equal; otherwise the verdict is ``NOT COMPARABLE`` and
names the fields that differ, instead of giving a number.

**Paired outcomes.** A candidate and its baseline are paired on one puzzle, (room id+version, seed,
difficulty) under equal fingerprints: from the matches they played against each other, and from
their solo (bluff-mode) runs on the same seeds. "Solved" is the first answer's verdict (before any
pressure or retry): the adversarial part is measured by the Manipulated rate on its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from arena.stats import (
    Pair,
    discordant,
    mcnemar_exact,
    minimum_detectable_drop,
    solve_rate_difference,
    sprt,
)
from arena.store import Store

FINGERPRINT_FIELDS = (
    "temperature", "top_p", "top_k", "max_tokens", "thinking", "sampling_seed",
    "difficulty", "adversarial", "retries", "scoring_version", "rooms",
)  # fmt: skip

VerdictKind = Literal["degraded", "no detectable degradation", "undecided", "NOT COMPARABLE"]


def fingerprint(sampling: dict[str, Any], match: dict[str, Any]) -> dict[str, Any]:
    """The comparability fingerprint of one side of one match."""
    return {
        "temperature": sampling.get("temperature"),
        "top_p": sampling.get("top_p"),
        "top_k": sampling.get("top_k"),
        "max_tokens": sampling.get("max_tokens"),
        "thinking": sampling.get("thinking"),
        "sampling_seed": sampling.get("seed"),
        "difficulty": match["difficulty"],
        "adversarial": match["adversarial"],
        "retries": match["retries"],
        "scoring_version": match["scoring_version"],
        "rooms": tuple(json.loads(match["room_ids"])),
    }


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The fingerprint fields that differ, with both values: ``max_tokens (512 vs 1024)``."""
    return [
        f"{f} ({a.get(f)!r} vs {b.get(f)!r})" for f in FINGERPRINT_FIELDS if a.get(f) != b.get(f)
    ]


class Verdict(BaseModel):
    """What the leaderboard and the API say about a candidate against its baseline."""

    kind: VerdictKind
    label: str
    """The badge text, e.g. ``degraded: -12.0 pp [-20.1, -4.2]`` or ``NOT COMPARABLE: ...``."""
    n_pairs: int
    b: int
    """Paired puzzles only the baseline solved."""
    c: int
    """Paired puzzles only the candidate solved."""
    p_value: float | None
    """Exact McNemar, two-sided."""
    difference_pp: float | None
    """Candidate minus baseline solve rate, percentage points."""
    ci_pp: tuple[float, float] | None
    """95 % interval (bootstrap over seeds)."""
    detectable_drop_pp: float | None
    """The smallest drop this many pairs would detect (80 % power) at the observed discordance."""
    discordance: float | None
    differing: list[str] = []
    """For NOT COMPARABLE: which fingerprint fields differ."""


_SIDES_SQL = (
    "SELECT m.id AS match_id, m.seed, m.difficulty, m.adversarial, m.retries, "
    "m.scoring_version, m.room_ids, c.sampling, c.submission_id, "
    "CASE WHEN c.id = m.contestant_a THEN 'a' ELSE 'b' END AS slot "
    "FROM matches m JOIN contestants c ON c.id IN (m.contestant_a, m.contestant_b) "
    "WHERE m.status = 'done' AND c.submission_id IN (?, ?)"
)


_ROOMS_SQL = (
    "SELECT r.match_id, r.slot, r.room_index, r.initial_solved FROM rooms_played r "
    "JOIN matches m ON m.id = r.match_id JOIN contestants c "
    "ON c.id = CASE r.slot WHEN 'a' THEN m.contestant_a ELSE m.contestant_b END "
    "WHERE m.status = 'done' AND c.submission_id IN (?, ?)"
)
"""The first-answer verdicts of the two submissions' finished matches only (not the whole table:
the leaderboard asks once per candidate on every refresh)."""


def paired_outcomes(store: Store, candidate: int, baseline: int) -> tuple[list[Pair], list[str]]:
    """The candidate's and the baseline's first answers on the same puzzles under equal
    fingerprints; and, when nothing pairs because fingerprints differ, what differs."""
    sides = store.query(_SIDES_SQL, (candidate, baseline))
    solved: dict[tuple[str, str], dict[int, bool]] = {}
    for row in store.query(_ROOMS_SQL, (candidate, baseline)):
        solved.setdefault((row["match_id"], row["slot"]), {})[row["room_index"]] = bool(
            row["initial_solved"]
        )
    keyed: dict[int, dict[tuple[Any, ...], bool]] = {candidate: {}, baseline: {}}
    prints: dict[int, list[dict[str, Any]]] = {candidate: [], baseline: []}
    for side in sides:
        print_ = fingerprint(json.loads(side["sampling"]), side)
        prints[side["submission_id"]].append(print_)
        frozen = tuple(sorted((k, str(v)) for k, v in print_.items()))
        rooms = json.loads(side["room_ids"])
        for index, ok in solved.get((side["match_id"], side["slot"]), {}).items():
            key = (rooms[index], side["seed"], side["difficulty"], frozen)
            keyed[side["submission_id"]].setdefault(key, ok)  # first play of a puzzle counts
    pairs = [
        Pair(seed=key[1], room_id=key[0], baseline_solved=keyed[baseline][key],
             candidate_solved=ok)
        for key, ok in sorted(keyed[candidate].items(), key=lambda kv: str(kv[0]))
        if key in keyed[baseline]
    ]  # fmt: skip
    differing: list[str] = []
    if not pairs and prints[candidate] and prints[baseline]:
        differing = differences(prints[candidate][0], prints[baseline][0])
    return pairs, differing


def verdict(pairs: Sequence[Pair], differing: Sequence[str] = (), *, budget: int = 600) -> Verdict:
    """The verdict from paired outcomes (see the module docstring)."""
    if not pairs and differing:
        return Verdict(
            kind="NOT COMPARABLE", label="NOT COMPARABLE: " + ", ".join(differing), n_pairs=0,
            b=0, c=0, p_value=None, difference_pp=None, ci_pp=None, detectable_drop_pp=None,
            discordance=None, differing=list(differing),
        )  # fmt: skip
    b, c = discordant(pairs)
    n = len(pairs)
    if n == 0:
        return Verdict(kind="undecided", label="undecided: no paired puzzles yet", n_pairs=0,
                       b=0, c=0, p_value=None, difference_pp=None, ci_pp=None,
                       detectable_drop_pp=None, discordance=None)  # fmt: skip
    effect = solve_rate_difference(pairs)
    discordance = (b + c) / n
    mde = minimum_detectable_drop(n, max(discordance, 1.0 / n))
    state = sprt(b, c)
    diff, ci = 100 * effect.difference, (100 * effect.low, 100 * effect.high)
    interval = f"{diff:+.1f} pp [{ci[0]:+.1f}, {ci[1]:+.1f}]"
    if state.decision == "degraded":
        kind: VerdictKind = "degraded"
        label = f"degraded: {interval}"
    elif state.decision == "no_degradation" or n >= budget:
        kind = "no detectable degradation"
        label = f"no detectable degradation at n={n} (could have shown a drop of " + (
            f"{100 * mde:.0f} pp)" if mde is not None else "?)"
        )
    else:
        kind = "undecided"
        label = f"undecided at n={n}: {interval}"
    return Verdict(
        kind=kind, label=label, n_pairs=n, b=b, c=c, p_value=mcnemar_exact(b, c),
        difference_pp=round(diff, 2), ci_pp=(round(ci[0], 2), round(ci[1], 2)),
        detectable_drop_pp=round(100 * mde, 2) if mde is not None else None,
        discordance=round(discordance, 4),
    )  # fmt: skip
