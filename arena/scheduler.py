"""The match scheduler: pair registered submissions, queue matches durably, play them.

One process at a time schedules (a leader lease row in the database; a second process sharing
the database waits until the lease expires). Two APScheduler jobs run on the scheduler's own
event loop, in a thread of its own, so matches never compete with the web UI's loop:

- ``pair`` (every ``interval_s``): when the queue has room, pick the next pair of active
  submissions of the same base model and sampling class, preferring baseline vs candidate, then
  the pair with the fewest matches together, and queue a match. The k-th match of a pair plays
  seed ``round_seed(k // 2)`` (secret per deployment) in order (low id, high id) for even k and
  reversed for odd k: both orders of a pair meet the same seeds, and every pair of a deployment
  walks the same seed list.
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
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from arena.client import ChatClient, ClientLimits, EndpointError
from arena.match import MatchEvent, play_match
from arena.models import AdversarialMode, ContestantSpec, MatchResult, MatchSettings, MatchSpec
from arena.queue import Job, JobQueue
from arena.replay import endpoint_hosts, scrub_endpoints
from arena.store import Store, now
from submissions.keystore import KeyStore, KeyStoreError
from submissions.ssrf import Resolver, URLRefused, check_url, pinned_transport, system_resolver

log = logging.getLogger(__name__)

LEADER_LEASE = "scheduler"
SEED_LIST = "qer-seeds-v1"
PRECHECK_TIMEOUT_S = 15.0


class SchedulerSettings(BaseModel):
    """Operator settings of the scheduler (``from_env`` reads ``QER_*`` variables)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    interval_s: float = Field(60.0, gt=0)
    """How often the pairing job looks for the next match to queue."""
    heartbeat_s: float = Field(5.0, gt=0)
    """How often leases are renewed and queued matches are started."""
    max_concurrent: int = Field(1, ge=1, le=64)
    """Matches played at the same time by this process."""
    per_endpoint_limit: int = Field(1, ge=1, le=16)
    """Matches one endpoint (scheme://host:port) plays at the same time."""
    queue_depth: int = Field(2, ge=1, le=100)
    """Queued (not yet started) matches the pairing job keeps ahead."""
    lease_s: float = Field(60.0, gt=0)
    """A running match's lease; renewed every ``heartbeat_s``. After a crash the match is
    re-queued once this has passed."""
    leader_ttl_s: float = Field(30.0, gt=0)
    """The leader lease; another process may take over this long after a crash."""
    failure_threshold: int = Field(3, ge=1)
    """Failed matches in a row after which a submission is paused."""
    max_attempts: int = Field(3, ge=1)
    """Plays of one queued match before it is given up."""
    difficulty: int = Field(1, ge=1, le=5)
    """Room difficulty of scheduled matches."""
    retries: int = Field(1, ge=0, le=5)
    """Solo retries per room."""
    adversarial: AdversarialMode = AdversarialMode.OPPONENT
    """Adversarial mode of scheduled matches."""
    allow_private: bool = False
    """Let endpoints on private addresses play (self-hosted deployments, tests)."""
    call_deadline_s: float = Field(180.0, gt=0)
    """Deadline of one chat call in a match."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> SchedulerSettings:
        env = os.environ if environ is None else environ
        names = {
            "interval_s": "QER_SCHEDULE_INTERVAL_S",
            "heartbeat_s": "QER_SCHEDULE_HEARTBEAT_S",
            "max_concurrent": "QER_MAX_CONCURRENT_MATCHES",
            "per_endpoint_limit": "QER_PER_ENDPOINT_LIMIT",
            "lease_s": "QER_MATCH_LEASE_S",
            "leader_ttl_s": "QER_LEADER_TTL_S",
            "difficulty": "QER_DIFFICULTY",
            "failure_threshold": "QER_FAILURE_THRESHOLD",
        }
        values: dict[str, Any] = {f: env[v] for f, v in names.items() if env.get(v)}
        if env.get("QER_ALLOW_PRIVATE_ENDPOINTS", "").lower() in ("1", "true", "yes"):
            values["allow_private"] = True
        return cls.model_validate({**values, **overrides})


@dataclass(frozen=True)
class Entrant:
    """An active submission as the pairing sees it."""

    id: int
    base_model_key: str
    settings_class: str
    is_baseline: bool
    endpoint: str


def round_seed(low: int, high: int, round_index: int, secret: bytes) -> int:
    """The seed of a pair's ``round_index``-th round (both orders play it). Unpredictable without
    the deployment's seed secret, and never shared with another pair: rooms and solvers are
    public code, so a seed whose replay is public must not come up again in a later match."""
    message = f"{SEED_LIST}:{low}:{high}:{round_index}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def seed_secret(store: Store) -> bytes:
    """``QER_SEED_SECRET`` if set, else a random secret made once and kept in the database."""
    configured = os.environ.get("QER_SEED_SECRET")
    if configured:
        return configured.encode()

    def run(db: sqlite3.Connection) -> str:
        row = db.execute("SELECT value FROM meta WHERE key = 'seed_secret'").fetchone()
        if row is not None:
            return str(row[0])
        value = secrets.token_hex(32)
        db.execute("INSERT INTO meta (key, value) VALUES ('seed_secret', ?)", (value,))
        return value

    return store.write(run).encode()


def endpoint_of(base_url: str) -> str:
    """The server behind a base URL (``scheme://host:port``): the unit of the concurrency limit."""
    scheme, _, rest = base_url.partition("://")
    host_port = rest.split("/", 1)[0].lower()
    if ":" not in host_port.rsplit("]", 1)[-1]:
        host_port += ":443" if scheme == "https" else ":80"
    return f"{scheme}://{host_port}"


def candidate_pairs(entrants: Iterable[Entrant]) -> list[tuple[Entrant, Entrant]]:
    """Pairs (lower id first) of the same base model and sampling class."""
    groups: dict[tuple[str, str], list[Entrant]] = {}
    for entrant in sorted(entrants, key=lambda e: e.id):
        groups.setdefault((entrant.base_model_key, entrant.settings_class), []).append(entrant)
    return [
        (x, y)
        for members in groups.values()
        for i, x in enumerate(members)
        for y in members[i + 1 :]
    ]


def pick_pair(
    entrants: Iterable[Entrant],
    played: Counter[tuple[int, int]],
    blocked: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
) -> tuple[Entrant, Entrant] | None:
    """The next pair to play: baseline vs candidate first, then the fewest matches together,
    then the oldest submissions. ``played`` counts matches queued so far per (low, high) id pair;
    ``blocked`` pairs (one already waiting in the queue) are skipped."""
    options = [p for p in candidate_pairs(entrants) if (p[0].id, p[1].id) not in blocked]
    if not options:
        return None

    def rank(pair: tuple[Entrant, Entrant]) -> tuple[int, int, int, int]:
        x, y = pair
        mixed = x.is_baseline != y.is_baseline
        return (0 if mixed else 1, played[(x.id, y.id)], x.id, y.id)

    return min(options, key=rank)


def job_for(
    low: int, high: int, count: int, settings: SchedulerSettings, secret: bytes
) -> tuple[str, dict]:
    """The dedupe key and payload of a pair's ``count``-th match (0-based)."""
    round_index, order = divmod(count, 2)
    a, b = (low, high) if order == 0 else (high, low)
    payload = {
        "pair": [low, high],
        "a": a,
        "b": b,
        "round": round_index,
        "seed": round_seed(low, high, round_index, secret),
        "difficulty": settings.difficulty,
        "retries": settings.retries,
        "adversarial": settings.adversarial.value,
    }
    key = (
        f"pair:{low}-{high}:d{settings.difficulty}:{settings.adversarial.value}:"
        f"r{settings.retries}:round{round_index}:{'ab' if order == 0 else 'ba'}"
    )
    return key, payload


def fits(job: Job, *, urls: dict[int, str], busy: Counter[str], limit: int) -> bool:
    """Whether ``job`` can start without an endpoint playing more than ``limit`` matches at once
    (a match between two models on one server is one match for that server)."""
    needed = {urls.get(job.payload[slot], "") for slot in ("a", "b")}
    return all(busy[endpoint] < limit for endpoint in needed)


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
        self.secret = seed_secret(store)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self.local: set[int] = set()
        """Submissions allowed on private addresses whatever ``allow_private`` says (the
        ``--demo`` contestants this process started on loopback)."""
        self._running: dict[int, asyncio.Task[None]] = {}
        self._endpoints: dict[int, tuple[str, ...]] = {}
        self._match_ids: dict[int, str] = {}
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
            for job_id in await asyncio.to_thread(self._renew_leases, list(self._running)):
                task = self._running.get(job_id)
                if task is not None:
                    log.warning("lost the lease of match job %d; stopping it", job_id)
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
        """Queue the next match when the queue has room (leader only)."""
        if not self.is_leader:
            return
        try:
            queued = await asyncio.to_thread(self.enqueue_next)
            if queued is not None:
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
        """Queue the next round of the best pair, both orders at once (a round's replays stay
        sealed until both are over); None when the queue is full or nothing pairs."""
        counts = self.queue.counts()
        if counts.get("queued", 0) >= self.settings.queue_depth:
            return None
        played: Counter[tuple[int, int]] = Counter()
        waiting: set[tuple[int, int]] = set()
        for row in self.store.query("SELECT payload, status FROM job_queue"):
            low, high = json.loads(row["payload"])["pair"]
            played[(low, high)] += 1
            if row["status"] == "queued":
                waiting.add((low, high))
        chosen = pick_pair(self.entrants(), played, waiting)
        if chosen is None:
            return None
        low, high = chosen[0].id, chosen[1].id
        first: int | None = None
        start = played[(low, high)]
        for count in range(start, start + 2 - start % 2):  # the rest of this round
            key, payload = job_for(low, high, count, self.settings, self.secret)
            job_id = self.queue.enqueue(key, payload, max_attempts=self.settings.max_attempts)
            if job_id is not None:
                first = first or job_id
                log.info("queued match job %d: #%d vs #%d, round %d",
                         job_id, payload["a"], payload["b"], payload["round"])  # fmt: skip
        return first

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
        for endpoints in self._endpoints.values():
            busy.update(endpoints)
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
            self._endpoints[job.id] = tuple({urls.get(job.payload[s], "") for s in ("a", "b")})
            task = asyncio.get_running_loop().create_task(self._run_job(job))
            self._running[job.id] = task

    async def _run_job(self, job: Job) -> None:
        try:
            finished = await asyncio.to_thread(self._finished_match, job.id)
            if finished is not None:  # played before a crash, but the job was never closed
                await asyncio.to_thread(self.queue.complete, job.id, self.owner, finished)
                return
            result = await self.play(job)
        except asyncio.CancelledError:
            await asyncio.to_thread(self._abandon, job)
            raise
        except MatchFailed as exc:
            log.warning("match job %d failed: %s", job.id, exc.reason)
            await asyncio.to_thread(self._record_failure, job, exc)
        except Exception as exc:
            log.exception("match job %d crashed", job.id)
            await asyncio.to_thread(
                self._record_failure, job, MatchFailed(f"{type(exc).__name__}: {exc}")
            )
        else:
            await asyncio.to_thread(self._record_result, job, result)
        finally:
            self._running.pop(job.id, None)
            self._endpoints.pop(job.id, None)
            self._match_ids.pop(job.id, None)
        if self.is_leader:
            self._dispatch()

    def _finished_match(self, job_id: int) -> str | None:
        rows = self.store.query(
            "SELECT id FROM matches WHERE job_id = ? AND status = 'done'", (job_id,)
        )
        return rows[0]["id"] if rows else None

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
    async def play(self, job: Job) -> MatchResult:
        """Play one queued match between two submissions."""
        ids = (int(job.payload["a"]), int(job.payload["b"]))
        specs = [self.contestant(i) for i in ids]
        spec = MatchSpec(
            a=specs[0],
            b=specs[1],
            settings=MatchSettings(
                seed=job.payload["seed"],
                difficulty=job.payload["difficulty"],
                retries=job.payload["retries"],
                adversarial=AdversarialMode(job.payload["adversarial"]),
            ),
            job_id=job.id,
        )
        clients: dict[str, ChatClient] = {}
        try:
            for slot, contestant, submission_id in zip("ab", specs, ids, strict=True):
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
    def _record_result(self, job: Job, result: MatchResult) -> None:
        if not self.queue.complete(job.id, self.owner, result.match_id):
            log.warning("match job %d finished after its lease was lost", job.id)
        for slot, summary in result.summaries.items():
            submission_id = int(job.payload[slot])
            if summary.rooms and summary.outcomes.get("forfeit", 0) >= summary.rooms:
                reason = f"its endpoint failed every room of match {result.match_id}"
                self._count_failure(submission_id, reason)
            else:
                self._reset_failures(submission_id)

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
