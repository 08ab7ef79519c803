"""Calibrations in the database: one per base-model group and baseline (and search config).

A calibration is ``running`` while its runs are played (solo matches with ``purpose =
'calibration'``, each linked to a queue job whose payload names the calibration and the run's
index); the search itself is replayed from those stored runs (``arena.analysis.calibration``),
so nothing but the final result is written here: the profile, the solve rates and the rooms
without signal.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from arena.analysis._calibration import (
    METHOD,
    CalibrationConfig,
    CalibrationResult,
    NoSignal,
    Run,
    run_of,
)
from arena.engine import Store, now, profiles


class CalibrationRecord(BaseModel):
    """A stored calibration."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    id: int
    """Row id."""
    base_model_key: str
    """The base model it calibrates (its normalized key)."""
    settings_class: str
    """The sampling class of the group."""
    baseline_id: int | None
    """The baseline submission that played the runs (None: a command-line calibration)."""
    status: Literal["running", "done"]
    """``running`` while runs are played; ``done`` once the profile is chosen."""
    method: str
    """Version of the search and choice rules."""
    config: CalibrationConfig
    """How it searched."""
    profile: dict[str, int] | None = None
    """Room id -> the chosen level (once done)."""
    solve_rates: dict[str, dict[str, list[int]]] | None = None
    """Room id -> level -> [solved, played] (once done)."""
    no_signal: list[NoSignal] = []
    """Rooms without signal for this model (once done)."""
    created_at: str
    """When it started."""
    finished_at: str | None = None
    """When it was done."""

    @property
    def dead_rooms(self) -> list[str]:
        return [s.room_id for s in self.no_signal]


