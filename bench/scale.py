"""The public board at scale, measured in one run on a synthetic store (loopback only).

1. Builds a store of N finished matches shaped like real ones (``bench/synthetic.py``: two base
   models, six submissions, 36 calls per match) and times it.
2. The board: one recomputation from scratch (what every request used to do, and what the
   background keeper now does once per change), then one after a single new match (only that
   match's base model is recomputed), then the old per-request path (``leaderboard_rows``) for
   comparison.
3. Starts the real app (``python app.py --no-scheduler``) on a free loopback port over that store
   and times ``GET /api/leaderboard``, ``/api/ratings``, ``/api/matches?limit=50`` and one replay
   (``/api/matches/{id}``): the median of 5 sequential requests and the p95 of 20 concurrent.
4. With ``--browser``: opens the page in Debian's chromium (Playwright) and times the leaderboard
   table's first rows, then opens every tab and checks that it renders (screenshots to
   ``--shots``).

Usage: ``python bench/scale.py [--matches 10000] [--browser] [--shots DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synthetic

from arena.analysis import leaderboard_rows
from arena.board import build_snapshot
from arena.dev import free_port
from arena.engine import Store

T = TypeVar("T")
TARGETS = {"api_median_ms": 100, "api_p95_ms": 1000, "full_s": 5, "one_match_s": 1, "page_s": 3}


def timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``fn(*args)`` and the seconds it took."""
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def start_app(db: Path, port: int, log: Path, root: Path = ROOT) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QER_", "HF_"))}
    env.update({"QER_DATA_DIR": str(db.parent), "QER_MIRROR_DIR": str(db.parent / "mirror")})
    return subprocess.Popen(
        [sys.executable, str(root / "app.py"), "--db", str(db), "--no-scheduler",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "WARNING"],
        cwd=root, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_ready(
    base: str, proc: subprocess.Popen[bytes], timeout_s: float = 300, *, board: bool = True
) -> float:
    """Seconds until the app answers (with a computed board, unless ``board`` is False: an app
    from before the board snapshot)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with {proc.returncode}")
        try:
            status = httpx.get(f"{base}/api/{'board' if board else 'health'}", timeout=5).json()
            if status.get("built_at") or not board:
                return time.perf_counter() - started
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)
    raise SystemExit("the app did not come up")


async def latencies(url: str, sequential: int = 5, concurrent: int = 20) -> tuple[float, float]:
    """(median of ``sequential`` requests, p95 of ``concurrent`` at once), seconds."""
    async with httpx.AsyncClient(timeout=600) as client:
        (await client.get(url)).raise_for_status()  # warm
        alone = []
        for _ in range(sequential):
            started = time.perf_counter()
            (await client.get(url)).raise_for_status()
            alone.append(time.perf_counter() - started)

        async def one() -> float:
            started = time.perf_counter()
            (await client.get(url)).raise_for_status()
            return time.perf_counter() - started

        together = sorted(await asyncio.gather(*(one() for _ in range(concurrent))))
    p95 = together[min(len(together) - 1, round(0.95 * len(together)) - 1)]
    return statistics.median(alone), p95


def browser_check(base: str, shots: Path) -> dict[str, float]:
    """Seconds from opening the page to the leaderboard table showing its rows, then to each tab
    showing what it is for (a marker per tab)."""
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    out: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        started = time.perf_counter()
        page.goto(base + "/", wait_until="commit")
        page.locator("#leaderboard-table").get_by_text("Bench-70B Q3_K_M").filter(
            visible=True
        ).first.wait_for(timeout=60_000)
        out["Leaderboard (from opening the page)"] = time.perf_counter() - started
        page.screenshot(path=str(shots / "scale-leaderboard.png"))
        markers = {
            "Verdicts": lambda: (
                page.locator("#ratings-table").get_by_text("Q6_K").filter(visible=True).first
            ),
            "Pareto frontier": lambda: page.locator("#pareto-plot .js-plotly-plot").first,
            "Bang per bit": lambda: page.locator(".js-plotly-plot").nth(2),
            "Replays": lambda: page.locator("#replay-view").get_by_text("Warden").first,
            "Submit": lambda: page.get_by_label("Endpoint base URL"),
            "Download": lambda: page.locator("#download-button"),
            "About": lambda: page.get_by_text("Cipher").filter(visible=True).first,
            "Leaderboard": lambda: (
                page.locator("#leaderboard-table").get_by_text("Q8_0").filter(visible=True).first
            ),
        }
        for tab, marker in markers.items():
            started = time.perf_counter()
            page.get_by_role("tab", name=tab).click()
            if tab == "Replays":
                page.get_by_role("button", name="Latest").click()
            marker().wait_for(timeout=60_000)
            out[tab] = time.perf_counter() - started
            page.screenshot(path=str(shots / f"scale-{tab.lower().replace(' ', '-')}.png"))
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=10_000)
    parser.add_argument("--browser", action="store_true", help="also time the page in chromium")
    parser.add_argument("--shots", type=Path, default=ROOT / "test-artifacts" / "screenshots")
    parser.add_argument(
        "--before",
        type=Path,
        help="a checkout of the code before the board snapshot (git worktree add DIR b71a3ae): "
        "its GET /api/leaderboard is timed on the same store, for comparison",
    )
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "arena.sqlite3"
        with Store(db) as store:
            _, built = timed(synthetic.build, store, args.matches, rng)
            size = db.stat().st_size / 1e6
            print(f"store: {args.matches} finished matches, 6 submissions, 2 base models, "
                  f"{size:.0f} MB; built in {built:.1f} s")  # fmt: skip
            full, full_s = timed(build_snapshot, store)
            print(f"board from scratch: {full_s:.2f} s (target < {TARGETS['full_s']} s); per "
                  "base model: " + ", ".join(f"{g.key} {g.seconds:.2f} s"
                                             for g in full.groups.values()))  # fmt: skip
            synthetic.one_more(store, args.matches, rng)
            after, one_s = timed(build_snapshot, store, full)
            print(f"board after one more match: {one_s:.2f} s (target < "
                  f"{TARGETS['one_match_s']} s), recomputed {list(after.recomputed)}")  # fmt: skip
            _, old_s = timed(leaderboard_rows, store)
            print(f"for comparison, leaderboard_rows alone (each request's work before): "
                  f"{old_s:.2f} s")  # fmt: skip
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_app(db, port, Path(tmp) / "app.log")
        try:
            ready = wait_ready(base, proc)
            print(f"app up with its first board after {ready:.1f} s")
            first = httpx.get(f"{base}/api/matches?limit=1", timeout=60).json()[0]["id"]
            urls = {
                "GET /api/leaderboard": "/api/leaderboard",
                "GET /api/ratings": "/api/ratings",
                "GET /api/matches?limit=50": "/api/matches?limit=50",
                "GET /api/matches/{id} (replay)": f"/api/matches/{first}",
            }
            print(f"{'request':34} {'median of 5':>12} {'p95 of 20 concurrent':>22}")
            for name, path in urls.items():
                median, p95 = asyncio.run(latencies(base + path))
                print(f"{name:34} {1000 * median:9.1f} ms {1000 * p95:19.1f} ms")
            print(f"targets: median < {TARGETS['api_median_ms']} ms, p95 < "
                  f"{TARGETS['api_p95_ms']} ms")  # fmt: skip
            if args.browser:
                found = browser_check(base, args.shots)
                first = found.pop("Leaderboard (from opening the page)")
                print(f"browser: leaderboard table rendered {first:.2f} s after opening the page "
                      f"(target < {TARGETS['page_s']} s)")  # fmt: skip
                print(
                    "browser: every tab rendered (seconds from its click): "
                    + ", ".join(f"{k} {v:.2f}" for k, v in found.items())
                )
        finally:
            stop(proc)
        if args.before is not None:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            proc = start_app(db, port, Path(tmp) / "before.log", args.before)
            try:
                wait_ready(base, proc, board=False)
                median, p95 = asyncio.run(latencies(f"{base}/api/leaderboard"))
                print(f"before (the code in {args.before}): GET /api/leaderboard "
                      f"median of 5 {median:.2f} s, p95 of 20 concurrent {p95:.2f} s")  # fmt: skip
            finally:
                stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


if __name__ == "__main__":
    main()
