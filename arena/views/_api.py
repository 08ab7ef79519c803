"""The REST API, mounted beside the Gradio UI on the same server (FastAPI; no gradio here).

``GET /api/health``, ``GET /api/leaderboard``, ``GET /api/matches``, ``GET /api/matches/{id}``
(the full replay), ``POST /api/submissions`` (the form's validation; 201 or a 4xx with the
reason), ``GET /api/submissions/{id}`` and ``POST /api/submissions/{id}/status`` (pause, resume
or delete with the deletion token), ``GET /api/submissions/{id}/verdict``, ``GET /api/ratings``,
``GET /api/contagion`` and ``GET /api/calibrations`` (every base-model group's calibration);
the operator's ``GET /api/admin/baselines`` and ``POST /api/admin/baselines/{id}/confirm`` or
``/demote`` (``Authorization: Bearer <QER_ADMIN_TOKEN>``).
Responses are pydantic models, so the OpenAPI schema at ``/openapi.json`` is exact. Nothing here
returns an endpoint URL, an API key or a token hash.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from arena.analysis import (
    QUANT_FAMILIES,
    CalibrationSummary,
    ContagionMatrix,
    LeaderboardRow,
    Rating,
    filter_rows,
    sealed_seeds,
)
from arena.board import BoardKeeper, BoardStatus, VerdictReport, sealed_report
from arena.engine import Store
from arena.results import (
    ImportRefused,
    ImportReport,
    Publisher,
    ReferenceSpec,
    import_results,
    parse_bytes,
)
from arena.schedule import JobQueue, Scheduler
from arena.settings import current
from arena.views._limits import IMPORT_BODY_BYTES
from arena.views._match_list import MatchListItem, match_list
from arena.views._replay import replay
from arena.views._replay_models import Replay
from rooms.sandbox import isolation
from submissions.baselines import BaselineClaim, Decision, OperatorNote, claims, decide
from submissions.models import ENGINES, SubmissionForm, SubmissionPublic, error_message
from submissions.service import ProbeResult, SubmissionRefused, SubmissionService

REFUSAL_STATUS = {
    "rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
    "duplicate": status.HTTP_409_CONFLICT,
    "url_refused": status.HTTP_400_BAD_REQUEST,
    "keys_disabled": status.HTTP_400_BAD_REQUEST,
    "probe_failed": status.HTTP_422_UNPROCESSABLE_CONTENT,
    "not_found": status.HTTP_404_NOT_FOUND,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "gone": status.HTTP_410_GONE,
    "unauthorized": status.HTTP_401_UNAUTHORIZED,
    "bad_request": status.HTTP_400_BAD_REQUEST,
}


class Problem(BaseModel):
    """Why a request was refused."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    detail: str
    """The reason, for people."""
    kind: str
    """Which check refused it (``rate_limited``, ``duplicate``, ``url_refused``,
    ``invalid_field``...)."""
    fields: list[FieldProblem] = []
    """For ``invalid_field``: each bad field and what is wrong with it."""


class FieldProblem(BaseModel):
    """One bad field of a request (never its value: it could be an API key)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    loc: list[str | int]
    """Where it is: ``["body", "sampling", "top_k"]``, ``["query", "limit"]``..."""
    msg: str
    """What is wrong, for people."""
    type: str
    """The validation rule it broke (pydantic's error type)."""


class Health(BaseModel):
    """Liveness and what the app is doing."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    status: Literal["ok"] = "ok"
    """Always ``ok``: the app is up and answering."""
    matches: dict[str, int]
    """Matches per status."""
    submissions: dict[str, int]
    """Submissions per status."""
    queue: dict[str, int]
    """Scheduled matches per queue status."""
    scheduler_leader: bool
    """Whether this process schedules (one process does)."""
    sandbox_level: str
    """Isolation level for model-written code."""
    api_keys_accepted: bool
    """False when no encryption secret is configured."""
    publishing: str
    """Where results are published, or why not."""


class SubmissionCreated(BaseModel):
    """An accepted submission; the deletion token is shown this once."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    submission_id: int
    """The new submission's id (``GET /api/submissions/{id}``)."""
    deletion_token: str
    """Shown this once (only its hash is stored): pause, resume or delete the submission with
    it (``POST /api/submissions/{id}/status``)."""
    probe: ProbeResult
    """What the health probe saw at submission time: the models the endpoint lists, latency,
    time to first token, decode speed, completion tokens and the start of the reply."""
    baseline_review: Literal["pending", "confirmed"] | None = None
    """For a baseline claim: ``pending`` (provisional until the operator confirms it) or
    ``confirmed``; None for a candidate."""


class SubmissionView(SubmissionPublic):
    """A submission as anyone may see it (no URL, no key, no token): its public fields, and what
    the API adds."""

    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)

    sampling: dict[str, Any]
    """Sampling settings sent with every request."""
    status_reason: str | None
    """Why it is paused (endpoint URLs and hosts replaced by ``<endpoint>``)."""
    has_api_key: bool
    """Whether the endpoint needs an API key (the key itself is never shown)."""
    probe: dict[str, Any]
    """The health probe at submission time: models listed, latency, speed."""


