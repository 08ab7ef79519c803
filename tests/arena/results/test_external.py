"""Imports of lm-evaluation-harness and llama-bench results: parsers, storage, the CLI."""

from __future__ import annotations

import copy
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arena.cli import build_parser, main
from arena.engine._migrations import now
from arena.engine._store import Store
from arena.results._external import import_results, parse_bytes, parse_file, read_imported
from arena.results._external_models import ImportedResult, ImportRefused, ReferenceSpec
from arena.results._llama_bench import parse_llama_bench
from arena.results._lm_eval import parse_lm_eval
from arena.results._scrub import file_name_only, looks_like_url, looks_secret, scrub

BENCH = Path(__file__).resolve().parents[2] / "data" / "llama_bench"
SHA_A, SHA_B = "a" * 64, "b" * 64
SERVER = "http://127.0.0.1:40743/v1/chat/completions"

# The shape of a real lm-eval 0.4.13 results file (local-chat-completions), trimmed.
LM_EVAL: dict[str, Any] = {
    "results": {
        "qer_arith": {
            "name": "qer_arith",
            "alias": "qer_arith",
            "sample_len": 5,
            "exact_match,last_number": 0.4,
            "exact_match_stderr,last_number": 0.24494897427831783,
        }
    },
    "group_subtasks": {},
    "configs": {
        "qer_arith": {
            "task": "qer_arith",
            "output_type": "generate_until",
            "metadata": {"version": 1.0, "base_url": SERVER, "model": "smollm2-q4_1"},
        }
    },
    "versions": {"qer_arith": 1.0},
    "n-shot": {"qer_arith": 0},
    "higher_is_better": {"qer_arith": {"exact_match": True}},
    "n-samples": {"qer_arith": {"original": 5, "effective": 5}},
    "config": {
        "model": "local-chat-completions",
        "model_args": {"base_url": SERVER, "model": "smollm2-q4_1", "api_key": "sk-secret"},
        "batch_size": 1,
        "limit": 5.0,
        "random_seed": 0,
        "numpy_seed": 1234,
        "torch_seed": 1234,
        "fewshot_seed": 1234,
    },
    "git_hash": "cf14bcc",
    "lm_eval_version": "0.4.13",
    "model_name": "smollm2-q4_1",
    "chat_template": "",
}


def lm_eval(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(LM_EVAL)
    data.update(changes)
    return data


def bench_rows() -> list[dict[str, Any]]:
    return json.loads((BENCH / "qwen2.5-7b-q4_k_m.json").read_text())


def reference(**changes: Any) -> ReferenceSpec:
    return ReferenceSpec(**{"base_model": "SmolLM2-135M-Instruct", "quant": "Q4_1", **changes})


def count(store: Store, table: str) -> int:
    return int(store.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])  # noqa: S608


def add_submission(store: Store, *, status: str = "active") -> int:
    def run(db: sqlite3.Connection) -> int:
        cursor = db.execute(
            "INSERT INTO submissions (display_name, base_model, base_model_key, quant, "
            "bits_per_weight, file_size_gb, hardware, engine, base_url, model, sampling, "
            "settings_class, is_baseline, status, deletion_token_hash, client_hash, probe, "
            "created_at, updated_at) VALUES ('Smol Q2', 'SmolLM2-135M-Instruct', "
            "'smollm2-135m-instruct', 'Q2_K', 3.2, 0.09, 'CPU', 'llama.cpp', "
            "'http://127.0.0.1:9/v1', 'm', '{}', 'c', 0, ?, 'h', 'h', '{}', ?, ?)",
            (status, now(), now()),
        )
        return int(cursor.lastrowid or 0)

    return store.write(run)


# -- lm-eval parsing ---------------------------------------------------------------------------


