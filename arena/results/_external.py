"""Import results of other tools: lm-evaluation-harness and llama-bench.

Imported results are attached to one target: a registered submission, or a "reference" entry (a
base model + quant with no endpoint, created on first use). They are shown beside escape-room
results, marked by source, and never mixed into escape-room scores.

Parsers are pure and refuse a bad file as a whole (:class:`ImportRefused`, naming the field), so
nothing partial is stored; :func:`import_results` then writes everything in one transaction.
Re-importing the same file (same SHA-256) adds nothing.

Nothing URL-like is stored: lm-eval's ``model_args`` (and its task configs, whose ``metadata``
repeats them) carry the server's address and sometimes an API key, so details are built from an
allowlist of fields and every string is checked once more before it is kept. File paths are cut to
their file name.

This module reads result files and stores and reads their results; the parsers are in
:mod:`arena.results._lm_eval` and :mod:`arena.results._llama_bench` (with the scrubbing of
:mod:`arena.results._scrub`), the shapes in :mod:`arena.results._external_models`, and the
chart points in :mod:`arena.results._imported_points`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from arena.client import is_full_precision
from arena.engine import Store, clean_text, now
from arena.results._external_models import (
    MAX_FILE_BYTES,
    ImportedResult,
    ImportRefused,
    ImportReport,
    ParsedFile,
    ReferenceSpec,
    Source,
    reference_label,
)
from arena.results._llama_bench import parse_llama_bench
from arena.results._lm_eval import parse_lm_eval
from submissions.models import base_model_key


def parse_file(source: Source, path: Path) -> ParsedFile:
    """Read and parse one result file; :class:`ImportRefused` for anything unusable."""
    if path.is_dir():
        found = sorted(p.name for p in path.rglob("results_*.json"))[:5]
        hint = f" (found: {', '.join(found)})" if found else ""
        raise ImportRefused(f"{source}: {path} is a directory; pass a result file{hint}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportRefused(f"{source}: {path.name} is {size} bytes (limit {MAX_FILE_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{source}: cannot read {path}: {exc.strerror or exc}") from None
    return ParsedFile(
        source=source,
        filename=path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        results=parse_bytes(source, raw, path.name),
    )


def parse_bytes(source: Source, raw: bytes, filename: str) -> list[ImportedResult]:
    """Decode (UTF-8, an optional BOM) and parse one file's bytes."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"{source}: {filename} is not UTF-8 text ({exc.reason})") from None
    if source == "llama-bench":
        return parse_llama_bench(text, filename)
    if not text.strip():
        raise ImportRefused("lm-eval: the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRefused(f"lm-eval: not valid JSON ({exc})") from None
    return parse_lm_eval(data)


def derived_size(results: Iterable[ImportedResult]) -> tuple[float | None, float | None]:
    """Bits per weight and file size (GB) measured by llama-bench, when every result agrees."""
    bpw = {r.details.get("bits_per_weight") for r in results if r.source == "llama-bench"}
    size = {r.details.get("model_size") for r in results if r.source == "llama-bench"}
    one_bpw = bpw.pop() if len(bpw) == 1 else None
    one_size = size.pop() if len(size) == 1 else None
    return (
        float(one_bpw) if isinstance(one_bpw, int | float) else None,
        round(one_size / 1e9, 3) if isinstance(one_size, int | float) and one_size else None,
    )


def _reference_id(
    db: sqlite3.Connection, spec: ReferenceSpec, derived: tuple[float | None, float | None]
) -> tuple[int, bool]:
    """Create or reuse the reference entry; fill sizes it lacks. Given sizes that contradict
    the stored ones are refused (derived ones never override)."""
    key = base_model_key(spec.base_model)
    row = db.execute(
        "SELECT id, bits_per_weight, file_size_gb FROM reference_entries "
        "WHERE base_model_key = ? AND quant = ? AND hardware = ? AND engine = ?",
        (key, spec.quant, spec.hardware, spec.engine),
    ).fetchone()
    given = {"bits_per_weight": spec.bits_per_weight, "file_size_gb": spec.file_size_gb}
    measured = dict(zip(given, derived, strict=True))
    if row is None:
        values = {k: given[k] if given[k] is not None else measured[k] for k in given}
        cursor = db.execute(
            "INSERT INTO reference_entries (base_model, base_model_key, quant, bits_per_weight, "
            "file_size_gb, hardware, engine, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (spec.base_model, key, spec.quant, values["bits_per_weight"],
             values["file_size_gb"], spec.hardware, spec.engine, now()),
        )  # fmt: skip
        return int(cursor.lastrowid or 0), True
    for column, value in given.items():
        stored = row[column]
        if value is not None and stored is not None and not math.isclose(stored, value):
            option = "--" + column.replace("_", "-")
            raise ImportRefused(
                f"reference {spec.label} already has {column} {stored:g} (given {value:g}); "
                f"omit {option} to keep it"
            )
        fill = value if value is not None else measured[column]
        if stored is None and fill is not None:
            db.execute(
                f"UPDATE reference_entries SET {column} = ? WHERE id = ?",  # noqa: S608 - fixed names
                (fill, row["id"]),
            )
    return int(row["id"]), False


