"""The pure planner: which probe, calibration run, solo run or round to queue next, and whether a
queued job fits the endpoints' capacity (no I/O besides the seed secret's one read)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from arena.analysis import DEFAULT_CONTEXT, CalibrationConfig, choose_baselines
from arena.engine import AdversarialMode, Profile, Store, profiles
from arena.probes import KL_PROBE_VERSION, SPEED_PROBE_VERSION
from arena.schedule._jobs import Job
from arena.settings import SchedulerSettings
from arena.tiers import calibration_seed, tier, tier_seed


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
    """A probe: ``speed`` (solo; its host plays nothing else meanwhile, see :func:`fits`) or
    ``kl`` (against the baseline's endpoint)."""
    version = KL_PROBE_VERSION if kind == "kl" else SPEED_PROBE_VERSION
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


def fits(
    job: Job,
    *,
    urls: dict[int, str],
    busy: Counter[str],
    limit: int,
    probing: frozenset[str] = frozenset(),
) -> bool:
    """Whether ``job`` can start without an endpoint playing more than ``limit`` matches at once
    (a match between two models on one server is one match for that server). A speed probe
    needs its host to itself: two quants served from one machine on two ports share its
    processors and memory, so nothing may run on that host while one of them is timed
    (``probing``: the hosts with a speed probe running)."""
    needed = job_endpoints(job, urls)
    hosts = {host_of(endpoint) for endpoint in needed}
    if hosts & probing:
        return False
    if is_speed_probe(job):
        return not any(count for endpoint, count in busy.items() if host_of(endpoint) in hosts)
    return all(busy[endpoint] < limit for endpoint in needed)


def draining(
    *,
    urls: dict[int, str],
    busy: Counter[str],
    limit: int,
    probing: frozenset[str] = frozenset(),
) -> Callable[[Job], bool]:
    """:func:`fits` for jobs offered oldest first, except that a speed probe waiting for its host
    reserves it: no younger job starts there, so the host drains and the probe runs next (else
    a stream of matches on that host would keep it waiting for ever). It keeps state: build one
    per claim (``JobQueue.claim`` offers the queued jobs by id). Hosts are compared as written
    (``localhost`` and ``127.0.0.1`` count as two)."""
    reserved: set[str] = set()

    def eligible(job: Job) -> bool:
        hosts = {host_of(endpoint) for endpoint in job_endpoints(job, urls)}
        if hosts & reserved:
            return False
        if fits(job, urls=urls, busy=busy, limit=limit, probing=probing):
            return True
        if is_speed_probe(job):
            reserved.update(hosts)
        return False

    return eligible


def host_of(endpoint: str) -> str:
    """The host of an endpoint (``scheme://host:port``, see :func:`endpoint_of`)."""
    return endpoint.partition("://")[2].rsplit(":", 1)[0]


def job_endpoints(job: Job, urls: dict[int, str]) -> set[str]:
    return {urls.get(job.payload[slot], "") for slot in ("a", "b") if slot in job.payload}


def is_speed_probe(job: Job) -> bool:
    return job.payload.get("kind") == "probe" and job.payload.get("probe") == "speed"
