"""The app's views and actions over a real store, and ``python app.py`` serving UI and API."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from arena.analysis._leaderboard import leaderboard_rows
from arena.board import BoardKeeper
from arena.client import ClientLimits
from arena.dev._local_models import free_port
from arena.dev.nullserver import NullServer, NullServerConfig
from arena.engine._store import Store
from arena.views._about import about_markdown
from arena.views._actions import (
    Services,
    _form_fields,
    manage_action,
    submission_status,
    submit_action,
)
from arena.views._pages import (
    contagion_markdown,
    discordant_choices,
    figures,
    leaderboard_view,
    now_playing_markdown,
    ratings_frame,
    replay_view,
    verdict_candidates,
    verdict_markdown,
)
from submissions.keystore import KeyStore
from submissions.models import display_text
from submissions.service import SubmissionService

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def board(store: Store) -> BoardKeeper:
    """The board, brought up to date on every read (the app keeps it fresh in the background)."""
    return BoardKeeper(store, refresh_on_read=True)


def services(store: Store, **kwargs: Any) -> Services:
    keys = KeyStore(Fernet.generate_key().decode())
    kwargs.setdefault("allow_private", True)
    service = SubmissionService(
        store, keys, probe_limits=ClientLimits(deadline_s=5, max_retries=0), **kwargs
    )
    return Services(store, service)


def form_values(url: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "display_name": "Smol <img src=x onerror=alert(1)>", "base_model": "SmolLM2-135M",
        "quant": "Q4_0", "bits_per_weight": 4.5, "file_size_gb": None, "hardware": "CPU",
        "engine": "llama.cpp", "base_url": url, "model": "smol", "api_key": "",
        "temperature": 0.0, "top_p": None, "top_k": None, "max_tokens": 64,
        "thinking": "server default", "is_baseline": True, "context_tokens": None,
    }  # fmt: skip
    values.update(changes)
    return values


def test_an_empty_database_shows_friendly_empty_states(store: Store, board: BoardKeeper) -> None:
    frame, note = leaderboard_view(leaderboard_rows(store))
    assert frame.empty and "No submissions yet" in note and "--demo" in note
    assert "No matches yet" in replay_view(store, None)
    assert now_playing_markdown(store) == "**Now playing:** nothing right now."
    for figure in figures(board):
        texts = " ".join(a.text for a in figure.layout.annotations)
        assert texts.strip(), "an empty chart must explain itself"


async def test_the_verdicts_tab_explains_the_verdict_and_links_replays(
    store: Store, board: BoardKeeper
) -> None:
    from tests.arena.analysis.test_leaderboard import add_submission, play

    assert "No candidate with a baseline yet" in verdict_markdown(store, board, None)
    base = add_submission(store, "Base <b>", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "Cand <i>", "Smol", "Q2_K", 2.6)
    assert verdict_candidates(board) == [(f"#{cand} Cand <i> (Q2_K)", str(cand))]
    assert "undecided: no paired puzzles yet" in verdict_markdown(store, board, str(cand))
    match = await play(store, 1, base, "HHHHHH", cand, "TTHHHH", {})
    await play(store, 2, base, "HHHHHH", base, "HHHHHT", {})  # A/A
    text = verdict_markdown(store, board, str(cand))
    assert "Cand &lt;i&gt;" in text and "<i>" not in text
    assert "b = 2, candidate-only c = 0" in text and "exact McNemar p = 0.5" in text
    assert "quality retained: 66.7 %" in text
    assert "A/A floor 16.7 % discordant" in text and "(n=6)" in text
    choices = discordant_choices(store, board, str(cand))
    assert [m for _, m in choices] == [match, match]
    assert all("only the baseline solved it" in label for label, _ in choices)
    assert (
        discordant_choices(store, board, None) == []
        and discordant_choices(store, board, "99") == []
    )
    assert verdict_markdown(store, board, "99") == "No submission #99."
    huge = str(2**63)  # more than SQLite holds: not found, not a crash
    assert verdict_markdown(store, board, huge) == f"No submission #{huge}."
    assert discordant_choices(store, board, huge) == []
    frame = ratings_frame(board)
    assert list(frame["quant"]) == ["BF16", "Q2_K"] or set(frame["quant"]) == {"BF16", "Q2_K"}
    assert "Base &lt;b&gt;" not in contagion_markdown(board)  # labels are quants
    assert "| manipulated" in contagion_markdown(board)


async def test_an_equivalent_candidate_on_a_calibrated_profile(
    store: Store, board: BoardKeeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Verdicts tab names the profile, the margin and the interval the equivalence rule
    uses, and the rooms without signal with why; the leaderboard shows the badge and profile."""
    from arena.analysis import _calibration_store as calibration_store
    from arena.analysis._calibration import CalibrationConfig
    from arena.engine import _profile as profile
    from tests.arena.analysis.test_leaderboard import (
        SILENT,
        add_submission,
        calibrated_result,
        play,
    )

    monkeypatch.setenv("QER_EQUIVALENCE_MARGIN_PP", "45")  # 20 agreeing pairs are enough
    base = add_submission(store, "Base", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "Cand", "Smol", "Q8_0", 8.5)
    found = calibrated_result().model_copy(update={"profile": profile.uniform(1)})
    record = calibration_store.get_or_create(store, "smol", "greedy", base, CalibrationConfig())
    calibration_store.finish(store, record.id, found)
    for seed in range(1, 5):
        await play(store, seed, base, "HHHTHH", cand, "HHHTHH", {})
    text = verdict_markdown(store, board, str(cand))
    assert "**equivalent within ±45 pp at n=20: +0.0 pp [" in text
    assert "- difficulty profile: every room at level 1" in text
    assert "- equivalence margin ±45 pp; 95 % interval of the difference [-" in text
    assert "] pp: inside it" in text
    assert "- rooms without signal for this model (left out of the pairs):" in text
    assert f"  - Archive: {display_text('solved 0 of 4 at level 0 (the easiest)')}" in text
    assert SILENT.reason.startswith("no signal for this model: ")
    frame, _ = leaderboard_view(leaderboard_rows(store))
    row = frame.set_index("name").loc["Cand"]
    assert row["verdict"].startswith("equivalent within ±45 pp at n=20")
    assert row["difficulty profile"] == "every room at level 1"
    assert row["no-signal rooms"] == "Archive: solved 0 of 4 at level 0 (the easiest)"


