"""What the planner reads from the store: the active entrants, what each group plays (running
its baseline's calibration), the pairs whose verdict is decided and the collapsed candidates."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from arena.analysis import calibration, calibration_store, group_verdicts
from arena.engine import Store, effective_window, profiles
from arena.probes import is_collapsed
from arena.schedule._planner import (
    Entrant,
    GroupLevels,
    calibration_config,
    endpoint_of,
    group_baselines,
)
from arena.settings import SchedulerSettings

log = logging.getLogger(__name__)


def entrants(store: Store) -> list[Entrant]:
    """The active submissions, by id."""
    rows = store.query(
        "SELECT id, base_model_key, settings_class, is_baseline, base_url FROM submissions "
        "WHERE status = 'active' ORDER BY id"
    )
    return [
        Entrant(
            id=r["id"],
            base_model_key=r["base_model_key"],
            settings_class=r["settings_class"],
            is_baseline=bool(r["is_baseline"]),
            endpoint=endpoint_of(r["base_url"]),
        )
        for r in rows
    ]


def group_levels(
    store: Store, settings: SchedulerSettings, entrants: Iterable[Entrant]
) -> dict[tuple[str, str], GroupLevels]:
    """What each group plays: a fixed level for every room, or (``difficulty =
    calibrate``) the profile its baseline's calibration chose, or, while that calibration
    runs, its next run. A calibration whose runs are all played is finished here."""
    members = sorted(entrants, key=lambda e: e.id)
    found: dict[tuple[str, str], GroupLevels] = {}
    if isinstance(settings.difficulty, int):
        fixed = profiles.uniform(settings.difficulty)
        return {(e.base_model_key, e.settings_class): GroupLevels(fixed) for e in members}
    for e in members:
        key = (e.base_model_key, e.settings_class)
        if key in found:
            continue
        group = [m for m in members if (m.base_model_key, m.settings_class) == key]
        chosen = group_baselines(group).get(key)
        base = next((m for m in group if m.id == chosen), None)
        if base is None:  # nothing to calibrate against: candidates meet at level 1
            found[key] = GroupLevels(profiles.uniform(1))
            continue
        found[key] = _calibrated(store, settings, key, base.id)
    return found


def _calibrated(
    store: Store, settings: SchedulerSettings, key: tuple[str, str], baseline: int
) -> GroupLevels:
    rows = store.query(
        "SELECT context_tokens, server_context_tokens FROM submissions WHERE id = ?", (baseline,)
    )
    window = (
        effective_window(rows[0]["context_tokens"], rows[0]["server_context_tokens"])
        if rows
        else None
    )
    config = calibration_config(settings, window)
    record = calibration_store.get_or_create(store, key[0], key[1], baseline, config)
    if record.status == "done" and record.profile is not None:
        return GroupLevels(record.profile, record.id, baseline=baseline)
    runs = calibration_store.runs_of(store, record.id)
    if len(runs) >= config.runs:
        found = calibration.result(runs, config)
        calibration_store.finish(store, record.id, found)
        silent = ", ".join(found.dead_rooms) or "none"
        log.info("calibrated %s (baseline #%d): %s; no signal: %s", key[0], baseline,
                 profiles.text(found.profile), silent)  # fmt: skip
        return GroupLevels(found.profile, record.id, baseline=baseline)
    return GroupLevels(
        None, record.id, next_run=calibration.next_profile(runs, config), baseline=baseline
    )


def decided_pairs(
    store: Store,
    settings: SchedulerSettings,
    entrants: Iterable[Entrant],
    levels: dict[tuple[str, str], GroupLevels] | None = None,
) -> set[tuple[int, int]]:
    """Baseline-vs-candidate pairs whose verdict (on this tier's matches and the group's
    profile) is decided: the sequential test stops scheduling them."""
    members = list(entrants)
    levels = levels if levels is not None else group_levels(store, settings, members)
    decided: set[tuple[int, int]] = set()
    chosen = group_baselines(members)
    for base in (e for e in members if chosen.get(e.group) == e.id):
        plan = levels.get(base.group)
        if plan is None or plan.profile is None:
            continue
        wanted = profiles.text(plan.profile)
        for cand in members:
            if cand.id == base.id or cand.group != base.group:
                continue
            for print_, found in group_verdicts(store, cand.id, base.id):
                if (
                    print_.get("tier") == settings.tier
                    and print_.get("adversarial") == settings.adversarial.value
                    and print_.get("profile") == wanted
                    and found.decided
                ):
                    decided.add((min(cand.id, base.id), max(cand.id, base.id)))
    return decided


def collapsed(store: Store, settings: SchedulerSettings) -> set[int]:
    """Candidates whose latest KL probe says the model collapsed (no match is spent on
    them)."""
    found: set[int] = set()
    for row in store.query(
        "SELECT submission_id, result FROM probes p WHERE kind = 'kl' AND status = 'done' "
        "AND id = (SELECT MAX(id) FROM probes q WHERE q.submission_id = p.submission_id "
        "AND q.kind = 'kl')"
    ):
        if is_collapsed(json.loads(row["result"]), settings):
            found.add(row["submission_id"])
    return found
