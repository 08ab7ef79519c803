"""Every setting the app reads from its environment, typed and documented in one place.

Nothing else in ``arena/``, ``submissions/`` or ``app.py`` reads ``os.environ``: code gets these
objects, or calls :func:`current` at the moment it needs a value (never at import time, so a
test or an operator can change a variable and be heard). ``rooms/sandbox.py`` reads its own two
variables (``QER_SANDBOX_LEVEL``, ``QER_SANDBOX_ALLOW_UNSAFE``): the rooms sit below the arena
and never import it.

Variables by setting:

- ``scheduler``: ``QER_SCHEDULE_INTERVAL_S``, ``QER_SCHEDULE_HEARTBEAT_S``,
  ``QER_MAX_CONCURRENT_MATCHES``, ``QER_PER_ENDPOINT_LIMIT``, ``QER_MATCH_LEASE_S``,
  ``QER_LEADER_TTL_S``, ``QER_DIFFICULTY``, ``QER_CALIBRATION_RUNS``, ``QER_CALIBRATION_TARGET``,
  ``QER_FAILURE_THRESHOLD``, ``QER_TIER``, ``QER_COLLAPSE_KL``, ``QER_COLLAPSE_TOP1``,
  ``QER_SEED_SECRET`` (and ``QER_ALLOW_PRIVATE_ENDPOINTS``);
- ``intake``: ``QER_ALLOW_PRIVATE_ENDPOINTS``, ``QER_SECRET_KEY``, ``QER_BASELINE_POLICY``;
- ``publish``: ``HF_TOKEN``, ``QER_RESULTS_REPO``, ``HF_ENDPOINT``, ``QER_PUBLISH_INTERVAL_S``;
- ``server``: ``QER_DATA_DIR``, ``QER_DB``, ``QER_MIRROR_DIR``, ``QER_DEMO``, ``QER_LOG_LEVEL``,
  ``GRADIO_SERVER_NAME``, ``GRADIO_SERVER_PORT``, ``QER_ADMIN_TOKEN``, ``QER_ADMINS``,
  ``SPACE_ID``, ``SYSTEM`` and ``OAUTH_CLIENT_ID`` (set by the Hub) and ``QER_TRUST_PROXY``;
- ``verdicts``: ``QER_EQUIVALENCE_MARGIN_PP``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from arena.engine import AdversarialMode
from rooms.base import MAX_DIFFICULTY, MIN_DIFFICULTY

TierName = Literal["smoke", "standard", "full"]
"""The scheduler's tiers (see ``arena.schedule``)."""
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
"""What turns a boolean variable on."""
_FROZEN = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SchedulerSettings(BaseModel):
    """Operator settings of the scheduler."""

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
    difficulty: int | Literal["calibrate"] = "calibrate"
    """``calibrate`` (the default): each group's baseline is calibrated first and every member
    plays the profile found (see ``arena.analysis.calibration``); a level 0-10: every room at
    that level, no calibration."""
    calibration_runs: int = Field(32, ge=4, le=400)
    """Calibration runs (solo matches of the baseline) before a group's profile is chosen."""
    calibration_target: float = Field(0.6, gt=0.05, lt=0.95)
    """The baseline solve rate calibration aims for in every room."""
    retries: int = Field(1, ge=0, le=5)
    """Solo retries per room."""
    adversarial: AdversarialMode = AdversarialMode.OPPONENT
    """Adversarial mode of scheduled matches."""
    allow_private: bool = False
    """Let endpoints on private addresses play (self-hosted deployments, tests)."""
    call_deadline_s: float = Field(180.0, gt=0)
    """Deadline of one chat call in a match."""
    tier: TierName = "standard"
    """Tier of scheduled play: seed list, solo runs and round budgets (see ``arena.tiers``)."""
    collapse_kl: float = Field(2.0, gt=0)
    """A candidate whose KL probe mean divergence from its baseline exceeds this (nats per
    token) is flagged collapsed and plays no match."""
    collapse_top1: float = Field(0.25, ge=0, le=1)
    """Likewise when its top-1 agreement with the baseline is below this."""
    seed_secret: SecretStr | None = Field(None, repr=False)
    """The secret of the seed lists (``QER_SEED_SECRET``); None: a random one kept in the
    database."""

    @field_validator("difficulty")
    @classmethod
    def _level(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not MIN_DIFFICULTY <= value <= MAX_DIFFICULTY:
            raise ValueError(f"difficulty must be 'calibrate' or {MIN_DIFFICULTY}-{MAX_DIFFICULTY}")
        return value


class PublishSettings(BaseModel):
    """Where and how often to publish the results dataset."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    repo_id: str = Field(pattern=r"^[\w.\-]+/[\w.\-]+$")
    """The dataset repo, ``owner/name``."""
    token: SecretStr = Field(repr=False)
    """A Hub token with write access to the repo."""
    endpoint: str | None = None
    """The Hub's URL (``HF_ENDPOINT``); None: huggingface.co."""
    interval_s: float = Field(300.0, gt=0)
    """At most one push per this many seconds."""
    max_attempts: int = Field(6, ge=1)
    """Attempts of one push (conflicts, rate limits, server and connection errors)."""
    backoff_s: float = Field(2.0, ge=0)
    """First retry wait; doubles each time."""


class IntakeSettings(BaseModel):
    """How submitted endpoints are taken in."""

    model_config = _FROZEN

    allow_private: bool = False
    """Accept endpoints on private addresses (self-hosted deployments; off on a public Space)."""
    secret_key: SecretStr | None = Field(None, repr=False)
    """The Fernet key that encrypts API keys at rest; None: API keys are refused."""
    baseline_policy: Literal["confirm", "trust"] = "trust"
    """``confirm``: a baseline claim is provisional until the operator confirms it (the default
    on a Space and whenever an operator is configured); ``trust``: the first claim of a group is
    its baseline at once (a local run nobody else submits to)."""


class ServerSettings(BaseModel):
    """The web app's own settings."""

    model_config = _FROZEN

    data_dir: Path = Path("data")
    """Where the database and local models live (``QER_DATA_DIR``; else
    ``/data/quant-escape-room`` on a Space with persistent storage, else ``data``: see
    :func:`default_data_dir`)."""
    db: Path | None = None
    """The SQLite file (default: ``data_dir/arena.sqlite3``)."""
    mirror_dir: Path | None = None
    """The local mirror of the published slice (default: ``leaderboard_data/``)."""
    demo: bool = False
    """Start the two local SmolLM2 contestants."""
    log_level: str | None = None
    """Logging level (None: ``INFO`` for the app, ``WARNING`` for the command line)."""
    host: str = "127.0.0.1"
    """Address the server binds."""
    port: int = Field(7860, ge=1, le=65535)
    """Port the server listens on."""
    trust_proxy: bool = False
    """Behind a proxy (a Space): the client is the last ``X-Forwarded-For`` entry."""
    admin_token: SecretStr | None = Field(None, repr=False)
    """Bearer token of the admin routes (imports); None: they are off."""
    hf_login: bool = False
    """Hugging Face login is on (see :func:`hf_login`); a logged-in submitter owns their
    submissions."""
    operators: tuple[str, ...] = ()
    """Hugging Face usernames that act as the operator when logged in (``QER_ADMINS``,
    comma-separated), besides whoever holds ``admin_token``."""

    @property
    def has_operator(self) -> bool:
        """Someone can confirm baselines: an admin token or an allowlisted user."""
        return self.admin_token is not None or bool(self.operators)


class VerdictSettings(BaseModel):
    """How degradation verdicts are decided."""

    model_config = _FROZEN

    margin_pp: float = Field(5.0, gt=0, lt=50)
    """The equivalence margin, in percentage points."""

    @property
    def margin(self) -> float:
        """The margin as a fraction."""
        return self.margin_pp / 100


class Settings(BaseModel):
    """Everything the environment decides."""

    model_config = _FROZEN

    scheduler: SchedulerSettings = SchedulerSettings()
    """The match scheduler."""
    publish: PublishSettings | None = None
    """Publishing the results dataset (None: off, no token or repo)."""
    intake: IntakeSettings = IntakeSettings()
    """Submissions."""
    server: ServerSettings = ServerSettings()
    """The web app."""
    verdicts: VerdictSettings = VerdictSettings()
    """Verdicts."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every variable (ValueError naming the variable for a bad value)."""
        env = os.environ if environ is None else environ
        return cls(
            scheduler=scheduler_from_env(env),
            publish=publish_from_env(env),
            intake=IntakeSettings(
                allow_private=flag(env, "QER_ALLOW_PRIVATE_ENDPOINTS"),
                secret_key=env.get("QER_SECRET_KEY") or None,
                baseline_policy=baseline_policy(env),
            ),
            server=_model(ServerSettings, env, {
                "db": "QER_DB", "mirror_dir": "QER_MIRROR_DIR",
                "log_level": "QER_LOG_LEVEL", "host": "GRADIO_SERVER_NAME",
                "port": "GRADIO_SERVER_PORT", "admin_token": "QER_ADMIN_TOKEN",
            }, demo=flag(env, "QER_DEMO"), data_dir=default_data_dir(env), operators=operators(env),
               hf_login=hf_login(env),
               trust_proxy=bool(env.get("SPACE_ID")) or flag(env, "QER_TRUST_PROXY")),
            verdicts=_model(VerdictSettings, env, {"margin_pp": "QER_EQUIVALENCE_MARGIN_PP"}),
        )  # fmt: skip


SPACE_STORAGE = Path("/data")
"""Where a Hugging Face Space mounts its persistent storage (read-write)."""
SPACE_DATA_DIR = SPACE_STORAGE / "quant-escape-room"
"""The data folder on a Space with persistent storage."""
LOCAL_DATA_DIR = Path("data")
"""The data folder otherwise (relative to the working directory)."""


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK)