def _record(row: dict[str, Any]) -> CalibrationRecord:
    return CalibrationRecord(
        id=row["id"],
        base_model_key=row["base_model_key"],
        settings_class=row["settings_class"],
        baseline_id=row["baseline_id"],
        status=row["status"],
        method=row["method"],
        config=CalibrationConfig.model_validate_json(row["config"]),
        profile=json.loads(row["profile"]) if row["profile"] else None,
        solve_rates=json.loads(row["solve_rates"]) if row["solve_rates"] else None,
        no_signal=json.loads(row["dead_rooms"]) if row["dead_rooms"] else [],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


def get_or_create(
    store: Store, base_model_key: str, settings_class: str, baseline_id: int | None,
    config: CalibrationConfig,
) -> CalibrationRecord:  # fmt: skip
    """The calibration of this group, baseline and config, started now if there is none (a
    read first: the scheduler asks on every planning tick)."""
    blob = config.model_dump_json()
    key = (base_model_key, settings_class, baseline_id, METHOD, blob)
    find = (
        "SELECT * FROM calibrations WHERE base_model_key = ? AND settings_class = ? "
        "AND baseline_id IS ? AND method = ? AND config = ?"
    )
    rows = store.query(find, key)
    if rows:
        return _record(rows[0])

    def run(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT OR IGNORE INTO calibrations (base_model_key, settings_class, baseline_id, "
            "status, method, config, created_at) VALUES (?, ?, ?, 'running', ?, ?, ?)",
            (*key, now()),
        )

    store.write(run)
    return _record(store.query(find, key)[0])


def get(store: Store, calibration_id: int) -> CalibrationRecord | None:
    rows = store.query("SELECT * FROM calibrations WHERE id = ?", (calibration_id,))
    return _record(rows[0]) if rows else None


def records(store: Store, *, status: str | None = None) -> list[CalibrationRecord]:
    """Every calibration (``status``: only those), oldest first."""
    sql = "SELECT * FROM calibrations"
    params: tuple[Any, ...] = ()
    if status is not None:
        sql += " WHERE status = ?"
        params = (status,)
    return [_record(row) for row in store.query(sql + " ORDER BY id", params)]


_RUNS_SQL = (
    "SELECT m.id, m.profile, CAST(json_extract(j.payload, '$.round') AS INTEGER) AS round "
    "FROM matches m JOIN job_queue j ON j.id = m.job_id "
    "WHERE m.status = 'done' AND m.purpose = 'calibration' "
    "AND json_extract(j.payload, '$.calibration') = ? ORDER BY round, m.id"
)


def runs_of(store: Store, calibration_id: int) -> list[Run]:
    """The finished runs of a calibration, in the order they were planned."""
    matches = store.query(_RUNS_SQL, (calibration_id,))
    if not matches:
        return []
    marks = ", ".join("?" * len(matches))
    rooms: dict[str, list[dict[str, Any]]] = {}
    for row in store.query(
        f"SELECT match_id, room_id, initial_solved, outcome FROM rooms_played "  # noqa: S608
        f"WHERE slot = 'a' AND match_id IN ({marks})",
        tuple(m["id"] for m in matches),
    ):
        rooms.setdefault(row["match_id"], []).append(row)
    return [run_of(rooms.get(m["id"], []), json.loads(m["profile"])) for m in matches]


def finish(store: Store, calibration_id: int, result: CalibrationResult) -> None:
    """Record the chosen profile (once: a calibration already done keeps its result)."""

    def run(db: sqlite3.Connection) -> None:
        db.execute(
            "UPDATE calibrations SET status = 'done', profile = ?, solve_rates = ?, "
            "dead_rooms = ?, finished_at = ? WHERE id = ? AND status = 'running'",
            (
                json.dumps(result.profile),
                json.dumps(result.solve_rates),
                json.dumps([s.model_dump() for s in result.no_signal]),
                now(),
                calibration_id,
            ),
        )

    store.write(run)


def save_result(
    store: Store, base_model_key: str, settings_class: str, config: CalibrationConfig,
    result: CalibrationResult,
) -> int:  # fmt: skip
    """Store a finished command-line calibration (no baseline submission); its id."""
    record = get_or_create(store, base_model_key, settings_class, None, config)
    finish(store, record.id, result)
    return record.id


def no_signal_rooms(store: Store, baseline_id: int, profile_text: str | None) -> dict[str, str]:
    """Rooms the baseline's calibration found without signal (room id -> why), for the profile
    the verdict's pairs were played on (none when no calibration chose that profile)."""
    found: dict[str, str] = {}
    for record in records(store, status="done"):
        if record.baseline_id != baseline_id or record.profile is None:
            continue
        if profile_text is not None and profiles.text(record.profile) != profile_text:
            continue
        found.update({s.room_id: s.reason for s in record.no_signal})
    return found


class CalibrationSummary(BaseModel):
    """A calibration as anyone may see it (``GET /api/calibrations``, the leaderboard): its
    group, state and result; never an endpoint, key or the search's internals."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    id: int
    """Calibration id."""
    base_model_key: str
    """The base model of the group it calibrates (its normalized key)."""
    settings_class: str
    """The sampling class of the group (its members share these sampling settings)."""
    baseline_id: int | None
    """The baseline submission that played the runs (None: a command-line calibration)."""
    status: Literal["running", "done"]
    """``running`` while runs are played (the group plays nothing else); ``done`` once the
    profile is chosen."""
    runs_played: int
    """Calibration runs finished so far."""
    runs_planned: int
    """Calibration runs before the profile is chosen."""
    target: float
    """The baseline solve rate aimed for in every room."""
    profile: dict[str, int] | None = None
    """Room id -> the chosen level (None while running)."""
    profile_label: str | None = None
    """The profile for people: ``Cipher 4 · Map 6 · ...`` (None while running)."""
    solve_rates: dict[str, dict[str, list[int]]] | None = None
    """Room id -> level -> ``[solved, played]``: the baseline's first answers over the runs
    (None while running)."""
    chosen_rates: dict[str, list[int]] = {}
    """Room id -> ``[solved, played]`` at the chosen level (empty while running)."""
    no_signal: dict[str, str] = {}
    """Rooms without signal for this model (room id -> why): verdicts leave them out."""
    created_at: str
    """When it started."""
    finished_at: str | None = None
    """When the profile was chosen."""

    def state(self) -> str:
        """For people: ``calibrating: 12 of 32 runs`` while running, else the profile."""
        if self.status == "running" or self.profile_label is None:
            return f"calibrating: {self.runs_played} of {self.runs_planned} runs"
        return self.profile_label


_RUN_COUNTS_SQL = (
    "SELECT CAST(json_extract(j.payload, '$.calibration') AS INTEGER) AS calibration, "
    "COUNT(*) AS n FROM matches m JOIN job_queue j ON j.id = m.job_id "
    "WHERE m.status = 'done' AND m.purpose = 'calibration' GROUP BY calibration"
)


def summary(record: CalibrationRecord, runs_played: int) -> CalibrationSummary:
    """The public view of a stored calibration that has played ``runs_played`` runs."""
    profile, rates = record.profile, record.solve_rates
    chosen: dict[str, list[int]] = {}
    if profile is not None and rates is not None:
        chosen = {
            room: rates.get(room, {}).get(str(level), [0, 0]) for room, level in profile.items()
        }
    return CalibrationSummary(
        id=record.id,
        base_model_key=record.base_model_key,
        settings_class=record.settings_class,
        baseline_id=record.baseline_id,
        status=record.status,
        runs_played=runs_played,
        runs_planned=record.config.runs,
        target=record.config.target,
        profile=profile,
        profile_label=profiles.describe(profile) if profile is not None else None,
        solve_rates=rates,
        chosen_rates=chosen,
        no_signal={s.room_id: s.reason for s in record.no_signal},
        created_at=record.created_at,
        finished_at=record.finished_at,
    )


def summaries(store: Store) -> list[CalibrationSummary]:
    """Every calibration, oldest first, except those of a deleted baseline. A command-line
    calibration (no runs in the database) counts the plays of its most played room as runs."""
    played = {row["calibration"]: int(row["n"]) for row in store.query(_RUN_COUNTS_SQL)}
    deleted = {
        row["id"] for row in store.query("SELECT id FROM submissions WHERE status = 'deleted'")
    }
    found = []
    for record in records(store):
        if record.baseline_id not in deleted:
            found.append(summary(record, max(played.get(record.id, 0), _stored_runs(record))))
    return found


def _stored_runs(record: CalibrationRecord) -> int:
    """The plays of the most played room in the stored solve rates (a lower bound on runs)."""
    rates = record.solve_rates or {}
    return max(
        (sum(cell[1] for cell in by_level.values()) for by_level in rates.values()), default=0
    )
