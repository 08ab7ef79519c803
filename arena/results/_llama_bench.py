"""llama-bench results: ``llama-bench -o json|jsonl|csv`` output parsed into imported results."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from arena.results._external_models import ImportedResult, ImportRefused
from arena.results._scrub import file_name_only, finite_number, looks_secret, scrub

LLAMA_BENCH_EXTENSIONS = (".json", ".jsonl", ".csv")
TOKENS_PER_SECOND = "tokens_per_second"

_TIMING_FIELDS = frozenset(
    {"test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "samples_ns", "samples_ts"}
)
_MODEL_FIELDS = ("model_filename", "model_type", "model_size", "model_n_params")
_KEPT_FIELDS = (
    "model_type", "model_size", "model_n_params", "n_prompt", "n_gen", "n_depth", "n_threads",
    "n_batch", "n_ubatch", "n_gpu_layers", "type_k", "type_v", "flash_attn", "split_mode",
    "build_commit", "build_number", "cpu_info", "gpu_info", "test_time", "avg_ns", "stddev_ns",
)  # fmt: skip
_OLD_BACKEND_FLAGS = (
    ("cuda", "CUDA"), ("vulkan", "Vulkan"), ("kompute", "Kompute"), ("metal", "Metal"),
    ("sycl", "SYCL"), ("rpc", "RPC"), ("gpu_blas", "GPU BLAS"), ("blas", "BLAS"),
)  # fmt: skip


def _read_rows(text: str, filename: str) -> list[dict[str, Any]]:
    """The rows of a llama-bench ``-o json|jsonl|csv`` output, chosen by file extension."""
    suffix = Path(filename).suffix.lower()
    if suffix not in LLAMA_BENCH_EXTENSIONS:
        raise ImportRefused(
            f"llama-bench: unsupported file extension {suffix or '(none)'!r} in {filename!r}: "
            "expected .json, .jsonl or .csv (llama-bench -o json|jsonl|csv)"
        )
    if not text.strip():
        raise ImportRefused("llama-bench: the file is empty")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportRefused(f"llama-bench: not valid JSON ({exc})") from None
        rows = [data] if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ImportRefused("llama-bench: the JSON must be an array of test objects")
    elif suffix == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ImportRefused(f"llama-bench line {number}: not valid JSON ({exc})") from None
    else:
        rows = _read_csv(text)
    if not rows:
        raise ImportRefused("llama-bench: the file holds no test results")
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ImportRefused(f"llama-bench row {index}: not an object")
    return rows


def _read_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text))
    try:
        lines = [line for line in reader if line]
    except csv.Error as exc:
        raise ImportRefused(f"llama-bench: not valid CSV ({exc})") from None
    header, body = lines[0], lines[1:]
    if len(set(header)) != len(header):
        raise ImportRefused("llama-bench: the CSV header repeats a column")
    rows = []
    for index, line in enumerate(body, start=1):
        if len(line) != len(header):
            raise ImportRefused(
                f"llama-bench row {index}: {len(line)} values for {len(header)} header columns"
            )
        rows.append(dict(zip(header, line, strict=True)))
    return rows


def _field(row: Mapping[str, Any], name: str, index: int, *, integer: bool = False) -> float:
    """A required numeric field (CSV gives strings: they are parsed)."""
    if name not in row or row[name] in (None, ""):
        raise ImportRefused(f"llama-bench row {index}: {name} is missing")
    value = _optional_field(row, name, index, integer=integer)
    assert value is not None
    return value


def _optional_field(
    row: Mapping[str, Any], name: str, index: int, *, integer: bool = False
) -> float | None:
    raw = row.get(name)
    if raw is None or raw == "":
        return None
    value: float | None
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    else:
        value = finite_number(raw)
    if value is None or not math.isfinite(value):
        raise ImportRefused(f"llama-bench row {index}: {name} is not a number ({raw!r})")
    if value < 0:
        raise ImportRefused(f"llama-bench row {index}: {name} is negative ({raw!r})")
    if integer and not value.is_integer():
        raise ImportRefused(f"llama-bench row {index}: {name} is not a whole number ({raw!r})")
    return value


def _truthy(raw: Any) -> bool:
    return raw is True or (isinstance(raw, int | float) and raw != 0) or raw in ("1", "true")


def _backend(row: Mapping[str, Any]) -> str:
    """``backends`` (current llama-bench), else the older boolean flags (``cuda``, ``metal``...)."""
    if isinstance(row.get("backends"), str) and row["backends"].strip():
        return row["backends"].strip()
    flags = [label for key, label in _OLD_BACKEND_FLAGS if _truthy(row.get(key))]
    return ",".join(flags) or "CPU"


def _test_name(n_prompt: int, n_gen: int, n_depth: int) -> str:
    """llama-bench's own test label: ``pp512``, ``tg128``, ``pp512+tg128``, ``... @ d512``."""
    if n_prompt > 0 and n_gen == 0:
        name = f"pp{n_prompt}"
    elif n_gen > 0 and n_prompt == 0:
        name = f"tg{n_gen}"
    else:
        name = f"pp{n_prompt}+tg{n_gen}"
    return name + (f" @ d{n_depth}" if n_depth > 0 else "")


