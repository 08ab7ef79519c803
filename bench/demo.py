"""How soon ``python app.py --demo`` tells its story, measured in one run (loopback only).

Starts ``python app.py --demo`` on a fresh data folder and a free loopback port (the demo's own
schedule, ``arena.dev.DEMO_SCHEDULE``, unless the environment sets one), reads the REST API every
few seconds, and prints when each thing a newcomer waits for happened, in seconds since the start:
the page answering, the speed and KL probes, the first finished solo run and six-room match, the
first verdict on the Q2_K, and the first *decided* one. Stops the app once the verdict is decided
and a six-room match has finished (or at ``--minutes``). Prints what it saw; asserts nothing.

Usage: ``python bench/demo.py [--minutes 15] [--every 5]`` (extra environment variables pass
through, e.g. ``QER_DIFFICULTY=calibrate python bench/demo.py``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.dev import free_port

OFF_LOOPBACK = ("HF_TOKEN", "QER_RESULTS_REPO", "HF_ENDPOINT", "SPACE_ID", "SYSTEM")
"""Not passed to the app: it would restore from (and publish to) the Hub, or act as a Space."""
ENOUGH = {"candidate's verdict decided", "first six-room match finished"}
"""Seen both: the story is told."""


def number(value: float | None, spec: str) -> str:
    """``value`` formatted, or ``?`` when the API has none."""
    return "?" if value is None else format(value, spec)


def read(http: httpx.Client, path: str, **params: Any) -> Any:
    """One API read (an HTTP error status raises ``httpx.HTTPError``)."""
    response = http.get(path, params=params)
    response.raise_for_status()
    return response.json()


def milestones(rows: list[dict[str, Any]], matches: list[dict[str, Any]]) -> dict[str, str]:
    """What has happened by now, each with a short description."""
    seen: dict[str, str] = {}
    if rows and all((r.get("speed") or {}).get("status") == "done" for r in rows):
        seen["speed probes done"] = ", ".join(
            f"{r['quant']} {number(r['speed'].get('tg_tps_mean'), '.0f')} tok/s" for r in rows
        )
    candidate = next((r for r in rows if not r["is_baseline"]), None)
    if candidate and (candidate.get("kl") or {}).get("status") == "done":
        kl = candidate["kl"]
        top1 = kl.get("top1_agreement")
        seen["KL probe done"] = (
            f"{number(kl.get('mean_kl'), '.3f')} nats, "
            f"top-1 {number(100 * top1 if top1 is not None else None, '.0f')} %"
        )
    done = [m for m in matches if m["status"] == "done" and m["purpose"] == "measure"]
    if any(len(m["labels"]) == 1 for m in done):
        seen["first solo run finished"] = "one contestant, bluff mode"
    if any(len(m["labels"]) == 2 for m in done):
        seen["first six-room match finished"] = "baseline and candidate, adversarial turn"
    verdict = (candidate or {}).get("verdict") or {}
    if verdict.get("n_pairs"):
        seen["first verdict on the candidate"] = verdict["label"]
    if verdict.get("decided") and verdict.get("kind") != "NOT COMPARABLE":
        seen["candidate's verdict decided"] = (
            f"{verdict['label']} (n = {verdict['n_pairs']}, b = {verdict['b']}, "
            f"c = {verdict['c']}, from {verdict.get('source', 'matches')})"
        )
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="stop after this long")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between reads")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="qer-demo-") as data:
        log = Path(data) / "app.log"
        start = time.monotonic()
        with log.open("wb") as out:
            app = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py"), "--demo", "--data-dir", data,
                 "--host", "127.0.0.1", "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                env={k: v for k, v in os.environ.items() if k not in OFF_LOOPBACK},
            )  # fmt: skip
        seen: dict[str, tuple[float, str]] = {}
        last: dict[str, Any] = {}
        try:
            with httpx.Client(base_url=url, timeout=10.0, trust_env=False) as http:
                while time.monotonic() - start < 60 * args.minutes and app.poll() is None:
                    now = time.monotonic() - start
                    try:
                        if "page answered" not in seen and http.get("/").status_code == 200:
                            seen["page answered"] = (now, url)
                        rows = read(http, "/api/leaderboard")
                        matches = read(http, "/api/matches", limit=200)
                    except (httpx.HTTPError, ValueError):  # not up yet, or not JSON
                        time.sleep(1.0)
                        continue
                    for name, text in milestones(rows, matches).items():
                        seen.setdefault(name, (now, text))
                    last = next((r for r in rows if not r["is_baseline"]), last)
                    if set(seen) >= ENOUGH:
                        break
                    time.sleep(args.every)
        finally:  # stop the app, then say what was seen, whatever ended the loop
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(timeout=30)
            except subprocess.TimeoutExpired:  # never leave it (and its llama-servers) behind
                app.kill()
                app.wait()
            report(seen, last, args.every, args.minutes)
            if app.returncode not in (0, -signal.SIGTERM):
                print(f"  the app exited with {app.returncode}; its log:\n"
                      f"{log.read_text(errors='replace')[-2000:]}")  # fmt: skip


def report(
    seen: dict[str, tuple[float, str]], last: dict[str, Any], every: float, minutes: float
) -> None:
    """The milestones in the order they came, and the last verdict if none was decided."""
    print(f"python app.py --demo, fresh data folder, read every {every:.0f} s "
          f"(at most {minutes:.0f} min), {time.strftime('%Y-%m-%d')}:")  # fmt: skip
    for name, (at, text) in sorted(seen.items(), key=lambda item: item[1][0]):
        print(f"  {at:7.0f} s  {name}: {text}")
    if "candidate's verdict decided" not in seen:
        verdict = (last.get("verdict") or {}).get("label", "none")
        print(f"  not decided within {minutes:.0f} min; last verdict: {verdict}")


if __name__ == "__main__":
    main()
