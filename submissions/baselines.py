"""The operator's side of baseline authority: the claims to review, confirm, demote.

Anyone may *claim* that their endpoint is the full-precision baseline of a base model
(``submissions.service``); where an operator exists the claim stays ``pending`` (its group's
verdicts are provisional, or withheld while claims compete) until the operator decides:

- **confirm** a live submission of a group (a claim, a demoted claim, or any candidate): it
  becomes the group's only baseline; the group's other claims are demoted;
- **demote** a claim: it plays on as a candidate (judged against the group's next claim, if
  any).

Both are written with who did it and why (``baseline_reviews``), and raise the board's version
of the base model (its triggers), so every verdict is recomputed against the new baseline.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from pydantic import BaseModel, ConfigDict

from arena.analysis import BaselineEvidence, Standing, baseline_evidence, baseline_standings
from arena.engine import Store, is_row_id, now
from submissions.models import plain
from submissions.service import SubmissionRefused, record_review

Decision = Literal["confirm", "demote"]

_CONFIG = ConfigDict(frozen=True, use_attribute_docstrings=True)

_LIVE_SQL = (
    "SELECT id, display_name, base_model, base_model_key, settings_class, quant, "
    "bits_per_weight, is_baseline, baseline_review, status, server_quant FROM submissions "
    "WHERE status != 'deleted' ORDER BY id"
)


class OperatorNote(BaseModel):
    """The body of a confirmation or demotion."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    note: plain(500, optional=True) = ""
    """Why (plain text, kept in the claim's review history; at most 500 characters)."""


class ReviewEntry(BaseModel):
    """One line of a claim's history."""

    model_config = _CONFIG

    action: Literal["claim", "confirm", "demote"]
    """What happened."""
    actor: str
    """Who: ``submitter``, ``submitter (hf:<user>)``, ``operator (token)`` or
    ``operator (hf:<user>)``."""
    note: str
    """Why, as given (for a claim: the review it got, ``pending`` or ``confirmed``)."""
    at: str
    """When (UTC, ISO 8601)."""


class BaselineClaim(BaseModel):
    """A submission that claims (or claimed) to be its group's full-precision baseline, with
    the evidence the operator decides on."""

    model_config = _CONFIG

    submission_id: int
    """The submission."""
    display_name: str
    """Its display name."""
    base_model: str
    """Its base model as submitted."""
    settings_class: str
    """Its sampling class (its group is the base model and this class)."""
    quant: str
    """Its quant label."""
    status: str
    """``active`` or ``paused``."""
    review: Literal["pending", "confirmed", "demoted"]
    """The claim's review."""
    acting: bool
    """It is the group's baseline now: the lowest-id live claim, whose verdicts the board
    shows (the scheduler plays against it while it is active; paused, against the next active
    claim)."""
    standing: Standing | None
    """Its group's standing: ``confirmed``, ``provisional`` or ``disputed``; None when the group
    has no live claim (every claim demoted)."""
    evidence: BaselineEvidence
    """What speaks against it as a baseline."""
    history: list[ReviewEntry]
    """Its claims, confirmations and demotions, oldest first."""


def claims(store: Store, only: int | None = None) -> list[BaselineClaim]:
    """Every live submission that claims or claimed a baseline, pending ones first (``only``:
    just that submission's, if it is one)."""
    rows = store.query(_LIVE_SQL)
    standings = baseline_standings(rows)
    acting: dict[tuple[str, str], int] = {}
    for row in rows:
        if row["is_baseline"]:
            acting.setdefault((row["base_model_key"], row["settings_class"]), row["id"])
    history = _history(store)
    out = []
    for row in rows:
        if row["baseline_review"] is None or only not in (None, row["id"]):
            continue
        group = (row["base_model_key"], row["settings_class"])
        evidence = baseline_evidence(store, row["id"])
        if evidence is None:  # deleted since the read
            continue
        out.append(BaselineClaim(
            submission_id=row["id"], display_name=row["display_name"],
            base_model=row["base_model"], settings_class=row["settings_class"],
            quant=row["quant"], status=row["status"], review=row["baseline_review"],
            acting=acting.get(group) == row["id"], standing=standings.get(group),
            evidence=evidence, history=history.get(row["id"], []),
        ))  # fmt: skip
    order = {"pending": 0, "confirmed": 1, "demoted": 2}
    return sorted(out, key=lambda c: (order[c.review], c.submission_id))


def _history(store: Store) -> dict[int, list[ReviewEntry]]:
    found: dict[int, list[ReviewEntry]] = {}
    for row in store.query(
        "SELECT submission_id, action, actor, note, at FROM baseline_reviews ORDER BY id"
    ):
        found.setdefault(row["submission_id"], []).append(
            ReviewEntry(action=row["action"], actor=row["actor"], note=row["note"], at=row["at"])
        )
    return found


def decide(store: Store, submission_id: int, decision: Decision, actor: str, note: str) -> None:
    """Confirm or demote ``submission_id`` (see the module's docstring); a
    :class:`SubmissionRefused` (``not_found``, ``bad_request``) when it cannot be."""

    def run(db: sqlite3.Connection) -> None:
        row = _live(db, submission_id)
        if decision == "demote":
            if not row["is_baseline"]:
                raise SubmissionRefused(
                    f"submission #{submission_id} is not a baseline claim: nothing to demote",
                    "bad_request",
                )
            _set(db, submission_id, 0, "demoted")
        else:
            others = db.execute(
                "SELECT id FROM submissions WHERE base_model_key = ? AND settings_class = ? "
                "AND is_baseline = 1 AND status != 'deleted' AND id != ?",
                (row["base_model_key"], row["settings_class"], submission_id),
            ).fetchall()
            for (other,) in others:
                _set(db, other, 0, "demoted")
                why = f"#{submission_id} confirmed instead. {note}".strip()
                record_review(db, other, "demote", actor, why)
            _set(db, submission_id, 1, "confirmed")
        record_review(db, submission_id, decision, actor, note)

    store.write(run)


def _live(db: sqlite3.Connection, submission_id: int) -> sqlite3.Row:
    row = (
        db.execute(
            "SELECT id, base_model_key, settings_class, is_baseline FROM submissions "
            "WHERE id = ? AND status != 'deleted'",
            (submission_id,),
        ).fetchone()
        if is_row_id(submission_id)
        else None
    )
    if row is None:
        raise SubmissionRefused(f"no live submission #{submission_id}", "not_found")
    return row


def _set(db: sqlite3.Connection, submission_id: int, is_baseline: int, review: str) -> None:
    db.execute(
        "UPDATE submissions SET is_baseline = ?, baseline_review = ?, updated_at = ? WHERE id = ?",
        (is_baseline, review, now(), submission_id),
    )


__all__ = ["BaselineClaim", "Decision", "OperatorNote", "ReviewEntry", "claims", "decide"]
