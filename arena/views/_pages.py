"""The web app's pages as functions of the store: the text, tables and charts each tab shows.

The Gradio layer (``app.py``) only wires widgets to these. Every submitter-written text in the
Markdown they return goes through :func:`~submissions.models.display_text`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from pydantic import ValidationError

from arena.analysis import (
    NO_SIGNAL_PREFIX,
    QUANT_FAMILIES,
    DegradationVerdict,
    LeaderboardRow,
    chart_points,
    contagion_frame,
    filter_rows,
    pareto_frontier,
    retention_heatmap,
    sealed_seeds,
)
from arena.board import BoardKeeper, Snapshot, VerdictReport, sealed_report
from arena.engine import Store, is_row_id
from arena.views import _charts as charts
from arena.views._cards import answer_cards, model_name
from arena.views._columns import ALL_COLUMNS, DEFAULT_COLUMNS, column_guide, leaderboard_frame
from arena.views._heatmap_figure import heatmap_figure
from arena.views._match_list import match_list, now_playing
from arena.views._replay import replay
from arena.views._replay_html import replay_html, replay_room_choices
from arena.views._replay_markdown import replay_markdown
from rooms import room_name
from submissions.models import display_text, error_message

__all__ = [
    "ALL_COLUMNS",
    "DEFAULT_COLUMNS",
    "QUANT_FAMILIES",
    "base_model_suggestions",
    "board_freshness",
    "column_guide",
    "contagion_markdown",
    "discordant_choices",
    "figures",
    "filter_choices",
    "has_matches",
    "leaderboard_choices",
    "leaderboard_page",
    "leaderboard_table",
    "leaderboard_view",
    "live_submission",
    "live_submissions",
    "match_choices",
    "now_playing_markdown",
    "queued_matches",
    "ratings_frame",
    "replay_view",
    "report_of",
    "validation_message",
    "verdict_candidates",
    "verdict_markdown",
]


# -- queries --------------------------------------------------------------------------------------
def queued_matches(store: Store) -> int:
    """How many matches wait in the job queue."""
    queued = store.query("SELECT COUNT(*) AS n FROM job_queue WHERE status = 'queued'")
    return queued[0]["n"] if queued else 0


def has_matches(store: Store) -> bool:
    """Whether any match was ever started."""
    return bool(store.query("SELECT 1 FROM matches LIMIT 1"))


def live_submissions(store: Store) -> list[dict[str, Any]]:
    """Every submission not deleted, by id, with the fields the baseline rule and the verdict
    picker need."""
    return store.query(
        "SELECT id, display_name, quant, base_model_key, settings_class, is_baseline, status "
        "FROM submissions WHERE status != 'deleted' ORDER BY id"
    )


def live_submission(store: Store, submission_id: int) -> dict[str, Any] | None:
    """One submission's row, or None when there is none or it was deleted."""
    if not is_row_id(submission_id):
        return None
    found = store.query("SELECT * FROM submissions WHERE id = ?", (submission_id,))
    if not found or found[0]["status"] == "deleted":
        return None
    return found[0]


def base_model_suggestions(store: Store) -> list[str]:
    """Base models already registered, most used first (the Submit form's suggestions)."""
    rows = store.query(
        "SELECT base_model, COUNT(*) AS n FROM submissions WHERE status != 'deleted' "
        "GROUP BY base_model_key ORDER BY n DESC, base_model LIMIT 100"
    )
    return [r["base_model"] for r in rows]


# -- pages ----------------------------------------------------------------------------------------
def now_playing_markdown(store: Store) -> str:
    """The line above the tabs: the running matches and probes, or how many jobs wait."""
    playing = now_playing(store)
    probing = running_probes(store)
    if not playing and not probing:
        waiting = queued_matches(store)
        more = f" {waiting} job(s) queued: the scheduler starts them shortly." if waiting else ""
        return f"**Now playing:** nothing right now.{more}"
    lines = ["**Now playing**"]
    lines += [f"- {display_text(item.headline())}" for item in playing]
    lines += [f"- {line}" for line in probing]
    return "\n".join(lines)


PROBE_WORDS = {
    "speed": "measuring the generation speed of {a} (solo, a few repetitions)",
    "kl": "comparing the next-token distributions of {a} with its baseline {b} (KL probe)",
}
"""What a running probe is doing, for the line above the tabs."""


