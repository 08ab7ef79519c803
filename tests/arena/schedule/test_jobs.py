"""The durable job queue and leader lease: no job lost, none handed out twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from arena.engine._migrations import MIGRATIONS, migrate
from arena.engine._store import Store, connect
from arena.schedule._jobs import JobQueue

ROOT = Path(__file__).resolve().parents[3]


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def queue(store: Store) -> tuple[JobQueue, Clock]:
    clock = Clock()
    return JobQueue(store, clock=clock), clock


def test_same_key_is_queued_once(store: Store) -> None:
    q, _ = queue(store)
    first = q.enqueue("pair:1-2:seed:7", {"seed": 7})
    assert first is not None
    assert q.enqueue("pair:1-2:seed:7", {"seed": 7}) is None
    assert q.counts() == {"queued": 1}


def test_claim_complete_and_done_is_never_handed_out_again(store: Store) -> None:
    q, _ = queue(store)
    a, b = q.enqueue("a", {"n": 1}), q.enqueue("b", {"n": 2})
    job = q.claim("worker-1", lease_seconds=60)
    assert job is not None and job.id == a and job.status == "running" and job.attempts == 1
    assert job.payload == {"n": 1}
    assert q.complete(job.id, "worker-1", match_id=None)
    assert not q.complete(job.id, "worker-1")  # only once
    second = q.claim("worker-1", lease_seconds=60)
    assert second is not None and second.id == b
    assert q.claim("worker-2", lease_seconds=60) is None  # nothing left: b is leased
    assert q.get(a).status == "done"  # type: ignore[union-attr]


def test_expired_lease_is_requeued_and_the_old_owner_cannot_complete(store: Store) -> None:
    q, clock = queue(store)
    job_id = q.enqueue("a", {}, max_attempts=2)
    first = q.claim("dead-worker", lease_seconds=30)
    assert first is not None
    clock.t += 31
    assert not q.heartbeat(job_id, "dead-worker", 30)  # too late
    second = q.claim("worker-2", lease_seconds=30)
    assert second is not None and second.id == job_id and second.attempts == 2
    assert second.last_error == "lease expired (worker died or hung)"
    assert not q.complete(job_id, "dead-worker")  # its late result is dropped
    assert q.heartbeat(job_id, "worker-2", 30)
    clock.t += 31
    assert q.claim("worker-3", lease_seconds=30) is None  # attempts exhausted
    assert q.get(job_id).status == "failed"  # type: ignore[union-attr]


def test_fail_requeues_until_max_attempts(store: Store) -> None:
    q, _ = queue(store)
    job_id = q.enqueue("a", {}, max_attempts=2)
    assert q.claim("w", 60) is not None
    assert q.fail(job_id, "w", "endpoint down")
    assert q.get(job_id).status == "queued"  # type: ignore[union-attr]
    assert q.claim("w", 60) is not None
    assert q.fail(job_id, "w", "endpoint down again")
    job = q.get(job_id)
    assert job is not None and job.status == "failed" and job.last_error == "endpoint down again"


def test_leader_lease_is_held_by_one_owner_at_a_time(store: Store) -> None:
    q, clock = queue(store)
    assert q.acquire_leader("scheduler", "proc-1", ttl_seconds=10)
    assert not q.acquire_leader("scheduler", "proc-2", ttl_seconds=10)
    clock.t += 5
    assert q.acquire_leader("scheduler", "proc-1", ttl_seconds=10)  # renewed
    clock.t += 9
    assert not q.acquire_leader("scheduler", "proc-2", ttl_seconds=10)
    clock.t += 2  # proc-1 stopped renewing
    assert q.acquire_leader("scheduler", "proc-2", ttl_seconds=10)
    q.release_leader("scheduler", "proc-2")
    assert q.acquire_leader("scheduler", "proc-3", ttl_seconds=10)


def test_an_old_database_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = connect(path)
    original = list(MIGRATIONS)
    try:
        from arena.engine import _migrations as migrations_module

        migrations_module.MIGRATIONS = tuple(original[:1])  # a database made before m002
        assert migrate(db) == ["m001_initial"]
    finally:
        migrations_module.MIGRATIONS = tuple(original)
        db.close()
    with Store(path) as store:
        names = [r["name"] for r in store.query("SELECT name FROM schema_migrations ORDER BY name")]
        assert names == ["m001_initial", "m002_job_queue", "m003_submissions", "m004_scheduling",
                         "m005_imports", "m006_probes", "m007_profiles",
                         "m008_server_identity", "m009_board_versions",
                         "m010_baseline_authority"]  # fmt: skip
        assert JobQueue(store).enqueue("k", {}) is not None


WORKER = """
import json, sys
from arena.schedule._jobs import JobQueue
from arena.engine._store import Store
claimed = []
with Store(sys.argv[1], recover=False) as store:
    q = JobQueue(store)
    while (job := q.claim(sys.argv[2], lease_seconds=600)) is not None:
        claimed.append(job.id)
        q.complete(job.id, sys.argv[2])
print(json.dumps(claimed))
"""


def test_two_processes_never_claim_the_same_job(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    with Store(path) as store:
        q = JobQueue(store)
        ids = [q.enqueue(f"job-{i}", {"i": i}) for i in range(60)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), f"proc-{n}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    claimed = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    together = claimed[0] + claimed[1]
    assert sorted(together) == sorted(ids)  # every job exactly once
    with Store(path) as store:
        assert JobQueue(store).counts() == {"done": 60}
