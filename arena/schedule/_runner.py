"""The match scheduler: pair registered submissions, queue matches durably, play them.

One process at a time schedules (a leader lease row in the database; a second process sharing
the database waits until the lease expires). Two APScheduler jobs run on the scheduler's own
event loop, in a thread of its own, so matches never compete with the web UI's loop:

- ``pair`` (every ``interval_s``): when the queue has room, queue what :func:`plan_next` picks:
  per group of active submissions (same base model and sampling class) a speed probe per member,
  a KL probe per candidate against the baseline, each member's solo runs on the tier's seed list,
  then rounds (one seed of the list, both orders) of baseline-vs-candidate pairs until the
  sequential test decides or the tier's budget is spent, the baseline's A/A rounds, and
  candidate-vs-candidate rounds (see :mod:`arena.tiers`).
- ``tick`` (every ``heartbeat_s``): renew the leader lease, recover expired job leases (their
  matches become ``interrupted`` and the job is queued again), renew the leases of the matches
  this process plays, and start queued matches up to ``max_concurrent`` while no endpoint plays
  more than ``per_endpoint_limit`` at once.

A match is linked to its job (``matches.job_id``; at most one ``done`` match per job), so a crash
mid-match re-plays the job and never counts it twice. A submission whose matches fail
``failure_threshold`` times in a row is paused with the reason, shown to its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import BaseModel, SecretStr

from arena.analysis import (
    DEFAULT_CONTEXT,
    CalibrationConfig,
    calibration,
    calibration_store,
    choose_baselines,
    group_verdicts,
)
from arena.client import ChatClient, ClientLimits, EndpointError
from arena.engine import (
    AdversarialMode,
    ContestantSpec,
    MatchEvent,
    MatchResult,
    MatchSettings,
    MatchSpec,
    Profile,
    Store,
    endpoint_hosts,
    now,
    play_match,
    profiles,
    scrub_endpoints,
)
from arena.probes import PROBE_VERSION as KL_VERSION
from arena.probes import PROBE_VERSION as SPEED_VERSION
from arena.probes import (
    KlResult,
    KlUnavailable,
    SpeedResult,
    is_collapsed,
    run_kl_probe,
    run_speed_probe,
)
from arena.schedule._jobs import Job, JobQueue
from arena.settings import SchedulerSettings
from arena.tiers import CALIBRATION_SEEDS, SEED_LIST, calibration_seed, tier, tier_seed
from submissions.keystore import KeyStore, KeyStoreError
from submissions.ssrf import Resolver, URLRefused, check_url, pinned_transport, system_resolver

log = logging.getLogger(__name__)

LEADER_LEASE = "scheduler"
PRECHECK_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Entrant:
    """An active submission as the pairing sees it."""

    id: int
    base_model_key: str
    settings_class: str
    is_baseline: bool
    endpoint: str

    @property
    def group(self) -> tuple[str, str]:
        """(base model key, sampling class)."""
        return self.base_model_key, self.settings_class


def group_baselines(entrants: Iterable[Entrant]) -> dict[tuple[str, str], int]:
    """Each group's baseline among active submissions (``arena.analysis``'s rule)."""
    return choose_baselines(
        {"id": e.id, "base_model_key": e.base_model_key, "settings_class": e.settings_class,
         "is_baseline": e.is_baseline}
        for e in entrants
    )  # fmt: skip


def seed_secret(store: Store, settings: SchedulerSettings) -> bytes:
    """``QER_SEED_SECRET`` if set, else a random secret made once and kept in the database."""
    if settings.seed_secret is not None:
        return settings.seed_secret.get_secret_value().encode()
    return store.meta_secret("seed_secret").encode()


def calibration_config(
    settings: SchedulerSettings, context_tokens: int | None
) -> CalibrationConfig:
    """How a group's baseline is calibrated (its endpoint's window decides the caps)."""
    return CalibrationConfig(
        target=settings.calibration_target,
        runs=settings.calibration_runs,
        retries=settings.retries,
        context_tokens=context_tokens or DEFAULT_CONTEXT,
    )


def endpoint_of(base_url: str) -> str:
    """The server behind a base URL (``scheme://host:port``): the unit of the concurrency limit."""
    scheme, _, rest = base_url.partition("://")
    host_port = rest.split("/", 1)[0].lower()
    if ":" not in host_port.rsplit("]", 1)[-1]:
        host_port += ":443" if scheme == "https" else ":80"
    return f"{scheme}://{host_port}"


@dataclass(frozen=True)
class JobRequest:
    """A job the planner wants queued: its dedupe key and payload."""

    key: str
    payload: dict[str, Any]


def _settings_tag(settings: SchedulerSettings, levels: Profile) -> str:
    mode = settings.adversarial.value
    return f"{settings.tier}:{profiles.tag(levels)}:{mode}:r{settings.retries}"


def payload_profile(payload: dict[str, Any]) -> Profile:
    """The profile a queued job plays (jobs queued before profiles named one ``difficulty``)."""
    if isinstance(payload.get("profile"), dict):
        return {str(room): int(level) for room, level in payload["profile"].items()}
    return profiles.uniform(int(payload.get("difficulty", 1)))


def match_jobs(
    low: int,
    high: int,
    round_index: int,
    settings: SchedulerSettings,
    seed: int,
    levels: Profile,
) -> list[JobRequest]:
    """A pair's round: one seed, both orders (one match when a submission meets itself, A/A)."""
    common = {
        "kind": "match",
        "pair": [low, high],
        "round": round_index,
        "seed": seed,
        "tier": settings.tier,
        "profile": levels,
        "retries": settings.retries,
        "adversarial": settings.adversarial.value,
    }
    orders = [("ab", low, high)] if low == high else [("ab", low, high), ("ba", high, low)]
    return [
        JobRequest(
            f"pair:{low}-{high}:{_settings_tag(settings, levels)}:round{round_index}:{order}",
            {**common, "a": a, "b": b},
        )
        for order, a, b in orders
    ]


def solo_job(
    submission_id: int,
    round_index: int,
    settings: SchedulerSettings,
    seed: int,
    levels: Profile,
) -> JobRequest:
    """A solo (bluff-mode) run on seed ``round_index`` of the group's list."""
    return JobRequest(
        f"solo:{submission_id}:{settings.tier}:{profiles.tag(levels)}:r{settings.retries}:"
        f"round{round_index}",
        {
            "kind": "solo",
            "a": submission_id,
            "round": round_index,
            "seed": seed,
            "tier": settings.tier,
            "profile": levels,
            "retries": settings.retries,
            "adversarial": AdversarialMode.BLUFF.value,
        },
    )


def calibration_job(
    baseline: int,
    calibration: int,
    round_index: int,
    settings: SchedulerSettings,
    seed: int,
    levels: Profile,
) -> JobRequest:
    """Run ``round_index`` of a calibration: the baseline solo (bluff mode) on a calibration seed,
    every room at the level its search is at."""
    return JobRequest(
        f"calibrate:{calibration}:run{round_index}",
        {
            "kind": "calibrate",
            "a": baseline,
            "calibration": calibration,
            "round": round_index,
            "seed": seed,
            "profile": levels,
            "retries": settings.retries,
            "adversarial": AdversarialMode.BLUFF.value,
        },
    )


@dataclass(frozen=True)
class GroupLevels:
    """What a group (base model and sampling class) plays: its profile, or, while its baseline is
    being calibrated, nothing but the next calibration run."""

    profile: Profile | None
    """The levels every member plays; None while the calibration runs."""
    calibration: int | None = None
    """The calibration being run (while ``profile`` is None)."""
    next_run: Profile | None = None
    """The levels of the calibration's next run."""
    baseline: int | None = None
    """The baseline that plays the calibration runs."""


def probe_job(kind: str, submission_id: int, baseline: int | None = None) -> JobRequest:
    """A probe: ``speed`` (solo; its endpoint plays nothing else meanwhile) or ``kl`` (against
    the baseline's endpoint)."""
    version = KL_VERSION if kind == "kl" else SPEED_VERSION
    payload: dict[str, Any] = {"kind": "probe", "probe": kind, "a": submission_id}
    if baseline is not None:
        payload["b"] = baseline
    suffix = f":vs{baseline}" if baseline is not None else ""
    return JobRequest(f"probe:{kind}:{submission_id}{suffix}:{version}", payload)


@dataclass(frozen=True)
class QueueView:
    """What the planner needs to know about the queue: job statuses by key, rounds queued per
    pair and per solo player (this tier and settings), pairs and players with a job waiting."""

    status: dict[str, str]
    rounds: Counter[tuple[int, int, str]]
    """Rounds queued per (low id, high id, profile tag)."""
    solos: Counter[tuple[int, str]]
    """Solo runs queued per (submission, profile tag)."""
    waiting: set[tuple[int, int]]
    calibration_jobs: Counter[int] = field(default_factory=Counter)
    """Calibration runs queued per calibration (any status)."""
    calibrating: frozenset[int] = frozenset()
    """Calibrations with a run queued or running (the next run waits for its result)."""

    @classmethod
    def of(cls, rows: Iterable[dict[str, Any]], settings: SchedulerSettings) -> QueueView:
        status: dict[str, str] = {}
        rounds: dict[tuple[int, int, str], set[int]] = {}
        solos: dict[tuple[int, str], set[int]] = {}
        waiting: set[tuple[int, int]] = set()
        calibration_jobs: Counter[int] = Counter()
        calibrating: set[int] = set()
        for row in rows:
            status[row["dedupe_key"]] = row["status"]
            payload = json.loads(row["payload"])
            kind = payload.get("kind", "match")
            if kind == "calibrate":
                calibration_jobs[payload["calibration"]] += 1
                if row["status"] in ("queued", "running"):
                    calibrating.add(payload["calibration"])
                continue
            same = (
                payload.get("tier") == settings.tier and payload.get("retries") == settings.retries
            )
            tag = profiles.tag(payload_profile(payload)) if kind in ("match", "solo") else ""
            if kind == "match" and same and payload["adversarial"] == settings.adversarial:
                low, high = payload["pair"]
                rounds.setdefault((low, high, tag), set()).add(payload["round"])
                if row["status"] == "queued":
                    waiting.add((low, high))
            elif kind == "solo" and same:
                solos.setdefault((payload["a"], tag), set()).add(payload["round"])
                if row["status"] == "queued":
                    waiting.add((payload["a"], -1))
        return cls(
            status,
            Counter({k: len(v) for k, v in rounds.items()}),
            Counter({k: len(v) for k, v in solos.items()}),
            waiting,
            calibration_jobs,
            frozenset(calibrating),
        )


FINISHED = ("done", "failed")
"""Job statuses after which a job will not run again."""


def plan_next(
    entrants: Iterable[Entrant],
    view: QueueView,
    settings: SchedulerSettings,
    *,
    secret: bytes,
    levels: dict[tuple[str, str], GroupLevels] | None = None,
    decided: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
    collapsed: set[int] = frozenset(),  # type: ignore[assignment]
) -> list[JobRequest]:
    """The next jobs to queue (one probe, one calibration run, one solo run or one round), or
    none.

    Per group (base model and sampling class), in this order: the speed probe of every member;
    the KL probe of every candidate against the group's baseline; the calibration of the
    baseline (one run at a time, each run's levels following from the ones before: see
    ``arena.analysis.calibration``), during which the group plays nothing else; each member's
    solo runs on the tier's seed list; then rounds: baseline-vs-candidate pairs until their
    verdict is ``decided`` or the tier's budget is spent, and the baseline's A/A rounds against
    itself, interleaved by the share of their budgets used; then candidate-vs-candidate pairs. A
    candidate plays nothing until its KL probe has finished, and nothing at all once the probe
    found it ``collapsed``. ``levels`` says what each group plays (default: every room at
    ``settings.difficulty``, or level 1 while calibrating is asked for but not set up).
    """
    spec = tier(settings.tier)
    members = sorted(entrants, key=lambda e: e.id)
    groups: dict[tuple[str, str], list[Entrant]] = {}
    for e in members:
        groups.setdefault((e.base_model_key, e.settings_class), []).append(e)
    baseline_of = {key: group_baselines(group).get(key) for key, group in groups.items()}
    fixed = profiles.uniform(settings.difficulty if isinstance(settings.difficulty, int) else 1)
    plays = {key: (levels or {}).get(key, GroupLevels(fixed)) for key in groups}

    for e in members:
        job = probe_job("speed", e.id)
        if job.key not in view.status:
            return [job]
    for key, group in groups.items():
        base = baseline_of[key]
        for e in group:
            if base is not None and e.id != base:
                job = probe_job("kl", e.id, base)
                if job.key not in view.status:
                    return [job]
    for key, plan in plays.items():
        if plan.profile is not None or plan.calibration is None:
            continue
        if plan.calibration in view.calibrating or plan.next_run is None or plan.baseline is None:
            continue
        k = view.calibration_jobs[plan.calibration]
        seed = calibration_seed(f"{key[0]}|{key[1]}", k, secret)
        return [calibration_job(plan.baseline, plan.calibration, k, settings, seed, plan.next_run)]

    def cleared(e: Entrant) -> bool:
        key = (e.base_model_key, e.settings_class)
        base = baseline_of[key]
        if e.id in collapsed or plays[key].profile is None:
            return False
        if base is None or e.id == base:
            return True
        return view.status.get(probe_job("kl", e.id, base).key) in FINISHED

    def tag_of(e: Entrant) -> str:
        return profiles.tag(plays[(e.base_model_key, e.settings_class)].profile or fixed)

    ready = [e for e in members if cleared(e)]
    solo = [
        e
        for e in ready
        if view.solos[(e.id, tag_of(e))] < spec.solo_seeds and (e.id, -1) not in view.waiting
    ]
    if solo:
        chosen = min(
            solo, key=lambda e: (view.solos[(e.id, tag_of(e))], baseline_of[e.group] != e.id, e.id)
        )
        group_key = (chosen.base_model_key, chosen.settings_class)
        k = view.solos[(chosen.id, tag_of(chosen))]
        seed = tier_seed(f"{group_key[0]}|{group_key[1]}", spec.name, k, secret)
        return [solo_job(chosen.id, k, settings, seed, plays[group_key].profile or fixed)]

    options: list[tuple[tuple[int, float, int, int, int], tuple[str, str], int, int]] = []
    for key, group in groups.items():
        base = baseline_of[key]
        playing = [e for e in group if e in ready]
        tag = profiles.tag(plays[key].profile or fixed)
        for i, x in enumerate(playing):
            for y in playing[i:]:
                pair = (x.id, y.id)
                if pair in view.waiting:
                    continue
                if x.id == y.id:  # A/A: after a baseline pair at the same share of budget,
                    # and only once a candidate plays (the floor is measured alongside it)
                    aa = x.id == base and len(playing) > 1
                    budget, klass, tie = (spec.aa_rounds if aa else 0), 0, 1
                elif base in pair:
                    budget, klass, tie = (0 if pair in decided else spec.rounds), 0, 0
                else:
                    budget, klass, tie = spec.cc_rounds, 1, 0
                played = view.rounds[(x.id, y.id, tag)]
                if played < budget:
                    options.append(((klass, played / budget, tie, x.id, y.id), key, x.id, y.id))
    if not options:
        return []
    _, group_key, low, high = min(options)
    levels_now = plays[group_key].profile or fixed
    k = view.rounds[(low, high, profiles.tag(levels_now))]
    seed = tier_seed(f"{group_key[0]}|{group_key[1]}", spec.name, k, secret)
    return match_jobs(low, high, k, settings, seed, levels_now)


def fits(job: Job, *, urls: dict[int, str], busy: Counter[str], limit: int) -> bool:
    """Whether ``job`` can start without an endpoint playing more than ``limit`` matches at once
    (a match between two models on one server is one match for that server). A speed probe
    needs its endpoint to itself."""
    needed = job_endpoints(job, urls)
    if is_speed_probe(job):
        return all(busy[endpoint] == 0 for endpoint in needed)
    return all(busy[endpoint] < limit for endpoint in needed)


def job_endpoints(job: Job, urls: dict[int, str]) -> set[str]:
    return {urls.get(job.payload[slot], "") for slot in ("a", "b") if slot in job.payload}


def is_speed_probe(job: Job) -> bool:
    return job.payload.get("kind") == "probe" and job.payload.get("probe") == "speed"


class ProbeRecord(BaseModel):
    """A finished probe, as stored in ``probes``."""

    submission_id: int
    kind: str
    baseline_id: int | None
    probe_version: str
    status: str
    result: str
    """The probe's JSON result (endpoint hosts scrubbed)."""
    started_at: str


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


class MatchFailed(RuntimeError):
    """A scheduled match could not be played (the endpoint refused, a submission went away)."""

    def __init__(
        self, reason: str, blame: tuple[int, ...] = (), *, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.blame = blame
        """Submissions at fault (their count of failures in a row goes up)."""
        self.permanent = permanent
        """Retrying cannot help (a submission was paused or deleted): the job is given up."""


class Scheduler:
    """Pairs, queues and plays matches in a background thread (``start``/``stop``)."""

    def __init__(
        self,
        store: Store,
        keystore: KeyStore,
        settings: SchedulerSettings | None = None,
        *,
        resolver: Resolver = system_resolver,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.keystore = keystore
        self.settings = settings or SchedulerSettings()
        self.resolver = resolver
        self.queue = JobQueue(store)
        self.secret = seed_secret(store, self.settings)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self.local: set[int] = set()
        """Submissions allowed on private addresses whatever ``allow_private`` says (the
        ``--demo`` contestants this process started on loopback)."""
        self._running: dict[int, asyncio.Task[None]] = {}
        self._endpoints: dict[int, tuple[tuple[str, ...], int]] = {}
        """Per running job: its endpoints and the weight it puts on each (a speed probe fills
        its endpoint so that nothing else starts there meanwhile)."""
        self._match_ids: dict[int, str] = {}
        self._closing: set[int] = set()
        """Jobs whose result is being recorded (their lease is released on purpose)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._aps: AsyncIOScheduler | None = None
        self._started = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Run the scheduler on its own event loop in a daemon thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._serve, name="scheduler", daemon=True)
        self._thread.start()
        self._started.wait(timeout=30)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        aps = AsyncIOScheduler(event_loop=loop, job_defaults={"coalesce": True, "max_instances": 1})
        aps.add_job(self.tick, "interval", seconds=self.settings.heartbeat_s, id="tick")
        aps.add_job(self.pair, "interval", seconds=self.settings.interval_s, id="pair")
        self._aps = aps
        loop.call_soon(aps.start)
        loop.call_soon(lambda: loop.create_task(self._first_round()))
        loop.call_soon(self._started.set)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _first_round(self) -> None:
        await self.tick()
        await self.pair()

    def kick(self) -> None:
        """Look for a match to queue and start now (e.g. after a new submission)."""
        if self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._first_round(), self._loop)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop: matches in play are cancelled, marked interrupted and given back to the queue."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):
            future.result(timeout=timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=timeout)
        self._thread = None

    async def _shutdown(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.is_leader:
            await asyncio.to_thread(self.queue.release_leader, LEADER_LEASE, self.owner)
            self.is_leader = False

    # -- the periodic jobs --------------------------------------------------------------------
    async def tick(self) -> None:
        """Leader lease, lease recovery and renewal, and starting queued matches."""
        try:
            # Matches in play keep their leases whether or not this process still leads.
            playing = [j for j in self._running if j not in self._closing]
            for job_id in await asyncio.to_thread(self._renew_leases, playing):
                task = self._running.get(job_id)
                if task is not None and job_id not in self._closing:
                    log.warning("lost the lease of job %d; stopping it", job_id)
                    task.cancel()
            self.is_leader = await asyncio.to_thread(
                self.queue.acquire_leader, LEADER_LEASE, self.owner, self.settings.leader_ttl_s
            )
            if not self.is_leader:
                return
            await asyncio.to_thread(self.queue.recover_expired)
            self._dispatch()
        except Exception:
            log.exception("scheduler tick failed")

    async def pair(self) -> None:
        """Fill the queue up to its depth with what the planner picks (leader only)."""
        if not self.is_leader:
            return
        try:
            for _ in range(self.settings.queue_depth):
                if await asyncio.to_thread(self.enqueue_next) is None:
                    break
                self._dispatch()
        except Exception:
            log.exception("scheduler pairing failed")

    # -- pairing ------------------------------------------------------------------------------
    def entrants(self) -> list[Entrant]:
        rows = self.store.query(
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

    def enqueue_next(self) -> int | None:
        """Queue what :func:`plan_next` picks (a round is queued in both orders at once, so its
        replays stay sealed until both are over); None when the queue is full or nothing is left
        to play."""
        counts = self.queue.counts()
        if counts.get("queued", 0) >= self.settings.queue_depth:
            return None
        entrants = self.entrants()
        view = QueueView.of(
            self.store.query("SELECT dedupe_key, payload, status FROM job_queue"), self.settings
        )
        levels = self.group_levels(entrants)
        wanted = plan_next(
            entrants,
            view,
            self.settings,
            secret=self.secret,
            levels=levels,
            decided=self.decided_pairs(entrants, levels),
            collapsed=self.collapsed(),
        )
        first: int | None = None
        for request in wanted:
            job_id = self.queue.enqueue(
                request.key, request.payload, max_attempts=self.settings.max_attempts
            )
            if job_id is not None:
                first = first or job_id
                log.info("queued job %d: %s", job_id, request.key)
        return first

    def group_levels(self, entrants: Iterable[Entrant]) -> dict[tuple[str, str], GroupLevels]:
        """What each group plays: a fixed level for every room, or (``difficulty =
        calibrate``) the profile its baseline's calibration chose, or, while that calibration
        runs, its next run. A calibration whose runs are all played is finished here."""
        members = sorted(entrants, key=lambda e: e.id)
        found: dict[tuple[str, str], GroupLevels] = {}
        if isinstance(self.settings.difficulty, int):
            fixed = profiles.uniform(self.settings.difficulty)
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
            found[key] = self._calibrated(key, base.id)
        return found

    def _calibrated(self, key: tuple[str, str], baseline: int) -> GroupLevels:
        rows = self.store.query("SELECT context_tokens FROM submissions WHERE id = ?", (baseline,))
        window = rows[0]["context_tokens"] if rows else None
        config = calibration_config(self.settings, window)
        record = calibration_store.get_or_create(self.store, key[0], key[1], baseline, config)
        if record.status == "done" and record.profile is not None:
            return GroupLevels(record.profile, record.id, baseline=baseline)
        runs = calibration_store.runs_of(self.store, record.id)
        if len(runs) >= config.runs:
            found = calibration.result(runs, config)
            calibration_store.finish(self.store, record.id, found)
            silent = ", ".join(found.dead_rooms) or "none"
            log.info("calibrated %s (baseline #%d): %s; no signal: %s", key[0], baseline,
                     profiles.text(found.profile), silent)  # fmt: skip
            return GroupLevels(found.profile, record.id, baseline=baseline)
        return GroupLevels(
            None, record.id, next_run=calibration.next_profile(runs, config), baseline=baseline
        )

    def decided_pairs(
        self,
        entrants: Iterable[Entrant],
        levels: dict[tuple[str, str], GroupLevels] | None = None,
    ) -> set[tuple[int, int]]:
        """Baseline-vs-candidate pairs whose verdict (on this tier's matches and the group's
        profile) is decided: the sequential test stops scheduling them."""
        members = list(entrants)
        levels = levels if levels is not None else self.group_levels(members)
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
                for print_, found in group_verdicts(self.store, cand.id, base.id):
                    if (
                        print_.get("tier") == self.settings.tier
                        and print_.get("adversarial") == self.settings.adversarial.value
                        and print_.get("profile") == wanted
                        and found.decided
                    ):
                        decided.add((min(cand.id, base.id), max(cand.id, base.id)))
        return decided

    def collapsed(self) -> set[int]:
        """Candidates whose latest KL probe says the model collapsed (no match is spent on
        them)."""
        found: set[int] = set()
        for row in self.store.query(
            "SELECT submission_id, result FROM probes p WHERE kind = 'kl' AND status = 'done' "
            "AND id = (SELECT MAX(id) FROM probes q WHERE q.submission_id = p.submission_id "
            "AND q.kind = 'kl')"
        ):
            if is_collapsed(json.loads(row["result"]), self.settings):
                found.add(row["submission_id"])
        return found

    # -- dispatch -----------------------------------------------------------------------------
    def _renew_leases(self, job_ids: list[int]) -> list[int]:
        """Extend the leases of the matches in play; return those whose lease was lost."""
        return [
            job_id
            for job_id in job_ids
            if not self.queue.heartbeat(job_id, self.owner, self.settings.lease_s)
        ]

    def _busy_endpoints(self) -> Counter[str]:
        busy: Counter[str] = Counter()
        for endpoints, weight in self._endpoints.values():
            for endpoint in endpoints:
                busy[endpoint] += weight
        return busy

    def _dispatch(self) -> None:
        """Start queued matches while there is capacity (runs on the scheduler loop)."""
        while len(self._running) < self.settings.max_concurrent:
            urls = {
                r["id"]: endpoint_of(r["base_url"])
                for r in self.store.query("SELECT id, base_url FROM submissions")
            }
            eligible = functools.partial(
                fits, urls=urls, busy=self._busy_endpoints(), limit=self.settings.per_endpoint_limit
            )
            job = self.queue.claim(self.owner, self.settings.lease_s, eligible)
            if job is None:
                return
            weight = self.settings.per_endpoint_limit if is_speed_probe(job) else 1
            self._endpoints[job.id] = (tuple(job_endpoints(job, urls)), weight)
            task = asyncio.get_running_loop().create_task(self._run_job(job))
            self._running[job.id] = task

    async def _run_job(self, job: Job) -> None:
        try:
            finished = await asyncio.to_thread(self._finished_match, job.id)
            if finished is None and await asyncio.to_thread(self._finished_probe, job.id):
                await asyncio.to_thread(self.queue.complete, job.id, self.owner, None)
                return
            if finished is not None:  # played before a crash, but the job was never closed
                await asyncio.to_thread(self.queue.complete, job.id, self.owner, finished)
                return
            result = await self.play(job)
        except asyncio.CancelledError:
            await asyncio.to_thread(self._abandon, job)
            raise
        except MatchFailed as exc:
            log.warning("job %d failed: %s", job.id, exc.reason)
            await asyncio.to_thread(self._record_failure, job, exc)
        except Exception as exc:
            log.exception("job %d crashed", job.id)
            await asyncio.to_thread(
                self._record_failure, job, MatchFailed(f"{type(exc).__name__}: {exc}")
            )
        else:
            self._closing.add(job.id)  # its lease ends with the record: not "lost"
            await asyncio.to_thread(self._record_result, job, result)
        finally:
            self._running.pop(job.id, None)
            self._endpoints.pop(job.id, None)
            self._match_ids.pop(job.id, None)
            self._closing.discard(job.id)
        if self.is_leader:
            await self.pair()  # what this job's result unblocks (or decides) is planned now
            self._dispatch()

    def _finished_match(self, job_id: int) -> str | None:
        rows = self.store.query(
            "SELECT id FROM matches WHERE job_id = ? AND status = 'done'", (job_id,)
        )
        return rows[0]["id"] if rows else None

    def _finished_probe(self, job_id: int) -> bool:
        return bool(self.store.query("SELECT 1 FROM probes WHERE job_id = ?", (job_id,)))

    def _abandon(self, job: Job) -> None:
        """A match cancelled by ``stop``: interrupted, and its job queued again at once."""

        match_id = self._match_ids.pop(job.id, None)

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE matches SET status = 'interrupted', finished_at = ?, "
                "error = 'the app stopped while the match was running' "
                "WHERE id = ? AND status = 'running'",
                (now(), match_id),
            )

        if match_id is not None:  # only this worker's match, never a newer owner's
            self.store.write(run)
        self.queue.release(job.id, self.owner, "the app stopped while the match was running")

    def _note_match(self, job_id: int, event: MatchEvent) -> None:
        if event.kind == "match_start":
            self._match_ids[job_id] = event.match_id

    # -- playing ------------------------------------------------------------------------------
    async def play(self, job: Job) -> MatchResult | ProbeRecord:
        """Play one queued job: a match between two submissions (or one against itself), a solo
        run, or a probe."""
        kind = job.payload.get("kind", "match")
        if kind == "probe":
            return await self.probe(job)
        slots = ("a", "b") if kind == "match" else ("a",)
        ids = [int(job.payload[slot]) for slot in slots]
        specs = [self.contestant(i) for i in ids]
        calibrating = kind == "calibrate"
        if calibrating:
            policy = CALIBRATION_SEEDS
        else:
            policy = SEED_LIST if job.payload.get("tier") else "ad hoc"
        spec = MatchSpec(
            a=specs[0],
            b=specs[1] if len(specs) > 1 else None,
            settings=MatchSettings(
                seed=job.payload["seed"],
                profile=payload_profile(job.payload),
                retries=job.payload["retries"],
                adversarial=AdversarialMode(job.payload["adversarial"]),
                tier=job.payload.get("tier"),
                seed_policy=policy,
                purpose="calibration" if calibrating else "measure",
            ),
            job_id=job.id,
        )
        clients: dict[str, ChatClient] = {}
        try:
            for slot, contestant, submission_id in zip(slots, specs, ids, strict=True):
                clients[slot] = await self._client(contestant, submission_id)
                await self._check_alive(clients[slot], contestant, submission_id)
            return await play_match(
                spec,
                self.store,
                endpoints=clients,  # type: ignore[arg-type]
                observer=functools.partial(self._note_match, job.id),
            )
        finally:
            for client in clients.values():
                await client.aclose()

    async def probe(self, job: Job) -> ProbeRecord:
        """Run a KL or speed probe and return its record (stored by ``_record_result``)."""
        which = job.payload["probe"]
        ids = [int(job.payload[slot]) for slot in ("a", "b") if slot in job.payload]
        specs = [self.contestant(i) for i in ids]
        started = now()
        clients: list[ChatClient] = []
        try:
            for contestant, submission_id in zip(specs, ids, strict=True):
                clients.append(await self._client(contestant, submission_id))
                await self._check_alive(clients[-1], contestant, submission_id)
            result: KlResult | KlUnavailable | SpeedResult
            if which == "kl":
                result = await run_kl_probe(clients[0], specs[0].model, clients[1], specs[1].model)
                if isinstance(result, KlUnavailable) and result.retryable:
                    raise MatchFailed(result.reason)  # queued again, up to max_attempts
            else:
                result = await run_speed_probe(clients[0], specs[0].model)
        finally:
            for client in clients:
                await client.aclose()
        hosts = endpoint_hosts(c.base_url for c in specs)
        return ProbeRecord(
            submission_id=ids[0],
            kind=which,
            baseline_id=ids[1] if len(ids) > 1 else None,
            probe_version=result.probe_version,
            status=result.status,
            result=scrub_endpoints(result.model_dump_json(), hosts) or "{}",
            started_at=started,
        )

    def contestant(self, submission_id: int) -> ContestantSpec:
        rows = self.store.query("SELECT * FROM submissions WHERE id = ?", (submission_id,))
        if not rows or rows[0]["status"] != "active":
            state = rows[0]["status"] if rows else "missing"
            raise MatchFailed(f"submission #{submission_id} is {state}", permanent=True)
        row = rows[0]
        key: SecretStr | None = None
        if row["api_key_encrypted"] is not None:
            try:
                key = self.keystore.decrypt(row["api_key_encrypted"])
            except KeyStoreError as exc:
                raise MatchFailed(
                    f"submission #{submission_id}: {exc}", (submission_id,), permanent=True
                ) from None
        return ContestantSpec(
            base_url=row["base_url"],
            model=row["model"],
            api_key=key,
            base_model=row["base_model"],
            quant=row["quant"],
            bits_per_weight=row["bits_per_weight"],
            sampling=json.loads(row["sampling"]),
            submission_id=submission_id,
        )

    async def _client(self, contestant: ContestantSpec, submission_id: int) -> ChatClient:
        """A client pinned to the address the SSRF guard validated just now (DNS may have
        changed since the submission)."""
        try:
            target = await check_url(
                contestant.base_url,
                resolver=self.resolver,
                allow_private=self.settings.allow_private or contestant.submission_id in self.local,
            )
        except URLRefused as exc:
            raise MatchFailed(
                f"submission #{submission_id}: endpoint URL refused: {exc.reason}",
                (submission_id,),
            ) from None
        key = contestant.api_key.get_secret_value() if contestant.api_key else None
        return ChatClient(
            target.url,
            api_key=key,
            limits=ClientLimits(deadline_s=self.settings.call_deadline_s),
            transport=pinned_transport(target),
        )

    async def _check_alive(
        self, client: ChatClient, contestant: ContestantSpec, submission_id: int
    ) -> None:
        """``GET /v1/models`` before the match, so a dead endpoint costs no match (and its
        opponent no time)."""
        try:
            models = await asyncio.wait_for(client.list_models(), PRECHECK_TIMEOUT_S)
        except (EndpointError, TimeoutError) as exc:
            reason = str(exc) or "no answer in time"
            raise MatchFailed(
                f"submission #{submission_id}: endpoint unreachable before the match: {reason}",
                (submission_id,),
            ) from None
        if contestant.model not in models:
            raise MatchFailed(
                f"submission #{submission_id}: the endpoint no longer serves {contestant.model!r}",
                (submission_id,),
            )

    # -- bookkeeping --------------------------------------------------------------------------
    def _record_result(self, job: Job, result: MatchResult | ProbeRecord) -> None:
        if isinstance(result, ProbeRecord):
            self._record_probe(job, result)
            return
        if not self.queue.complete(job.id, self.owner, result.match_id):
            log.warning("match job %d finished after its lease was lost", job.id)
        for slot, summary in result.summaries.items():
            submission_id = int(job.payload[slot])
            if summary.rooms and summary.outcomes.get("forfeit", 0) >= summary.rooms:
                reason = f"its endpoint failed every room of match {result.match_id}"
                self._count_failure(submission_id, reason)
            else:
                self._reset_failures(submission_id)

    def _record_probe(self, job: Job, record: ProbeRecord) -> None:
        """Store a probe's result with its job (once per job) and close the job."""
        probe_id = store_probe(self.store, record, job.id)
        if not self.queue.complete(job.id, self.owner, None):
            log.warning("probe job %d finished after its lease was lost", job.id)
        log.info("probe %s of submission #%d: %s (probe %d)", record.kind, record.submission_id,
                 record.status, probe_id)  # fmt: skip
        self._reset_failures(record.submission_id)

    def _record_failure(self, job: Job, exc: MatchFailed) -> None:
        if exc.permanent:
            self.queue.cancel(job.id, self.owner, exc.reason)
        else:
            self.queue.fail(job.id, self.owner, exc.reason)
        for submission_id in exc.blame:
            self._count_failure(submission_id, exc.reason)

    def _count_failure(self, submission_id: int, reason: str) -> None:
        threshold = self.settings.failure_threshold
        urls = self.store.query("SELECT base_url FROM submissions WHERE id = ?", (submission_id,))
        # The reason is shown publicly with the submission: no URL, host or address in it.
        reason = scrub_endpoints(reason, endpoint_hosts(r["base_url"] for r in urls)) or ""

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE submissions SET consecutive_failures = consecutive_failures + 1, "
                "updated_at = ? WHERE id = ?",
                (now(), submission_id),
            )
            db.execute(
                "UPDATE submissions SET status = 'paused', status_reason = ? "
                "WHERE id = ? AND status = 'active' AND consecutive_failures >= ?",
                (
                    f"paused by the scheduler after {threshold} failed matches in a row; "
                    f"last: {reason}"[:1000],
                    submission_id,
                    threshold,
                ),
            )

        self.store.write(run)

    def _reset_failures(self, submission_id: int) -> None:
        self.store.write(
            lambda db: db.execute(
                "UPDATE submissions SET consecutive_failures = 0 WHERE id = ?", (submission_id,)
            )
        )

    # -- status -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """For the health route and the UI."""
        return {
            "leader": self.is_leader,
            "owner": self.owner,
            "playing": sorted(self._running),
            "queue": self.queue.counts(),
            "settings": self.settings.model_dump(mode="json"),
        }