def test_lm_eval_metric_stderr_and_count() -> None:
    [result] = parse_lm_eval(lm_eval())
    assert (result.source, result.task, result.metric) == (
        "lm-eval",
        "qer_arith",
        "exact_match,last_number",
    )
    assert result.value == 0.4
    assert result.stderr == 0.24494897427831783
    assert result.n == 5
    details = result.details
    assert details["metric_name"] == "exact_match"
    assert details["filter"] == "last_number"
    assert details["kind"] == "task"
    assert details["version"] == 1.0
    assert details["n_shot"] == 0
    assert details["higher_is_better"] is True
    assert details["output_type"] == "generate_until"
    assert details["model"] == "local-chat-completions"
    assert details["model_name"] == "smollm2-q4_1"
    assert details["limit"] == 5.0
    assert details["seeds"] == {
        "random_seed": 0,
        "numpy_seed": 1234,
        "torch_seed": 1234,
        "fewshot_seed": 1234,
    }
    assert details["lm_eval_version"] == "0.4.13"
    assert details["git_hash"] == "cf14bcc"


def test_lm_eval_never_keeps_model_args_or_addresses() -> None:
    data = lm_eval(model_name="http://10.0.0.5:8000/v1")
    data["config"]["model"] = "https://api.example.com/v1"
    [result] = parse_lm_eval(data)
    text = json.dumps(result.details)
    for leaked in ("127.0.0.1", "40743", "10.0.0.5", "example.com", "sk-secret", "model_args"):
        assert leaked not in text
    assert "model_name" not in result.details
    assert "model" not in result.details


def test_lm_eval_model_path_keeps_the_file_name_only() -> None:
    [result] = parse_lm_eval(lm_eval(model_name="/home/me/models/smol-q4.gguf"))
    assert result.details["model_name"] == "smol-q4.gguf"


def test_lm_eval_stderr_na_alias_and_non_numeric_entries() -> None:
    data = lm_eval()
    data["results"]["qer_arith"].update(
        {
            "exact_match_stderr,last_number": "N/A",
            "bleu,none": "n/a",
            "flag,none": True,
            "acc,none": 1,
            "acc_stderr,none": 0.0,
        }
    )
    results = {r.metric: r for r in parse_lm_eval(data)}
    assert set(results) == {"exact_match,last_number", "acc,none"}
    assert results["exact_match,last_number"].stderr is None
    assert results["acc,none"].value == 1.0
    assert results["acc,none"].stderr == 0.0


def test_lm_eval_two_filters_are_two_results() -> None:
    data = lm_eval()
    data["results"]["qer_arith"]["exact_match,first_number"] = 0.2
    metrics = sorted(r.metric for r in parse_lm_eval(data))
    assert metrics == ["exact_match,first_number", "exact_match,last_number"]


def test_lm_eval_groups_and_their_tasks() -> None:
    data = lm_eval(
        results={
            "arith": {"alias": "arith", "acc,none": 0.5, "acc_stderr,none": "N/A"},
            "add": {"alias": " - add", "acc,none": 0.6, "acc_stderr,none": 0.1},
            "sub": {"alias": " - sub", "acc,none": 0.4, "acc_stderr,none": 0.1},
        },
        groups={"arith": {"alias": "arith", "acc,none": 0.5, "acc_stderr,none": "N/A"}},
        group_subtasks={"arith": ["add", "sub"], "add": [], "sub": []},
        versions={"arith": 0, "add": 1.0, "sub": 1.0},
    )
    data["n-samples"] = {
        "add": {"original": 10, "effective": 10},
        "sub": {"original": 20, "effective": 8},
    }
    results = {r.task: r for r in parse_lm_eval(data)}
    assert set(results) == {"arith", "add", "sub"}  # the group once, not twice
    group = results["arith"]
    assert group.details["kind"] == "group"
    assert group.details["subtasks"] == ["add", "sub"]
    assert group.n == 18
    assert group.stderr is None
    assert results["sub"].details["kind"] == "task"
    assert results["sub"].n == 8
    assert results["sub"].details["n_original"] == 20


def test_lm_eval_nested_groups_sum_their_leaves() -> None:
    data = lm_eval(
        results={
            "all": {"acc,none": 0.5},
            "mid": {"acc,none": 0.5},
            "a": {"acc,none": 0.5},
            "b": {"acc,none": 0.5},
            "c": {"acc,none": 0.5},
        },
        group_subtasks={"all": ["mid", "c"], "mid": ["a", "b"]},
    )
    data["n-samples"] = {t: {"original": 3, "effective": 3} for t in "abc"}
    assert {r.task: r.n for r in parse_lm_eval(data)} == {
        "all": 9,
        "mid": 6,
        "a": 3,
        "b": 3,
        "c": 3,
    }


