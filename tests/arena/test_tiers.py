"""Tiers: their counts, the lookup by name, and the seed lists (stable, in range, separate)."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from arena.engine._models import MatchSettings
from arena.settings import TierName
from arena.tiers import (
    CALIBRATION_SEEDS,
    SEED_LIST,
    TIERS,
    Tier,
    calibration_seed,
    tier,
    tier_seed,
)

GROUP = "smollm2-135m-instruct|greedy"
SECRET = b"secret"
GROUPS = st.text(max_size=40)
INDICES = st.integers(min_value=0, max_value=10**6)
SECRETS = st.binary(min_size=1, max_size=64)


def test_every_tier_name_has_its_tier() -> None:
    assert list(TIERS) == list(get_args(TierName)) == ["smoke", "standard", "full"]
    for name, counts in TIERS.items():
        assert counts.name == name
        assert tier(name) is counts


def test_an_unknown_tier_names_the_choices() -> None:
    with pytest.raises(
        ValueError, match=r"unknown tier 'huge'; choose one of smoke, standard, full"
    ):
        tier("huge")
    with pytest.raises(ValueError, match="unknown tier 'Standard'"):
        tier("Standard")  # names are exact


def test_the_tiers_are_what_the_module_promises() -> None:
    smoke, standard, full = TIERS["smoke"], TIERS["standard"], TIERS["full"]
    # smoke: two solo runs per submission and two rounds per pair
    assert (smoke.solo_seeds, smoke.rounds) == (2, 2)
    # standard: matches only, up to 50 rounds per pair
    assert (standard.solo_seeds, standard.rounds) == (0, 50)
    # full: three times the standard budget plus ten solo runs each
    assert (full.rounds, full.aa_rounds) == (3 * standard.rounds, 3 * standard.aa_rounds)
    assert full.solo_seeds == 10
    # the budgets grow from tier to tier
    for field in ("rounds", "aa_rounds", "cc_rounds"):
        assert getattr(smoke, field) < getattr(standard, field) < getattr(full, field)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "huge"},
        {"solo_seeds": -1},
        {"rounds": 0},
        {"aa_rounds": -1},
        {"cc_rounds": -1},
        {"rounds": "many"},
        {"extra_rounds": 1},
    ],
)
def test_tier_refuses_bad_counts(fields: dict[str, object]) -> None:
    base: dict[str, object] = {
        "name": "smoke",
        "solo_seeds": 0,
        "rounds": 1,
        "aa_rounds": 0,
        "cc_rounds": 0,
    }
    with pytest.raises(ValidationError):
        Tier.model_validate(base | fields)


def test_tiers_are_frozen() -> None:
    with pytest.raises(ValidationError):
        TIERS["standard"].rounds = 1  # type: ignore[misc]
    assert Tier.model_validate_json(TIERS["full"].model_dump_json()) == TIERS["full"]


def test_the_seed_lists_are_stable() -> None:
    """Pinned values: a changed derivation would silently start new seed lists (it needs a new
    ``SEED_LIST``/``CALIBRATION_SEEDS`` version instead)."""
    assert (SEED_LIST, CALIBRATION_SEEDS) == ("qer-seeds-v2", "qer-calibration-v1")
    assert [tier_seed(GROUP, "standard", k, SECRET) for k in range(2)] == [
        8562836381506372350,
        2529007553832345004,
    ]
    assert tier_seed(GROUP, "smoke", 0, SECRET) == 4638220174512056401
    assert calibration_seed(GROUP, 0, SECRET) == 746191035028957078


@given(GROUPS, st.sampled_from(list(TIERS)), INDICES, SECRETS)
def test_tier_seeds_are_deterministic_and_a_valid_match_seed(
    group: str, tier_name: str, index: int, secret: bytes
) -> None:
    seed = tier_seed(group, tier_name, index, secret)
    assert seed == tier_seed(group, tier_name, index, secret)
    assert 0 <= seed < 2**63
    assert MatchSettings(seed=seed).seed == seed


@given(GROUPS, INDICES, SECRETS)
def test_calibration_seeds_are_deterministic_and_a_valid_match_seed(
    group: str, index: int, secret: bytes
) -> None:
    seed = calibration_seed(group, index, secret)
    assert seed == calibration_seed(group, index, secret)
    assert 0 <= seed < 2**63
    assert MatchSettings(seed=seed).seed == seed


def test_every_input_changes_the_seed() -> None:
    base = tier_seed(GROUP, "standard", 0, SECRET)
    assert tier_seed(GROUP, "standard", 1, SECRET) != base
    assert tier_seed(GROUP, "full", 0, SECRET) != base
    assert tier_seed("other|greedy", "standard", 0, SECRET) != base
    assert tier_seed(GROUP, "standard", 0, b"rotated") != base  # a new secret, a new list
    cal = calibration_seed(GROUP, 0, SECRET)
    assert calibration_seed(GROUP, 1, SECRET) != cal
    assert calibration_seed("other|greedy", 0, SECRET) != cal
    assert calibration_seed(GROUP, 0, b"rotated") != cal


def test_one_list_has_no_repeats_and_calibration_never_meets_it() -> None:
    lists = {name: [tier_seed(GROUP, name, k, SECRET) for k in range(200)] for name in TIERS}
    calibration = {calibration_seed(GROUP, k, SECRET) for k in range(200)}
    for seeds in lists.values():
        assert len(set(seeds)) == len(seeds)
        assert not calibration & set(seeds)
    # Each tier has a list of its own.
    assert len({seeds[0] for seeds in lists.values()}) == len(TIERS)