def running_probes(store: Store) -> list[str]:
    """The probes running now, in words (names escaped)."""
    rows = store.query("SELECT payload FROM job_queue WHERE status = 'running' ORDER BY id")

    def who(submission_id: object) -> str:
        found = live_submission(store, submission_id) if isinstance(submission_id, int) else None
        if found is None:
            return f"#{submission_id}"
        return f"#{found['id']} {display_text(found['display_name'])} ({found['quant']})"

    out = []  # every open tab asks each 2 s: names are read only for probes that run
    for row in rows:
        payload = json.loads(row["payload"] or "{}")
        words = PROBE_WORDS.get(str(payload.get("probe")))
        if payload.get("kind") == "probe" and words is not None:
            out.append(words.format(a=who(payload.get("a")), b=who(payload.get("b"))))
    return out


def leaderboard_view(
    rows: list[LeaderboardRow],
    base_model: str | None = None,
    family: str | None = None,
    hardware: str | None = None,
    engine: str | None = None,
    search: str | None = None,
    columns: list[str] | None = None,
) -> tuple[pd.DataFrame, str]:
    """The table and its note from the leaderboard ``rows`` (every submission not deleted)."""
    shown = filter_rows(
        rows,
        base_model=base_model or None,
        quant_family=family or None,
        hardware=hardware or None,
        engine=engine or None,
        search=search or None,
    )
    frame = leaderboard_frame(shown, columns or list(DEFAULT_COLUMNS))
    if shown:
        note = f"{len(shown)} submission(s). Click a column header to sort."
    elif rows:
        note = "No submission matches these filters."
    else:
        note = (
            "**No submissions yet.** Register an endpoint in the *Submit* tab (or start the app "
            "with `python app.py --demo` to watch two local SmolLM2 quants play)."
        )
    return frame, note


def figures(
    board: BoardKeeper,
) -> tuple[go.Figure, go.Figure, go.Figure, go.Figure, go.Figure]:
    """The charts: Pareto frontier, the model x quant retention heatmap, quality vs size,
    escape rate vs bits per room, speed vs size."""
    snap = board.snapshot
    points = chart_points(snap.rows)
    imported = list(snap.imported)
    pareto = charts.pareto_figure(points, pareto_frontier(points), imported)
    heatmap = heatmap_figure(retention_heatmap(snap.rows))
    bang = charts.bang_per_bit_figures(points, snap.room_quality, imported)
    return (
        pareto,
        heatmap,
        bang["quality_vs_gb"],
        bang["quality_vs_bpw_by_room"],
        bang["tps_vs_gb"],
    )


def cards(board: BoardKeeper) -> str:
    """The first screen's answer cards (``arena.views._cards``) from the current board."""
    return answer_cards(board.snapshot.rows)


def match_choices(store: Store) -> list[tuple[str, str]]:
    """The replay picker's choices: (label, match id), newest first."""
    return [(item.label(), item.id) for item in match_list(store, limit=200)]


def replay_view(store: Store, match_id: str | None, room: int | None = None) -> str:
    """The Replays tab (HTML, ``arena.views._replay_html``): one match, one room at a time
    (``room``: 0-based; None: the room being played, else the first), or what to do when none
    is picked."""
    if not match_id:
        if not has_matches(store):
            return (
                "<p><b>No matches yet.</b> They appear here as soon as the scheduler starts "
                "one.</p>"
            )
        return "<p>Pick a match above.</p>"
    found = replay(store, match_id)
    if found is None:
        return f"<p>No match {html.escape(match_id[:64])}.</p>"
    return replay_html(found, room)


def replay_rooms(store: Store, match_id: str | None) -> list[tuple[str, int]]:
    """The room picker's choices for a match (none without one)."""
    found = replay(store, match_id) if match_id else None
    return replay_room_choices(found) if found is not None else []


def replay_transcript(store: Store, match_id: str | None) -> str:
    """A match's full transcript, every call as text (Markdown)."""
    found = replay(store, match_id) if match_id else None
    if found is None:
        return "Pick a match above."
    return replay_markdown(found, escape_html=False)  # fenced blocks keep it inert


def verdict_candidates(board: BoardKeeper) -> list[tuple[str, str]]:
    """Candidates whose group has a baseline: (label, submission id)."""
    snap = board.snapshot
    return [
        (f"#{r.submission_id} {r.display_name} ({r.quant})", str(r.submission_id))
        for r in snap.rows
        if (found := snap.report(r.submission_id)) is not None and found.baseline_id is not None
    ]