def _bench_row(row: Mapping[str, Any], index: int) -> ImportedResult:
    n_prompt = int(_field(row, "n_prompt", index, integer=True))
    n_gen = int(_field(row, "n_gen", index, integer=True))
    n_depth = int(_optional_field(row, "n_depth", index, integer=True) or 0)
    if n_prompt == 0 and n_gen == 0:
        raise ImportRefused(f"llama-bench row {index}: n_prompt and n_gen are both 0")
    value = _field(row, "avg_ts", index)
    stderr = _optional_field(row, "stddev_ts", index)
    samples = row.get("samples_ts")
    if samples is not None and not (
        isinstance(samples, list) and all(finite_number(s) is not None for s in samples)
    ):
        raise ImportRefused(f"llama-bench row {index}: samples_ts is not a list of numbers")
    repetitions = _optional_field(row, "repetitions", index, integer=True)
    n = len(samples) if samples else (int(repetitions) if repetitions is not None else None)

    details: dict[str, Any] = {}
    for name in _KEPT_FIELDS:
        raw = row.get(name)
        if raw is not None and raw != "":
            details[name] = _asfinite_number(raw) if name in _NUMERIC_KEPT else raw
    if isinstance(row.get("model_filename"), str) and row["model_filename"].strip():
        details["model_filename"] = file_name_only(row["model_filename"].strip())
    details["backend"] = _backend(row)
    size = _optional_field(row, "model_size", index)
    params = _optional_field(row, "model_n_params", index)
    if size and params:
        details["bits_per_weight"] = round(size * 8 / params, 4)
    return ImportedResult(
        source="llama-bench",
        task=_test_name(n_prompt, n_gen, n_depth),
        metric=TOKENS_PER_SECOND,
        value=value,
        stderr=stderr,
        n=n,
        details=scrub(details),
    )


_NUMERIC_KEPT = frozenset(
    {"model_size", "model_n_params", "n_prompt", "n_gen", "n_depth", "n_threads", "n_batch",
     "n_ubatch", "n_gpu_layers", "flash_attn", "build_number", "avg_ns", "stddev_ns"}
)  # fmt: skip


def _asfinite_number(raw: Any) -> Any:
    """A CSV cell of a numeric field as a number (JSON gives numbers already); as-is otherwise."""
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            return raw
        if math.isfinite(value):
            return int(value) if value.is_integer() else value
    return raw


def _model_identity(row: Mapping[str, Any]) -> tuple[str, ...]:
    name = row.get("model_filename")
    named = file_name_only(name) if isinstance(name, str) else name
    return (str(named), *(str(row.get(f)) for f in _MODEL_FIELDS[1:]))


def _settings(row: Mapping[str, Any]) -> dict[str, str]:
    """Everything but timings and the model: the parameters one test was run with."""
    return {
        key: str(value)
        for key, value in row.items()
        if key not in _TIMING_FIELDS and key not in _MODEL_FIELDS
    }


def _label_value(value: str) -> str:
    """A setting's value as shown in a test name: addresses (e.g. RPC servers) are masked by a
    short digest, so distinct values stay distinct without being stored."""
    if looks_secret(value):
        return "masked-" + hashlib.sha256(value.encode()).hexdigest()[:8]
    return value


def _disambiguate(
    rows: list[dict[str, Any]], results: list[ImportedResult]
) -> list[ImportedResult]:
    """A sweep (``-t 1,2,4``) repeats test names: name each by the settings that differ,
    ``pp64 [n_threads=1]``. The very same test twice is refused."""
    by_task: dict[str, list[int]] = {}
    for position, result in enumerate(results):
        by_task.setdefault(result.task, []).append(position)
    renamed = list(results)
    for task, positions in by_task.items():
        if len(positions) == 1:
            continue
        settings = [_settings(rows[p]) for p in positions]
        keys = sorted({k for s in settings for k in s})
        varying = [k for k in keys if len({s.get(k) for s in settings}) > 1]
        labels = [", ".join(f"{k}={_label_value(s.get(k, ''))}" for k in varying) for s in settings]
        seen: dict[str, int] = {}
        for position, label in zip(positions, labels, strict=True):
            if label in seen:
                raise ImportRefused(
                    f"llama-bench rows {seen[label] + 1} and {position + 1}: the same test "
                    f"({task}) with the same settings twice"
                )
            seen[label] = position
        for position, label in zip(positions, labels, strict=True):
            extra = {k: rows[position].get(k) for k in varying}
            details = {**results[position].details, "settings": scrub(extra)}
            renamed[position] = results[position].model_copy(
                update={"task": f"{task} [{label}]", "details": details}
            )
    return renamed


def parse_llama_bench(text: str, filename: str) -> list[ImportedResult]:
    """Results of ``llama-bench -o json|jsonl|csv`` (format chosen by ``filename``'s extension):
    one per test row, ``tokens_per_second`` = ``avg_ts`` ± ``stddev_ts``. One model per file."""
    rows = _read_rows(text, filename)
    results = [_bench_row(row, index) for index, row in enumerate(rows, start=1)]
    models = sorted({_model_identity(row)[0] for row in rows})
    if len({_model_identity(row) for row in rows}) > 1:
        raise ImportRefused(
            "llama-bench: the file holds results of several models "
            f"({', '.join(models)}); import one model per file"
        )
    return _disambiguate(rows, results)
