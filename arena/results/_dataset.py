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
import sqlite3
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pydantic import BaseModel

from arena.engine import (
    SEALED_SQL,
    Store,
    endpoint_hosts,
    now,
    scrub_endpoints,
)
from arena.results._card import dataset_card
from arena.results._rows import (
    DATASET_VERSION,
    ROW_MODELS,
    ContestantRow,
    Row,
    SubmissionRow,
    schema_of,
)

RESTORED_NOTE = (
    "restored from the published dataset: its endpoint URL and API key are never published; "
    "register the endpoint again to play"
)


_PUBLIC_MATCH = f"m.status != 'running' AND NOT {SEALED_SQL}"
"""Matches that may be shown: over, and not sealed (no scheduled match still plays their seed)."""

_SQL: dict[str, str] = {
    "submissions": "SELECT id, display_name, base_model, base_model_key, quant, bits_per_weight, "
    "file_size_gb, hardware, engine, model, sampling, is_baseline, baseline_review, status, "
    "created_at, "
    "context_tokens, server_engine, server_version, server_quant, server_context_tokens "
    "FROM submissions WHERE status != 'deleted' ORDER BY id",
    "contestants": "SELECT c.id, CASE WHEN c.submission_id IN (SELECT id FROM submissions "
    "WHERE status != 'deleted') THEN c.submission_id END AS submission_id, c.model, "
    "c.base_model, c.quant, "
    "c.bits_per_weight, c.sampling, c.has_api_key, c.created_at, c.server_engine, "
    "c.server_version, c.server_quant, c.server_context_tokens FROM contestants c "
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


def read_slice(store: Store) -> dict[str, list[Row]]:
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
            out: dict[str, list[Row]] = {}
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


def _write_parquet(path: Path, model: type[Row], rows: list[Row]) -> None:
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


# -- restore ------------------------------------------------------------------------------------
def read_folder(folder: Path) -> dict[str, list[Row]]:
    """Every table of an exported folder, validated through the models (extra columns refused)."""
    out: dict[str, list[Row]] = {}
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


def _insert(db: sqlite3.Connection, row: Row) -> int:
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
    "download_archives",
    "export",
    "fingerprint",
    "is_empty",
    "load_snippet",
    "read_folder",
    "read_slice",
    "restore",
    "schema_of",
    "slice_files",
]