def test_about_explains_rooms_scoring_and_charts() -> None:
    text = about_markdown()
    for needle in ("Cipher", "Warden", "Manipulated", "score-v1", "Pareto frontier", "Retention"):
        assert needle in text
    for needle in ("*difficulty profile*", "60 % baseline solve rate", '"No signal"',
                   "`equivalent within ±5 pp`", "between -5 and +5 percentage points"):  # fmt: skip
        assert needle in text


async def test_the_form_action_submits_probes_and_escapes(store: Store) -> None:
    with NullServer(NullServerConfig(reply="ready", model="smol")) as server:
        app = services(store)
        text = await submit_action(app, form_values(server.base_url), "10.0.0.1")
        assert text.startswith("### Accepted: submission #1")
        assert "Health probe: answered in" in text and "deletion token" in text.lower()
        assert "The server says: nothing about itself." in text
        frame, _ = leaderboard_view(leaderboard_rows(store))
        assert list(frame["name"]) == ["Smol <img src=x onerror=alert(1)>"]  # a text cell
        again = await submit_action(app, form_values(server.base_url), "10.0.0.1")
        assert again == (
            "**Not accepted:** this endpoint, model id and sampling settings are already registered"
        )
        assert "Smol &lt;img" in submission_status(app, 1)  # Markdown output is escaped


async def test_the_form_names_each_bad_field(store: Store) -> None:
    text = await submit_action(
        services(store),
        form_values("http://127.0.0.1:9/v1", bits_per_weight=None, display_name="", top_k=0.5),
        "10.0.0.1",
    )
    assert text.startswith("**Please fix:**")
    assert "**Bits per weight**: must be a number" in text
    assert "**Display name**: must contain visible text" in text
    assert "**top\\_k**: must be at least 1" in text
    assert store.query("SELECT COUNT(*) AS n FROM submissions")[0]["n"] == 0
    negative = await submit_action(
        services(store),
        form_values("", bits_per_weight=-4, file_size_gb=-1, temperature=-1),
        "10.0.0.1",
    )
    for line in (
        "**Bits per weight**: must be more than 0",
        "**File size GB**: must be more",
        "**temperature**: must be at least 0",
        "**Endpoint base URL**: is required",
    ):
        assert line in negative, (line, negative)  # fmt: skip


def test_form_fields_map_the_widgets() -> None:
    fields = _form_fields(form_values("http://x/v1", top_p=0.9, top_k=20, thinking="off",
                                      file_size_gb=2.5, api_key="k"))  # fmt: skip
    assert fields["sampling"] == {"temperature": 0.0, "max_tokens": 64, "top_p": 0.9,
                                  "top_k": 20, "thinking": False}  # fmt: skip
    assert fields["file_size_gb"] == 2.5 and fields["api_key"] == "k"
    plain = _form_fields(form_values("http://x/v1"))
    assert "api_key" not in plain and "context_tokens" not in plain
    window = _form_fields(form_values("http://x/v1", context_tokens=32768))
    assert window["context_tokens"] == 32768


