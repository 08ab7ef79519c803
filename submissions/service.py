"""Registering an endpoint: validate, guard, probe, encrypt, store; owners pause or delete.

``submit`` runs, in order: the per-client rate limit (attempts count, failed ones too, so the probe
cannot be used to scan hosts), the SSRF guard, the duplicate check, the API-key policy, and the
health probe (``GET /v1/models`` lists the model; one tiny chat completion) through a transport
pinned to the validated address. Only a submission that passed all of them is stored; the owner
gets a deletion token once (only its hash is kept).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Literal, get_args

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from arena.analysis import review_of
from arena.client import ChatClient, ClientLimits, EndpointError, ServerInfo, server_info
from arena.engine import (
    Profile,
    Store,
    context_needed,
    effective_window,
    is_row_id,
    now,
    profiles,
)
from submissions.keystore import KeyStore, KeyStoreError
from submissions.models import SubmissionForm, base_model_key, settings_class
from submissions.ssrf import (
    Resolver,
    SafeTarget,
    URLRefused,
    check_url,
    pinned_transport,
    system_resolver,
)

PROBE_PROMPT = [{"role": "user", "content": "Reply with the single word: ready"}]
Status = Literal["active", "paused", "deleted"]
BaselinePolicy = Literal["confirm", "trust"]
"""``confirm``: a baseline claim waits for the operator (``pending``); ``trust``: the first claim
of a group is its baseline at once (``confirmed``). See ``arena.analysis._baselines``."""


RefusalKind = Literal[
    "rate_limited", "url_refused", "duplicate", "keys_disabled", "probe_failed", "not_found",
    "forbidden", "gone", "unauthorized", "bad_request",
]  # fmt: skip


class SubmissionRefused(ValueError):
    """A submission that is not accepted; ``reason`` is shown to the submitter, ``kind`` says
    which check refused it (the REST API maps it to a status code)."""

    def __init__(self, reason: str, kind: RefusalKind = "probe_failed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind: RefusalKind = kind


class ProbeResult(BaseModel):
    """What the health probe saw (shown to the submitter)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    models: list[str]
    """Model ids the endpoint lists (``GET /v1/models``)."""
    latency_s: float
    """Seconds the probe's tiny chat completion took (its last HTTP attempt)."""
    ttft_s: float | None
    """Seconds to its first streamed token; None when not streamed or no text came."""
    decode_tps: float | None
    """Its decode speed, tok/s: ``completion_tokens / (latency_s - ttft_s)``; None when not
    computable."""
    completion_tokens: int
    """Tokens it generated (at most 8 asked for; server-reported or estimated)."""
    reply_preview: str
    """The first 80 characters of its reply."""
    server: ServerInfo = ServerInfo()
    """What the server says it runs: engine, version, the quant it loaded, its context window."""


class Receipt(BaseModel):
    """An accepted submission."""

    submission_id: int
    """Its id."""
    deletion_token: str
    """Shown once: pause, resume or delete the submission with it."""
    probe: ProbeResult
    """What the health probe saw."""
    baseline_review: Literal["pending", "confirmed"] | None = None
    """For a baseline claim: ``pending`` (its verdicts are provisional until the operator
    confirms it) or ``confirmed``; None for a candidate."""


_GROUP_SQL = (
    "SELECT id, base_model_key, settings_class, is_baseline, baseline_review, status "
    "FROM submissions "
    "WHERE base_model_key = ? AND settings_class = ? AND status != 'deleted'"
)
"""The live submissions of one group (base model and sampling class)."""


def _group_of(form: SubmissionForm, klass: str) -> tuple[str, str]:
    return base_model_key(form.base_model), klass


def levels_for(difficulty: int | str) -> Profile:
    """The levels a new submission may be asked to play: the scheduler's fixed level for every
    room, or, when it calibrates, the easiest (calibration never goes past the window)."""
    return profiles.uniform(difficulty if isinstance(difficulty, int) else 0)