def test_lm_eval_group_only_listed_under_groups() -> None:
    data = lm_eval(groups={"bundle": {"acc,none": 0.3}}, group_subtasks={"bundle": ["qer_arith"]})
    results = {r.task: r for r in parse_lm_eval(data)}
    assert results["bundle"].details["kind"] == "group"
    assert results["bundle"].n == 5


def test_lm_eval_without_n_samples_uses_sample_len() -> None:
    data = lm_eval()
    del data["n-samples"]
    assert parse_lm_eval(data)[0].n == 5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "lm-eval: results is missing"),
        ({"results": []}, "lm-eval: results must be an object of tasks"),
        ({"results": {}}, "lm-eval: results is empty"),
        ({"results": {"arc_easy": 0.5}}, "lm-eval: results.arc_easy must be an object"),
        (
            {"results": {"arc_easy": {"alias": "arc_easy", "acc,none": "N/A"}}},
            "lm-eval: results.arc_easy: no numeric metric",
        ),
        (
            {"results": {"arc_easy": {"acc,none": float("nan")}}},
            "lm-eval: results.arc_easy: no numeric metric",
        ),
        ({"results": {"http://x:80/": {"acc,none": 1}}}, "is not a usable task name"),
    ],
)
def test_lm_eval_bad_files_name_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ImportRefused, match=message):
        parse_lm_eval(data)


def test_lm_eval_bytes_errors() -> None:
    with pytest.raises(ImportRefused, match="lm-eval: the file is empty"):
        parse_bytes("lm-eval", b"  \n", "r.json")
    with pytest.raises(ImportRefused, match="lm-eval: not valid JSON"):
        parse_bytes("lm-eval", b"{oops", "r.json")
    with pytest.raises(ImportRefused, match="must hold a JSON object"):
        parse_bytes("lm-eval", b"[1, 2]", "r.json")
    with pytest.raises(ImportRefused, match="is not UTF-8"):
        parse_bytes("lm-eval", b"\xff\xfe{", "r.json")


# -- llama-bench parsing -----------------------------------------------------------------------


def test_llama_bench_json_from_the_readme() -> None:
    pp, tg = parse_file("llama-bench", BENCH / "qwen2.5-7b-q4_k_m.json").results
    assert (pp.task, pp.metric, pp.value, pp.stderr, pp.n) == (
        "pp512",
        "tokens_per_second",
        7100.002165,
        140.34152,
        5,
    )
    assert (tg.task, tg.value, tg.stderr, tg.n) == ("tg128", 118.881588, 1.041811, 5)
    details = pp.details
    assert details["model_filename"] == "Qwen2.5-7B-Instruct-Q4_K_M.gguf"  # no directories
    assert details["model_size"] == 4677120000
    assert details["model_n_params"] == 7615616512
    assert details["bits_per_weight"] == round(4677120000 * 8 / 7615616512, 4) == 4.9132
    assert details["n_threads"] == 8
    assert details["backend"] == "CUDA"
    assert details["build_commit"] == "8cf427ff"
    assert details["cpu_info"] == "AMD Ryzen 7 7800X3D 8-Core Processor"
    assert details["gpu_info"] == "NVIDIA GeForce RTX 4080"
    assert details["type_k"] == "f16"


def test_llama_bench_csv_from_the_readme_has_the_same_shape() -> None:
    pp, tg = parse_file("llama-bench", BENCH / "qwen2.5-7b-q4_k_m.csv").results
    assert (pp.task, pp.value, pp.stderr, pp.n) == ("pp512", 7285.676949, 100.064434, None)
    assert (tg.task, tg.value, tg.stderr) == ("tg128", 119.915244, 0.430617)
    as_json = parse_file("llama-bench", BENCH / "qwen2.5-7b-q4_k_m.json").results[0].details
    volatile = {"test_time", "avg_ns", "stddev_ns"}
    assert {k: v for k, v in pp.details.items() if k not in volatile} == {
        k: v for k, v in as_json.items() if k not in volatile
    }  # CSV strings become the same numbers JSON gives