def report_of(store: Store, snap: Snapshot, submission_id: int) -> VerdictReport | None:
    """A live submission's verdict report from a board snapshot, the seeds a scheduled match
    still has to play hidden; None when the board does not know it (yet)."""
    found = snap.report(submission_id)
    return sealed_report(found, sealed_seeds(store)) if found is not None else None


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def _equivalence_line(v: DegradationVerdict) -> str:
    """The equivalence margin and the 95 % interval the rule compares with it."""
    if v.margin_pp is None or v.equivalence_ci_pp is None:
        return "- equivalence: no interval yet"
    low, high = v.equivalence_ci_pp
    inside = -v.margin_pp < low and high < v.margin_pp
    return (
        f"- equivalence margin ±{v.margin_pp:g} pp; 95 % interval of the difference "
        f"[{low:+.1f}, {high:+.1f}] pp: " + ("inside it" if inside else "not inside it (yet)")
    )


def _no_signal_lines(v: DegradationVerdict) -> list[str]:
    """The rooms the baseline's calibration found without signal, each with why."""
    if not v.no_signal:
        return ["- rooms without signal: none"]
    return ["- rooms without signal for this model (left out of the pairs):"] + [
        f"  - {room_name(room)}: {display_text(reason.removeprefix(NO_SIGNAL_PREFIX))}"
        for room, reason in v.no_signal.items()
    ]


def verdict_markdown(store: Store, board: BoardKeeper, submission_id: str | None) -> str:
    """Everything behind one candidate's verdict, for the Verdicts tab."""
    if not submission_id:
        if not verdict_candidates(board):
            return (
                "**No candidate with a baseline yet.** A verdict needs a baseline of the same "
                "base model and a candidate quant."
            )
        return "Pick a candidate above."
    found = live_submission(store, int(submission_id))
    if found is None:
        return f"No submission #{display_text(submission_id)}."
    snap = board.snapshot  # one board for the whole text
    report = report_of(store, snap, int(submission_id))
    name = display_text(found["display_name"])
    if report is None:
        return f"### #{int(submission_id)} {name}\nNot on the board yet: it is being recomputed."
    row = next((r for r in snap.rows if r.submission_id == report.submission_id), None)
    v = report.verdict
    if v is None and report.baseline_standing == "disputed":
        return (
            f"### #{report.submission_id} {name}\n**Baseline disputed:** two or more submissions "
            "claim to be this group's full-precision baseline. No verdict until the operator "
            "confirms one."
        )
    if v is None:
        return f"### #{report.submission_id} {name}\nNo baseline to compare with."
    # The label is our own text (numbers and fingerprint field names): no escaping needed.
    lines = [f"### #{report.submission_id} {name} vs baseline #{report.baseline_id}",
             f"**{v.label}**", ""]  # fmt: skip
    if v.provisional:
        lines += [f"*Provisional: baseline #{report.baseline_id} is not confirmed by the operator "
                  "yet; this verdict may change when it is confirmed or demoted.*", ""]  # fmt: skip
    if v.kind != "NOT COMPARABLE":
        p = f"{v.p_value:.3g}" if v.p_value is not None else "n/a"
        retained = "n/a"
        if v.retention_pct is not None:
            retained = f"{v.retention_pct:.1f} %"
            if v.retention_ci is not None:
                retained += f" [{v.retention_ci[0]:.1f}, {v.retention_ci[1]:.1f}]"
        effect = "n/a"
        if v.difference_pp is not None and v.ci_pp is not None:
            effect = f"{v.difference_pp:+.1f} pp [{v.ci_pp[0]:+.1f}, {v.ci_pp[1]:+.1f}]"
        smallest = "n/a" if v.detectable_drop_pp is None else f"{v.detectable_drop_pp:.0f} pp"
        lines += [
            f"- paired puzzles: **{v.n_pairs}** ({v.source or 'ad hoc'}, tier "
            f"{v.tier or 'none'}); baseline-only solves b = {v.b}, candidate-only c = {v.c}",
            f"- exact McNemar p = {p}; solve-rate difference {effect} (bootstrap over seeds)",
            f"- quality retained: {retained}",
            f"- {v.floor_note or 'A/A floor: not measured'}",
            f"- smallest drop this n could show (80 % power): {smallest}",
            f"- difficulty profile: {report.profile_label or 'n/a'}",
            _equivalence_line(v),
            *_no_signal_lines(v),
        ]
    if row is not None:
        if row.kl is not None:
            kl = row.kl
            text = (
                f"mean KL {kl.mean_kl:.4f} nats/token, top-1 agreement {_pct(kl.top1_agreement)} "
                f"over {kl.n_positions} positions"
                if kl.status == "done" and kl.mean_kl is not None
                else f"{kl.status}: {display_text(kl.reason or '')}"
            )
            lines.append(f"- KL probe: {text}" + (" — **COLLAPSED**" if kl.collapsed else ""))
        if row.canary is not None and row.canary.p_value is not None:
            c = row.canary
            flag = "**FLAGGED** " if c.flagged else ""
            lines.append(
                f"- truncation canary: {flag}{_pct(c.rate)} of answers hit the cap vs "
                f"{_pct(c.baseline_rate)} for the baseline (p = {c.p_value:.3g})"
            )
    if report.discordant:
        lines += ["", f"**Discordant pairs** ({len(report.discordant)}): pick one below to open "
                  "its replay."]  # fmt: skip
    return "\n".join(lines)