class SubmissionService:
    """Intake of endpoint submissions into the arena database."""

    def __init__(
        self,
        store: Store,
        keystore: KeyStore,
        *,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
        probe_limits: ClientLimits | None = None,
        rate_limit: int = 5,
        rate_window_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        transport_factory: Callable[[SafeTarget], httpx.AsyncBaseTransport] = pinned_transport,
        levels: Profile | None = None,
        baseline_policy: BaselinePolicy = "trust",
    ) -> None:
        self.store = store
        self.keystore = keystore
        self.allow_private = allow_private
        self.resolver = resolver
        self.probe_limits = probe_limits or ClientLimits(deadline_s=30.0, max_retries=1)
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s
        self.clock = clock
        self.transport_factory = transport_factory
        self.levels = levels or profiles.uniform(0)
        """The levels a submission may play (the scheduler's fixed profile; with calibration, the
        easiest): its context window must fit them."""
        if baseline_policy not in get_args(BaselinePolicy):
            raise ValueError(f"unknown baseline policy {baseline_policy!r}")
        self.baseline_policy: BaselinePolicy = baseline_policy
        """Whether a baseline claim waits for the operator."""

    # -- submit -------------------------------------------------------------------------------
    async def submit(
        self, form: SubmissionForm, client_id: str, owner: str | None = None
    ) -> Receipt:
        """Take ``form`` from ``client_id`` (its address) and, logged in, the Hugging Face user
        ``owner`` (the account's stable id, not its renamable username), who then owns it. The
        rate limit counts per address and, logged in, per user too (a new address does not
        reset a user's count, nor do several accounts multiply an address's)."""
        client = self.client_hash(client_id)
        self._count_attempt([client, *([self.client_hash(f"hf-user:{owner}")] if owner else [])])
        try:
            target = await check_url(
                form.base_url, resolver=self.resolver, allow_private=self.allow_private
            )
        except URLRefused as exc:
            raise SubmissionRefused(f"endpoint URL refused: {exc.reason}", "url_refused") from None
        klass = settings_class(form.sampling)
        if self._live_duplicate(target.url, form.model, klass):
            raise SubmissionRefused(
                "this endpoint, model id and sampling settings are already registered", "duplicate"
            )
        if form.is_baseline:
            self._refuse_claim(self.store.query(_GROUP_SQL, _group_of(form, klass)), form)
        encrypted = self._encrypt_key(form.api_key)
        probe = await self.probe(target, form.model, form.api_key)
        self._refuse_small_window(form, probe.server)
        token = secrets.token_urlsafe(24)
        review = self._claim_review() if form.is_baseline else None
        submission_id = self._insert(
            form, target, klass, encrypted, token, client, probe, review, owner
        )
        return Receipt(
            submission_id=submission_id, deletion_token=token, probe=probe, baseline_review=review
        )

    def _claim_review(self) -> Literal["pending", "confirmed"]:
        return "pending" if self.baseline_policy == "confirm" else "confirmed"

    def _refuse_small_window(self, form: SubmissionForm, server: ServerInfo) -> None:
        """Refuse an endpoint whose context window (``effective_window``) cannot
        hold the rooms it would play, saying how many tokens they need."""
        window = effective_window(form.context_tokens, server.context_tokens)
        if window is None:
            return
        needed = context_needed(self.levels, form.sampling.max_tokens)
        if window < needed:
            source = "stated" if window == form.context_tokens else f"reported by {server.engine}"
            raise SubmissionRefused(
                f"the endpoint's context window ({window} tokens, {source}) is too small for "
                f"the rooms it would play: they need at least {needed} tokens (the longest room "
                f"prompt, two answers of max_tokens {form.sampling.max_tokens} and the pressure "
                "turn). Serve the model with a larger window (llama-server -c, vLLM "
                "--max-model-len, Ollama num_ctx) or lower max_tokens.",
                "bad_request",
            )

    def _refuse_claim(self, rows: list[dict[str, object]], form: SubmissionForm) -> None:
        """No claim while a confirmed baseline is live (active or paused); under ``trust``, none
        while any claim is. Under ``confirm`` a second pending claim is taken: the group is
        disputed until the operator confirms one."""
        claims = [r for r in rows if r["is_baseline"] and r["status"] != "deleted"]
        confirmed = [int(str(r["id"])) for r in claims if review_of(r) == "confirmed"]
        if confirmed or (claims and self.baseline_policy == "trust"):
            baseline = (confirmed or [int(str(r["id"])) for r in claims])[0]
            who = "the operator" if self.baseline_policy == "confirm" else "its owner"
            raise SubmissionRefused(
                f"{form.base_model} already has a full-precision baseline with these sampling "
                f"settings (submission #{baseline}); register this endpoint as a candidate, or "
                f"ask {who} to remove that baseline first",
                "duplicate",
            )

    def client_hash(self, client_id: str) -> str:
        """A salted hash of the client (e.g. its address): the address itself is never stored."""
        return hmac.new(self._salt(), client_id.encode(), hashlib.sha256).hexdigest()

    def _salt(self) -> bytes:
        return bytes.fromhex(self.store.meta_secret("client_salt"))

    def _count_attempt(self, keys: list[str]) -> None:
        """Count an attempt under every key, or refuse it when any key is at the limit."""
        moment = self.clock()

        def run(db: sqlite3.Connection) -> int:
            recent = max(
                db.execute(
                    "SELECT COUNT(*) FROM submission_attempts WHERE client_hash = ? AND at > ?",
                    (key, moment - self.rate_window_s),
                ).fetchone()[0]
                for key in keys
            )
            if recent < self.rate_limit:
                db.executemany(
                    "INSERT INTO submission_attempts (client_hash, at) VALUES (?, ?)",
                    [(key, moment) for key in keys],
                )
            return int(recent)

        if self.store.write(run) >= self.rate_limit:
            minutes = round(self.rate_window_s / 60)
            raise SubmissionRefused(
                f"too many submissions: at most {self.rate_limit} per {minutes} minutes; "
                "try again later",
                "rate_limited",
            )

    def _live_duplicate(self, url: str, model: str, klass: str) -> bool:
        return bool(
            self.store.query(
                "SELECT 1 FROM submissions WHERE base_url = ? AND model = ? AND "
                "settings_class = ? AND status != 'deleted'",
                (url, model, klass),
            )
        )

    def _encrypt_key(self, key: SecretStr | None) -> bytes | None:
        if key is None or not key.get_secret_value():
            return None
        try:
            return self.keystore.encrypt(key)
        except KeyStoreError as exc:
            raise SubmissionRefused(str(exc), "keys_disabled") from None

    async def probe_url(self, url: str, model: str, key: SecretStr | None = None) -> ProbeResult:
        """The SSRF guard and the health probe alone (e.g. an entry moved to a new port)."""
        try:
            target = await check_url(url, resolver=self.resolver, allow_private=self.allow_private)
        except URLRefused as exc:
            raise SubmissionRefused(f"endpoint URL refused: {exc.reason}", "url_refused") from None
        return await self.probe(target, model, key)

    async def probe(self, target: SafeTarget, model: str, key: SecretStr | None) -> ProbeResult:
        """``GET /v1/models`` must list ``model``; one tiny chat completion must answer."""
        secret = key.get_secret_value() if key is not None else None
        async with ChatClient(
            target.url,
            api_key=secret or None,
            limits=self.probe_limits,
            transport=self.transport_factory(target),
        ) as client:
            try:
                models = await client.list_models()
                if model not in models:
                    listed = ", ".join(models[:10]) or "nothing"
                    raise SubmissionRefused(
                        f"health probe: the endpoint does not serve model {model!r} "
                        f"(it lists: {listed})"
                    )
                reply = await client.chat(model, PROBE_PROMPT, {"max_tokens": 8, "temperature": 0})
            except EndpointError as exc:
                raise SubmissionRefused(f"health probe failed: {exc}") from None
            server = await server_info(client, model)
        return ProbeResult(
            models=models,
            latency_s=round(reply.latency_s, 3),
            ttft_s=round(reply.ttft_s, 3) if reply.ttft_s is not None else None,
            decode_tps=round(reply.decode_tps, 1) if reply.decode_tps else None,
            completion_tokens=reply.completion_tokens,
            reply_preview=reply.text[:80],
            server=server,
        )

    def _insert(
        self,
        form: SubmissionForm,
        target: SafeTarget,
        klass: str,
        encrypted: bytes | None,
        token: str,
        client: str,
        probe: ProbeResult,
        review: str | None,
        owner: str | None,
    ) -> int:
        row = (
            form.display_name, form.base_model, base_model_key(form.base_model), form.quant,
            form.bits_per_weight, form.file_size_gb, form.hardware, form.engine, target.url,
            form.model, encrypted, form.sampling.model_dump_json(), klass, int(form.is_baseline),
            _token_hash(token), client, probe.model_dump_json(), now(), now(), form.context_tokens,
            probe.server.engine, probe.server.version, probe.server.loaded_quant,
            probe.server.context_tokens, review, owner,
        )  # fmt: skip

        def run(db: sqlite3.Connection) -> int:
            if form.is_baseline:  # again inside the write: two baselines racing in
                rows = [dict(r) for r in db.execute(_GROUP_SQL, _group_of(form, klass))]
                self._refuse_claim(rows, form)
            try:
                cursor = db.execute(
                    "INSERT INTO submissions (display_name, base_model, base_model_key, quant, "
                    "bits_per_weight, file_size_gb, hardware, engine, base_url, model, "
                    "api_key_encrypted, sampling, settings_class, is_baseline, status, "
                    "deletion_token_hash, client_hash, probe, created_at, updated_at, "
                    "context_tokens, server_engine, server_version, server_quant, "
                    "server_context_tokens, baseline_review, owner) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.IntegrityError:  # a concurrent identical submission won the race
                raise SubmissionRefused(
                    "this endpoint, model id and sampling settings are already registered",
                    "duplicate",
                ) from None
            submission_id = int(cursor.lastrowid or 0)
            if review is not None:
                record_review(db, submission_id, "claim", _actor(owner), review)
            return submission_id

        return self.store.write(run)

    # -- owners -------------------------------------------------------------------------------
    def set_status(
        self,
        submission_id: int,
        token: str,
        status: Status,
        reason: str = "",
        *,
        owner: str | None = None,
    ) -> None:
        """Pause, resume or delete a submission with its deletion token, or as the logged-in
        Hugging Face user ``owner`` (its stable id) who submitted it."""
        rows = (
            self.store.query(
                "SELECT deletion_token_hash, owner, status FROM submissions WHERE id = ?",
                (submission_id,),
            )
            if is_row_id(submission_id)
            else []
        )
        if not rows or not _allowed(rows[0], token, owner):
            raise SubmissionRefused("unknown submission or wrong token", "forbidden")
        if rows[0]["status"] == "deleted":
            raise SubmissionRefused("this submission was deleted", "gone")
        clear_key = status == "deleted"

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE submissions SET status = ?, status_reason = ?, updated_at = ?, "
                "api_key_encrypted = CASE WHEN ? THEN NULL ELSE api_key_encrypted END, "
                "owner = CASE WHEN ? THEN NULL ELSE owner END, "
                "consecutive_failures = 0 WHERE id = ?",
                (
                    status,
                    reason or f"set by the owner: {status}",
                    now(),
                    clear_key,
                    clear_key,
                    submission_id,
                ),
            )

        self.store.write(run)

    def get(self, submission_id: int) -> dict[str, object] | None:
        """A submission without its secrets (no key, no token hash, no client hash); None when
        there is none (an id SQLite cannot even hold included)."""
        if not is_row_id(submission_id):
            return None
        rows = self.store.query(
            "SELECT id, display_name, base_model, base_model_key, quant, bits_per_weight, "
            "file_size_gb, hardware, engine, model, sampling, is_baseline, baseline_review, "
            "status, status_reason, probe, created_at, context_tokens, server_engine, "
            "server_version, server_quant, "
            "server_context_tokens, api_key_encrypted IS NOT NULL AS has_api_key "
            "FROM submissions WHERE id = ?",
            (submission_id,),
        )
        if not rows:
            return None
        row = rows[0]
        row["sampling"] = json.loads(row["sampling"])
        row["probe"] = json.loads(row["probe"])
        return row


def _allowed(row: dict[str, object], token: str, owner: str | None) -> bool:
    """The deletion token matches, or ``owner`` is the user who submitted the row."""
    by_token = hmac.compare_digest(str(row["deletion_token_hash"]), _token_hash(token))
    by_owner = owner is not None and row["owner"] is not None and str(row["owner"]) == owner
    return by_token or by_owner


def _actor(owner: str | None) -> str:
    """Who made a claim, for the review history (the operator's eyes only)."""
    return f"submitter (hf-id:{owner})" if owner else "submitter"


def record_review(
    db: sqlite3.Connection, submission_id: int, action: str, actor: str, note: str
) -> None:
    """Append to a submission's baseline review history (inside the caller's write)."""
    db.execute(
        "INSERT INTO baseline_reviews (submission_id, action, actor, note, at) "
        "VALUES (?, ?, ?, ?, ?)",
        (submission_id, action, actor, note, now()),
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
