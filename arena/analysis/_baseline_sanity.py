"""Evidence about a baseline claim, for the operator who confirms or demotes it.

A full-precision baseline should be the best player of its group, the closest to every
candidate in distribution, and served unquantized. Three signs that a claim is not what it says
(none decides anything: the operator reads them):

- **beaten**: a candidate solved significantly more of the paired puzzles than the claim
  (exact McNemar p < ``BEATEN_P``, the candidate ahead);
- **KL contradicts the bits**: a candidate with at least ``BITS_GAP`` more bits per weight than
  another is farther from the claim (mean KL more than ``KL_RATIO`` times, and by
  ``KL_MIN_GAP`` nats, the other's), or a candidate labelled full precision is farther than
  ``KL_FULL_PRECISION`` nats from it (two unquantized copies of one model agree almost exactly);
- **server quant**: the claim's server reported loading quantized weights (llama.cpp
  ``/props``, Ollama ``/api/show``: ``server_quant``).
"""

from __future__ import annotations

import json
from typing import Final

from pydantic import BaseModel, ConfigDict

from arena.analysis._verdicts import candidate_verdict, read_plays
from arena.client import is_full_precision, normalize_quant
from arena.engine import Store

BEATEN_P: Final = 0.05
"""A candidate ahead of the claim with an exact McNemar p below this beat it."""
BITS_GAP: Final = 1.0
"""Bits per weight between two candidates for their KL order to be expected."""
KL_RATIO: Final = 1.5
"""The higher-bit candidate's KL must exceed the lower one's by this factor to count..."""
KL_MIN_GAP: Final = 0.01
"""...and by this many nats (two near-zero values are noise)."""
KL_FULL_PRECISION: Final = 0.05
"""Mean KL (nats) above which a full-precision candidate contradicts a full-precision claim."""

_CONFIG = ConfigDict(frozen=True, use_attribute_docstrings=True)

_MEMBERS_SQL = (
    "SELECT id, display_name, quant, bits_per_weight FROM submissions "
    "WHERE base_model_key = ? AND settings_class = ? AND status != 'deleted' AND id != ? "
    "ORDER BY id"
)
_KL_SQL = (
    "SELECT submission_id, result FROM probes WHERE kind = 'kl' AND status = 'done' "
    "AND baseline_id = ? ORDER BY id"
)


class BeatenBy(BaseModel):
    """A candidate that solved significantly more paired puzzles than the claim."""

    model_config = _CONFIG

    submission_id: int
    """The candidate."""
    quant: str
    """Its quant label."""
    n_pairs: int
    """Paired puzzles behind the comparison."""
    baseline_only: int
    """Paired puzzles only the claim solved (first answers)."""
    candidate_only: int
    """Paired puzzles only the candidate solved (first answers)."""
    p_value: float
    """Exact two-sided McNemar p-value."""


class BaselineEvidence(BaseModel):
    """What speaks against a baseline claim (empty ``flags``: nothing found so far)."""

    model_config = _CONFIG

    submission_id: int
    """The claim."""
    beaten_by: list[BeatenBy]
    """Candidates of its group significantly better than it on paired puzzles."""
    kl_contradictions: list[str]
    """KL distances to it that contradict the candidates' bits per weight, in words."""
    server_quant: str | None
    """The quant its server reported loading; None when the server does not say."""
    server_quantized: bool
    """Its server reported quantized weights."""
    flags: list[str]
    """Each sign against the claim in one line (empty: none)."""


def baseline_evidence(store: Store, submission_id: int) -> BaselineEvidence | None:
    """The evidence about one submission as its group's baseline (its live group members are the
    candidates); None for an unknown or deleted submission."""
    rows = store.query(
        "SELECT id, base_model_key, settings_class, server_quant FROM submissions "
        "WHERE id = ? AND status != 'deleted'",
        (submission_id,),
    )
    if not rows:
        return None
    me = rows[0]
    members = store.query(_MEMBERS_SQL, (me["base_model_key"], me["settings_class"], submission_id))
    beaten = _beaten_by(store, submission_id, members)
    contradictions = kl_contradictions(members, _kl_means(store, submission_id))
    quant = me["server_quant"]
    quantized = bool(quant) and not is_full_precision(quant)
    flags = [
        f"#{b.submission_id} ({b.quant}) solved more paired puzzles: {b.candidate_only} vs "
        f"{b.baseline_only} of {b.n_pairs}, McNemar p = {b.p_value:.3g}"
        for b in beaten
    ]
    flags += contradictions
    if quantized:
        flags.append(f"its server reports loading {normalize_quant(quant)}: not full precision")
    return BaselineEvidence(
        submission_id=submission_id,
        beaten_by=beaten,
        kl_contradictions=contradictions,
        server_quant=quant,
        server_quantized=quantized,
        flags=flags,
    )


def _beaten_by(store: Store, claim: int, members: list[dict[str, object]]) -> list[BeatenBy]:
    if not members:
        return []
    ids = [int(str(m["id"])) for m in members]
    plays = read_plays(store, [claim, *ids])
    beaten = []
    for member in members:
        found = candidate_verdict(store, int(str(member["id"])), claim, plays)
        p = found.p_value
        if found.n_pairs and p is not None and p < BEATEN_P and found.c > found.b:
            beaten.append(BeatenBy(
                submission_id=int(str(member["id"])), quant=str(member["quant"]),
                n_pairs=found.n_pairs, baseline_only=found.b, candidate_only=found.c, p_value=p,
            ))  # fmt: skip
    return beaten


def _kl_means(store: Store, claim: int) -> dict[int, float]:
    """Candidate -> mean KL from the claim in its latest finished KL probe against it."""
    means: dict[int, float] = {}
    for row in store.query(_KL_SQL, (claim,)):  # oldest first: the latest wins
        value = json.loads(row["result"] or "{}").get("mean_kl")
        if isinstance(value, int | float):
            means[row["submission_id"]] = float(value)
    return means


def kl_contradictions(members: list[dict[str, object]], means: dict[int, float]) -> list[str]:
    """The KL distances (candidate id -> mean KL from the claim) that contradict the members'
    bits per weight (``id``, ``quant``, ``bits_per_weight``), in words."""
    measured = [(m, means[int(str(m["id"]))]) for m in members if int(str(m["id"])) in means]
    found = []
    for member, kl in measured:
        if is_full_precision(str(member["quant"])) and kl > KL_FULL_PRECISION:
            found.append(
                f"#{member['id']} ({member['quant']}, full precision) is {kl:.3f} nats from it: "
                "two unquantized copies of one model should nearly agree"
            )
    for high, kl_high in measured:
        for low, kl_low in measured:
            gap = float(str(high["bits_per_weight"])) - float(str(low["bits_per_weight"]))
            if gap >= BITS_GAP and kl_high > KL_RATIO * kl_low and kl_high - kl_low > KL_MIN_GAP:
                found.append(
                    f"#{high['id']} ({high['quant']}, {high['bits_per_weight']} bpw) is farther "
                    f"from it ({kl_high:.3f} nats) than #{low['id']} ({low['quant']}, "
                    f"{low['bits_per_weight']} bpw, {kl_low:.3f} nats)"
                )
    return found


__all__ = ["BaselineEvidence", "BeatenBy", "baseline_evidence", "kl_contradictions"]
