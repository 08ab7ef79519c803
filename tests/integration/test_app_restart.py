"""Kill the app (SIGKILL) in the middle of a real match, start it again on the same database:
the scheduled match is played again and finishes exactly once; no row is duplicated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from arena.analysis._leaderboard import leaderboard_rows
from arena.engine._store import Store
from tests.integration.conftest import ARTIFACTS, AppProcess, Served, submission_body, wait_until

LEASES = {"QER_MATCH_LEASE_S": "6", "QER_LEADER_TTL_S": "4", "QER_MAX_CONCURRENT_MATCHES": "1",
          "QER_DIFFICULTY": "1"}  # fmt: skip


def rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()


def test_sigkill_mid_match_then_restart_finishes_the_match_once(
    llama_servers: dict[str, Served], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    db = data / "arena.sqlite3"
    log = ARTIFACTS / "app-restart.log"
    log.unlink(missing_ok=True)
    first = AppProcess(data, log, **LEASES).start()
    try:
        with first.api() as api:
            for served in (llama_servers["Q4_1"], llama_servers["Q2_K"]):
                created = api.post("/api/submissions", json=submission_body(served))
                assert created.status_code == 201, created.text
        # Mid-match: the match is running and has finished at least one call, not all rooms.
        wait_until(
            lambda: (
                rows(
                    db,
                    "SELECT COUNT(*) FROM calls c JOIN matches m ON m.id = c.match_id "
                    "WHERE m.status = 'running'",
                )[0][0]
                >= 2
            ),
            timeout=240,
            what="a running match with stored calls",
        )
    finally:
        first.kill()
    (job_id, match_id), *_ = rows(
        db, "SELECT job_id, id FROM matches WHERE status = 'running' ORDER BY started_at"
    )
    calls_before = rows(db, "SELECT COUNT(*) FROM calls WHERE match_id = ?", (match_id,))[0][0]
    assert calls_before >= 2

    second = AppProcess(data, log, **LEASES)
    second.port = first.port
    second.start()
    try:
        wait_until(
            lambda: (
                rows(db, "SELECT status FROM job_queue WHERE id = ?", (job_id,))[0][0] == "done"
            ),
            timeout=400,
            what="the killed match's job to finish",
        )
    finally:
        second.stop()

    matches = rows(db, "SELECT id, status FROM matches WHERE job_id = ?", (job_id,))
    statuses = dict(matches)
    assert statuses[match_id] == "interrupted"
    assert list(statuses.values()).count("done") == 1
    (attempts, done_match), *_ = rows(
        db, "SELECT attempts, match_id FROM job_queue WHERE id = ?", (job_id,)
    )
    assert attempts == 2 and statuses[done_match] == "done"
    # The interrupted attempt's rows are kept as they were; the replay has its own full set.
    assert (
        rows(db, "SELECT COUNT(*) FROM calls WHERE match_id = ?", (match_id,))[0][0] == calls_before
    )
    assert (
        rows(db, "SELECT COUNT(*) FROM rooms_played WHERE match_id = ?", (done_match,))[0][0] == 12
    )
    duplicates = rows(
        db,
        "SELECT match_id, slot, seq, COUNT(*) FROM calls GROUP BY match_id, slot, seq "
        "HAVING COUNT(*) > 1",
    )
    assert duplicates == []
    keys = rows(
        db, "SELECT dedupe_key, COUNT(*) FROM job_queue GROUP BY dedupe_key HAVING COUNT(*) > 1"
    )
    assert keys == []
    # The leaderboard counts finished matches only: never the interrupted attempt.
    played = dict(
        rows(
            db,
            "SELECT c.submission_id, COUNT(DISTINCT m.id) FROM matches m JOIN contestants c "
            "ON c.id IN (m.contestant_a, m.contestant_b) WHERE m.status = 'done' "
            "GROUP BY c.submission_id",
        )
    )
    with Store(db, recover=False) as store:
        assert {row.submission_id: row.matches for row in leaderboard_rows(store)} == played
