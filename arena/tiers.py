"""Tiers: how much the scheduler plays for each submission, on which seeds.

A tier fixes the seed list and the counts, so results of one tier compare with that tier only
(the tier is part of the comparability fingerprint):

- **smoke**: two solo runs per submission (one endpoint each, no opponent needed) and two rounds
  per baseline pair; with the KL probe, catches catastrophic damage fast.
- **standard** (the default): matches only; the sequential test runs up to 50 rounds (300 paired
  rooms) per baseline-vs-candidate pair, which covers the fixed-n requirement of a 10 pp drop at
  20 % discordance (about 170 paired rooms) with room to spare.
- **full**: three times the standard budget plus ten solo runs each, for small effects.

Every submission of one base model (and sampling class) plays the same seed list of its tier:
``tier_seed(..., k)`` is the seed of round ``k`` of every pair of that group and of every member's
``k``-th solo run. Shared seeds make the comparisons paired across all quants of a model (each
candidate meets the baseline's puzzles), and the baseline's repeated plays of one puzzle are the
A/A noise floor. The list is an HMAC under the deployment's seed secret: unpredictable, but a
finished replay shows its puzzles, so a seed is sealed (seed and solutions hidden) while a match
on it is still queued or running. Rotating the secret starts a new list.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from arena.settings import TierName

SEED_LIST: Final = "qer-seeds-v2"
"""Version of the tier seed lists (the ``seed_policy`` of scheduled matches)."""
CALIBRATION_SEEDS: Final = "qer-calibration-v1"
"""Version of the calibration seed lists (never the measurement seeds: another HMAC message)."""


class Tier(BaseModel):
    """The counts of one tier."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    name: TierName
    """The tier's name (part of the fingerprint)."""
    solo_seeds: int = Field(ge=0)
    """Solo (bluff-mode) runs per submission, on seeds 0..solo_seeds-1 of the list."""
    rounds: int = Field(ge=1)
    """Budget of rounds per baseline-vs-candidate pair (a round: one seed, both orders). The
    sequential test stops the pair earlier once its verdict is decided."""
    aa_rounds: int = Field(ge=0)
    """A/A rounds: the baseline against itself (the noise floor)."""
    cc_rounds: int = Field(ge=0)
    """Rounds per candidate-vs-candidate pair (ratings and contagion)."""


TIERS: Final[dict[str, Tier]] = {
    "smoke": Tier(name="smoke", solo_seeds=2, rounds=2, aa_rounds=1, cc_rounds=1),
    "standard": Tier(name="standard", solo_seeds=0, rounds=50, aa_rounds=5, cc_rounds=3),
    "full": Tier(name="full", solo_seeds=10, rounds=150, aa_rounds=15, cc_rounds=10),
}


def tier(name: str) -> Tier:
    """The tier called ``name`` (ValueError naming the choices otherwise)."""
    try:
        return TIERS[name]
    except KeyError:
        raise ValueError(f"unknown tier {name!r}; choose one of {', '.join(TIERS)}") from None


def tier_seed(group: str, tier_name: str, index: int, secret: bytes) -> int:
    """Seed ``index`` of a group's (base model and sampling class) seed list in a tier."""
    message = f"{SEED_LIST}:{tier_name}:{group}:{index}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def calibration_seed(group: str, index: int, secret: bytes) -> int:
    """Seed ``index`` of a group's calibration list: disjoint in practice from the tier lists
    (another HMAC message), so the baseline never meets a measurement puzzle while calibrating."""
    message = f"{CALIBRATION_SEEDS}:{group}:{index}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1
