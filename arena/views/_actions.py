"""What the UI's forms do, without gradio: the services the UI and the API share, submitting,
owners' actions (with the deletion token, or as the logged-in Hugging Face user who submitted),
and the operator's baseline reviews. ``app.py`` wires them to widgets."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from arena.board import BoardKeeper
from arena.engine import Store
from arena.results import Publisher, restore_from_hub
from arena.schedule import Scheduler
from arena.settings import SchedulerSettings, current
from arena.views import _pages as pages
from arena.views._downloads import Downloads
from submissions.baselines import OperatorNote, claims, decide
from submissions.keystore import KeyStore
from submissions.models import SubmissionForm, display_text
from submissions.service import SubmissionRefused, SubmissionService, levels_for

log = logging.getLogger("app")

MIRROR = Path("leaderboard_data")
"""The local mirror of the published dataset (``QER_MIRROR_DIR`` moves it)."""


@dataclass
class Services:
    """What the UI and the API work on."""

    store: Store
    service: SubmissionService
    scheduler: Scheduler | None = None
    publisher: Publisher | None = None
    board: BoardKeeper | None = None
    """The shared board snapshot (made over ``store`` when not given)."""

    downloads: Downloads | None = None
    """The Download tab's archives (made over ``store`` when not given)."""

    def __post_init__(self) -> None:
        if self.board is None:
            self.board = BoardKeeper(self.store)
        if self.downloads is None:
            self.downloads = Downloads(self.store)

    @property
    def keeper(self) -> BoardKeeper:
        """The board keeper (always set after construction)."""
        assert self.board is not None
        return self.board


# -- actions --------------------------------------------------------------------------------------
def _form_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The form's widgets to the submission model's fields (empty optional fields omitted)."""
    sampling: dict[str, Any] = {
        "temperature": values["temperature"],
        "max_tokens": values["max_tokens"],  # None: the model says which field is missing
    }
    if values["top_p"] not in (None, "", 0):  # an empty number box arrives as 0
        sampling["top_p"] = values["top_p"]
    if values["top_k"] not in (None, "", 0):
        sampling["top_k"] = int(values["top_k"])
    if values["thinking"] != "server default":
        sampling["thinking"] = values["thinking"] == "on"
    fields: dict[str, Any] = {
        "display_name": values["display_name"] or "",
        "base_model": values["base_model"] or "",
        "quant": values["quant"],
        "bits_per_weight": values["bits_per_weight"],
        "hardware": values["hardware"] or "",
        "engine": values["engine"],
        "base_url": (values["base_url"] or "").strip(),
        "model": values["model"] or "",
        "sampling": sampling,
        "is_baseline": bool(values["is_baseline"]),
    }
    if values["file_size_gb"] not in (None, "", 0):
        fields["file_size_gb"] = values["file_size_gb"]
    if values.get("context_tokens") not in (None, "", 0):
        fields["context_tokens"] = values["context_tokens"]
    if values["api_key"]:
        fields["api_key"] = values["api_key"]
    return fields


async def submit_action(
    services: Services, values: dict[str, Any], client: str, owner: str | None = None
) -> str:
    """Submit the form from ``client`` (its address) or as the logged-in user ``owner``."""
    try:
        form = SubmissionForm(**_form_fields(values))
    except ValidationError as exc:
        return pages.validation_message(exc)
    try:
        receipt = await services.service.submit(form, client, owner)
    except SubmissionRefused as exc:
        return f"**Not accepted:** {display_text(exc.reason)}"
    services.keeper.kick()
    if services.scheduler is not None:
        services.scheduler.kick()
    probe = receipt.probe
    speed = f"{probe.decode_tps:.1f} tok/s" if probe.decode_tps else "speed n/a"
    server = probe.server
    said = [
        server.engine,
        server.version,
        f"loaded {server.loaded_quant}" if server.loaded_quant else None,
        f"context {server.context_tokens} tokens" if server.context_tokens else None,
    ]
    says = ", ".join(display_text(part) for part in said if part) or "nothing about itself"
    return (
        f"### Accepted: submission #{receipt.submission_id}\n"
        f"Health probe: answered in {probe.latency_s:.2f} s ({speed}); the endpoint lists "
        f"{len(probe.models)} model(s). The server says: {says}.\n\n"
        f"**Your deletion token (shown once, keep it):** `{receipt.deletion_token}`\n\n"
        + _owner_note(owner)
        + _claim_note(receipt.baseline_review)
        + "The scheduler pairs it with other quants of the same base model and sampling settings."
    )


def _owner_note(owner: str | None) -> str:
    if owner:
        return (
            f"Logged in as **{display_text(owner)}**: *Manage my submission* pauses, resumes or "
            "deletes it without the token. "
        )
    return "Use it in *Manage my submission* to pause, resume or delete this entry. "


def _claim_note(review: str | None) -> str:
    if review == "pending":
        return (
            "**Baseline claim:** provisional until the operator confirms it; its group's "
            "verdicts are marked provisional meanwhile. "
        )
    return ""


def manage_action(
    services: Services, submission_id: Any, token: str, action: str, owner: str | None = None
) -> str:
    """Pause, resume or delete with the deletion token, or as the logged-in user ``owner``."""
    try:
        number = int(submission_id)
    except (TypeError, ValueError):
        return "**Not done:** enter the submission number."
    target = {"pause": "paused", "resume": "active", "delete": "deleted"}[action]
    try:
        services.service.set_status(
            number,
            (token or "").strip(),
            target,  # type: ignore[arg-type]
            owner=owner,
        )
    except SubmissionRefused as exc:
        return f"**Not done:** {display_text(exc.reason)}"
    services.keeper.kick()
    return f"Submission #{number} is now **{target}**."


def submission_status(services: Services, submission_id: Any) -> str:
    try:
        found = services.service.get(int(submission_id))
    except (TypeError, ValueError):
        found = None
    if found is None or found["status"] == "deleted":
        return "No such submission."
    reason = found.get("status_reason")
    extra = f" ({display_text(reason)})" if reason else ""
    return f"#{found['id']} {display_text(found['display_name'])}: **{found['status']}**{extra}"


def make_services(
    db: Path, settings: SchedulerSettings, *, scheduler: bool = True, mirror: Path | None = None
) -> Services:
    """The store, intake, scheduler and (with ``HF_TOKEN`` and ``QER_RESULTS_REPO``) the
    publisher; an empty database is first restored from the published dataset."""
    environment = current()
    mirror = mirror or environment.server.mirror_dir or MIRROR
    store = Store(db)
    service = SubmissionService(
        store,
        KeyStore.from_env(),
        allow_private=environment.intake.allow_private,
        levels=levels_for(environment.scheduler.difficulty),
        baseline_policy=environment.intake.baseline_policy,
    )
    if service.baseline_policy == "confirm" and not environment.server.has_operator:
        log.warning("baseline claims wait for an operator: set QER_ADMIN_TOKEN or QER_ADMINS")
    publisher = None
    publishing = environment.publish
    if publishing is not None:
        try:
            restore_from_hub(store, publishing, mirror)
        except Exception as exc:  # the app still starts; the log says why nothing was restored
            log.error("could not restore from %s: %s", publishing.repo_id, type(exc).__name__)
        publisher = Publisher(store, publishing, mirror)
    return Services(
        store,
        service,
        Scheduler(store, service.keystore, settings) if scheduler else None,
        publisher,
    )


# -- the operator ---------------------------------------------------------------------------------
OPERATOR_COLUMNS = ["id", "name", "base model", "quant", "claim", "group", "acting", "evidence"]
"""The Operator tab's table of baseline claims."""


