"""The whole app in a real browser, against two real llama.cpp contestants.

Debian's chromium driven by Playwright (no browser download; every request that is not to
127.0.0.1 is aborted). One app process for the module, with DEBUG logging: submit the Q4_1
endpoint through the form (with a canary API key), see the probe succeed, register the Q2_K one
through the REST API, let the scheduler play a match, then look at every tab (screenshots in
test-artifacts/screenshots) and check that the canary key appears nowhere: logs, database bytes,
API responses, UI.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rooms import ROOM_ORDER as ROOM_IDS
from tests.integration.conftest import ARTIFACTS, AppProcess, Served, submission_body, wait_until

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ARTIFACTS / "screenshots"
CANARY = f"sk-CANARY-{uuid.uuid4()}"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def app(
    llama_servers: dict[str, Served], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    log = ARTIFACTS / "app-e2e.log"
    log.unlink(missing_ok=True)
    from cryptography.fernet import Fernet

    process = AppProcess(
        tmp_path_factory.mktemp("app-data"),
        log,
        QER_SECRET_KEY=Fernet.generate_key().decode(),
        QER_LOG_LEVEL="DEBUG",
        QER_CALIBRATION_RUNS="4",  # the baseline is calibrated first, briefly
    ).start()
    yield process
    process.stop()


@contextmanager
def loopback_page(url: str) -> Iterator[Any]:
    """Debian's chromium at 1400x1000 on ``url``, every request not to 127.0.0.1 aborted."""
    assert CHROMIUM.exists(), "apt-get install chromium chromium-driver"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                else route.abort()
            ),
        )
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        tab.goto(url)
        yield tab
        browser.close()


@pytest.fixture(scope="module")
def page(app: AppProcess) -> Iterator[Any]:
    with loopback_page(app.url) as tab:
        yield tab


def shots(page: Any, name: str, ready: Any = None) -> None:
    """Screenshots of what is on screen at 1400x900 and at phone width (420x900), then back to
    the tests' viewport; ``ready``: a locator to wait for after each resize."""
    for width in (1400, 420):
        page.set_viewport_size({"width": width, "height": 900})
        if ready is not None:
            ready.wait_for()
        page.wait_for_timeout(800)  # let the layout settle after the resize (not a measurement)
        page.screenshot(path=SHOTS / f"{name}-{width}.png")
    page.set_viewport_size({"width": 1400, "height": 1000})


def open_tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def choose(page: Any, label: str, option: str, *, custom: bool = False) -> None:
    """Pick an option of a Gradio dropdown by clicking it (or type a custom value), then wait
    until the box shows it."""
    box = page.get_by_label(label, exact=True)
    box.click()
    box.fill(option)
    if custom:
        page.keyboard.press("Enter")
    else:
        page.get_by_role("option", name=option, exact=True).click()
    playwright.expect(box).to_have_value(option)


def test_submit_through_the_form_and_see_the_probe(
    page: Any, app: AppProcess, llama_servers: dict[str, Served]
) -> None:
    served = llama_servers["Q4_1"]
    open_tab(page, "Submit")
    page.get_by_label("Display name", exact=True).fill("SmolLM2 Q4_1 <b>baseline</b>")
    choose(page, "Base model", "SmolLM2-135M-Instruct", custom=True)
    choose(page, "Quant", "Q4_1")
    page.get_by_label("Bits per weight", exact=True).fill(str(served.bits_per_weight))
    page.get_by_label("Hardware", exact=True).fill("CPU, 1 thread")
    page.get_by_label("Endpoint base URL", exact=True).fill(served.server.base_url)
    page.get_by_label("Served model id", exact=True).fill(served.server.alias)
    page.get_by_label("API key (optional)", exact=True).fill(CANARY)
    page.get_by_label("max_tokens", exact=True).fill("96")
    page.get_by_label("This is the full-precision baseline for its base model", exact=True).check()
    page.locator("#submit-button").click()
    result = page.locator("#submit-result")
    result.get_by_text("Accepted: submission #").wait_for(timeout=60_000)
    text = result.inner_text()
    assert "Health probe: answered in" in text and "deletion token" in text.lower()
    page.screenshot(path=SHOTS / "submit.png", full_page=True)
    assert page.get_by_label("API key (optional)", exact=True).input_value() == ""
    with app.api() as api:
        created = api.post("/api/submissions", json=submission_body(llama_servers["Q2_K"]))
        assert created.status_code == 201, created.text

        # The board is one snapshot recomputed in the background: it shows the new entry a
        # moment later (the submission kicks the recomputation).
        def both() -> list[dict[str, Any]] | None:
            found = api.get("/api/leaderboard").json()
            return found if len(found) == 2 else None

        rows = wait_until(both, timeout=60, what="both submissions on the board")
    assert {r["quant"] for r in rows} == {"Q4_1", "Q2_K"}
    assert next(r for r in rows if r["quant"] == "Q4_1")["is_baseline"] is True