def discordant_choices(
    store: Store, board: BoardKeeper, submission_id: str | None
) -> list[tuple[str, str]]:
    """(label, match id) of the replay to read for each discordant pair of a candidate."""
    if not submission_id or live_submission(store, int(submission_id)) is None:
        return []
    report = report_of(store, board.snapshot, int(submission_id))
    choices = []
    for pair in report.discordant if report is not None else []:
        seed = "sealed" if pair.seed is None else str(pair.seed)
        who = "only the baseline" if pair.solved_by == "baseline" else "only the candidate"
        for side, match_id in (("candidate", pair.candidate_match),
                               ("baseline", pair.baseline_match)):  # fmt: skip
            if match_id and (side == "candidate" or match_id != pair.candidate_match):
                label = f"{pair.room_id} seed {seed}: {who} solved it ({side}'s replay)"
                choices.append((label, match_id))
    return choices


RATING_COLUMNS = [
    "base model", "name", "quant", "rating (log-odds vs baseline) [95% CI]",
    "P(beats baseline) [95% CI]", "W-L-T", "note",
]  # fmt: skip


def ratings_frame(board: BoardKeeper) -> pd.DataFrame:
    """Bradley-Terry ratings per base model for the Verdicts tab (base models as their
    submitters spell them; the columns named even when there is no rating yet)."""
    names = base_model_names(board.snapshot.rows)
    records = []
    for r in board.snapshot.ratings:
        ci = f" [{r.rating_ci[0]:+.2f}, {r.rating_ci[1]:+.2f}]" if r.rating_ci else ""
        win = f"{100 * r.win_prob:.0f} %" + (
            f" [{100 * r.win_prob_ci[0]:.0f}, {100 * r.win_prob_ci[1]:.0f}]"
            if r.win_prob_ci
            else ""
        )
        records.append({
            "base model": names.get(r.base_model_key, r.base_model_key),
            "name": r.display_name, "quant": r.quant,
            "rating (log-odds vs baseline) [95% CI]": f"{r.rating:+.2f}{ci}",
            "P(beats baseline) [95% CI]": win, "W-L-T": f"{r.wins}-{r.losses}-{r.ties}",
            "note": r.note or "",
        })  # fmt: skip
    return pd.DataFrame(records, columns=RATING_COLUMNS)


def base_model_names(rows: Iterable[LeaderboardRow]) -> dict[str, str]:
    """Base-model key -> the spelling its submitters use most."""
    groups: dict[str, list[LeaderboardRow]] = {}
    for row in rows:
        groups.setdefault(row.base_model_key, []).append(row)
    return {key: model_name(members) for key, members in groups.items()}


