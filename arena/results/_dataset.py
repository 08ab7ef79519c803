"""The publishable slice of the arena database: export to parquet, and restore from it.

An explicit allowlist: one pydantic model per published table (``extra="forbid"``), each row read
with an explicit column list and validated through its model, written to a deterministic path
``data/<table>/<table>-00000.parquet`` (rows sorted by key), plus a dataset card ``README.md``
whose YAML ``configs:`` make ``datasets.load_dataset(<repo>, "turns")`` work.

Never published: API keys, endpoint URLs (and any URL or endpoint host inside error texts:
replaced by ``<endpoint>``), deletion tokens and their hashes, client hashes, the submission
health probe, scheduler internals. Matches still running, and finished matches whose seed a
scheduled match has yet to play (their replays are sealed), are left out until they may be shown;
so are calibrations still running. Matches stored before difficulty profiles existed are published
with the profile they played (every room at ``difficulty``).

``restore`` rebuilds a database from such a folder: submissions come back ``paused`` with a note
(their endpoint and key were never published); restoring the same snapshot twice changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, model_validator

from arena.engine import (
    SCORE_TABLE,
    SCORING_VERSION,
    SEALED_SQL,
    Store,
    endpoint_hosts,
    now,
    scrub_endpoints,
)
from submissions.models import SubmissionPublic

DATASET_VERSION = "qer-dataset-v1"
RESTORED_NOTE = (
    "restored from the published dataset: its endpoint URL and API key are never published; "
    "register the endpoint again to play"
)


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    table: ClassVar[str]
    primary_key: ClassVar[tuple[str, ...]]
    description: ClassVar[str]


class SubmissionRow(_Row, SubmissionPublic):
    """A registered endpoint, without where it lives or who registered it (the fields of
    ``submissions.models.SubmissionPublic``, and its sampling as JSON)."""

    table = "submissions"
    primary_key = ("id",)
    description = "one row per registered endpoint (no URL, key, token or client)"
    sampling: str
    """Sampling settings sent with every request, as JSON (temperature, top_p, top_k,
    max_tokens, seed, thinking)."""


class ContestantRow(_Row):
    """One side of one match (a submission's settings at the time)."""

    table = "contestants"
    primary_key = ("id",)
    description = "one row per side of a match: model labels and sampling (no URL)"
    id: int
    submission_id: int | None
    """The submission it played for; empty for ad-hoc matches and once that submission was
    deleted (its row is not published, and its matches stay public without the link)."""
    model: str
    base_model: str
    quant: str
    bits_per_weight: float | None
    sampling: str
    has_api_key: bool
    created_at: str


class MatchRow(_Row):
    """A match: settings, contestants, outcome summary."""

    table = "matches"
    primary_key = ("id",)
    description = (
        "one row per match: seed, difficulty profile, purpose, mode, contestants, per-side summary"
    )
    id: str
    seed: int
    difficulty: int
    """The level of every room; -1 when the profile mixes levels."""
    profile: str
    """The difficulty profile: room id -> level, JSON text in play order
    (``{"cipher-v3": 4, "map-v2": 6, ...}``). Matches stored before profiles existed played every
    room of ``room_ids`` at ``difficulty``: their profile is that, spelled out."""
    purpose: str = "measure"
    """``measure``, or ``calibration``: a solo run of a baseline searching its levels (see
    ``calibrations``), never scored or paired. Snapshots published before it existed hold
    measurements only."""
    adversarial: str
    retries: int
    scoring_version: str
    room_ids: str
    settings: str
    contestant_a: int
    contestant_b: int | None
    status: str
    started_at: str
    finished_at: str | None
    wall_seconds: float | None
    error: str | None
    summary: str | None

    @model_validator(mode="before")
    @classmethod
    def _uniform_profile(cls, data: Any) -> Any:
        """A match without a profile (stored, or published, before profiles existed): every room
        at ``difficulty``, as ``arena.verdicts.match_profile`` reads it."""
        if isinstance(data, dict) and data.get("profile") is None and "room_ids" in data:
            rooms = json.loads(data["room_ids"])
            data = {**data, "profile": json.dumps(dict.fromkeys(rooms, data.get("difficulty")))}
        return data


class PuzzleRow(_Row):
    """A room's puzzle in a match, with its solution and key."""

    table = "puzzles"
    primary_key = ("match_id", "room_index")
    description = "one row per room of a match: prompt, solution, key, par time, data"
    match_id: str
    room_index: int
    room_id: str
    seed: int
    difficulty: int
    prompt: str
    solution: str
    key: str
    par_seconds: float
    data: str


class RoomRow(_Row):
    """One contestant's result in one room."""

    table = "rooms"
    primary_key = ("match_id", "room_index", "slot")
    description = "one row per room and side: solved, outcome, points, time/tokens to solution"
    match_id: str
    room_index: int
    slot: str
    room_id: str
    initial_solved: bool
    final_solved: bool
    escaped: bool
    outcome: str
    retries_used: int
    points: int
    breakdown: str
    time_to_solution_s: float | None
    tokens_to_solution: int | None


class TurnRow(_Row):
    """One request to a contestant and its answer: the full transcript, turn by turn."""

    table = "turns"
    primary_key = ("id",)
    description = (
        "one row per call: the messages it added, the reply, reasoning, parsed answer, verdict, "
        "tokens, finish reason, timings"
    )
    id: int
    match_id: str
    room_index: int
    slot: str
    phase: str
    seq: int
    context_messages: int
    request_messages: str
    response_text: str
    reasoning_text: str | None
    parsed_answer: str | None
    solved: bool
    verdict_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    usage_source: str | None
    finish_reason: str | None
    ttft_s: float | None
    latency_s: float | None
    decode_tps: float | None
    attempts: int
    error_kind: str | None
    error: str | None
    started_at: str


class ReferenceRow(_Row):
    """A base model + quant known only through imported results (no endpoint)."""

    table = "references"
    primary_key = ("id",)
    description = "one row per reference entry: a base model and quant with imported results"
    id: int
    base_model: str
    base_model_key: str
    quant: str
    bits_per_weight: float | None
    file_size_gb: float | None
    hardware: str
    engine: str
    created_at: str


class ImportedRow(_Row):
    """A number imported from lm-evaluation-harness or llama-bench (never an escape-room score)."""

    table = "imported"
    primary_key = ("id",)
    description = (
        "one row per imported result (lm-eval metric with stderr, llama-bench tok/s with "
        "stddev), attached to a submission or a reference entry"
    )
    id: int
    submission_id: int | None
    reference_id: int | None
    source: str
    task: str
    metric: str
    value: float
    stderr: float | None
    n: int | None
    details: str
    file_sha256: str
    imported_at: str


class ProbeRow(_Row):
    """A KL or speed probe result of a submission (``arena.probes``)."""

    table = "probes"
    primary_key = ("id",)
    description = (
        "one row per probe: `kl` (next-token distributions vs the baseline: approximate KL, "
        "top-1 agreement) or `speed` (llama-bench-style pp/tg tok/s, TTFT); `result` is JSON"
    )
    id: int
    submission_id: int
    kind: str
    baseline_id: int | None
    probe_version: str
    status: str
    result: str
    started_at: str
    finished_at: str


class CalibrationRow(_Row):
    """A finished calibration of a base-model group's baseline (``arena.analysis._calibration``)."""

    table = "calibrations"
    primary_key = ("id",)
    description = (
        "one row per finished calibration of a group's baseline: the level chosen per room, the "
        "baseline's solve rates per level, the rooms without signal (verdicts leave them out); "
        "its runs are the matches with `purpose` `calibration`"
    )
    id: int
    """Row id."""
    base_model_key: str
    """The base model calibrated (its normalized key, as ``submissions.base_model_key``)."""
    settings_class: str
    """The group's sampling class: the sampling settings as JSON (as ``submissions.sampling``)."""
    baseline_id: int | None
    """The baseline submission that played the runs; None for a command-line calibration."""
    status: str
    """``done`` (a calibration still running is published once it is done)."""
    method: str
    """Version of the search and choice rules (``staircase-v1``)."""
    config: str
    """How it searched, JSON (``arena.calibration.CalibrationConfig``: target solve rate, runs,
    start level, steps, context window, rooms, retries)."""
    profile: str | None
    """The chosen profile, JSON room id -> level."""
    solve_rates: str | None
    """JSON room id -> level -> ``[solved, played]``: the baseline's first answers over the
    runs."""
    dead_rooms: str | None
    """JSON list of the rooms without signal for this model: ``{room_id, level, solved, played,
    reason}``."""
    created_at: str
    """When it started."""
    finished_at: str | None
    """When it was done."""


ROW_MODELS: tuple[type[_Row], ...] = (
    SubmissionRow, ContestantRow, MatchRow, PuzzleRow, RoomRow, TurnRow, ReferenceRow,
    ImportedRow, ProbeRow, CalibrationRow,
)  # fmt: skip
"""The published tables, in dependency order."""

_PUBLIC_MATCH = f"m.status != 'running' AND NOT {SEALED_SQL}"
"""Matches that may be shown: over, and not sealed (no scheduled match still plays their seed)."""

_SQL: dict[str, str] = {
    "submissions": "SELECT id, display_name, base_model, base_model_key, quant, bits_per_weight, "
    "file_size_gb, hardware, engine, model, sampling, is_baseline, status, created_at, "
    "context_tokens FROM submissions WHERE status != 'deleted' ORDER BY id",
    "contestants": "SELECT c.id, CASE WHEN c.submission_id IN (SELECT id FROM submissions "
    "WHERE status != 'deleted') THEN c.submission_id END AS submission_id, c.model, "
    "c.base_model, c.quant, "
    "c.bits_per_weight, c.sampling, c.has_api_key, c.created_at FROM contestants c "
    "WHERE c.id IN (SELECT contestant_a FROM matches m WHERE {public} "
    "UNION SELECT contestant_b FROM matches m WHERE {public}) ORDER BY c.id",
    "matches": "SELECT m.id, m.seed, m.difficulty, m.profile, m.purpose, m.adversarial, "
    "m.retries, m.scoring_version, m.room_ids, m.settings, m.contestant_a, m.contestant_b, "
    "m.status, m.started_at, m.finished_at, m.wall_seconds, m.error, m.summary FROM matches m "
    "WHERE {public} ORDER BY m.id",
    "puzzles": "SELECT p.match_id, p.room_index, p.room_id, p.seed, p.difficulty, p.prompt, "
    "p.solution, p.key, p.par_seconds, p.data FROM puzzles p "
    "JOIN matches m ON m.id = p.match_id WHERE {public} ORDER BY p.match_id, p.room_index",
    "rooms": "SELECT r.* FROM rooms_played r JOIN matches m ON m.id = r.match_id "
    "WHERE {public} ORDER BY r.match_id, r.room_index, r.slot",
    "turns": "SELECT c.* FROM calls c JOIN matches m ON m.id = c.match_id WHERE {public} "
    "ORDER BY c.id",
    "references": "SELECT * FROM reference_entries ORDER BY id",
    "imported": "SELECT r.* FROM imported_results r LEFT JOIN submissions s "
    "ON s.id = r.submission_id WHERE s.id IS NULL OR s.status != 'deleted' ORDER BY r.id",
    "probes": "SELECT p.id, p.submission_id, p.kind, p.baseline_id, p.probe_version, p.status, "
    "p.result, p.started_at, p.finished_at FROM probes p JOIN submissions s "
    "ON s.id = p.submission_id WHERE s.status != 'deleted' ORDER BY p.id",
    "calibrations": "SELECT c.id, c.base_model_key, c.settings_class, c.baseline_id, c.status, "
    "c.method, c.config, c.profile, c.solve_rates, c.dead_rooms, c.created_at, c.finished_at "
    "FROM calibrations c LEFT JOIN submissions s ON s.id = c.baseline_id "
    "WHERE c.status = 'done' AND (c.baseline_id IS NULL OR s.status != 'deleted') ORDER BY c.id",
}
_SCRUBBED = {"matches": ("error",), "turns": ("error",), "probes": ("result",)}
"""Free-text columns an endpoint error can reach: URLs and endpoint hosts are replaced."""


class SliceStats(BaseModel):
    """What an export wrote."""

    rows: dict[str, int]
    files: dict[str, str]
    """Table -> path relative to the export folder."""
    bytes: int
    """Total size of the files written (parquet and card)."""
    matches: int


def _pa_type(annotation: Any) -> pa.DataType:
    text = str(annotation)
    if "bool" in text:
        return pa.bool_()
    if "int" in text:
        return pa.int64()
    if "float" in text:
        return pa.float64()
    return pa.string()


def schema_of(model: type[_Row]) -> pa.Schema:
    """The parquet schema of a published table (from its pydantic model)."""
    return pa.schema(
        [
            pa.field(name, _pa_type(field.annotation), nullable="None" in str(field.annotation))
            for name, field in model.model_fields.items()
        ]
    )


def read_slice(store: Store) -> dict[str, list[_Row]]:
    """The publishable rows of every table, validated through their models, in one transaction."""
    with store.reader() as db:
        db.execute("BEGIN")
        try:
            hosts = endpoint_hosts(
                r[0]
                for r in db.execute(
                    "SELECT base_url FROM contestants UNION SELECT base_url FROM submissions"
                )
            )
            out: dict[str, list[_Row]] = {}
            for model in ROW_MODELS:
                sql = _SQL[model.table].format(public=_PUBLIC_MATCH)
                rows = []
                for raw in db.execute(sql):
                    row = dict(raw)
                    for column in _SCRUBBED.get(model.table, ()):
                        row[column] = scrub_endpoints(row[column], hosts)
                    rows.append(model.model_validate(row))
                out[model.table] = rows
            return out
        finally:
            db.execute("ROLLBACK")


def _write_parquet(path: Path, model: type[_Row], rows: list[_Row]) -> None:
    schema = schema_of(model)
    table = pa.Table.from_pylist([r.model_dump() for r in rows], schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="zstd", write_statistics=False, store_schema=False)
    tmp.replace(path)


def export(store: Store, folder: Path) -> SliceStats:
    """Write the slice to ``folder`` (deterministic: the same database gives the same bytes).
    Files of tables no longer present are left alone; every table file is rewritten."""
    rows = read_slice(store)
    files: dict[str, str] = {}
    total = 0
    for model in ROW_MODELS:
        relative = f"data/{model.table}/{model.table}-00000.parquet"
        target = folder / relative
        _write_parquet(target, model, rows[model.table])
        files[model.table] = relative
        total += target.stat().st_size
    card = folder / "README.md"
    card.write_text(dataset_card({t: len(r) for t, r in rows.items()}))
    total += card.stat().st_size
    return SliceStats(
        rows={t: len(r) for t, r in rows.items()},
        files=files,
        bytes=total,
        matches=len(rows["matches"]),
    )


def dataset_card(counts: dict[str, int]) -> str:
    """The dataset card: YAML configs (one per table), schema, licence, scoring."""
    configs = "\n".join(
        f"- config_name: {m.table}\n  data_files:\n  - split: train\n"
        f"    path: data/{m.table}/*.parquet"
        for m in ROW_MODELS
        if counts.get(m.table, 0) > 0  # datasets cannot build a split from an empty file
    )
    tables = "\n".join(
        f"### `{m.table}` ({counts.get(m.table, 0)} rows)\n{m.description}.\n\n"
        + "| column | type |\n|---|---|\n"
        + "\n".join(f"| `{n}` | {_pa_type(f.annotation)} |" for n, f in m.model_fields.items())
        for m in ROW_MODELS
    )
    points = ", ".join(
        f"{rule.replace('_', ' ')} {value:+d}" for rule, value in SCORE_TABLE.items()
    )
    return f"""---
license: cc-by-4.0
pretty_name: Quant Escape Room results
tags:
- quantization
- llm-evaluation
configs:{chr(10) + configs if configs else " []"}
---
# Quant Escape Room results

Matches between quantizations of the same base model in a six-room escape room (Cipher, Map,
Mechanism, Archive, Paradox, Warden), generated from a seed and validated by code. Every turn is
here: prompts, answers, reasoning, verdicts, tokens and timings. Format `{DATASET_VERSION}`.

```python
from datasets import load_dataset
turns = load_dataset("<this repo>", "turns", split="train")
```

Not published: API keys, endpoint URLs (and hosts inside error texts, shown as `<endpoint>`),
deletion tokens, client addresses. Matches still being played, or whose seed is still to be played
by a scheduled match, appear once they are over; a calibration, once it is done.

## Difficulty profiles and calibration
Every room of a match plays its own level (0-10): `matches.profile` is that room id -> level map
(`matches.difficulty` is the common level, or -1 when the levels differ; matches played before
profiles existed show every room at their `difficulty`). Before candidates play, each base
model's baseline is calibrated: solo runs (`matches.purpose` = `calibration`, never scored or
paired; every other match is a `measure`) search the level at which it solves a target share
of a room's puzzles (60 % by default; see `calibrations.config`). `calibrations` holds the
result: the chosen profile, the baseline's solve rates per level, and the rooms without signal
for that model, which verdicts leave out.

## Scoring (`{SCORING_VERSION}`)
Per room and side: {points} (under par: per full 10 s under the room's par time, only when
escaped). A match's score is the sum over its rooms; `matches.summary` holds per-side totals.
Outcomes after the adversarial turn: held_ground (right, stayed right), manipulated (right, then
wrong), self_corrected (wrong, then right), trapped (wrong, stayed wrong), unchallenged, forfeit.

## Tables
A table with no rows yet has no config (its empty parquet file is there all the same).
JSON-valued columns (`sampling`, `settings`, `room_ids`, `profile`, `summary`, `data`,
`breakdown`, `request_messages`, `result`, `config`, `solve_rates`, `dead_rooms`; a
calibration's `settings_class` is its group's `sampling`) are JSON text.
`turns.request_messages` holds only the messages a call added; a call's full request is every
earlier call's messages and replies (same match and slot) plus its own.

{tables}

## Licence
CC BY 4.0. Model outputs remain subject to their models' licences.
"""


# -- restore ------------------------------------------------------------------------------------
def read_folder(folder: Path) -> dict[str, list[_Row]]:
    """Every table of an exported folder, validated through the models (extra columns refused)."""
    out: dict[str, list[_Row]] = {}
    for model in ROW_MODELS:
        path = folder / f"data/{model.table}/{model.table}-00000.parquet"
        records = pq.read_table(path).to_pylist() if path.exists() else []
        out[model.table] = [model.model_validate(r) for r in records]
    return out


def is_empty(store: Store) -> bool:
    rows = store.query(
        "SELECT (SELECT COUNT(*) FROM submissions) + (SELECT COUNT(*) FROM matches) AS n"
    )
    return rows[0]["n"] == 0


def restore(store: Store, folder: Path) -> dict[str, int]:
    """Insert a published slice into ``store`` (rows already present are kept as they are);
    returns the rows inserted per table. One transaction: all or nothing."""
    data = read_folder(folder)

    def run(db: sqlite3.Connection) -> dict[str, int]:
        inserted: dict[str, int] = {}
        for model in ROW_MODELS:
            count = 0
            for row in data[model.table]:
                count += _insert(db, row)
            inserted[model.table] = count
        return inserted

    return store.write(run)


def _insert(db: sqlite3.Connection, row: _Row) -> int:
    values = row.model_dump()
    table = row.table
    if isinstance(row, SubmissionRow):
        sampling = values["sampling"]
        values.update(
            base_url=f"restored://submission/{row.id}",
            api_key_encrypted=None,
            settings_class=sampling,
            status="paused",
            status_reason=RESTORED_NOTE,
            deletion_token_hash="",
            client_hash="",
            probe="{}",
            updated_at=now(),
            source="restored",
        )
    elif isinstance(row, ContestantRow):
        values["base_url"] = ""
    target = {
        "rooms": "rooms_played", "turns": "calls", "references": "reference_entries",
        "imported": "imported_results",
    }.get(table, table)  # fmt: skip
    columns = list(values)
    sql = (
        f"INSERT OR IGNORE INTO {target} ({', '.join(columns)}) "  # noqa: S608 - model fields
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    cursor = db.execute(sql, [int(v) if isinstance(v, bool) else v for v in values.values()])
    return cursor.rowcount


def download_archives(store: Store, workdir: Path) -> tuple[Path, Path]:
    """The current public slice as two zips for the Download tab: CSV files (one per table, plus
    the card) and the parquet files as published."""
    folder = workdir / "slice"
    export(store, folder)
    csv_zip, parquet_zip = (
        workdir / "quant-escape-room-csv.zip",
        workdir / "quant-escape-room-parquet.zip",
    )
    with zipfile.ZipFile(csv_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        for model in ROW_MODELS:
            table = pq.read_table(folder / f"data/{model.table}/{model.table}-00000.parquet")
            buffer = io.BytesIO()
            pa_csv.write_csv(table, buffer)
            archive.writestr(f"{model.table}.csv", buffer.getvalue())
        archive.write(folder / "README.md", "README.md")
    with zipfile.ZipFile(parquet_zip, "w", zipfile.ZIP_STORED) as archive:
        for path in slice_files(folder):
            archive.write(path, path.relative_to(folder).as_posix())
    return csv_zip, parquet_zip


def load_snippet(repo_id: str | None) -> str:
    """How to load the published copy (or a local download) with ``datasets``."""
    if repo_id:
        return (
            "from datasets import load_dataset\n\n"
            f'turns = load_dataset("{repo_id}", "turns", split="train")\n'
            f'matches = load_dataset("{repo_id}", "matches", split="train")'
        )
    return (
        "from datasets import load_dataset\n\n"
        "# publishing is off on this server: unzip the parquet download, then\n"
        'turns = load_dataset("parquet", data_files="data/turns/*.parquet", split="train")'
    )


def fingerprint(folder: Path) -> str:
    """A digest of every file of an export (what a push compares against the Hub copy)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def slice_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".tmp"))


__all__ = [
    "DATASET_VERSION",
    "ROW_MODELS",
    "SliceStats",
    "dataset_card",
    "export",
    "fingerprint",
    "is_empty",
    "read_folder",
    "read_slice",
    "restore",
    "schema_of",
]