def test_the_scheduler_plays_a_match_shown_live(page: Any, app: AppProcess) -> None:
    with app.api() as api:
        wait_until(
            lambda: api.get("/api/matches", params={"status": "running"}).json(),
            timeout=360,  # after the speed probes and the KL probe: a calibration run
            what="a running match",
        )
        page.reload()
        page.locator("#now-playing").get_by_text("SmolLM2").first.wait_for(timeout=30_000)
        page.screenshot(path=SHOTS / "now-playing.png", full_page=False)
        open_tab(page, "Replays")
        page.get_by_role("button", name="Latest").click()
        page.locator("#replay-view").get_by_text("Cipher").first.wait_for()
        assert "Live" in page.locator("#replay-view").inner_text()
        shots(page, "replay-live")
        wait_until(
            lambda: any(
                r["quant"] == "Q2_K" and r["matches"] >= 1
                for r in api.get("/api/leaderboard").json()
            ),
            timeout=600,
            what="a finished match of the candidate against the baseline",
        )


def test_the_first_screen_is_the_answer(page: Any, app: AppProcess) -> None:
    """A card per base model: every candidate's verdict and retention on screen without
    scrolling sideways at 1400 px; readable at phone width."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.reload()
    cards = page.locator("#answer-cards")
    cards.get_by_text("Q2_K").first.wait_for()
    assert "Q4_1" in cards.inner_text() and "SmolLM2" in cards.inner_text()
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    rows = cards.locator("tr.qer-row")
    assert rows.count() == 2
    for i in range(rows.count()):
        for cell in (1, 2):  # the verdict badge and the retention with its interval
            box = rows.nth(i).locator("td").nth(cell).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    cells = cards.locator("tr.qer-row").nth(1).locator("td")
    assert cells.nth(1).inner_text().strip()  # a verdict badge in words
    kept = cells.nth(2).inner_text()  # the retention, or why there is none yet
    assert "%" in kept or "paired puzzles" in kept or "not measured" in kept, kept
    shots(page, "first-screen", cards.get_by_text("Q2_K").first)


def test_tabs_show_the_finished_match(page: Any, app: AppProcess) -> None:
    page.reload()
    page.get_by_text("All columns, filters and search").click()  # one click away
    table = page.locator("#leaderboard-table")
    table.get_by_text("Q2_K").first.wait_for()
    assert "Q4_1" in table.inner_text()
    page.screenshot(path=SHOTS / "leaderboard.png", full_page=True)

    open_tab(page, "Pareto frontier")
    page.locator("#pareto-plot .js-plotly-plot").wait_for()
    page.screenshot(path=SHOTS / "pareto.png", full_page=True)
    shots(page, "pareto", page.locator("#pareto-plot .js-plotly-plot"))

    open_tab(page, "Bang per bit")
    page.locator("#heatmap-plot .js-plotly-plot").wait_for()
    assert "Q2_K" in page.locator("#heatmap-plot").inner_text()
    shots(page, "heatmap", page.locator("#heatmap-plot .js-plotly-plot"))
    page.locator(".js-plotly-plot").nth(2).wait_for()
    page.screenshot(path=SHOTS / "bang-per-bit.png", full_page=True)

    open_tab(page, "Replays")
    with app.api() as api:  # a finished match of the two (the latest may be running by now)
        done = api.get("/api/matches", params={"status": "done"}).json()
        finished = next(m for m in done if m["purpose"] == "measure")
        replay = api.get(f"/api/matches/{finished['id']}").json()
    assert [room["room_id"] for room in replay["rooms"]] == list(ROOM_IDS)
    assert all(room["status"] == "done" for room in replay["rooms"])
    page.get_by_label("Match", exact=True).click()
    started = finished["started_at"][:16].replace("T", " ")
    options = page.get_by_role("option").filter(has_text=started).filter(has_text=" · done")
    options.filter(has_not_text="calibration").first.click()
    view = page.locator("#replay-view")
    view.get_by_text("Warden").first.wait_for()
    playwright.expect(view).not_to_contain_text("Live: the seed")
    for name in ("Cipher", "Map", "Mechanism", "Archive", "Paradox", "Warden"):
        assert name in view.inner_text()
    assert "A · " in view.inner_text() and "B · " in view.inner_text()  # side by side
    page.screenshot(path=SHOTS / "replay.png", full_page=True)
    shots(page, "replay-finished", view.get_by_text("Warden").first)

    with app.api() as api:
        rows = {r["quant"]: r for r in api.get("/api/leaderboard").json()}
    candidate = rows["Q2_K"]
    for quant, row in rows.items():  # what llama-server's /props says, beside the labels
        assert row["server_engine"] == "llama.cpp" and row["server_version"]
        assert row["server_quant"] == quant and not row["quant_mismatch"]
        assert row["server_context_tokens"] > 0
    with app.api() as api:
        [calibrated] = api.get("/api/calibrations").json()
    assert calibrated["status"] == "done" and calibrated["runs_played"] == 4
    assert calibrated["baseline_id"] == rows["Q4_1"]["submission_id"]
    assert set(calibrated["profile"]) == set(ROOM_IDS)
    assert all(0 <= level <= 10 for level in calibrated["profile"].values())
    assert replay["profile"] == calibrated["profile"]  # the latest match played the profile
    assert replay["purpose"] == "measure"
    assert calibrated["profile_label"] in table.inner_text()
    open_tab(page, "Verdicts")
    choose(page, "Candidate", f"#{candidate['submission_id']} {candidate['display_name']} (Q2_K)")
    verdicts = page.locator("#verdict-view")
    verdicts.get_by_text("vs baseline").wait_for()
    text = verdicts.inner_text()
    assert "paired puzzles" in text and "KL probe" in text
    kl = rows["Q2_K"]["kl"]
    assert kl["status"] == "done" and kl["mean_kl"] > 0 and 0 < kl["top1_agreement"] < 1
    speed = rows["Q4_1"]["speed"]
    assert speed["status"] == "done" and speed["tg_tps_mean"] > 0 and speed["reps"] >= 5
    page.screenshot(path=SHOTS / "verdicts.png", full_page=True)

    open_tab(page, "About")
    page.get_by_text("Reading the charts").wait_for()
    page.screenshot(path=SHOTS / "about.png", full_page=True)


def canary_forms() -> list[bytes]:
    raw = CANARY.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)]


def test_the_canary_key_appears_nowhere(page: Any, app: AppProcess) -> None:
    forms = canary_forms()
    # the logs (DEBUG) of the app process
    logged = app.log_path.read_bytes()
    assert b"DEBUG" in logged
    assert not any(form in logged for form in forms)
    # every byte of the database files
    for path in app.data_dir.glob("arena.sqlite3*"):
        data = path.read_bytes()
        assert not any(form in data for form in forms), path
    # every API response
    with app.api() as api:
        bodies = [api.get(p).content for p in ("/api/health", "/api/leaderboard", "/api/matches",
                                                "/api/calibrations")]  # fmt: skip
        for item in api.get("/api/matches").json():
            bodies.append(api.get(f"/api/matches/{item['id']}").content)
        for row in api.get("/api/leaderboard").json():
            bodies.append(api.get(f"/api/submissions/{row['submission_id']}").content)
        bodies.append(api.get("/openapi.json").content)
        bodies.append(api.get("/config").content)
    for body in bodies:
        assert not any(form in body for form in forms)
    # what the browser shows, tab by tab
    for name in ("Leaderboard", "Pareto frontier", "Bang per bit", "Replays", "Submit", "About"):
        open_tab(page, name)
        assert CANARY not in page.content()