class StatusChange(BaseModel):
    """Pause, resume or delete a submission."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    token: str = Field(min_length=1, max_length=200, repr=False)
    """The deletion token shown at submission time."""
    status: Literal["active", "paused", "deleted"]
    """The new status: ``active`` (resume), ``paused`` or ``deleted`` (final: its API key is
    dropped, and a deleted submission cannot be changed again)."""


def _forwarded_entries(headers: Mapping[str, str]) -> list[str]:
    """Every ``X-Forwarded-For`` entry in order, across all header lines (a client can send its
    own lines before the proxy's: ``Mapping.get`` would return only the first one)."""
    getlist = getattr(headers, "getlist", None)
    lines = list(getlist("x-forwarded-for")) if callable(getlist) else []
    if not lines and headers.get("x-forwarded-for"):
        lines = [headers["x-forwarded-for"]]
    return [entry.strip() for line in lines for entry in line.split(",") if entry.strip()]


def client_id_from(headers: Mapping[str, str], peer: str | None) -> str:
    """Who is submitting, for the rate limit. Behind a trusted proxy (a Hugging Face Space, or
    ``QER_TRUST_PROXY=1``) the rightmost ``X-Forwarded-For`` entry over all header lines, the one
    the proxy itself appended (earlier entries and lines are whatever the client sent); else the
    socket peer."""
    entries = _forwarded_entries(headers)
    if current().server.trust_proxy and entries:
        return entries[-1]
    return peer or "unknown"


def client_id(request: Request) -> str:
    return client_id_from(request.headers, request.client.host if request.client else None)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    """422 in the one refusal shape, ``{detail, kind, fields}``: each bad field's location and
    message, never the submitted values (FastAPI's default echoes ``input``, which can be the
    whole body, API key included)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    fields = [
        FieldProblem(loc=list(e["loc"]), msg=error_message(e), type=e["type"]) for e in errors
    ]
    named = "; ".join(f"{'.'.join(str(p) for p in f.loc[1:]) or f.loc[0]}: {f.msg}"
                      for f in fields)  # fmt: skip
    problem = Problem(detail=f"invalid request: {named or 'malformed'}", kind="invalid_field",
                      fields=fields)  # fmt: skip
    return JSONResponse(problem.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def install_error_handlers(app: FastAPI) -> None:
    """Validation errors without the submitted values (see :func:`_invalid`), refusals, and
    FastAPI's own HTTP errors under ``/api/`` (a body that is not JSON, an unknown route), all in
    the one ``{detail, kind}`` shape."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(SubmissionRefused, _refused)
    app.add_exception_handler(StarletteHTTPException, _http_error)


_KIND_OF_STATUS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                   405: "method_not_allowed", 413: "too_large"}  # fmt: skip


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's HTTP errors under ``/api/`` as a :class:`Problem`; elsewhere (the mounted UI)
    FastAPI's default answer."""
    if not isinstance(exc, StarletteHTTPException) or not request.url.path.startswith("/api/"):
        return await http_exception_handler(request, exc)  # type: ignore[arg-type]
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    problem = Problem(detail=detail, kind=_KIND_OF_STATUS.get(exc.status_code, "error"))
    return JSONResponse(problem.model_dump(), status_code=exc.status_code, headers=exc.headers)


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    """A refused submission or owner action: its status code and ``{"detail", "kind"}``."""
    if not isinstance(exc, SubmissionRefused):
        raise exc
    return JSONResponse(
        Problem(detail=exc.reason, kind=exc.kind).model_dump(),
        status_code=REFUSAL_STATUS.get(exc.kind, status.HTTP_400_BAD_REQUEST),
    )


def _counts(store: Store, table: str) -> dict[str, int]:
    if table not in ("matches", "submissions"):
        raise ValueError(table)
    rows = store.query(f"SELECT status, COUNT(*) AS n FROM {table} GROUP BY status")  # noqa: S608
    return {row["status"]: row["n"] for row in rows}


MAX_IMPORT_BYTES = IMPORT_BODY_BYTES


def _bad(reason: str) -> SubmissionRefused:
    return SubmissionRefused(reason, "bad_request")