def test_owner_actions_need_the_token(store: Store) -> None:
    app = services(store)
    assert manage_action(app, None, "t", "pause") == "**Not done:** enter the submission number."
    assert "unknown submission or wrong token" in manage_action(app, 3, "t", "pause")
    assert "unknown submission or wrong token" in manage_action(app, str(2**63), "t", "pause")
    assert submission_status(app, str(2**64)) == "No such submission."


def test_python_app_py_serves_its_page(tmp_path: Path) -> None:
    """The README's run command: ``python app.py`` starts and serves the page."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=5, trust_env=False)
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            assert response.status_code == 200
            assert "Quant Escape Room" in response.text
            for _ in range(40):  # the scheduler takes the leader lease on its first tick
                health = httpx.get(
                    f"http://127.0.0.1:{port}/api/health", timeout=5, trust_env=False
                )
                if health.json()["scheduler_leader"]:
                    break
                time.sleep(0.25)
            assert health.json()["status"] == "ok" and health.json()["scheduler_leader"] is True
            docs = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5, trust_env=False)
            assert "/api/submissions" in docs.json()["paths"]
            page = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5, trust_env=False)
            assert page.status_code == 200 and "POST /api/submissions" in page.text
            assert "<script" not in page.text.lower()  # works offline: nothing from a CDN
            assert (tmp_path / "data" / "arena.sqlite3").exists()
            assert_every_refusal_has_the_one_shape(f"http://127.0.0.1:{port}")
            return
        raise AssertionError("python app.py did not serve within 90 s")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()


def assert_every_refusal_has_the_one_shape(url: str) -> None:
    """Gradio's own 4xx too (``arena.views._problems``), never echoing what was sent."""
    canary = "sk-ECHO-ME-NOT"
    with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
        answers = {
            "unknown page": client.get("/nope"),
            "unknown gradio route": client.get("/gradio_api/nope"),
            "a file outside the app": client.get("/gradio_api/file=/etc/passwd"),
            "a malformed queue join": client.post("/gradio_api/queue/join", json={"x": canary}),
            "a wrong method": client.delete("/gradio_api/info"),
            "the closed upload route": client.post("/gradio_api/upload", content=b"x"),
            "an unknown api route": client.get("/api/nope"),
        }
    for what, answer in answers.items():
        assert 400 <= answer.status_code < 500, what
        body = answer.json()
        assert set(body) >= {"detail", "kind"} and isinstance(body["detail"], str), what
        assert canary not in answer.text, what
    kinds = {what: answer.json()["kind"] for what, answer in answers.items()}
    assert kinds["unknown page"] == "not_found" and kinds["a wrong method"] == "method_not_allowed"
    assert kinds["a file outside the app"] == "forbidden"
    assert kinds["a malformed queue join"] == "invalid_field"


async def test_the_receipt_shows_what_the_server_says_escaped(store: Store) -> None:
    props = {
        "default_generation_settings": {"n_ctx": 8192},
        "build_info": "b1 *bold* [x](y)",
        "model_ftype": "Q4_1",
    }
    with NullServer(NullServerConfig(reply="ready", model="smol", props=props)) as server:
        text = await submit_action(services(store), form_values(server.base_url), "10.0.0.1")
    assert "The server says: llama\\.cpp, b1 \\*bold\\* \\[x\\]\\(y\\)" in text
    assert "loaded Q4\\_1, context 8192 tokens." in text


def test_an_open_tab_does_not_keep_the_app_from_stopping(tmp_path: Path) -> None:
    """A browser tab holds an event stream open; on SIGTERM the app still exits (it gives open
    connections ``SHUTDOWN_GRACE_S``, then closes them). Before, it waited for the tab forever."""
    import signal
    import threading

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--data-dir", str(tmp_path / "data"),
         "--no-scheduler"],
        cwd=ROOT, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/health", timeout=5, trust_env=False).is_success:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        opened = threading.Event()

        def tab() -> None:  # what an open page keeps: its heartbeat stream
            with (
                contextlib.suppress(httpx.HTTPError),
                httpx.stream(
                    "GET",
                    f"{base}/gradio_api/heartbeat/tab-1",
                    timeout=httpx.Timeout(10, read=120),
                    trust_env=False,
                ) as stream,
            ):
                opened.set()
                for _ in stream.iter_bytes():
                    pass

        threading.Thread(target=tab, daemon=True).start()
        assert opened.wait(30), "the heartbeat stream did not open"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)  # generous: it exits after the grace period (a few seconds)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_download_folders_never_pile_up(store: Store) -> None:
    """Each preparation removes the previous one's folder; the last goes when the app stops."""
    app = services(store)
    assert app.downloads is not None
    first = Path(app.downloads.prepare()[0]).parent
    assert first.exists()
    second = Path(app.downloads.prepare()[1]).parent
    assert second.exists() and not first.exists() and app.downloads.made == [second]
    app.downloads.cleanup()
    assert not second.exists() and app.downloads.made == []


