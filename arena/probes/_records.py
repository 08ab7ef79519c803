"""A finished probe as stored in the ``probes`` table (and published as a dataset row)."""

from __future__ import annotations

import sqlite3

from pydantic import BaseModel, ConfigDict

from arena.engine import Store, now


class ProbeRecord(BaseModel):
    """A finished probe, as stored in ``probes``."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    submission_id: int
    """The submission probed (for ``kl``: the candidate)."""
    kind: str
    """``kl`` (next-token distributions against the baseline) or ``speed`` (llama-bench-style
    prompt processing and generation speed)."""
    baseline_id: int | None
    """The baseline the KL probe compared against; empty for a speed probe."""
    probe_version: str
    """Version of the probe's fixed inputs (``kl-v1``, ``speed-v1``...); results of different
    versions are not compared."""
    status: str
    """``done``; ``unavailable`` (KL: the endpoints cannot give what the probe needs) or
    ``failed`` (speed: no complete measurement)."""
    result: str
    """The probe's JSON result (endpoint hosts scrubbed)."""
    started_at: str
    """When the probe started (UTC, ISO 8601)."""


def store_probe(store: Store, record: ProbeRecord, job_id: int | None = None) -> int:
    """Store a finished probe, at most once per job; its row id (0 if the job already had one)."""

    def run(db: sqlite3.Connection) -> int:
        cursor = db.execute(
            "INSERT OR IGNORE INTO probes (submission_id, kind, baseline_id, probe_version, "
            "status, result, job_id, started_at, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.submission_id, record.kind, record.baseline_id, record.probe_version,
             record.status, record.result, job_id, record.started_at, now()),
        )  # fmt: skip
        return int(cursor.lastrowid or 0)

    return store.write(run)