def test_llama_bench_jsonl_older_schema_with_backend_flags() -> None:
    pp, tg = parse_file("llama-bench", BENCH / "llama-7b-q4_0.jsonl").results
    assert (pp.task, pp.value, pp.stderr, pp.n) == ("pp512", 2410.974041, 11.163766, 5)
    assert (tg.task, tg.value) == ("tg128", 130.965708)
    assert pp.details["backend"] == "CUDA,GPU BLAS,BLAS"
    assert pp.details["model_filename"] == "ggml-model-q4_0.gguf"
    assert pp.details["bits_per_weight"] == 4.5412


@pytest.mark.parametrize(
    ("n_prompt", "n_gen", "n_depth", "task"),
    [
        (512, 0, 0, "pp512"),
        (0, 128, 0, "tg128"),
        (512, 128, 0, "pp512+tg128"),
        (512, 0, 4096, "pp512 @ d4096"),
    ],
)
def test_llama_bench_test_names(n_prompt: int, n_gen: int, n_depth: int, task: str) -> None:
    row = {**bench_rows()[0], "n_prompt": n_prompt, "n_gen": n_gen, "n_depth": n_depth}
    [result] = parse_llama_bench(json.dumps([row]), "b.json")
    assert result.task == task


def test_llama_bench_repetitions_when_no_samples() -> None:
    row = {k: v for k, v in bench_rows()[0].items() if k not in ("samples_ts", "samples_ns")}
    assert parse_llama_bench(json.dumps([{**row, "repetitions": 3}]), "b.json")[0].n == 3
    assert parse_llama_bench(json.dumps([row]), "b.json")[0].n is None


def test_llama_bench_windows_model_path_keeps_file_name() -> None:
    row = {**bench_rows()[0], "model_filename": "C:\\models\\q4.gguf"}
    [result] = parse_llama_bench(json.dumps(row), "b.json")  # a single object is accepted
    assert result.details["model_filename"] == "q4.gguf"


def test_llama_bench_sweep_names_each_test_by_what_differs() -> None:
    rows = [{**row, "n_threads": threads} for threads in (1, 2) for row in bench_rows()]
    results = parse_llama_bench(json.dumps(rows), "sweep.json")
    assert [r.task for r in results] == [
        "pp512 [n_threads=1]",
        "tg128 [n_threads=1]",
        "pp512 [n_threads=2]",
        "tg128 [n_threads=2]",
    ]
    assert results[0].details["settings"] == {"n_threads": 1}


def test_llama_bench_sweep_labels_never_show_addresses() -> None:
    rows = [{**bench_rows()[0], "devices": f"RPC[10.0.0.{i}:50052]"} for i in (1, 2)]
    results = parse_llama_bench(json.dumps(rows), "rpc.json")
    assert len({r.task for r in results}) == 2
    text = json.dumps([r.model_dump() for r in results])
    assert "10.0.0." not in text
    assert results[0].task.startswith("pp512 [devices=masked-")


def test_llama_bench_same_test_twice_is_refused() -> None:
    rows = bench_rows() + bench_rows()[:1]
    with pytest.raises(ImportRefused, match=r"rows 1 and 3: the same test \(pp512\)"):
        parse_llama_bench(json.dumps(rows), "b.json")
    pp = bench_rows()[0]
    rows = [{**pp, "n_threads": 1}, {**pp, "n_threads": 2}, {**pp, "n_threads": 2}]
    with pytest.raises(ImportRefused, match=r"rows 2 and 3: the same test \(pp512\)"):
        parse_llama_bench(json.dumps(rows), "b.json")


def test_llama_bench_one_model_per_file() -> None:
    rows = bench_rows()
    rows[1] = {**rows[1], "model_filename": "/m/other.gguf", "model_type": "other"}
    with pytest.raises(ImportRefused, match=r"several models \(.*other\.gguf"):
        parse_llama_bench(json.dumps(rows), "b.json")


def _row_without(field: str, row: int = 2) -> str:
    rows = bench_rows() * 2
    rows[2]["n_threads"] = rows[3]["n_threads"] = 4  # distinct tests, row 3 is the bad one
    rows = [dict(r) for r in rows]
    del rows[row][field]
    return json.dumps(rows)