LIMITS_PROBE = """
import json, sys, tempfile
from pathlib import Path
from cryptography.fernet import Fernet
import app
from arena.engine import Store
from submissions.keystore import KeyStore
from submissions.service import SubmissionService
store = Store(Path(tempfile.mkdtemp()) / "a.sqlite3")
demo = app.build_ui(app.Services(store, SubmissionService(store, KeyStore(None))))
json.dump({"default": demo._queue.default_concurrency_limit,
           "events": [[fn.name, fn.concurrency_limit, fn.concurrency_id]
                      for fn in demo.fns.values()]}, sys.stdout)
"""
"""Builds the Blocks in a child process: Gradio's queue and routes make event loops they never
close (``gradio/utils.py``), which would be reported in whichever test collects them."""


def test_each_event_runs_as_many_at_once_as_deliberately_set() -> None:
    """Gradio runs one event of a listener at a time unless told otherwise: the form's probes
    run many at once (a slow endpoint holds up nobody), reads up to the queue's default, the
    archive one at a time."""
    import json

    import app

    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    out = subprocess.run([sys.executable, "-c", LIMITS_PROBE], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    built = json.loads(out.stdout)
    assert built["default"] == app.READS_AT_ONCE > 1
    limits = {name: (limit, group) for name, limit, group in built["events"]}
    assert limits["submit"] == (app.PROBES_AT_ONCE, "probe")
    assert limits["prepare"][0] == 1
    assert {limit for limit, _ in limits.values()} <= {"default", app.PROBES_AT_ONCE, 1}


async def test_a_slow_endpoints_probe_holds_up_no_other_submitter(store: Store) -> None:
    import asyncio

    app_services = services(store)
    slow_config = NullServerConfig(reply="ready ready ready", model="slow", token_delay_s=1.0)
    with NullServer(slow_config) as slow, NullServer(NullServerConfig(model="fast")) as fast:
        late = asyncio.create_task(
            submit_action(app_services, form_values(slow.base_url, model="slow"), "10.0.0.1")
        )
        await asyncio.sleep(0.2)  # the slow probe is waiting on its tokens
        quick = await submit_action(
            app_services, form_values(fast.base_url, model="fast", is_baseline=False), "10.0.0.2"
        )
        assert quick.startswith("### Accepted") and not late.done()
        assert (await late).startswith("### Accepted")


async def test_the_leaderboard_shows_a_provisional_and_a_disputed_baseline(
    store: Store, board: BoardKeeper
) -> None:
    from tests.arena.analysis.test_leaderboard import add_submission, play

    base = add_submission(store, "Claim", "Smol", "BF16", 16.0, baseline=True, review="pending")
    cand = add_submission(store, "Cand", "Smol", "Q2_K", 2.6)
    await play(store, 1, base, "HHHHHH", cand, "TTHHHH", {})
    frame, _ = leaderboard_view(leaderboard_rows(store))
    cells = {row["name"]: row for row in frame.to_dict("records")}
    assert cells["Claim"]["baseline"] == "provisional"
    assert cells["Cand"]["verdict"].startswith("provisional · ")
    assert "*Provisional: baseline" in verdict_markdown(store, board, str(cand))
    add_submission(store, "Rival", "Smol", "BF16", 16.0, baseline=True, review="pending")
    frame, _ = leaderboard_view(leaderboard_rows(store))
    cells = {row["name"]: row for row in frame.to_dict("records")}
    assert cells["Claim"]["baseline"] == cells["Rival"]["baseline"] == "disputed claim"
    assert cells["Cand"]["verdict"] == ""
    assert "disputed" in cells["Cand"]["retention % [95% CI]"]
    assert "Baseline disputed" in verdict_markdown(store, board, str(cand))


def test_the_line_above_the_tabs_says_which_probe_is_running(store: Store) -> None:
    from arena.schedule._jobs import JobQueue
    from tests.arena.analysis.test_leaderboard import add_submission

    base = add_submission(store, "Base <b>", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "Cand", "Smol", "Q2_K", 2.6)
    queue = JobQueue(store)
    queue.enqueue("probe:kl", {"kind": "probe", "probe": "kl", "a": cand, "b": base})
    assert "1 job(s) queued" in now_playing_markdown(store)
    assert queue.claim("worker", lease_seconds=60) is not None
    line = now_playing_markdown(store)
    assert line.startswith("**Now playing**") and "KL probe" in line
    assert f"#{cand} Cand (Q2_K)" in line and "Base &lt;b&gt;" in line
