"""The scheduler: pairing rules, seeds shared across orders, and real scheduled matches against
null servers on loopback (leases, exactly-once, per-endpoint limit, pausing failing endpoints)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from arena.analysis import _calibration as calibration
from arena.analysis import _calibration_store as calibration_store
from arena.analysis._verdicts import candidate_verdict
from arena.client import ClientLimits
from arena.dev._skillsim import SkillModel, serve
from arena.dev.nullserver import NullServer, NullServerConfig
from arena.engine import _profile as profiles
from arena.engine._models import ContestantSummary, MatchResult, MatchSettings
from arena.engine._store import Store
from arena.probes import KL_PROBE_VERSION, SPEED_PROBE_VERSION
from arena.probes._kl import is_collapsed
from arena.schedule._jobs import Job, JobQueue
from arena.schedule._planner import (
    Entrant,
    GroupLevels,
    JobRequest,
    QueueView,
    draining,
    endpoint_of,
    fits,
    host_of,
    match_jobs,
    plan_next,
    probe_job,
    seed_secret,
)
from arena.schedule._runner import Scheduler
from arena.settings import SchedulerSettings, scheduler_from_env
from arena.tiers import calibration_seed, tier, tier_seed
from submissions.keystore import KeyStore
from submissions.models import Sampling, SubmissionForm, settings_class
from submissions.service import SubmissionService

FAST = dict(
    difficulty=1,
    interval_s=0.2,
    heartbeat_s=0.1,
    lease_s=5.0,
    leader_ttl_s=5.0,
    allow_private=True,
    call_deadline_s=5.0,
)


def entrant(i: int, base: str = "m", baseline: bool = False, klass: str = "s") -> Entrant:
    return Entrant(i, base, klass, baseline, f"http://h{i}:80")


# -- pure rules -----------------------------------------------------------------------------------
SMOKE = SchedulerSettings(tier="smoke")
LEVEL_ONE = profiles.uniform(1)


def view(rows: list[tuple[JobRequest, str]], settings: SchedulerSettings = SMOKE) -> QueueView:
    return QueueView.of(
        [{"dedupe_key": r.key, "payload": json.dumps(r.payload), "status": st} for r, st in rows],
        settings,
    )


def run_plan(
    entrants: list[Entrant],
    settings: SchedulerSettings = SMOKE,
    *,
    steps: int = 200,
    decided: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
    collapsed: set[int] = frozenset(),  # type: ignore[assignment]
) -> list[JobRequest]:
    """Plan until nothing is left, every job finishing at once."""
    done: list[tuple[JobRequest, str]] = []
    for _ in range(steps):
        wanted = plan_next(entrants, view(done, settings), settings, secret=b"s",
                           decided=decided, collapsed=collapsed)  # fmt: skip
        if not wanted:
            return [r for r, _ in done]
        done += [(r, "done") for r in wanted]
    raise AssertionError("the plan never ends")


def test_probes_first_then_solo_runs_then_rounds_within_the_tier_budget() -> None:
    entrants = [entrant(1, baseline=True), entrant(2), entrant(3)]
    jobs = run_plan(entrants)
    kinds = [j.payload["kind"] for j in jobs]
    assert kinds[:5] == ["probe"] * 5  # speed x3, then KL for both candidates
    assert [j.payload["probe"] for j in jobs[:5]] == ["speed"] * 3 + ["kl"] * 2
    assert {tuple(j.payload.get(k) for k in ("a", "b")) for j in jobs[3:5]} == {(2, 1), (3, 1)}
    smoke = tier("smoke")
    solos = [j for j in jobs if j.payload["kind"] == "solo"]
    assert Counter(j.payload["a"] for j in solos) == {1: smoke.solo_seeds, 2: smoke.solo_seeds,
                                                      3: smoke.solo_seeds}  # fmt: skip
    assert kinds.index("match") > max(i for i, k in enumerate(kinds) if k == "solo")
    rounds = Counter(tuple(j.payload["pair"]) for j in jobs if j.payload["kind"] == "match")
    # Both orders per round; A/A is one match per round; candidates meet last.
    assert rounds == {(1, 2): 2 * smoke.rounds, (1, 3): 2 * smoke.rounds,
                      (1, 1): smoke.aa_rounds, (2, 3): 2 * smoke.cc_rounds}  # fmt: skip
    matches = [j for j in jobs if j.payload["kind"] == "match"]
    assert tuple(matches[-1].payload["pair"]) == (2, 3)
    assert len({j.key for j in jobs}) == len(jobs)


def test_every_member_of_a_group_meets_the_same_seeds() -> None:
    entrants = [entrant(1, baseline=True), entrant(2), entrant(3), entrant(9, base="other")]
    jobs = run_plan(entrants)
    by_round: dict[tuple[str, int], set[int]] = {}
    for j in jobs:
        if j.payload["kind"] in ("match", "solo"):
            group = "other" if 9 in (j.payload["a"], j.payload.get("b")) else "m"
            by_round.setdefault((group, j.payload["round"]), set()).add(j.payload["seed"])
    assert all(len(seeds) == 1 for seeds in by_round.values())  # one seed per round and group
    assert by_round[("m", 0)] != by_round[("other", 0)]  # groups have their own lists
    assert tier_seed("m|s", "smoke", 0, b"s") in by_round[("m", 0)]
    assert tier_seed("m|s", "smoke", 0, b"s") != tier_seed("m|s", "smoke", 0, b"t")  # secret
    assert tier_seed("m|s", "smoke", 0, b"s") != tier_seed("m|s", "standard", 0, b"s")
    assert 0 <= tier_seed("m|s", "full", 5, b"s") < 2**63


def test_a_decided_pair_stops_and_a_collapsed_candidate_never_plays() -> None:
    entrants = [entrant(1, baseline=True), entrant(2), entrant(3)]
    jobs = run_plan(entrants, decided={(1, 2)}, collapsed={3})
    played = {tuple(j.payload.get("pair", ())) for j in jobs if j.payload["kind"] == "match"}
    assert played == {(1, 1)}  # only the baseline's A/A rounds
    solos = {j.payload["a"] for j in jobs if j.payload["kind"] == "solo"}
    assert solos == {1, 2}


def test_a_candidate_waits_for_its_kl_probe() -> None:
    entrants = [entrant(1, baseline=True), entrant(2)]
    kl = probe_job("kl", 2, 1)
    rows = [(probe_job("speed", 1), "done"), (probe_job("speed", 2), "done"), (kl, "running")]
    first = plan_next(entrants, view(rows), SMOKE, secret=b"s")
    assert [j.payload["a"] for j in first] == [1] and first[0].payload["kind"] == "solo"
    rows = [*rows, *((r, "done") for r in run_plan([entrant(1, baseline=True)]))]
    assert plan_next(entrants, view(rows), SMOKE, secret=b"s") == []  # only 2 could play
    rows[2] = (kl, "failed")  # a failed probe does not block forever
    assert plan_next(entrants, view(rows), SMOKE, secret=b"s")[0].payload["a"] == 2


def test_a_probe_job_is_keyed_by_its_own_probe_version() -> None:
    """A new KL text set re-queues KL probes only; a new speed prompt set, speed probes only."""
    assert probe_job("kl", 2, 1).key == f"probe:kl:2:vs1:{KL_PROBE_VERSION}"
    assert probe_job("speed", 2).key == f"probe:speed:2:{SPEED_PROBE_VERSION}"
    assert KL_PROBE_VERSION.startswith("kl-") and SPEED_PROBE_VERSION.startswith("speed-")


def test_a_lone_baseline_plays_no_a_a_round() -> None:
    jobs = run_plan([entrant(1, baseline=True), entrant(2, base="other")])
    assert [j.payload["kind"] for j in jobs] == ["probe", "probe", "solo", "solo", "solo", "solo"]


def test_pairs_only_within_base_model_and_settings_class() -> None:
    entrants = [entrant(1), entrant(2, base="other"), entrant(3, klass="t"), entrant(4)]
    pairs = {tuple(j.payload["pair"]) for j in run_plan(entrants) if j.payload["kind"] == "match"}
    assert pairs == {(1, 4)}


def test_both_orders_of_a_round_meet_the_same_seed() -> None:
    jobs = match_jobs(3, 7, 0, SMOKE, 42, LEVEL_ONE)
    assert [(j.payload["a"], j.payload["b"]) for j in jobs] == [(3, 7), (7, 3)]
    assert {j.payload["seed"] for j in jobs} == {42} and len({j.key for j in jobs}) == 2
    assert [j.payload["b"] for j in match_jobs(3, 3, 0, SMOKE, 42, LEVEL_ONE)] == [
        3
    ]  # A/A: one match


def test_collapse_thresholds() -> None:
    settings = SchedulerSettings()
    assert is_collapsed({"mean_kl": 2.5, "top1_agreement": 0.9}, settings)
    assert is_collapsed({"mean_kl": 0.1, "top1_agreement": 0.1}, settings)
    assert not is_collapsed({"mean_kl": 0.4, "top1_agreement": 0.7}, settings)
    assert not is_collapsed({"status": "unavailable"}, settings)


def test_the_seed_secret_is_made_once_per_database(store: Store, monkeypatch: Any) -> None:
    monkeypatch.delenv("QER_SEED_SECRET", raising=False)
    settings = scheduler_from_env({})
    first, again = seed_secret(store, settings), seed_secret(store, settings)
    assert first == again and len(first) == 64
    monkeypatch.setenv("QER_SEED_SECRET", "operator-chosen")
    chosen = scheduler_from_env({"QER_SEED_SECRET": "operator-chosen"})
    assert seed_secret(store, chosen) == b"operator-chosen"
    assert "operator-chosen" not in repr(chosen)


def test_endpoint_of_names_the_server() -> None:
    assert endpoint_of("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080"
    assert endpoint_of("https://API.example.com/v1") == "https://api.example.com:443"
    assert endpoint_of("http://[::1]/v1") == "http://[::1]:80"


def queued(job_id: int, request: JobRequest) -> Job:
    return Job(id=job_id, dedupe_key=request.key, payload=request.payload, status="queued",
               attempts=0, max_attempts=3, lease_owner=None, lease_expires_at=None,
               match_id=None, last_error=None)  # fmt: skip


def test_a_speed_probe_has_its_host_to_itself() -> None:
    """Two quants served from one machine on two ports share it: while one is timed, nothing
    runs on that host, and the probe waits until the host is idle. Other hosts play on."""
    urls = {1: "http://10.0.0.5:8080", 2: "http://10.0.0.5:8081", 3: "http://[::1]:9000"}
    speed = queued(1, probe_job("speed", 1))
    solo_other_port = queued(2, JobRequest("solo", {"kind": "solo", "a": 2}))
    elsewhere = queued(3, JobRequest("solo", {"kind": "solo", "a": 3}))
    assert host_of("http://[::1]:9000") == "[::1]"
    assert host_of(endpoint_of("https://api.example.com/v1")) == "api.example.com"
    one_busy = Counter({"http://10.0.0.5:8081": 1})
    assert not fits(speed, urls=urls, busy=one_busy, limit=4)
    assert fits(speed, urls=urls, busy=Counter({"http://[::1]:9000": 1}), limit=4)
    probing = frozenset({"10.0.0.5"})
    assert not fits(solo_other_port, urls=urls, busy=Counter(), limit=4, probing=probing)
    assert fits(elsewhere, urls=urls, busy=Counter(), limit=4, probing=probing)


def test_a_waiting_speed_probe_drains_its_host() -> None:
    """Offered oldest first: a speed probe that cannot start yet keeps younger jobs off its
    host (else matches there would keep it waiting for ever), not off other hosts."""
    urls = {1: "http://10.0.0.5:8080", 2: "http://10.0.0.5:8081", 3: "http://10.0.0.9:8080"}
    busy = Counter({"http://10.0.0.5:8081": 1})
    older = queued(1, JobRequest("solo", {"kind": "solo", "a": 2}))
    eligible = draining(urls=urls, busy=busy, limit=2)
    assert eligible(older)  # queued before the probe: it may still start
    assert not eligible(queued(2, probe_job("speed", 1)))
    other_port = queued(3, JobRequest("solo", {"kind": "solo", "a": 2}))
    assert not eligible(other_port)  # the same host, another port: kept off
    assert eligible(queued(4, JobRequest("solo", {"kind": "solo", "a": 3})))
    fresh = draining(urls=urls, busy=busy, limit=2)  # without the probe ahead, it could start
    assert fresh(other_port)


def test_the_scheduler_knows_which_hosts_a_running_speed_probe_holds(store: Store) -> None:
    scheduler = Scheduler(store, KeyStore(None))
    scheduler._endpoints = {
        7: (("http://10.0.0.5:8080",), True),  # a speed probe
        8: (("http://10.0.0.9:8080", "http://10.0.0.9:8081"), False),  # a match
    }
    assert scheduler._probing_hosts() == frozenset({"10.0.0.5"})
    assert scheduler._busy_endpoints() == Counter(
        {"http://10.0.0.5:8080": 1, "http://10.0.0.9:8080": 1, "http://10.0.0.9:8081": 1}
    )


def test_settings_from_env() -> None:
    settings = scheduler_from_env(
        {"QER_SCHEDULE_INTERVAL_S": "12", "QER_MAX_CONCURRENT_MATCHES": "3"}
    )
    assert settings.interval_s == 12 and settings.max_concurrent == 3
    assert not settings.allow_private
    with pytest.raises(ValueError, match="QER_MAX_CONCURRENT_MATCHES"):
        scheduler_from_env({"QER_MAX_CONCURRENT_MATCHES": "0"})


# -- real scheduled matches -----------------------------------------------------------------------
@pytest.fixture
def servers() -> Iterator[list[NullServer]]:
    started = [NullServer(NullServerConfig(reply="ready", model=f"m{i}")) for i in range(3)]
    for server in started:
        server.start()
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def keystore() -> KeyStore:
    return KeyStore(Fernet.generate_key().decode())


async def register(
    store: Store, keystore: KeyStore, url: str, model: str, *, baseline: bool = False, **kw: Any
) -> int:
    service = SubmissionService(
        store,
        keystore,
        allow_private=True,
        probe_limits=ClientLimits(deadline_s=5, max_retries=0),
        rate_limit=100,
    )
    form = SubmissionForm(
        display_name=f"{model} entry",
        base_model="SmolLM2-135M",
        quant="Q8_0" if baseline else "Q4_0",
        bits_per_weight=8.5 if baseline else 4.5,
        hardware="CPU",
        engine="llama.cpp",
        base_url=url,
        model=model,
        is_baseline=baseline,
        sampling=Sampling(max_tokens=16),
        **kw,
    )
    receipt = await service.submit(form, client_id="tester")
    return receipt.submission_id


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def submission(store: Store, submission_id: int) -> dict[str, Any]:
    return store.query("SELECT * FROM submissions WHERE id = ?", (submission_id,))[0]


def done_jobs(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM job_queue WHERE status = 'done' ORDER BY id")


def match_jobs_done(store: Store) -> list[dict[str, Any]]:
    """Done match jobs between two submissions (not A/A)."""
    found = []
    for job in done_jobs(store):
        payload = json.loads(job["payload"])
        if payload["kind"] == "match" and payload["a"] != payload["b"]:
            found.append(job)
    return found


async def test_scheduler_plays_linked_matches_within_limits(
    store: Store, keystore: KeyStore, servers: list[NullServer]
) -> None:
    base = await register(store, keystore, servers[0].base_url, "m0", baseline=True)
    cand = await register(store, keystore, servers[1].base_url, "m1")
    other = await register(store, keystore, servers[2].base_url, "m2")
    scheduler = Scheduler(
        store, keystore, SchedulerSettings(**FAST, max_concurrent=3, queue_depth=3, tier="smoke")
    )
    scheduler.start()
    try:
        wait_for(lambda: len(match_jobs_done(store)) >= 4)
    finally:
        scheduler.stop()
    # Probes ran first: speed for everyone; KL "unavailable" (the null server has no
    # /v1/completions), which lets the candidates play instead of blocking them.
    probes = store.query("SELECT submission_id, kind, baseline_id, status, result FROM probes")
    assert {(p["submission_id"], p["kind"], p["status"]) for p in probes} == {
        (base, "speed", "done"), (cand, "speed", "done"), (other, "speed", "done"),
        (cand, "kl", "unavailable"), (other, "kl", "unavailable"),
    }  # fmt: skip
    assert all("127.0.0.1" not in p["result"] for p in probes)
    # Solo runs on the shared seed list, bluff mode, before any match.
    solo = store.query(
        "SELECT m.seed, m.adversarial, m.contestant_b, m.settings FROM matches m "
        "JOIN job_queue j ON j.id = m.job_id WHERE json_extract(j.payload, '$.kind') = 'solo' "
        "AND m.status = 'done'"
    )
    assert solo and all(m["adversarial"] == "bluff" and m["contestant_b"] is None for m in solo)
    assert all(json.loads(m["settings"])["tier"] == "smoke" for m in solo)
    jobs = match_jobs_done(store)[:4]
    pairs = [tuple(json.loads(j["payload"])["pair"]) for j in jobs]
    # The baseline's A/A round comes right after the first round of each baseline pair.
    queued = [json.loads(j["payload"]) for j in store.query("SELECT payload FROM job_queue")]
    assert [(p["a"], p["b"]) for p in queued if p.get("b") == p["a"]] == [(base, base)]
    # Baseline pairs come first, each round queued in both orders on one seed; no two matches
    # ever shared an endpoint at the same time.
    assert set(pairs[:4]) == {(base, cand), (base, other)}
    for pair in {(base, cand), (base, other)}:
        rounds = [
            json.loads(j["payload"])
            for j in jobs
            if tuple(json.loads(j["payload"])["pair"]) == pair
        ]
        assert [(p["a"], p["b"]) for p in rounds[:2]] == [pair, pair[::-1]]
        assert rounds[0]["seed"] == rounds[1]["seed"]
    for job in jobs:
        payload = json.loads(job["payload"])
        match = store.match(job["match_id"])
        assert match is not None and match["status"] == "done" and match["job_id"] == job["id"]
        assert match["seed"] == payload["seed"]
        linked = store.query(
            "SELECT c.submission_id FROM contestants c JOIN matches m "
            "ON c.id IN (m.contestant_a, m.contestant_b) WHERE m.id = ? ORDER BY c.id",
            (job["match_id"],),
        )
        assert [r["submission_id"] for r in linked] == [payload["a"], payload["b"]]
    spans = store.query(
        "SELECT m.started_at, m.finished_at, ca.submission_id AS a, cb.submission_id AS b "
        "FROM matches m JOIN contestants ca ON ca.id = m.contestant_a "
        "LEFT JOIN contestants cb ON cb.id = m.contestant_b WHERE m.status = 'done'"
    )
    for i, x in enumerate(spans):
        for y in spans[i + 1 :]:
            overlap = x["started_at"] < y["finished_at"] and y["started_at"] < x["finished_at"]
            shared = {x["a"], x["b"]} & {y["a"], y["b"]} - {None}
            assert not (overlap and shared), (x, y)
    # Every request reached the server with the submission's model id; nothing else was called.
    assert {r["model"] for r in servers[1].requests} == {"m1"}


async def test_a_failing_endpoint_is_paused_with_the_reason(
    store: Store, keystore: KeyStore, servers: list[NullServer]
) -> None:
    base = await register(store, keystore, servers[0].base_url, "m0", baseline=True)
    dead = await register(store, keystore, servers[1].base_url, "m1")
    servers[1].stop()  # it passed its probe, then went away
    scheduler = Scheduler(store, keystore, SchedulerSettings(**FAST, failure_threshold=2))
    scheduler.start()
    try:
        wait_for(lambda: submission(store, dead)["status"] == "paused")
    finally:
        scheduler.stop()
    row = submission(store, dead)
    assert row["status_reason"].startswith("paused by the scheduler after 2 failed matches")
    assert f"submission #{dead}: endpoint unreachable before the match" in row["status_reason"]
    played = store.query(
        "SELECT COUNT(*) AS n FROM matches m JOIN contestants c "
        "ON c.id IN (m.contestant_a, m.contestant_b) WHERE c.submission_id = ?",
        (dead,),
    )
    assert played[0]["n"] == 0  # no match wasted on it
    assert "127.0.0.1" not in row["status_reason"] and "<endpoint>" in row["status_reason"]
    healthy = submission(store, base)
    assert healthy["status"] == "active" and healthy["consecutive_failures"] == 0


async def test_only_one_of_two_processes_schedules(
    store: Store, keystore: KeyStore, servers: list[NullServer]
) -> None:
    await register(store, keystore, servers[0].base_url, "m0", baseline=True)
    await register(store, keystore, servers[1].base_url, "m1")
    first = Scheduler(store, keystore, SchedulerSettings(**FAST), owner="first")
    second = Scheduler(store, keystore, SchedulerSettings(**FAST), owner="second")
    first.start()
    try:
        wait_for(lambda: first.is_leader)
        second.start()
        wait_for(lambda: len(done_jobs(store)) >= 2)
        assert not second.is_leader
        assert [r["owner"] for r in store.query("SELECT owner FROM leases")] == ["first"]
    finally:
        second.stop()
        first.stop()
    keys = [r["dedupe_key"] for r in store.query("SELECT dedupe_key FROM job_queue")]
    assert len(keys) == len(set(keys))


async def test_an_expired_lease_is_replayed_exactly_once(
    store: Store, keystore: KeyStore, servers: list[NullServer]
) -> None:
    """A worker that died mid-match: its match becomes interrupted, the job is played again,
    and the job ends with exactly one done match."""
    a = await register(store, keystore, servers[0].base_url, "m0", baseline=True)
    b = await register(store, keystore, servers[1].base_url, "m1")
    settings = SchedulerSettings(**FAST)
    first = match_jobs(a, b, 0, settings, 7, LEVEL_ONE)[0]
    key, payload = first.key, first.payload
    queue = JobQueue(store)
    job_id = queue.enqueue(key, payload)
    assert job_id is not None
    dead = Scheduler(store, keystore, settings, owner="dead")
    job = queue.claim("dead", lease_seconds=0.5)
    assert job is not None
    spec = [dead.contestant(a), dead.contestant(b)]
    half = await store.start_match(
        MatchSettings(seed=payload["seed"]), {"a": spec[0], "b": spec[1]}, [], job_id=job_id
    )
    time.sleep(0.6)
    alive = Scheduler(store, keystore, settings, owner="alive")
    alive.start()
    try:
        wait_for(lambda: queue.get(job_id).status == "done")  # type: ignore[union-attr]
    finally:
        alive.stop()
    matches = store.query("SELECT id, status FROM matches WHERE job_id = ?", (job_id,))
    assert {m["id"]: m["status"] for m in matches}[half] == "interrupted"
    assert [m["status"] for m in matches].count("done") == 1
    assert queue.get(job_id).attempts == 2  # type: ignore[union-attr]


async def test_a_paused_submission_cancels_its_queued_match(
    store: Store, keystore: KeyStore, servers: list[NullServer]
) -> None:
    a = await register(store, keystore, servers[0].base_url, "m0", baseline=True)
    b = await register(store, keystore, servers[1].base_url, "m1")
    settings = SchedulerSettings(**FAST)
    queue = JobQueue(store)
    first = match_jobs(a, b, 0, settings, 7, LEVEL_ONE)[0]
    key, payload = first.key, first.payload
    job_id = queue.enqueue(key, payload)
    store.write(
        lambda db: db.execute("UPDATE submissions SET status = 'paused' WHERE id = ?", (b,))
    )
    scheduler = Scheduler(store, keystore, settings)
    scheduler.start()
    try:
        wait_for(lambda: queue.get(job_id).status == "failed")  # type: ignore[arg-type,union-attr]
    finally:
        scheduler.stop()
    job = queue.get(job_id)  # type: ignore[arg-type]
    assert job is not None and job.last_error == f"submission #{b} is paused"
    assert not store.query("SELECT 1 FROM matches WHERE job_id = ?", (job_id,))


async def test_stop_gives_a_running_match_back_to_the_queue(
    store: Store, keystore: KeyStore
) -> None:
    slow = NullServer(NullServerConfig(reply="ready now", model="slow", token_delay_s=0.5))
    fast = NullServer(NullServerConfig(reply="ready", model="fast"))
    with slow, fast:
        a = await register(store, keystore, slow.base_url, "slow", baseline=True)
        b = await register(store, keystore, fast.base_url, "fast")
        settings = SchedulerSettings(**FAST)
        first = match_jobs(a, b, 0, settings, 7, LEVEL_ONE)[0]  # queued before the planner's probes
        JobQueue(store).enqueue(first.key, first.payload)
        scheduler = Scheduler(store, keystore, settings)
        scheduler.start()
        wait_for(lambda: bool(store.query("SELECT 1 FROM matches WHERE status = 'running'")))
        scheduler.stop()
    assert store.query("SELECT status FROM matches")[0]["status"] == "interrupted"
    job = store.query("SELECT status, attempts FROM job_queue ORDER BY id LIMIT 1")[0]
    assert job == {"status": "queued", "attempts": 0}


async def test_an_endpoint_that_dies_mid_match_counts_as_a_failure(
    store: Store, keystore: KeyStore, servers: list[NullServer]
) -> None:
    """Forfeiting every room of a finished match counts against that submission only."""
    a = await register(store, keystore, servers[0].base_url, "m0", baseline=True)
    b = await register(store, keystore, servers[1].base_url, "m1")
    settings = SchedulerSettings(**FAST, failure_threshold=1)
    scheduler = Scheduler(store, keystore, settings, owner="me")
    first = match_jobs(a, b, 0, settings, 7, LEVEL_ONE)[0]
    key, payload = first.key, first.payload
    job_id = scheduler.queue.enqueue(key, payload)
    job = scheduler.queue.claim("me", 30)
    assert job is not None and job.id == job_id

    def summary(slot: str, forfeits: int) -> ContestantSummary:
        outcomes = {"forfeit": forfeits, "trapped": 6 - forfeits}
        return ContestantSummary(slot=slot, display_name=slot, escaped=0, rooms=6, score=0,
                                 decode_tps=None, completion_tokens=0, cap_hits=0, errors=forfeits,
                                 outcomes=outcomes)  # fmt: skip

    contestants = {"a": scheduler.contestant(a), "b": scheduler.contestant(b)}
    match_id = await store.start_match(MatchSettings(), contestants, [], job_id=job.id)  # type: ignore[arg-type]
    result = MatchResult(
        match_id=match_id, status="done", settings=MatchSettings(), room_ids=[], rooms=[],
        summaries={"a": summary("a", 0), "b": summary("b", 6)}, wall_seconds=1.0,
    )  # fmt: skip
    scheduler._record_result(job, result)
    assert submission(store, b)["status"] == "paused"
    assert f"failed every room of match {match_id}" in submission(store, b)["status_reason"]
    assert submission(store, a)["status"] == "active"
    assert scheduler.queue.get(job.id).status == "done"  # type: ignore[union-attr]


async def test_a_stale_worker_cannot_finish_a_match_taken_over(
    store: Store, keystore: KeyStore, servers: list[NullServer]
) -> None:
    """Worker A loses its lease mid-match (recovery marks the match interrupted) and finishes
    later: nothing is written, so B's re-run is the job's only done match."""
    a = await register(store, keystore, servers[0].base_url, "m0", baseline=True)
    b = await register(store, keystore, servers[1].base_url, "m1")
    settings = SchedulerSettings(**FAST)
    queue = JobQueue(store)
    first = match_jobs(a, b, 0, settings, 7, LEVEL_ONE)[0]
    key, payload = first.key, first.payload
    job_id = queue.enqueue(key, payload)
    assert queue.claim("A", lease_seconds=0.2) is not None
    worker = Scheduler(store, keystore, settings, owner="A")
    spec = {"a": worker.contestant(a), "b": worker.contestant(b)}
    stale = await store.start_match(MatchSettings(), spec, [], job_id=job_id)  # type: ignore[arg-type]
    time.sleep(0.3)
    assert queue.claim("B", lease_seconds=30) is not None  # recovers: stale is interrupted
    fresh = await store.start_match(MatchSettings(), spec, [], job_id=job_id)  # type: ignore[arg-type]

    def result(match_id: str) -> MatchResult:
        return MatchResult(match_id=match_id, status="done", settings=MatchSettings(),
                           room_ids=[], rooms=[], summaries={}, wall_seconds=1.0)  # fmt: skip

    assert await store.finish_match(result(stale)) is False
    assert await store.finish_match(result(fresh)) is True
    statuses = {m["id"]: m["status"] for m in store.query("SELECT id, status FROM matches")}
    assert statuses == {stale: "interrupted", fresh: "done"}


async def test_resuming_a_paused_submission_clears_its_failures(
    store: Store, keystore: KeyStore, servers: list[NullServer]
) -> None:
    service = SubmissionService(store, keystore, allow_private=True, rate_limit=100,
                                probe_limits=ClientLimits(deadline_s=5, max_retries=0))  # fmt: skip
    form = SubmissionForm(display_name="x", base_model="M", quant="Q4_0", bits_per_weight=4.5,
                          hardware="cpu", engine="llama.cpp", base_url=servers[0].base_url,
                          model="m0")  # fmt: skip
    receipt = await service.submit(form, client_id="owner")
    scheduler = Scheduler(store, keystore, SchedulerSettings(**FAST, failure_threshold=2))
    for _ in range(2):
        scheduler._count_failure(receipt.submission_id, "down")
    assert submission(store, receipt.submission_id)["status"] == "paused"
    service.set_status(receipt.submission_id, receipt.deletion_token, "active")
    row = submission(store, receipt.submission_id)
    assert row["status"] == "active" and row["consecutive_failures"] == 0
    scheduler._count_failure(receipt.submission_id, "down once more")
    assert submission(store, receipt.submission_id)["status"] == "active"  # not re-paused at once


# -- calibration ----------------------------------------------------------------------------------
def job_rows(store: Store) -> list[dict[str, Any]]:
    return [
        {**row, "payload": json.loads(row["payload"])}
        for row in store.query("SELECT id, status, payload, match_id FROM job_queue ORDER BY id")
    ]


async def test_a_group_is_calibrated_first_and_every_member_plays_its_profile(
    store: Store, keystore: KeyStore
) -> None:
    """Simulated models of known skill through the real scheduler, client and validators: the
    baseline's calibration runs come after the probes and before anything else of its group,
    each run at the levels its search points to; then the candidate and the baseline play the
    profile chosen, and the verdict is on that profile."""
    base_model = SkillModel(skill=5.0, name="sim-base", slope=0.6)
    servers = [serve(base_model, store.path), serve(base_model.twin(2.0, "sim-q2"), store.path)]
    for server in servers:
        server.start()
    try:
        base = await register(store, keystore, servers[0].base_url, "sim-base", baseline=True,
                              context_tokens=32768)  # fmt: skip
        cand = await register(store, keystore, servers[1].base_url, "sim-q2")
        settings = SchedulerSettings(**{**FAST, "difficulty": "calibrate"}, calibration_runs=6,
                                     tier="smoke", max_concurrent=2, queue_depth=2)  # fmt: skip
        scheduler = Scheduler(store, keystore, settings)
        scheduler.start()
        try:
            wait_for(lambda: len(match_jobs_done(store)) >= 2, timeout=120)
        finally:
            scheduler.stop()
    finally:
        for server in servers:
            server.stop()
    jobs = job_rows(store)
    kinds = [j["payload"]["kind"] for j in jobs]
    calibrating = [j for j in jobs if j["payload"]["kind"] == "calibrate"]
    assert len(calibrating) == 6 and all(j["payload"]["a"] == base for j in calibrating)
    last_probe = max(i for i, k in enumerate(kinds) if k == "probe")
    first_play = min(i for i, k in enumerate(kinds) if k in ("solo", "match"))
    assert (
        last_probe < kinds.index("calibrate")
        and max(i for i, k in enumerate(kinds) if k == "calibrate") < first_play
    )
    # Every run played the levels the search pointed to after the runs before it.
    [record] = calibration_store.records(store)
    assert record.status == "done" and record.baseline_id == base
    assert record.config.context_tokens == 32768 and record.config.runs == 6
    runs = calibration_store.runs_of(store, record.id)
    assert len(runs) == 6
    for k, job in enumerate(calibrating):
        assert job["payload"]["profile"] == calibration.next_profile(runs[:k], record.config)
        assert job["payload"]["seed"] == calibration_seed("smollm2-135m|" + settings_class(
            Sampling(max_tokens=16)), k, scheduler.secret)  # fmt: skip
    assert record.profile == calibration.result(runs, record.config).profile
    purposes = store.query("SELECT purpose, profile FROM matches WHERE status = 'done'")
    assert sum(p["purpose"] == "calibration" for p in purposes) == 6
    measured = [json.loads(p["profile"]) for p in purposes if p["purpose"] == "measure"]
    assert measured and all(levels == record.profile for levels in measured)
    found = candidate_verdict(store, cand, base)
    assert found.profile == profiles.text(record.profile)
    assert set(found.no_signal) == set(record.dead_rooms)


async def test_a_new_baseline_means_a_new_calibration(store: Store, keystore: KeyStore) -> None:
    server = NullServer(NullServerConfig(reply="ready", model="m0"))
    other = NullServer(NullServerConfig(reply="ready", model="m1"))
    server.start()
    other.start()
    try:
        first = await register(store, keystore, server.base_url, "m0", baseline=True)
        settings = SchedulerSettings(**{**FAST, "difficulty": "calibrate"}, calibration_runs=4)
        scheduler = Scheduler(store, keystore, settings)
        levels = scheduler.group_levels(scheduler.entrants())
        [plan] = levels.values()
        assert plan.profile is None and plan.baseline == first and plan.next_run is not None
        store.write(lambda db: db.execute("UPDATE submissions SET status = 'deleted'"))
        second = await register(store, keystore, other.base_url, "m1", baseline=True)
        [again] = scheduler.group_levels(scheduler.entrants()).values()
        assert again.baseline == second and again.calibration != plan.calibration
        assert [r.baseline_id for r in calibration_store.records(store)] == [first, second]
        fixed = Scheduler(store, keystore, SchedulerSettings(**FAST))  # difficulty=1: no search
        [plain] = fixed.group_levels(fixed.entrants()).values()
        assert plain.profile == profiles.uniform(1) and plain.calibration is None
    finally:
        server.stop()
        other.stop()


def test_calibration_jobs_come_one_at_a_time_and_block_the_group() -> None:
    entrants = [entrant(1, baseline=True), entrant(2), entrant(3, base="other")]
    levels = {
        ("m", "s"): GroupLevels(None, calibration=7, next_run=profiles.uniform(3), baseline=1),
        ("other", "s"): GroupLevels(profiles.uniform(2)),
    }
    probes = [(probe_job("speed", i), "done") for i in (1, 2, 3)] + [
        (probe_job("kl", 2, 1), "done")
    ]

    def plan(rows: list[tuple[JobRequest, str]]) -> list[JobRequest]:
        return plan_next(entrants, view(rows), SMOKE, secret=b"s", levels=levels)

    first = plan(probes)
    assert [j.payload["kind"] for j in first] == ["calibrate"]
    assert first[0].payload["profile"] == profiles.uniform(3)
    assert first[0].payload["seed"] == calibration_seed("m|s", 0, b"s")
    running = [*probes, (first[0], "running")]
    # while the run plays, only the other group plays (its solo runs at its own profile)
    wanted = plan(running)
    assert wanted and all(j.payload["a"] == 3 for j in wanted)
    assert wanted[0].payload["profile"] == profiles.uniform(2)
    again = plan([*probes, (first[0], "done")])
    assert again[0].payload["kind"] == "calibrate" and again[0].payload["round"] == 1
    assert again[0].key != first[0].key


async def test_a_baseline_without_a_stated_window_is_calibrated_within_the_servers(
    store: Store, keystore: KeyStore
) -> None:
    """The window llama-server reports (``/props``) caps the calibration when the form said
    nothing; a stated window wins."""
    from arena.schedule._standing import entrants, group_levels

    props = {"default_generation_settings": {"n_ctx": 4096}, "build_info": "b1-x"}
    with NullServer(NullServerConfig(reply="ready", model="m1", props=props)) as server:
        base = await register(store, keystore, server.base_url, "m1", baseline=True)
    settings = SchedulerSettings(**{**FAST, "difficulty": "calibrate"})
    group_levels(store, settings, entrants(store))
    [record] = calibration_store.records(store)
    assert record.baseline_id == base and record.config.context_tokens == 4096
