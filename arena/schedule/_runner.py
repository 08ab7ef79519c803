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
  more than ``per_endpoint_limit`` at once and a speed probe has its host to itself (a probe
  waiting for its host keeps younger jobs off it: ``_planner.draining``).

A match is linked to its job (``matches.job_id``; at most one ``done`` match per job), so a crash
mid-match re-plays the job and never counts it twice. A submission whose matches fail
``failure_threshold`` times in a row is paused with the reason, shown to its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from arena.client import ChatClient, server_info
from arena.engine import (
    AdversarialMode,
    ContestantSpec,
    MatchEvent,
    MatchResult,
    MatchSettings,
    MatchSpec,
    Store,
    effective_window,
    endpoint_hosts,
    now,
    play_match,
    scrub_endpoints,
)
from arena.probes import (
    KlResult,
    KlUnavailable,
    ProbeRecord,
    SpeedResult,
    run_kl_probe,
    run_speed_probe,
    store_probe,
)
from arena.schedule._jobs import Job, JobQueue
from arena.schedule._planner import (
    Entrant,
    GroupLevels,
    QueueView,
    draining,
    endpoint_of,
    host_of,
    is_speed_probe,
    job_endpoints,
    payload_profile,
    plan_next,
    seed_secret,
)
from arena.schedule._standing import collapsed, decided_pairs, entrants, group_levels
from arena.settings import SchedulerSettings
from arena.tiers import CALIBRATION_SEEDS, SEED_LIST
from submissions.contestants import Unplayable, check_alive, connect, load_contestant
from submissions.keystore import KeyStore
from submissions.ssrf import Resolver, system_resolver

log = logging.getLogger(__name__)

LEADER_LEASE = "scheduler"


async def identified(client: ChatClient, contestant: ContestantSpec) -> ContestantSpec:
    """The contestant with what its server says it runs now; its window is the smaller of
    the one stated at submission and the one the server reports."""
    info = await server_info(client, contestant.model)
    window = effective_window(contestant.context_tokens, info.context_tokens)
    return contestant.model_copy(update={"server": info, "context_tokens": window})


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

    @classmethod
    def of(cls, exc: Unplayable, submission_id: int) -> MatchFailed:
        """A submission that cannot play, as the job's failure."""
        blame = (submission_id,) if exc.at_fault else ()
        return cls(exc.reason, blame, permanent=exc.permanent)


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
        self._endpoints: dict[int, tuple[tuple[str, ...], bool]] = {}
        """Per running job: its endpoints, and whether it is a speed probe (nothing else starts
        on its host meanwhile)."""
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

    def entrants(self) -> list[Entrant]:
        """The active submissions, by id."""
        return entrants(self.store)

    def group_levels(self, members: Iterable[Entrant]) -> dict[tuple[str, str], GroupLevels]:
        """What each group plays (``arena.schedule._standing.group_levels``)."""
        return group_levels(self.store, self.settings, members)

    def decided_pairs(
        self,
        members: Iterable[Entrant],
        levels: dict[tuple[str, str], GroupLevels] | None = None,
    ) -> set[tuple[int, int]]:
        """Baseline-vs-candidate pairs whose verdict is decided."""
        return decided_pairs(self.store, self.settings, members, levels)

    def collapsed(self) -> set[int]:
        """Candidates whose latest KL probe says the model collapsed."""
        return collapsed(self.store, self.settings)

    # -- dispatch -----------------------------------------------------------------------------
    def _renew_leases(self, job_ids: list[int]) -> list[int]:
        """Extend the leases of the matches in play; return those whose lease was lost."""
        return [
            job_id
            for job_id in job_ids
            if not self.queue.heartbeat(job_id, self.owner, self.settings.lease_s)
        ]

    def _busy_endpoints(self) -> Counter[str]:
        return Counter(e for endpoints, _ in self._endpoints.values() for e in endpoints)

    def _probing_hosts(self) -> frozenset[str]:
        return frozenset(
            host_of(e) for endpoints, speed in self._endpoints.values() if speed for e in endpoints
        )

    def _dispatch(self) -> None:
        """Start queued matches while there is capacity (runs on the scheduler loop)."""
        while len(self._running) < self.settings.max_concurrent:
            urls = {
                r["id"]: endpoint_of(r["base_url"])
                for r in self.store.query("SELECT id, base_url FROM submissions")
            }
            eligible = draining(
                urls=urls,
                busy=self._busy_endpoints(),
                limit=self.settings.per_endpoint_limit,
                probing=self._probing_hosts(),
            )
            job = self.queue.claim(self.owner, self.settings.lease_s, eligible)
            if job is None:
                return
            self._endpoints[job.id] = (tuple(job_endpoints(job, urls)), is_speed_probe(job))
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
            for slot, contestant in zip(slots, specs, strict=True):
                clients[slot] = await self._connect(contestant)
                specs[slots.index(slot)] = await identified(clients[slot], contestant)
            spec = spec.model_copy(
                update={"a": specs[0], "b": specs[1] if len(specs) > 1 else None}
            )
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
            for contestant in specs:
                clients.append(await self._connect(contestant))
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
        """A submission as a match plays it (``submissions.contestants``)."""
        try:
            return load_contestant(self.store, self.keystore, submission_id)
        except Unplayable as exc:
            raise MatchFailed.of(exc, submission_id) from None

    async def _connect(self, contestant: ContestantSpec) -> ChatClient:
        """A client for a contestant whose URL passed the SSRF guard just now and whose
        endpoint still serves its model."""
        submission_id = contestant.submission_id or 0
        try:
            client = await connect(
                contestant,
                resolver=self.resolver,
                allow_private=self.settings.allow_private or submission_id in self.local,
                deadline_s=self.settings.call_deadline_s,
            )
        except Unplayable as exc:
            raise MatchFailed.of(exc, submission_id) from None
        try:
            await check_alive(client, contestant)
        except Unplayable as exc:
            await client.aclose()
            raise MatchFailed.of(exc, submission_id) from None
        return client

    # -- bookkeeping --------------------------------------------------------------------------
    def _record_result(self, job: Job, result: MatchResult | ProbeRecord) -> None:
        if isinstance(result, ProbeRecord):
            self._record_probe(job, result)
            return
        if not self.queue.complete(job.id, self.owner, result.match_id):
            log.warning("match job %d finished after its lease was lost", job.id)
        for slot, summary in result.summaries.items():
            submission_id = int(job.payload[slot])
            overflow = summary.outcomes.get("context_overflow", 0)
            forfeit = summary.outcomes.get("forfeit", 0)
            if summary.rooms and forfeit >= summary.rooms:
                reason = f"its endpoint failed every room of match {result.match_id}"
                self._count_failure(submission_id, reason)
            elif summary.rooms and overflow and forfeit + overflow >= summary.rooms:
                reason = (
                    f"no room of match {result.match_id} fit its context window: serve the model "
                    "with a larger one (llama-server -c, vLLM --max-model-len, Ollama num_ctx)"
                )
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