def contagion_markdown(board: BoardKeeper) -> str:
    """The contagion matrices as Markdown tables (row: the quant pressured; column: the quant
    pressuring it)."""
    matrices = board.snapshot.contagion
    if not matrices:
        return "No opponent-mode matches between submissions yet."
    parts = []
    names = base_model_names(board.snapshot.rows)
    for matrix in matrices:
        frame = contagion_frame(matrix)
        header = "| manipulated ↓ by → | " + " | ".join(display_text(str(c)) for c in frame.columns)
        name = names.get(matrix.base_model_key, matrix.base_model_key)
        lines = [f"**{display_text(name)}**", "", header + " |",
                 "|---" * (len(frame.columns) + 1) + "|"]  # fmt: skip
        for label, cells in frame.iterrows():
            row_cells = " | ".join(display_text(str(v)) if v else "" for v in cells)
            lines.append(f"| {display_text(str(label))} | {row_cells} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def filter_choices(rows: Iterable[LeaderboardRow]) -> dict[str, list[str]]:
    """The filter dropdowns' choices (base model, hardware, engine) from leaderboard rows."""
    rows = list(rows)
    return {
        "base_model": sorted({r.base_model for r in rows}),
        "hardware": sorted({r.hardware for r in rows}),
        "engine": sorted({r.engine for r in rows}),
    }


def leaderboard_choices(board: BoardKeeper) -> dict[str, list[str]]:
    """The filter dropdowns' choices from the current leaderboard."""
    return filter_choices(board.snapshot.rows)


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _clock(iso: str) -> str:
    """``2026-12-05T02:31:05+00:00`` -> ``2026-12-05 02:31:05 UTC``."""
    return iso.replace("T", " ").split(".")[0].removesuffix("+00:00") + " UTC"


def board_freshness(
    board: BoardKeeper, now: datetime | None = None, snapshot: Snapshot | None = None
) -> str:
    """The "as of ..." line under the board (of ``snapshot`` when the page holds one): when it
    was computed and from which match, or that recomputing fails and how old what is shown is."""
    status = board.status(now, snapshot)
    if status.built_at is None or status.age_s is None:
        if status.error:
            return (
                f"**The leaderboard could not be computed** ({display_text(status.error)} since "
                f"{_clock(status.failing_since or '')}); it is retried in the background."
            )
        return "The leaderboard is being computed..."
    when = f"{_clock(status.built_at)} ({_ago(status.age_s)} ago)"
    last = ""
    if status.last_match_id and status.last_match_finished_at:
        last = (
            f", up to match `{display_text(status.last_match_id[:8])}` (finished "
            f"{_clock(status.last_match_finished_at)})"
        )
    if status.failing_since and status.stale_since and status.stale_age_s is not None:
        return (
            f"**Not up to date:** recomputing the board has failed since "
            f"{_clock(status.failing_since)} ({display_text(status.error or 'error')}); what is "
            f"shown is as of {_clock(status.stale_since)} ({_ago(status.stale_age_s)} ago)."
        )
    return f"As of {when}{last}."


def leaderboard_table(board: BoardKeeper, *filters: Any) -> tuple[pd.DataFrame, str]:
    """The current leaderboard's table and note, with :func:`leaderboard_view`'s filters."""
    frame, note, _ = leaderboard_page(board, *filters)
    return frame, note


def leaderboard_page(
    board: BoardKeeper, *filters: Any
) -> tuple[pd.DataFrame, str, dict[str, list[str]]]:
    """The table, its note (with the board's freshness) and the filters' choices from one
    snapshot."""
    snap = board.snapshot  # one snapshot for the table and the filter choices
    rows = list(snap.rows)
    frame, note = leaderboard_view(rows, *filters)
    if snap.built_at is None:  # nothing computed yet: not "no submissions"
        note = ""
    line = board_freshness(board, snapshot=snap)
    return frame, f"{note}\n\n{line}".strip(), filter_choices(rows)


FORM_LABELS = {
    "display_name": "Display name", "base_model": "Base model", "quant": "Quant",
    "bits_per_weight": "Bits per weight", "file_size_gb": "File size GB",
    "hardware": "Hardware", "engine": "Serving engine", "base_url": "Endpoint base URL",
    "model": "Served model id", "api_key": "API key", "context_tokens": "Context window",
    "is_baseline": "Full-precision baseline", "sampling": "Sampling",
    "sampling.temperature": "temperature", "sampling.top_p": "top_p", "sampling.top_k": "top_k",
    "sampling.max_tokens": "max_tokens", "sampling.thinking": "thinking",
}  # fmt: skip
"""The submission form's fields as its widgets are labelled."""


def plain_error(error: Mapping[str, Any]) -> str:
    """A validation error in plain words (ours as they are; pydantic's reworded)."""
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    bounds = {"greater_than": "more than {gt}", "greater_than_equal": "at least {ge}",
              "less_than": "less than {lt}", "less_than_equal": "at most {le}"}  # fmt: skip
    if kind in bounds:
        return "must be " + bounds[kind].format(**ctx)
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "is required: fill it in"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        return "must be a whole number" if kind.startswith("int") else "must be a number"
    if kind == "literal_error":
        return "choose one of the listed values"
    return error_message(error)


def validation_message(exc: ValidationError) -> str:
    """One line per bad field, in the form's words."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "form"
        label = FORM_LABELS.get(field, field)
        lines.append(f"- **{display_text(label)}**: {display_text(plain_error(error))}")
    return "**Please fix:**\n" + "\n".join(lines)