def default_data_dir(
    env: Mapping[str, str],
    *,
    exists: Callable[[Path], bool] = Path.is_dir,
    writable: Callable[[Path], bool] = _writable,
) -> Path:
    """The data folder: ``QER_DATA_DIR`` when set; else, on a Space (``SPACE_ID``) whose
    persistent storage is mounted (``/data`` exists and is writable), ``/data/quant-escape-room``;
    else ``data``. ``exists`` and ``writable`` check ``/data`` (injectable for tests)."""
    chosen = env.get("QER_DATA_DIR", "").strip()
    if chosen:
        return Path(chosen)
    if env.get("SPACE_ID", "").strip() and exists(SPACE_STORAGE) and writable(SPACE_STORAGE):
        return SPACE_DATA_DIR
    return LOCAL_DATA_DIR


HF_USERNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
"""A Hugging Face username as the Hub spells them."""


def operators(env: Mapping[str, str]) -> tuple[str, ...]:
    """``QER_ADMINS``: comma-separated Hugging Face usernames (ValueError naming the variable for
    one that cannot be a username)."""
    names = tuple(n.strip() for n in env.get("QER_ADMINS", "").split(",") if n.strip())
    for name in names:
        if not HF_USERNAME.fullmatch(name):
            raise ValueError(f"QER_ADMINS: {name!r} is not a Hugging Face username")
    return names


