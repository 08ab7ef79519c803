"""The one rule for "the baseline of a base model", and how far it is trusted.

A *group* is the submissions of one base model (its normalized key) with one sampling class:
only they are ever compared. Its **baseline** is its live *claim* (a submission marked as the
full-precision baseline, not deleted, not demoted by the operator) with the lowest id. Every view
of a verdict, rating, calibration or leaderboard row uses this module.

Who may claim (``submissions.baselines`` keeps it so): a claim is ``confirmed`` at once in a run
without an operator, else ``pending`` until the operator confirms it. Confirming one claim demotes
the group's other claims, and no claim is taken while a confirmed one is live, so a confirmed
baseline is its group's only claim and the lowest id picks it. The group's **standing**:
``confirmed``; ``provisional`` (one pending claim: its verdicts are shown as provisional);
``disputed`` (two or more pending claims: no verdict until the operator picks one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from arena.engine import Store

Group = tuple[str, str]
"""(base model key, sampling class)."""
Standing = Literal["confirmed", "provisional", "disputed"]
"""How far a group's baseline is trusted (see the module's docstring)."""

_ROWS_SQL = (
    "SELECT id, base_model_key, settings_class, is_baseline, baseline_review, status "
    "FROM submissions "
    "WHERE status != 'deleted' ORDER BY id"
)


def group_of(row: Mapping[str, Any]) -> Group:
    """The group of a submission row (or anything with ``base_model_key`` and
    ``settings_class``)."""
    return str(row["base_model_key"]), str(row["settings_class"])


def choose_baselines(
    rows: Iterable[Mapping[str, Any]], *, active_only: bool = False
) -> dict[Group, int]:
    """Group -> its baseline's id, from submission rows (``id``, ``base_model_key``,
    ``settings_class``, ``is_baseline``, ``status``). ``active_only``: a paused baseline does
    not count (the scheduler: only active submissions play)."""
    found: dict[Group, int] = {}
    for row in sorted(rows, key=lambda r: int(r["id"])):
        status = row.get("status", "active")
        if not row["is_baseline"] or status == "deleted":
            continue
        if active_only and status != "active":
            continue
        found.setdefault(group_of(row), int(row["id"]))
    return found


def review_of(row: Mapping[str, Any]) -> str | None:
    """A row's baseline review (``pending``, ``confirmed``, ``demoted``; None for a candidate).
    A claim read without its review (a row built by hand) counts as ``confirmed``."""
    if not row["is_baseline"]:
        return row.get("baseline_review")
    return row.get("baseline_review") or "confirmed"


def baseline_standings(rows: Iterable[Mapping[str, Any]]) -> dict[Group, Standing]:
    """Group -> the standing of its baseline (groups without a live claim left out), from rows
    with ``baseline_review`` besides :func:`choose_baselines`' fields."""
    rows = list(rows)
    claims: dict[Group, list[str | None]] = {}
    for row in sorted(rows, key=lambda r: int(r["id"])):
        if row["is_baseline"] and row.get("status", "active") != "deleted":
            claims.setdefault(group_of(row), []).append(review_of(row))
    standings: dict[Group, Standing] = {}
    for group, reviews in claims.items():
        if reviews[0] == "confirmed":
            standings[group] = "confirmed"
        else:
            standings[group] = "disputed" if reviews.count("pending") > 1 else "provisional"
    return standings


def model_baselines(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Base model key -> the baseline of its oldest group that has one (views that pool a base
    model's sampling classes, such as ratings, anchor there)."""
    found: dict[str, int] = {}
    for (key, _), baseline in sorted(choose_baselines(rows).items(), key=lambda kv: kv[1]):
        found.setdefault(key, baseline)
    return found


def baselines(store: Store) -> dict[Group, int]:
    """Every group's baseline (active or paused)."""
    return choose_baselines(store.query(_ROWS_SQL))


def baseline_of(store: Store, group: Group) -> int | None:
    """The baseline of one group, if it has one."""
    return baselines(store).get(group)


def baseline_for(store: Store, submission_id: int) -> int | None:
    """The baseline of a submission's group (the submission itself when it is the baseline);
    None for an unknown or deleted submission or a group without a baseline."""
    rows = store.query(_ROWS_SQL)
    me = next((r for r in rows if r["id"] == submission_id), None)
    if me is None:
        return None
    return choose_baselines(rows).get(group_of(me))
