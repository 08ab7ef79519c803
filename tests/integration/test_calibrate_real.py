"""``python -m arena calibrate`` against the real llama.cpp server (SmolLM2-135M Q4_1): the
search runs through the real engine and writes a profile that ``match --profile`` plays."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from arena.analysis import _calibration_store as calibration_store
from arena.engine._store import Store
from rooms import ROOM_ORDER
from tests.integration.conftest import ROOT, Served

RUNS = 4


def test_calibrate_the_real_baseline_then_play_its_profile(
    llama_servers: dict[str, Served], tmp_path: Path
) -> None:
    base, cand = llama_servers["Q4_1"].server, llama_servers["Q2_K"].server
    db, out = tmp_path / "arena.sqlite3", tmp_path / "smollm2-profile.json"
    done = subprocess.run(
        [sys.executable, "-m", "arena", "calibrate", "--a", base.base_url, "--a-model",
         base.alias, "--a-base", "SmolLM2-135M-Instruct", "--a-quant", "Q4_1",
         "--seeds", str(RUNS), "--max-tokens", "96", "--context-tokens", "8192",
         "--db", str(db), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    assert done.stdout.count("  run ") == RUNS
    found = json.loads(out.read_text())
    assert list(found["profile"]) == list(ROOM_ORDER)
    assert all(0 <= level <= 10 for level in found["profile"].values())
    for room, by_level in found["solve_rates"].items():
        assert sum(played for _, played in by_level.values()) == RUNS, room
    # an 8k window never allows the Archive's longer levels
    assert found["level_caps"]["archive-v3"] <= 2
    with Store(db) as store:
        [record] = calibration_store.records(store)
        assert record.status == "done" and record.profile == found["profile"]
        counts = store.query("SELECT purpose, status, COUNT(*) AS n FROM matches GROUP BY 1, 2")
        assert [(r["purpose"], r["status"], r["n"]) for r in counts] == [
            ("calibration", "done", RUNS)
        ]
    played = subprocess.run(
        [sys.executable, "-m", "arena", "match", "--a", base.base_url, "--a-model", base.alias,
         "--b", cand.base_url, "--b-model", cand.alias, "--profile", str(out),
         "--max-tokens", "96", "--seed", "3", "--db", str(db), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert played.returncode == 0, played.stderr
    with Store(db) as store:
        [match] = store.query("SELECT profile FROM matches WHERE purpose = 'measure'")
        assert json.loads(match["profile"]) == found["profile"]