def _require_admin(request: Request) -> None:
    """Admin routes (imports, baseline reviews) need ``Authorization: Bearer
    <QER_ADMIN_TOKEN>``; without the setting, they are off."""
    token = current().server.admin_token
    expected = token.get_secret_value() if token is not None else ""
    if not expected:
        raise SubmissionRefused(
            "admin routes are disabled: no QER_ADMIN_TOKEN is configured", "forbidden"
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise SubmissionRefused(
            "admin token missing or wrong (send Authorization: Bearer <QER_ADMIN_TOKEN>)",
            "unauthorized",
        )


PUBLISHING_OFF = "off: set HF_TOKEN and QER_RESULTS_REPO to publish the results dataset"


def build_router(
    store: Store,
    service: SubmissionService,
    scheduler: Scheduler | None = None,
    publisher: Publisher | None = None,
    board: BoardKeeper | None = None,
) -> APIRouter:
    """The ``/api`` routes over one store, submission service, board and (optional) scheduler
    and publisher. Without a ``board``, one that recomputes on read (for tests and tools: the app
    passes its background keeper, so no request ever computes the board)."""
    router = APIRouter(prefix="/api")
    board = board if board is not None else BoardKeeper(store, refresh_on_read=True)
    problems: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem} for code in sorted(set(REFUSAL_STATUS.values()))
    }
    admin = [Depends(_require_admin)]  # checked before any validation: strangers learn nothing

    @router.get("/health")
    def health() -> Health:
        return Health(
            matches=_counts(store, "matches"),
            submissions=_counts(store, "submissions"),
            queue=JobQueue(store).counts(),
            scheduler_leader=bool(scheduler and scheduler.is_leader),
            sandbox_level=isolation().level if isolation().allowed else "refused",
            api_keys_accepted=service.keystore.enabled,
            publishing=publisher.status() if publisher is not None else PUBLISHING_OFF,
        )

    @router.get("/leaderboard")
    def leaderboard(
        base_model: str | None = None,
        quant_family: str | None = None,
        hardware: str | None = None,
        engine: str | None = None,
        search: str | None = Query(None, max_length=200),
    ) -> list[LeaderboardRow]:
        """Every submission's row from the shared board (``GET /api/board`` says how fresh).
        ``quant_family`` and ``engine`` take one of their known values (400 otherwise)."""
        for name, value, known in (("quant_family", quant_family, QUANT_FAMILIES),
                                   ("engine", engine, ENGINES)):  # fmt: skip
            if value is not None and value not in known:
                raise _bad(f"unknown {name} {value[:40]!r} (known: {', '.join(known)})")
        return filter_rows(
            board.snapshot.rows,
            base_model=base_model,
            quant_family=quant_family,
            hardware=hardware,
            engine=engine,
            search=search,
        )

    @router.get("/matches")
    def matches(
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0),
        match_status: Literal["running", "done", "failed", "interrupted"] | None = Query(
            None, alias="status"
        ),
        submission_id: int | None = None,
    ) -> list[MatchListItem]:
        return match_list(
            store, limit=limit, offset=offset, status=match_status, submission_id=submission_id
        )

    @router.get("/matches/{match_id}", responses={404: {"model": Problem}})
    def match(match_id: str) -> Replay:
        found = replay(store, match_id) if len(match_id) <= 64 else None
        if found is None:
            raise SubmissionRefused(f"no match {match_id[:64]!r}", "not_found")
        return found

    @router.post(
        "/submissions",
        status_code=status.HTTP_201_CREATED,
        responses=problems,  # type: ignore[arg-type]
    )
    async def submit(form: SubmissionForm, request: Request) -> SubmissionCreated:
        receipt = await service.submit(form, client_id(request))
        board.kick()  # on the board within a poll, not after the next one
        if scheduler is not None:
            scheduler.kick()
        return SubmissionCreated(**receipt.model_dump())

    @router.post(
        "/imports/{source}",
        status_code=status.HTTP_201_CREATED,
        responses={400: {"model": Problem}, 401: {"model": Problem}, 403: {"model": Problem}},
        dependencies=admin,
    )
    async def import_file(
        source: Literal["lm-eval", "llama-bench"],
        request: Request,
        filename: str = Query(..., min_length=1, max_length=200, description="e.g. results.json"),
        submission_id: int | None = None,
        base_model: str | None = Query(None, max_length=100),
        quant: str | None = Query(None, max_length=40),
        bits_per_weight: float | None = Query(None, gt=0, le=64),
        file_size_gb: float | None = Query(None, gt=0),
        hardware: str = Query("", max_length=80),
        engine: str = Query("", max_length=40),
    ) -> ImportReport:
        """Import a results file (the request body, as is) for a submission or a reference entry
        (base model + quant). Needs ``Authorization: Bearer <QER_ADMIN_TOKEN>``."""
        raw = await request.body()
        if len(raw) > MAX_IMPORT_BYTES:
            raise _bad(f"file larger than {MAX_IMPORT_BYTES} bytes")
        reference = None
        if submission_id is None:
            if not base_model or not quant:
                raise _bad("give submission_id, or base_model and quant for a reference entry")
            try:
                reference = ReferenceSpec(
                    base_model=base_model, quant=quant, bits_per_weight=bits_per_weight,
                    file_size_gb=file_size_gb, hardware=hardware, engine=engine,
                )  # fmt: skip
            except ValidationError as exc:
                raise _bad("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from None
        try:
            results = parse_bytes(source, raw, filename)
            return import_results(
                store,
                results,
                source_sha256=hashlib.sha256(raw).hexdigest(),
                submission_id=submission_id,
                reference=reference,
            )
        except ImportRefused as exc:
            raise _bad(exc.reason) from None

    @router.get("/ratings")
    def rating_list() -> list[Rating]:
        """Bradley-Terry ratings per base model (anchored at its baseline), 95 % bootstrap CIs."""
        return list(board.snapshot.ratings)

    @router.get("/contagion")
    def contagion_list() -> list[ContagionMatrix]:
        """Per base model: how often the row quant is talked out of a right answer by the column
        quant (Manipulated / challenged-while-right, Wilson CIs)."""
        return list(board.snapshot.contagion)

    @router.get("/calibrations")
    def calibration_list() -> list[CalibrationSummary]:
        """Every base-model group's calibration, oldest first: its baseline, whether its runs are
        still played (and how many are), the profile chosen, the baseline's solve rates per room
        and level, and the rooms without signal (left out of verdicts)."""
        return list(board.snapshot.calibrations)

    @router.get("/submissions/{submission_id}/verdict", responses={404: {"model": Problem}})
    def submission_verdict(submission_id: int) -> VerdictReport:
        """The candidate's verdict against its baseline, with its discordant pairs (the replays
        to read: ``/api/matches/{match_id}``)."""
        found = service.get(submission_id)
        if found is None or found["status"] == "deleted":
            raise SubmissionRefused(f"no submission #{submission_id}", "not_found")
        report = board.snapshot.report(submission_id)
        if report is None:  # registered after the board was computed: not judged yet
            return VerdictReport(submission_id=submission_id, baseline_id=None, verdict=None,
                                 discordant=[])  # fmt: skip
        return sealed_report(report, sealed_seeds(store))

    admin_problems: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem} for code in (400, 401, 403, 404)
    }

    @router.get("/admin/baselines", responses=admin_problems, dependencies=admin)  # type: ignore[arg-type]
    def baseline_claims() -> list[BaselineClaim]:
        """Every baseline claim (pending first) with its group's standing, the evidence against
        it and its review history. Needs ``Authorization: Bearer <QER_ADMIN_TOKEN>``."""
        return claims(store)

    @router.post("/admin/baselines/{submission_id}/{decision}", responses=admin_problems,
                 dependencies=admin)  # type: ignore[arg-type]  # fmt: skip
    def decide_baseline(
        submission_id: int, decision: Decision, body: OperatorNote | None = None
    ) -> BaselineClaim:
        """``confirm``: the submission becomes its group's only baseline (other claims are
        demoted); ``demote``: it plays on as a candidate, and the group has no baseline until
        the operator confirms another member or a new claim comes. Every verdict of the group
        is recomputed. Needs ``Authorization: Bearer <QER_ADMIN_TOKEN>``."""
        decide(store, submission_id, decision, "operator (token)", body.note if body else "")
        board.kick()
        found = claims(store, only=submission_id)
        if not found:  # deleted meanwhile
            raise SubmissionRefused(f"no live submission #{submission_id}", "not_found")
        return found[0]

    @router.get("/board")
    def board_status() -> BoardStatus:
        """How fresh the shared board is: when it was computed, up to which finished match,
        how long that took, and whether recomputing currently fails."""
        return board.status()

    @router.get("/submissions/{submission_id}", responses={404: {"model": Problem}})
    def submission(submission_id: int) -> SubmissionView:
        found = service.get(submission_id)
        if found is None or found["status"] == "deleted":
            raise SubmissionRefused(f"no submission #{submission_id}", "not_found")
        return SubmissionView.model_validate(found)

    @router.post("/submissions/{submission_id}/status", responses=problems)  # type: ignore[arg-type]
    def change_status(submission_id: int, change: StatusChange) -> SubmissionView:
        service.set_status(submission_id, change.token, change.status)
        board.kick()
        found = service.get(submission_id)
        assert found is not None
        return SubmissionView.model_validate(found)

    return router