def _submission_label(db: sqlite3.Connection, submission_id: int) -> str:
    row = db.execute(
        "SELECT display_name, status FROM submissions WHERE id = ?", (submission_id,)
    ).fetchone()
    if row is None:
        raise ImportRefused(f"submission: unknown submission id {submission_id}")
    if row["status"] == "deleted":
        raise ImportRefused(f"submission: submission {submission_id} was deleted")
    return str(row["display_name"])


def import_results(
    store: Store,
    results: list[ImportedResult],
    *,
    source_sha256: str,
    submission_id: int | None = None,
    reference: ReferenceSpec | None = None,
) -> ImportReport:
    """Store parsed results for exactly one target, all in one transaction. Results of a file
    already imported for that target are skipped (the report says so)."""
    if (submission_id is None) == (reference is None):
        raise ImportRefused("target: give exactly one of a submission id or a reference entry")
    if not results:
        raise ImportRefused("nothing to import")
    if not re.fullmatch(r"[0-9a-f]{64}", source_sha256):
        raise ImportRefused("source_sha256 must be a SHA-256 hex digest")
    derived = derived_size(results)

    def run(db: sqlite3.Connection) -> ImportReport:
        created = False
        if reference is not None:
            target_id, created = _reference_id(db, reference, derived)
            label, ids = reference.label, (None, target_id)
        else:
            assert submission_id is not None
            target_id, label = submission_id, _submission_label(db, submission_id)
            ids = (target_id, None)
        stored, skipped = [], []
        for result in results:
            cursor = db.execute(
                "INSERT OR IGNORE INTO imported_results (submission_id, reference_id, source, "
                "task, metric, value, stderr, n, details, file_sha256, imported_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *ids,
                    result.source,
                    clean_text(result.task),
                    clean_text(result.metric),
                    result.value,
                    result.stderr,
                    result.n,
                    json.dumps(result.details, sort_keys=True),
                    source_sha256,
                    now(),
                ),
            )
            (stored if cursor.rowcount == 1 else skipped).append(result)
        return ImportReport(
            target="reference" if reference is not None else "submission",
            target_id=target_id,
            target_label=label,
            reference_created=created,
            stored=stored,
            already_stored=skipped,
        )

    return store.write(run)


def read_imported(store: Store, *, include_deleted: bool = False) -> list[dict[str, Any]]:
    """Every imported result with its target's base model, quant, sizes and label, for charts:
    keys ``id, source, task, metric, value, stderr, n, details (dict), file_sha256, imported_at,
    target ('submission' | 'reference'), submission_id, reference_id, base_model,
    base_model_key, quant, bits_per_weight, file_size_gb, hardware, engine, label``.
    Results of deleted submissions are left out unless ``include_deleted``."""
    rows = store.query(
        """
        SELECT r.id, r.source, r.task, r.metric, r.value, r.stderr, r.n, r.details,
               r.file_sha256, r.imported_at, r.submission_id, r.reference_id,
               CASE WHEN r.submission_id IS NOT NULL THEN 'submission' ELSE 'reference' END
                   AS target,
               COALESCE(s.base_model, e.base_model) AS base_model,
               COALESCE(s.base_model_key, e.base_model_key) AS base_model_key,
               COALESCE(s.quant, e.quant) AS quant,
               CASE WHEN s.id IS NOT NULL THEN s.bits_per_weight ELSE e.bits_per_weight END
                   AS bits_per_weight,
               CASE WHEN s.id IS NOT NULL THEN s.file_size_gb ELSE e.file_size_gb END
                   AS file_size_gb,
               COALESCE(s.hardware, e.hardware) AS hardware,
               COALESCE(s.engine, e.engine) AS engine,
               s.display_name, s.status, COALESCE(s.is_baseline, 0) AS is_baseline
        FROM imported_results r
        LEFT JOIN submissions s ON s.id = r.submission_id
        LEFT JOIN reference_entries e ON e.id = r.reference_id
        ORDER BY base_model_key, quant, r.source, r.task, r.metric, r.id
        """
    )
    out = []
    for row in rows:
        status = row.pop("status")
        display_name = row.pop("display_name")
        if status == "deleted" and not include_deleted:
            continue
        row["details"] = json.loads(row["details"])
        row["is_baseline"] = bool(row["is_baseline"]) or (
            row["target"] == "reference" and is_full_precision(row["quant"])
        )
        row["label"] = display_name or reference_label(
            row["base_model"], row["quant"], row["hardware"], row["engine"]
        )
        out.append(row)
    return out
