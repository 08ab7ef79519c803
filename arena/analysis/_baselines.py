"""The one rule for "the baseline of a base model".

A *group* is the submissions of one base model (its normalized key) with one sampling class:
only they are ever compared. Its **baseline** is its submission marked as the full-precision
baseline, not deleted, with the lowest id. Intake refuses a second one while the first is there
(active or paused), so normally there is exactly one; the lowest id decides if an older database
holds two. Every view of a verdict, rating, calibration or leaderboard row uses this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from arena.engine import Store

Group = tuple[str, str]
"""(base model key, sampling class)."""

_ROWS_SQL = (
    "SELECT id, base_model_key, settings_class, is_baseline, status FROM submissions "
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