def hf_login(env: Mapping[str, str]) -> bool:
    """A Space with ``hf_oauth: true``: the Hub sets ``SYSTEM=spaces``, ``SPACE_ID`` and
    ``OAUTH_CLIENT_ID``. Elsewhere Gradio's login would be a mock that needs a Hub account, so
    there is none."""
    return env.get("SYSTEM") == "spaces" and bool(
        env.get("SPACE_ID") and env.get("OAUTH_CLIENT_ID")
    )


def baseline_policy(env: Mapping[str, str]) -> Literal["confirm", "trust"]:
    """``QER_BASELINE_POLICY`` (``confirm`` or ``trust``); unset: ``confirm`` on a Space
    (``SPACE_ID``) or when an operator is configured (``QER_ADMIN_TOKEN``, ``QER_ADMINS``),
    else ``trust``."""
    chosen = env.get("QER_BASELINE_POLICY", "").strip().lower()
    if chosen in ("confirm", "trust"):
        return "confirm" if chosen == "confirm" else "trust"
    if chosen:
        raise ValueError(f"QER_BASELINE_POLICY: {chosen!r} is neither 'confirm' nor 'trust'")
    operator = any(env.get(v, "").strip() for v in ("SPACE_ID", "QER_ADMIN_TOKEN", "QER_ADMINS"))
    return "confirm" if operator else "trust"