@pytest.mark.parametrize(
    ("text", "filename", "message"),
    [
        (_row_without("avg_ts"), "b.json", "llama-bench row 3: avg_ts is missing"),
        (_row_without("n_gen"), "b.json", "llama-bench row 3: n_gen is missing"),
        ("", "b.json", "llama-bench: the file is empty"),
        ("  \n", "b.csv", "llama-bench: the file is empty"),
        ("[]", "b.json", "llama-bench: the file holds no test results"),
        ("[1]", "b.json", "llama-bench row 1: not an object"),
        ('"x"', "b.json", "the JSON must be an array"),
        ("[{", "b.json", "llama-bench: not valid JSON"),
        ('{"n_prompt": 1}\n{oops\n', "b.jsonl", "llama-bench line 2: not valid JSON"),
        ("| model | t/s |", "b.md", "unsupported file extension '.md'"),
        ("[]", "bench", "unsupported file extension '(none)'"),
        ("a,a\n1,2\n", "b.csv", "the CSV header repeats a column"),
        ("n_prompt,n_gen,avg_ts\n512,0\n", "b.csv", "row 1: 2 values for 3 header columns"),
        (
            "n_prompt,n_gen,avg_ts\n512,0,fast\n",
            "b.csv",
            "row 1: avg_ts is not a number ('fast')",
        ),
        ("n_prompt,n_gen,avg_ts\n512,0,-1\n", "b.csv", "row 1: avg_ts is negative"),
        ("n_prompt,n_gen,avg_ts\n51.5,0,9\n", "b.csv", "row 1: n_prompt is not a whole number"),
        ("n_prompt,n_gen,avg_ts\n0,0,9\n", "b.csv", "row 1: n_prompt and n_gen are both 0"),
        ('[{"n_prompt": 1, "n_gen": 0, "avg_ts": "NaN"}]', "b.json", "avg_ts is not a number"),
        ('[{"n_prompt": 1, "n_gen": 0, "avg_ts": true}]', "b.json", "avg_ts is not a number"),
        (
            '[{"n_prompt": 1, "n_gen": 0, "avg_ts": 3, "samples_ts": "1,2"}]',
            "b.json",
            "row 1: samples_ts is not a list of numbers",
        ),
    ],
)
def test_llama_bench_bad_files_name_the_field(text: str, filename: str, message: str) -> None:
    with pytest.raises(ImportRefused, match=re.escape(message)):
        parse_llama_bench(text, filename)


def test_llama_bench_minimal_csv_row() -> None:
    [result] = parse_llama_bench("n_prompt,n_gen,avg_ts\n0,16,42.5\n", "b.csv")
    assert (result.task, result.value, result.stderr, result.n) == ("tg16", 42.5, None, None)
    assert result.details == {"n_prompt": 0, "n_gen": 16, "backend": "CPU"}


# -- scrubbing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1:8080/v1",
        "https://example.com",
        "ws://h/x",
        "127.0.0.1",
        "localhost",
        "gpu-box.lan:8000/v1",
        "api.example.com:443",
        "[::1]:8080",
        "www.example.org",
    ],
)
def test_addresses_are_recognized(text: str) -> None:
    assert looks_like_url(text)