def is_operator(username: str | None, token: str | None) -> bool:
    """The logged-in Hugging Face user is in ``QER_ADMINS``, or ``token`` is
    ``QER_ADMIN_TOKEN``."""
    server = current().server
    if _listed(username):
        return True
    expected = server.admin_token.get_secret_value() if server.admin_token is not None else ""
    given = (token or "").strip()
    return bool(expected and given) and hmac.compare_digest(given.encode(), expected.encode())


def _listed(username: str | None) -> bool:
    """``username`` is in ``QER_ADMINS`` (Hugging Face usernames ignore case)."""
    operators = {name.casefold() for name in current().server.operators}
    return bool(username) and str(username).casefold() in operators


def operator_actor(username: str | None) -> str:
    """How an operator's decision is recorded."""
    return f"operator (hf:{username})" if _listed(username) else "operator (token)"


OPERATOR_INTRO = (
    "### Baseline claims\n"
    "Anyone may claim that their endpoint is the full-precision baseline of a base model. Where "
    "an operator is configured (and on a Space) a claim is **provisional** until the operator "
    "confirms it: its group's verdicts are marked provisional, and while two claims compete "
    "(**disputed**) the group shows no verdict. Confirming one claim demotes the others (they "
    "are judged as candidates); demoting a baseline recomputes every verdict of its group. The "
    "evidence column lists what speaks against a claim: candidates that beat it significantly "
    "(McNemar), KL distances that contradict the bits per weight, a server that reports a "
    "quantized model. Log in with an account listed in `QER_ADMINS`, or give `QER_ADMIN_TOKEN`."
)
"""The Operator tab's text."""
NOT_OPERATOR = "**Operators only:** log in with an account in QER_ADMINS, or give QER_ADMIN_TOKEN."


def operator_claims(
    services: Services, username: str | None, token: str | None
) -> tuple[pd.DataFrame, str]:
    """The baseline claims (pending first) with the evidence against each, and a line about
    them; an empty table and :data:`NOT_OPERATOR` for anyone but the operator."""
    if not is_operator(username, token):
        return pd.DataFrame(columns=OPERATOR_COLUMNS), NOT_OPERATOR
    rows = [
        {
            "id": c.submission_id, "name": c.display_name,  # a table shows text, never HTML
            "base model": c.base_model, "quant": c.quant, "claim": c.review,
            "group": c.standing or "no baseline", "acting": "yes" if c.acting else "",
            "evidence": "; ".join(c.evidence.flags) or "nothing against it so far",
        }
        for c in claims(services.store)
    ]  # fmt: skip
    pending = sum(1 for r in rows if r["claim"] == "pending")
    return pd.DataFrame(rows, columns=OPERATOR_COLUMNS), f"{len(rows)} claim(s), {pending} pending."


def operator_action(
    services: Services,
    username: str | None,
    token: str | None,
    submission_id: Any,
    decision: str,
    note: str,
) -> str:
    """Confirm or demote a baseline as the operator (a logged-in allowlisted user or the admin
    token); a sentence saying what happened or why not."""
    if not is_operator(username, token):
        return NOT_OPERATOR
    try:
        number = int(submission_id)
    except (TypeError, ValueError):
        return "**Not done:** enter the submission number."
    if decision not in ("confirm", "demote"):
        return "**Not done:** choose confirm or demote."
    try:
        checked = OperatorNote(note=note or "")
        decide(services.store, number, decision, operator_actor(username), checked.note)  # type: ignore[arg-type]
    except ValidationError:
        return "**Not done:** the note is longer than 500 characters."
    except SubmissionRefused as exc:
        return f"**Not done:** {display_text(exc.reason)}"
    services.keeper.kick()
    done = "confirmed as its group's baseline" if decision == "confirm" else "demoted"
    return f"Submission #{number} is {done}; its group's verdicts are being recomputed."