def flag(env: Mapping[str, str], name: str) -> bool:
    """A boolean variable (``1``, ``true``, ``yes`` or ``on``)."""
    return env.get(name, "").strip().lower() in TRUE_WORDS


def _model(kind: type[Any], env: Mapping[str, str], names: dict[str, str], **given: Any) -> Any:
    """``kind`` from the variables named per field (unset or empty ones keep the default; values
    in ``given`` win); a bad value is a ValueError naming the variable."""
    values = {
        field: env[var].strip()
        for field, var in names.items()
        if env.get(var, "").strip() and field not in given
    }
    try:
        return kind.model_validate({**values, **given})
    except ValueError as exc:
        errors = getattr(exc, "errors", lambda: [])()
        field = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else ""
        if field in names:
            raise ValueError(f"{names[field]}: {errors[0]['msg']}") from None
        raise


SCHEDULER_VARIABLES: dict[str, str] = {
    "interval_s": "QER_SCHEDULE_INTERVAL_S",
    "heartbeat_s": "QER_SCHEDULE_HEARTBEAT_S",
    "max_concurrent": "QER_MAX_CONCURRENT_MATCHES",
    "per_endpoint_limit": "QER_PER_ENDPOINT_LIMIT",
    "lease_s": "QER_MATCH_LEASE_S",
    "leader_ttl_s": "QER_LEADER_TTL_S",
    "difficulty": "QER_DIFFICULTY",
    "calibration_runs": "QER_CALIBRATION_RUNS",
    "calibration_target": "QER_CALIBRATION_TARGET",
    "failure_threshold": "QER_FAILURE_THRESHOLD",
    "tier": "QER_TIER",
    "collapse_kl": "QER_COLLAPSE_KL",
    "collapse_top1": "QER_COLLAPSE_TOP1",
    "seed_secret": "QER_SEED_SECRET",
}
"""Scheduler setting -> its variable."""


def scheduler_from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> SchedulerSettings:
    """The scheduler's settings from the environment, with ``overrides`` on top."""
    env = os.environ if env is None else env
    level = env.get("QER_DIFFICULTY", "").strip()
    given: dict[str, Any] = {}
    if level.isdigit():
        given["difficulty"] = int(level)
    if flag(env, "QER_ALLOW_PRIVATE_ENDPOINTS"):
        given["allow_private"] = True
    names = {**SCHEDULER_VARIABLES, "allow_private": "QER_ALLOW_PRIVATE_ENDPOINTS"}
    return _model(SchedulerSettings, env, names, **{**given, **overrides})


def publish_from_env(env: Mapping[str, str] | None = None) -> PublishSettings | None:
    """Publishing settings, or None without both ``HF_TOKEN`` and ``QER_RESULTS_REPO``."""
    env = os.environ if env is None else env
    if not env.get("HF_TOKEN") or not env.get("QER_RESULTS_REPO"):
        return None
    return _model(PublishSettings, env, {
        "repo_id": "QER_RESULTS_REPO", "token": "HF_TOKEN", "endpoint": "HF_ENDPOINT",
        "interval_s": "QER_PUBLISH_INTERVAL_S",
    })  # fmt: skip


def current() -> Settings:
    """The settings as the environment says now."""
    return Settings.from_env()
