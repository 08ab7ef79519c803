"""A real lm-evaluation-harness run against the session's llama.cpp server (Q4_1), imported with
``python -m arena import lm-eval``: the stored number is the file's, and the server's address
(which lm-eval writes into ``config.model_args`` and each task's ``metadata``) is not stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from arena.dev._local_models import SMOLLM2_BASE
from arena.engine._store import Store
from arena.results._external import read_imported
from tests.integration.conftest import ROOT, Served

TASK_DIR = ROOT / "tests" / "data" / "lm_eval_task"
TASK = "qer_arith"
METRIC = "exact_match,last_number"


def offline_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets"),
        "TOKENIZERS_PARALLELISM": "false",
    }


def write_task(tmp_path: Path) -> Path:
    """The task YAML with an absolute data path (lm-eval resolves relative ``data_files``
    against its working directory, not the YAML's folder)."""
    include = tmp_path / "tasks"
    include.mkdir()
    template = (TASK_DIR / "qer_arith.yaml.template").read_text(encoding="utf-8")
    data_file = (TASK_DIR / "qer_arith.jsonl").resolve()
    (include / "qer_arith.yaml").write_text(
        template.replace("__DATA_FILE__", str(data_file)), encoding="utf-8"
    )
    return include


def run_lm_eval(served: Served, include: Path, out: Path, env: dict[str, str]) -> Path:
    server = served.server
    argv = [
        sys.executable, "-m", "lm_eval",
        "--model", "local-chat-completions",
        "--model_args",
        f"base_url={server.base_url}/chat/completions,model={server.alias},"
        "tokenized_requests=False",
        "--apply_chat_template",
        "--tasks", TASK,
        "--include_path", str(include),
        "--output_path", str(out),
        "--limit", "5",
    ]  # fmt: skip
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    found = sorted(out.rglob("results_*.json"))
    assert len(found) == 1, (found, done.stderr[-2000:])
    return found[0]


def arena_import(results: Path, db: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "arena", "import", "lm-eval", str(results),
            "--base-model", SMOLLM2_BASE, "--quant", "Q4_1", "--db", str(db)]  # fmt: skip
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_real_lm_eval_run_is_imported(llama_servers: dict[str, Served], tmp_path: Path) -> None:
    served = llama_servers["Q4_1"]
    env = offline_env(tmp_path)
    results = run_lm_eval(served, write_task(tmp_path), tmp_path / "out", env)
    raw = results.read_text(encoding="utf-8")
    data = json.loads(raw)
    expected = data["results"][TASK]
    address = urlsplit(served.server.base_url)
    assert address.netloc in raw  # lm-eval did write the server's address into the file

    db = tmp_path / "db.sqlite3"
    first = arena_import(results, db, env)
    assert first.returncode == 0, first.stderr
    assert f"stored lm-eval {TASK} {METRIC} = " in first.stdout
    assert "(n=5)" in first.stdout

    with Store(db) as store:
        [row] = read_imported(store)
        stored = store.query("SELECT * FROM imported_results")
        references = store.query("SELECT * FROM reference_entries")
    assert (row["source"], row["task"], row["metric"]) == ("lm-eval", TASK, METRIC)
    assert row["value"] == expected[METRIC]
    assert row["stderr"] == expected[METRIC.replace(",", "_stderr,")]
    assert row["n"] == 5 == data["n-samples"][TASK]["effective"]
    assert (row["base_model"], row["quant"], row["target"]) == (SMOLLM2_BASE, "Q4_1", "reference")
    assert row["details"]["lm_eval_version"] == data["lm_eval_version"]
    assert row["details"]["model_name"] == served.server.alias
    assert row["details"]["limit"] == 5

    everything = json.dumps([stored, references])
    for leaked in (address.netloc, f":{address.port}", address.hostname, "http", "base_url"):
        assert leaked not in everything, leaked

    again = arena_import(results, db, env)
    assert again.returncode == 0, again.stderr
    assert "already imported" in again.stdout
    with Store(db) as store:
        assert len(store.query("SELECT id FROM imported_results")) == 1