@pytest.mark.parametrize(
    "text",
    [
        "SmolLM2-135M-Instruct",
        "meta-llama/Llama-3.1-8B-Instruct",
        "exact_match,last_number",
        "2025-04-24T11:57:09Z",
        "0.4.13",
        "AMD Ryzen 7 7800X3D 8-Core Processor",
        "qwen2 7B Q4_K - Medium",
        "pp512 @ d512",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert not looks_secret(text)
    assert scrub({"k": text}) == {"k": text}


def test_scrub_drops_keys_tokens_and_nested_addresses() -> None:
    dirty = {
        "a": ["ok", "http://10.1.2.3/v1", {"b": "sk-abcdefghijklmnopqrstuv"}],
        "http://x.io:80/": 1,
        "n": float("inf"),
        "obj": object(),
        "fine": 3,
    }
    assert scrub(dirty) == {"a": ["ok", {}], "fine": 3}


@given(
    st.recursive(
        st.text(max_size=20) | st.integers() | st.floats(allow_nan=True),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    ),
    st.sampled_from(["http://127.0.0.1:9999/v1", "https://h.example:8443", "10.0.0.7"]),
)
def test_scrub_never_lets_an_address_through(value: Any, address: str) -> None:
    cleaned = scrub({"x": value, "url": address, "nested": [{"u": f"see {address}"}]})
    text = json.dumps(cleaned)
    assert address not in text
    json.loads(text)  # always serializable, no NaN


def test_file_name_only() -> None:
    assert file_name_only("/a/b/c.gguf") == "c.gguf"
    assert file_name_only("C:\\m\\x.gguf") == "x.gguf"
    assert file_name_only("x.gguf") == "x.gguf"


# -- storing -----------------------------------------------------------------------------------


def test_import_to_a_reference_then_reimport_is_a_no_op(store: Store) -> None:
    results = parse_lm_eval(lm_eval())
    first = import_results(store, results, source_sha256=SHA_A, reference=reference())
    assert first.target == "reference"
    assert first.reference_created
    assert [r.metric for r in first.stored] == ["exact_match,last_number"]
    assert not first.already_imported
    assert first.lines()[-1].startswith("stored 1 result(s) for reference #1")

    again = import_results(store, results, source_sha256=SHA_A, reference=reference())
    assert again.already_imported
    assert not again.reference_created
    assert again.stored == []
    assert "already imported" in again.lines()[-1]
    assert count(store, "imported_results") == 1
    assert count(store, "reference_entries") == 1


def test_reference_is_reused_across_files_and_spellings(store: Store) -> None:
    lm = parse_lm_eval(lm_eval())
    bench = parse_file("llama-bench", BENCH / "qwen2.5-7b-q4_k_m.json").results
    import_results(store, lm, source_sha256=SHA_A, reference=reference())
    report = import_results(
        store, bench, source_sha256=SHA_B, reference=reference(base_model="smollm2 135M instruct")
    )
    assert not report.reference_created
    assert count(store, "reference_entries") == 1
    assert count(store, "imported_results") == 3
    other = import_results(store, lm, source_sha256=SHA_A, reference=reference(hardware="RTX"))
    assert other.reference_created  # hardware is part of a reference's identity
    assert count(store, "reference_entries") == 2


def test_read_imported_joins_the_target(store: Store) -> None:
    bench = parse_file("llama-bench", BENCH / "qwen2.5-7b-q4_k_m.json").results
    import_results(store, bench, source_sha256=SHA_B, reference=reference(hardware="RTX 4080"))
    import_results(store, parse_lm_eval(lm_eval()), source_sha256=SHA_A, reference=reference())
    rows = read_imported(store)
    assert [(r["source"], r["task"]) for r in rows] == [
        ("llama-bench", "pp512"),
        ("llama-bench", "tg128"),
        ("lm-eval", "qer_arith"),
    ]
    pp, lm = rows[0], rows[2]
    assert lm["target"] == "reference"
    assert lm["label"] == "SmolLM2-135M-Instruct Q4_1"
    assert lm["base_model_key"] == "smollm2-135m-instruct"
    assert lm["bits_per_weight"] is None
    assert lm["value"] == 0.4
    assert lm["n"] == 5
    assert lm["details"]["filter"] == "last_number"
    assert pp["label"] == "SmolLM2-135M-Instruct Q4_1 (RTX 4080)"
    # measured by llama-bench and filled in because none was given
    assert pp["bits_per_weight"] == 4.9132
    assert pp["file_size_gb"] == 4.677
    assert pp["quant"] == "Q4_1"
    assert pp["submission_id"] is None


def test_given_sizes_win_and_contradictions_are_refused(store: Store) -> None:
    bench = parse_file("llama-bench", BENCH / "qwen2.5-7b-q4_k_m.json").results
    import_results(store, bench, source_sha256=SHA_B, reference=reference(bits_per_weight=5.0))
    [row] = store.query("SELECT bits_per_weight, file_size_gb FROM reference_entries")
    assert row == {"bits_per_weight": 5.0, "file_size_gb": 4.677}
    lm = parse_lm_eval(lm_eval())
    with pytest.raises(
        ImportRefused, match=re.escape("already has bits_per_weight 5 (given 4.5); omit")
    ):
        import_results(store, lm, source_sha256=SHA_A, reference=reference(bits_per_weight=4.5))
    import_results(store, lm, source_sha256=SHA_A, reference=reference(bits_per_weight=5.0))
    assert count(store, "imported_results") == 3


def test_sizes_are_filled_in_later_when_missing(store: Store) -> None:
    import_results(store, parse_lm_eval(lm_eval()), source_sha256=SHA_A, reference=reference())
    bench = parse_file("llama-bench", BENCH / "qwen2.5-7b-q4_k_m.json").results
    import_results(store, bench, source_sha256=SHA_B, reference=reference(file_size_gb=4.7))
    [row] = store.query("SELECT bits_per_weight, file_size_gb FROM reference_entries")
    assert row == {"bits_per_weight": 4.9132, "file_size_gb": 4.7}


def test_import_to_a_submission(store: Store) -> None:
    sid = add_submission(store)
    report = import_results(store, parse_lm_eval(lm_eval()), source_sha256=SHA_A, submission_id=sid)
    assert (report.target, report.target_id, report.target_label) == ("submission", sid, "Smol Q2")
    [row] = read_imported(store)
    assert row["target"] == "submission"
    assert row["label"] == "Smol Q2"
    assert (row["quant"], row["bits_per_weight"], row["file_size_gb"]) == ("Q2_K", 3.2, 0.09)
    assert row["reference_id"] is None
    assert count(store, "reference_entries") == 0
    # the same file for another target is stored again
    import_results(store, parse_lm_eval(lm_eval()), source_sha256=SHA_A, reference=reference())
    assert count(store, "imported_results") == 2


def test_deleted_submissions_are_refused_and_hidden(store: Store) -> None:
    sid = add_submission(store)
    import_results(store, parse_lm_eval(lm_eval()), source_sha256=SHA_A, submission_id=sid)
    store.write(lambda db: db.execute("UPDATE submissions SET status = 'deleted'"))
    assert read_imported(store) == []
    assert len(read_imported(store, include_deleted=True)) == 1
    with pytest.raises(ImportRefused, match=f"submission {sid} was deleted"):
        import_results(store, parse_lm_eval(lm_eval()), source_sha256=SHA_B, submission_id=sid)


def test_unknown_submission_and_bad_targets(store: Store) -> None:
    results = parse_lm_eval(lm_eval())
    with pytest.raises(ImportRefused, match="unknown submission id 99"):
        import_results(store, results, source_sha256=SHA_A, submission_id=99)
    with pytest.raises(ImportRefused, match="exactly one"):
        import_results(store, results, source_sha256=SHA_A)
    with pytest.raises(ImportRefused, match="exactly one"):
        import_results(store, results, source_sha256=SHA_A, submission_id=1, reference=reference())
    with pytest.raises(ImportRefused, match="nothing to import"):
        import_results(store, [], source_sha256=SHA_A, reference=reference())
    with pytest.raises(ImportRefused, match="SHA-256"):
        import_results(store, results, source_sha256="abc", reference=reference())
    assert count(store, "imported_results") == 0


def test_a_failure_mid_write_stores_nothing(store: Store) -> None:
    good = parse_file("llama-bench", BENCH / "qwen2.5-7b-q4_k_m.json").results
    broken = ImportedResult.model_construct(**{**good[1].model_dump(), "details": {"x": object()}})
    with pytest.raises(TypeError):
        import_results(store, [good[0], broken], source_sha256=SHA_A, reference=reference())
    assert count(store, "imported_results") == 0
    assert count(store, "reference_entries") == 0  # created in the same rolled-back transaction


def test_reference_spec_validation() -> None:
    spec = reference(base_model="  Smol\u202eLM  ", hardware="  ", engine="llama.cpp")
    assert (spec.base_model, spec.hardware, spec.engine) == ("SmolLM", "", "llama.cpp")
    with pytest.raises(ValueError, match="bits_per_weight"):
        reference(bits_per_weight=0)
    with pytest.raises(ValueError, match="base_model"):
        reference(base_model=" ")


# -- the CLI -----------------------------------------------------------------------------------


def write_lm_eval(tmp_path: Path, data: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "results_2026-01-01T00-00-00.json"
    path.write_text(json.dumps(data or lm_eval()), encoding="utf-8")
    return path


def test_cli_imports_then_says_already_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, path = tmp_path / "db.sqlite3", write_lm_eval(tmp_path)
    argv = ["import", "lm-eval", str(path), "--base-model", "SmolLM2-135M-Instruct",
            "--quant", "Q4_1", "--bits-per-weight", "5.74", "--db", str(db)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "stored lm-eval qer_arith exact_match,last_number = 0.4 ± 0.2449 (n=5)"
    assert out[1].startswith("stored 1 result(s) for reference #1 (SmolLM2-135M-Instruct Q4_1)")
    assert main(argv) == 0
    assert "already imported" in capsys.readouterr().out
    with Store(db) as store:
        [row] = read_imported(store)
    assert row["bits_per_weight"] == 5.74


def test_cli_llama_bench_to_a_submission(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db.sqlite3"
    with Store(db) as store:
        sid = add_submission(store)
    argv = ["import", "llama-bench", str(BENCH / "llama-7b-q4_0.jsonl"), "--submission",
            str(sid), "--db", str(db)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "stored llama-bench pp512 tokens_per_second = 2410.97 ± 11.16 (n=5)" in out
    assert f"for submission #{sid} (Smol Q2)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quant", "Q4_1"], "give --submission ID, or --base-model NAME --quant LABEL"),
        (["--base-model", "Smol"], "--quant is required with --base-model"),
        (["--submission", "1", "--hardware", "x"], "--submission cannot be combined with"),
        (["--base-model", "Smol", "--quant", "Q4_1", "--bits-per-weight", "-1"],
         "error: --bits-per-weight: Input should be greater than 0"),
        (["--base-model", " ", "--quant", "Q4_1"], "error: --base-model: Value error"),
        (["--submission", "7"], "error: submission: unknown submission id 7"),
    ],
)  # fmt: skip
def test_cli_target_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = write_lm_eval(tmp_path)
    assert main(["import", "lm-eval", str(path), *args, "--db", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_cli_bad_file_stores_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bench.json"
    bad.write_text(_row_without("avg_ts"), encoding="utf-8")
    db = tmp_path / "db.sqlite3"
    argv = ["import", "llama-bench", str(bad), "--base-model", "Qwen2.5-7B", "--quant",
            "Q4_K_M", "--db", str(db)]  # fmt: skip
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == "error: llama-bench row 3: avg_ts is missing"
    assert not db.exists()  # the whole file is parsed before the database is opened


@pytest.mark.parametrize(
    ("source", "name", "message"),
    [
        ("lm-eval", "missing.json", "lm-eval: cannot read"),
        ("llama-bench", "bench.txt", "unsupported file extension '.txt'"),
        ("lm-eval", "", "is a directory; pass a result file (found: results_x.json)"),
    ],
)
def test_cli_file_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, name: str, message: str
) -> None:
    (tmp_path / "results_x.json").write_text("{}", encoding="utf-8")
    (tmp_path / "bench.txt").write_text("x", encoding="utf-8")
    path = tmp_path / name if name else tmp_path
    argv = ["import", source, str(path), "--base-model", "M", "--quant", "Q",
            "--db", str(tmp_path / "d")]  # fmt: skip
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_argument_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["import", "csv", "x"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["import", "lm-eval", "x", "--submission", "one"])
    assert exc.value.code == 2


def test_cli_match_still_parses() -> None:
    args = build_parser().parse_args(["match", "--a", "http://127.0.0.1:9/v1", "--seed", "3"])
    assert (args.command, args.a_url, args.seed) == ("match", "http://127.0.0.1:9/v1", 3)
    assert build_parser().parse_args(["import", "lm-eval", "f.json", "--submission", "2"]).db == (
        build_parser().parse_args(["match", "--a", "http://x"]).db
    )
