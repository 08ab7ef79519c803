"""Import results of other tools: lm-evaluation-harness and llama-bench.

Imported results are attached to one target: a registered submission, or a "reference" entry (a
base model + quant with no endpoint, created on first use). They are shown beside escape-room
results, marked by source, and never mixed into escape-room scores.

Parsers are pure and refuse a bad file as a whole (:class:`ImportRefused`, naming the field), so
nothing partial is stored; :func:`import_results` then writes everything in one transaction.
Re-importing the same file (same SHA-256) adds nothing.

Nothing URL-like is stored: lm-eval's ``model_args`` (and its task configs, whose ``metadata``
repeats them) carry the server's address and sometimes an API key, so details are built from an
allowlist of fields and every string is checked once more before it is kept. File paths are cut to
their file name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from arena.engine import Store, clean_text, now
from submissions.models import base_model_key, plain_text

Source = Literal["lm-eval", "llama-bench"]
SOURCES: tuple[Source, ...] = ("lm-eval", "llama-bench")
MAX_FILE_BYTES = 20 * 1024 * 1024
"""Result files are small (an lm-eval results JSON is a few kB); anything bigger is refused."""
LLAMA_BENCH_EXTENSIONS = (".json", ".jsonl", ".csv")
TOKENS_PER_SECOND = "tokens_per_second"


class ImportRefused(ValueError):
    """A file or target that cannot be imported; ``reason`` names the offending field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- models ------------------------------------------------------------------------------------


class ImportedResult(BaseModel):
    """One number from another tool, ready to store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Source
    task: str = Field(min_length=1, max_length=300)
    """lm-eval task or group name; llama-bench test name (``pp512``, ``tg128``, ``pp512+tg128``)."""
    metric: str = Field(min_length=1, max_length=200)
    """lm-eval's own ``<metric>,<filter>`` key; llama-bench ``tokens_per_second``."""
    value: float
    stderr: float | None = None
    n: int | None = Field(None, ge=0)
    """Samples (lm-eval, effective count) or repetitions (llama-bench), when known."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Context that helps read the number (versions, settings); never URLs, keys or paths."""

    @field_validator("value", "stderr")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


def _optional_plain(value: str) -> str:
    """Plain text, or "" for blank input (hardware and engine are optional on references)."""
    return plain_text(value) if value.strip() else ""


class ReferenceSpec(BaseModel):
    """A base model + quant with no endpoint; unique on (base model key, quant, hardware,
    engine), so the same spec reuses its entry."""

    model_config = ConfigDict(extra="forbid", str_max_length=200)

    base_model: Annotated[str, AfterValidator(plain_text), Field(min_length=1, max_length=100)]
    quant: Annotated[str, AfterValidator(plain_text), Field(min_length=1, max_length=40)]
    bits_per_weight: float | None = Field(None, gt=0, le=32)
    file_size_gb: float | None = Field(None, gt=0, le=4096)
    hardware: Annotated[str, AfterValidator(_optional_plain), Field(max_length=80)] = ""
    engine: Annotated[str, AfterValidator(_optional_plain), Field(max_length=40)] = ""

    @property
    def label(self) -> str:
        return reference_label(self.base_model, self.quant, self.hardware, self.engine)


class ImportReport(BaseModel):
    """What one import did."""

    target: Literal["submission", "reference"]
    target_id: int
    target_label: str
    reference_created: bool = False
    stored: list[ImportedResult] = Field(default_factory=list)
    """Results written now."""
    already_stored: list[ImportedResult] = Field(default_factory=list)
    """Results of this file already stored for this target (a re-import)."""

    @property
    def already_imported(self) -> bool:
        return not self.stored and bool(self.already_stored)

    def lines(self) -> list[str]:
        """One line per result, then a summary line."""
        where = f"{self.target} #{self.target_id} ({self.target_label})"
        out = [f"stored {describe(r)}" for r in self.stored]
        out += [f"already stored {describe(r)}" for r in self.already_stored]
        if self.already_imported:
            out.append(f"already imported: this file's results are already stored for {where}")
        else:
            created = ", created now" if self.reference_created else ""
            out.append(f"stored {len(self.stored)} result(s) for {where}{created}")
        return out


def describe(result: ImportedResult) -> str:
    """``lm-eval arc_easy acc,none = 0.7 ± 0.01 (n=100)``."""
    stderr = f" ± {result.stderr:.4g}" if result.stderr is not None else ""
    n = f" (n={result.n})" if result.n is not None else ""
    return f"{result.source} {result.task} {result.metric} = {result.value:.6g}{stderr}{n}"


def reference_label(base_model: str, quant: str, hardware: str = "", engine: str = "") -> str:
    extra = ", ".join(part for part in (hardware, engine) if part)
    return f"{base_model} {quant}" + (f" ({extra})" if extra else "")


# -- scrubbing ---------------------------------------------------------------------------------

_URLISH = re.compile(
    r"""(
        [a-z][a-z0-9+.\-]*://              # a scheme: http://, https://, ws://, file://
      | \bwww\.
      | \blocalhost\b
      | \b\d{1,3}(?:\.\d{1,3}){3}\b        # an IPv4 address
      | \[[0-9a-f:]*:[0-9a-f:]*\]          # a bracketed IPv6 address
      | (?:^|[\s@/])[\w.\-]+\.[a-z]{2,}:\d{1,5}\b   # host.tld:port
      | (?:^|[\s@/])[\w.\-]+:\d{2,5}(?:/|$)         # host:port/...
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_SECRETISH = re.compile(r"\b(?:sk|hf)[_\-][A-Za-z0-9_\-]{16,}|\bbearer\s", re.IGNORECASE)


def looks_like_url(text: str) -> bool:
    """True for anything that could be a network address (scheme, host:port, IP address)."""
    return bool(_URLISH.search(text))


def looks_secret(text: str) -> bool:
    """True for an address or an API-key-shaped token: such text is never stored."""
    return looks_like_url(text) or bool(_SECRETISH.search(text))


def file_name_only(text: str) -> str:
    """The last part of a POSIX or Windows path (``/models/x.gguf`` -> ``x.gguf``)."""
    return PureWindowsPath(PurePosixPath(text).name).name


def scrub(value: Any) -> Any:
    """Details made storable: strings cleaned, URL-like strings dropped (recursively); ``None``
    for a value that must go."""
    if isinstance(value, str):
        cleaned = clean_text(value)
        return None if looks_secret(cleaned) else cleaned
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            if not isinstance(key, str) or looks_secret(key):
                continue
            item = scrub(item)
            if item is not None:
                kept[clean_text(key)] = item
        return kept
    if isinstance(value, list | tuple):
        return [item for item in (scrub(v) for v in value) if item is not None]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float):
        return value
    return None


def _number(value: Any) -> float | None:
    """A finite number (not a bool), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``data[key]`` when it is an object, else an empty one (optional sections)."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


# -- lm-evaluation-harness ---------------------------------------------------------------------

_LM_EVAL_SEEDS = ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")


def _lm_eval_run_details(data: Mapping[str, Any]) -> dict[str, Any]:
    """Run-level context from an lm-eval results file; never ``model_args``."""
    config = _mapping(data, "config")
    details: dict[str, Any] = {}
    for key, name in (("model", "model"), ("limit", "limit"), ("batch_size", "batch_size")):
        if key in config:
            details[name] = config[key]
    seeds = {k: config[k] for k in _LM_EVAL_SEEDS if k in config}
    if seeds:
        details["seeds"] = seeds
    model_name = data.get("model_name")
    if isinstance(model_name, str) and model_name:
        name = file_name_only(model_name) if model_name.startswith(("/", "~", "\\")) else model_name
        details["model_name"] = name
    for key in ("lm_eval_version", "git_hash", "fewshot_as_multiturn", "chat_template_sha"):
        if data.get(key) is not None:
            details[key] = data[key]
    if data.get("chat_template"):
        details["chat_template_applied"] = True
    return details


def _leaf_tasks(
    name: str, groups: Mapping[str, Any], seen: frozenset[str] = frozenset()
) -> list[str]:
    """The tasks under a group, recursively (a group can contain groups)."""
    members = groups.get(name)
    if not isinstance(members, list) or not members or name in seen:
        return [name]
    leaves: list[str] = []
    for member in members:
        if isinstance(member, str):
            leaves += _leaf_tasks(member, groups, seen | {name})
    return leaves


def _lm_eval_count(task: str, data: Mapping[str, Any], groups: Mapping[str, Any]) -> int | None:
    """Samples behind a task's numbers (effective count; a group sums its tasks), when known."""
    counts = _mapping(data, "n-samples")
    total = 0
    for leaf in _leaf_tasks(task, groups):
        entry = counts.get(leaf)
        count = entry.get("effective") if isinstance(entry, Mapping) else None
        if count is None and leaf == task:
            count = _mapping(_mapping(data, "results"), task).get("sample_len")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return None
        total += count
    return total


def _lookup(data: Mapping[str, Any], section: str, task: str) -> Any:
    return _mapping(data, section).get(task)


def _lm_eval_task(
    task: str, entry: Mapping[str, Any], data: Mapping[str, Any]
) -> list[ImportedResult]:
    groups = _mapping(data, "group_subtasks")
    is_group = bool(groups.get(task)) or isinstance(_lookup(data, "groups", task), Mapping)
    common: dict[str, Any] = {"kind": "group" if is_group else "task"}
    if is_group and isinstance(groups.get(task), list):
        common["subtasks"] = [t for t in groups[task] if isinstance(t, str)]
    for section, name in (("versions", "version"), ("n-shot", "n_shot")):
        if (found := _lookup(data, section, task)) is not None:
            common[name] = found
    counts = _lookup(data, "n-samples", task)
    if isinstance(counts, Mapping):
        common["n_original"] = counts.get("original")
    config = _lookup(data, "configs", task)
    if isinstance(config, Mapping) and isinstance(config.get("output_type"), str):
        common["output_type"] = config["output_type"]
    better = _lookup(data, "higher_is_better", task)
    n = _lm_eval_count(task, data, groups)
    run = _lm_eval_run_details(data)

    results = []
    for key, raw in entry.items():
        if not isinstance(key, str) or "," not in key or key == "alias":
            continue
        name, _, filter_name = key.partition(",")
        if name.endswith("_stderr"):
            continue
        value = _number(raw)
        if value is None:
            continue
        stderr = _number(entry.get(f"{name}_stderr,{filter_name}"))
        details = {**common, "metric_name": name, "filter": filter_name, **run}
        if isinstance(better, Mapping) and isinstance(better.get(name), bool):
            details["higher_is_better"] = better[name]
        results.append(
            ImportedResult(
                source="lm-eval",
                task=task,
                metric=key,
                value=value,
                stderr=stderr,
                n=n,
                details=scrub(details),
            )
        )
    if not results:
        raise ImportRefused(f"lm-eval: results.{task}: no numeric metric")
    return results


def parse_lm_eval(data: dict[str, Any]) -> list[ImportedResult]:
    """Results of an lm-evaluation-harness results JSON: one per task (or group) and
    ``<metric>,<filter>`` key, its stderr from ``<metric>_stderr,<filter>`` ("N/A" -> None)."""
    if not isinstance(data, Mapping):
        raise ImportRefused("lm-eval: the file must hold a JSON object (a results_*.json file)")
    results = data.get("results")
    if results is None:
        raise ImportRefused("lm-eval: results is missing (is this an lm-eval results_*.json?)")
    if not isinstance(results, Mapping):
        raise ImportRefused("lm-eval: results must be an object of tasks")
    if not results:
        raise ImportRefused("lm-eval: results is empty")
    # Groups are in ``results`` too (lm-eval >= 0.4); older files may list them only here.
    extra_groups = {k: v for k, v in _mapping(data, "groups").items() if k not in results}
    parsed: list[ImportedResult] = []
    for task, entry in {**results, **extra_groups}.items():
        if not isinstance(entry, Mapping):
            raise ImportRefused(f"lm-eval: results.{task} must be an object of metrics")
        if not isinstance(task, str) or not task.strip() or looks_like_url(task):
            raise ImportRefused(f"lm-eval: results.{task!r} is not a usable task name")
        parsed += _lm_eval_task(task, entry, data)
    return parsed


# -- llama-bench -------------------------------------------------------------------------------

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
        value = _number(raw)
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
        isinstance(samples, list) and all(_number(s) is not None for s in samples)
    ):
        raise ImportRefused(f"llama-bench row {index}: samples_ts is not a list of numbers")
    repetitions = _optional_field(row, "repetitions", index, integer=True)
    n = len(samples) if samples else (int(repetitions) if repetitions is not None else None)

    details: dict[str, Any] = {}
    for name in _KEPT_FIELDS:
        raw = row.get(name)
        if raw is not None and raw != "":
            details[name] = _as_number(raw) if name in _NUMERIC_KEPT else raw
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


def _as_number(raw: Any) -> Any:
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


# -- files -------------------------------------------------------------------------------------


class ParsedFile(BaseModel):
    """A parsed result file and the SHA-256 of its bytes (what makes a re-import a no-op)."""

    source: Source
    filename: str
    sha256: str
    results: list[ImportedResult]


def parse_file(source: Source, path: Path) -> ParsedFile:
    """Read and parse one result file; :class:`ImportRefused` for anything unusable."""
    if path.is_dir():
        found = sorted(p.name for p in path.rglob("results_*.json"))[:5]
        hint = f" (found: {', '.join(found)})" if found else ""
        raise ImportRefused(f"{source}: {path} is a directory; pass a result file{hint}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportRefused(f"{source}: {path.name} is {size} bytes (limit {MAX_FILE_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{source}: cannot read {path}: {exc.strerror or exc}") from None
    return ParsedFile(
        source=source,
        filename=path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        results=parse_bytes(source, raw, path.name),
    )


def parse_bytes(source: Source, raw: bytes, filename: str) -> list[ImportedResult]:
    """Decode (UTF-8, an optional BOM) and parse one file's bytes."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"{source}: {filename} is not UTF-8 text ({exc.reason})") from None
    if source == "llama-bench":
        return parse_llama_bench(text, filename)
    if not text.strip():
        raise ImportRefused("lm-eval: the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRefused(f"lm-eval: not valid JSON ({exc})") from None
    return parse_lm_eval(data)


# -- storing -----------------------------------------------------------------------------------


def derived_size(results: Iterable[ImportedResult]) -> tuple[float | None, float | None]:
    """Bits per weight and file size (GB) measured by llama-bench, when every result agrees."""
    bpw = {r.details.get("bits_per_weight") for r in results if r.source == "llama-bench"}
    size = {r.details.get("model_size") for r in results if r.source == "llama-bench"}
    one_bpw = bpw.pop() if len(bpw) == 1 else None
    one_size = size.pop() if len(size) == 1 else None
    return (
        float(one_bpw) if isinstance(one_bpw, int | float) else None,
        round(one_size / 1e9, 3) if isinstance(one_size, int | float) and one_size else None,
    )


def _reference_id(
    db: sqlite3.Connection, spec: ReferenceSpec, derived: tuple[float | None, float | None]
) -> tuple[int, bool]:
    """Create or reuse the reference entry; fill sizes it lacks. Given sizes that contradict
    the stored ones are refused (derived ones never override)."""
    key = base_model_key(spec.base_model)
    row = db.execute(
        "SELECT id, bits_per_weight, file_size_gb FROM reference_entries "
        "WHERE base_model_key = ? AND quant = ? AND hardware = ? AND engine = ?",
        (key, spec.quant, spec.hardware, spec.engine),
    ).fetchone()
    given = {"bits_per_weight": spec.bits_per_weight, "file_size_gb": spec.file_size_gb}
    measured = dict(zip(given, derived, strict=True))
    if row is None:
        values = {k: given[k] if given[k] is not None else measured[k] for k in given}
        cursor = db.execute(
            "INSERT INTO reference_entries (base_model, base_model_key, quant, bits_per_weight, "
            "file_size_gb, hardware, engine, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (spec.base_model, key, spec.quant, values["bits_per_weight"],
             values["file_size_gb"], spec.hardware, spec.engine, now()),
        )  # fmt: skip
        return int(cursor.lastrowid or 0), True
    for column, value in given.items():
        stored = row[column]
        if value is not None and stored is not None and not math.isclose(stored, value):
            option = "--" + column.replace("_", "-")
            raise ImportRefused(
                f"reference {spec.label} already has {column} {stored:g} (given {value:g}); "
                f"omit {option} to keep it"
            )
        fill = value if value is not None else measured[column]
        if stored is None and fill is not None:
            db.execute(
                f"UPDATE reference_entries SET {column} = ? WHERE id = ?",  # noqa: S608 - fixed names
                (fill, row["id"]),
            )
    return int(row["id"]), False


def _submission_label(db: sqlite3.Connection, submission_id: int) -> str:
    row = db.execute(
        "SELECT display_name, status FROM submissions WHERE id = ?", (submission_id,)
    ).fetchone()
    if row is None:
        raise ImportRefused(f"submission: unknown submission id {submission_id}")
    if row["status"] == "deleted":
        raise ImportRefused(f"submission: submission {submission_id} was deleted")
    return str(row["display_name"])


def import_results(
    store: Store,
    results: list[ImportedResult],
    *,
    source_sha256: str,
    submission_id: int | None = None,
    reference: ReferenceSpec | None = None,
) -> ImportReport:
    """Store parsed results for exactly one target, all in one transaction. Results of a file
    already imported for that target are skipped (the report says so)."""
    if (submission_id is None) == (reference is None):
        raise ImportRefused("target: give exactly one of a submission id or a reference entry")
    if not results:
        raise ImportRefused("nothing to import")
    if not re.fullmatch(r"[0-9a-f]{64}", source_sha256):
        raise ImportRefused("source_sha256 must be a SHA-256 hex digest")
    derived = derived_size(results)

    def run(db: sqlite3.Connection) -> ImportReport:
        created = False
        if reference is not None:
            target_id, created = _reference_id(db, reference, derived)
            label, ids = reference.label, (None, target_id)
        else:
            assert submission_id is not None
            target_id, label = submission_id, _submission_label(db, submission_id)
            ids = (target_id, None)
        stored, skipped = [], []
        for result in results:
            cursor = db.execute(
                "INSERT OR IGNORE INTO imported_results (submission_id, reference_id, source, "
                "task, metric, value, stderr, n, details, file_sha256, imported_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *ids,
                    result.source,
                    clean_text(result.task),
                    clean_text(result.metric),
                    result.value,
                    result.stderr,
                    result.n,
                    json.dumps(result.details, sort_keys=True),
                    source_sha256,
                    now(),
                ),
            )
            (stored if cursor.rowcount == 1 else skipped).append(result)
        return ImportReport(
            target="reference" if reference is not None else "submission",
            target_id=target_id,
            target_label=label,
            reference_created=created,
            stored=stored,
            already_stored=skipped,
        )

    return store.write(run)


def read_imported(store: Store, *, include_deleted: bool = False) -> list[dict[str, Any]]:
    """Every imported result with its target's base model, quant, sizes and label, for charts:
    keys ``id, source, task, metric, value, stderr, n, details (dict), file_sha256, imported_at,
    target ('submission' | 'reference'), submission_id, reference_id, base_model,
    base_model_key, quant, bits_per_weight, file_size_gb, hardware, engine, label``.
    Results of deleted submissions are left out unless ``include_deleted``."""
    rows = store.query(
        """
        SELECT r.id, r.source, r.task, r.metric, r.value, r.stderr, r.n, r.details,
               r.file_sha256, r.imported_at, r.submission_id, r.reference_id,
               CASE WHEN r.submission_id IS NOT NULL THEN 'submission' ELSE 'reference' END
                   AS target,
               COALESCE(s.base_model, e.base_model) AS base_model,
               COALESCE(s.base_model_key, e.base_model_key) AS base_model_key,
               COALESCE(s.quant, e.quant) AS quant,
               CASE WHEN s.id IS NOT NULL THEN s.bits_per_weight ELSE e.bits_per_weight END
                   AS bits_per_weight,
               CASE WHEN s.id IS NOT NULL THEN s.file_size_gb ELSE e.file_size_gb END
                   AS file_size_gb,
               COALESCE(s.hardware, e.hardware) AS hardware,
               COALESCE(s.engine, e.engine) AS engine,
               s.display_name, s.status, COALESCE(s.is_baseline, 0) AS is_baseline
        FROM imported_results r
        LEFT JOIN submissions s ON s.id = r.submission_id
        LEFT JOIN reference_entries e ON e.id = r.reference_id
        ORDER BY base_model_key, quant, r.source, r.task, r.metric, r.id
        """
    )
    out = []
    for row in rows:
        status = row.pop("status")
        display_name = row.pop("display_name")
        if status == "deleted" and not include_deleted:
            continue
        row["details"] = json.loads(row["details"])
        row["is_baseline"] = bool(row["is_baseline"]) or (
            row["target"] == "reference" and row["quant"].upper() in FULL_PRECISION
        )
        row["label"] = display_name or reference_label(
            row["base_model"], row["quant"], row["hardware"], row["engine"]
        )
        out.append(row)
    return out


FULL_PRECISION = frozenset({"BF16", "FP16", "F16", "F32", "FP32"})
"""Reference entries with these quant labels are their base model's baseline."""


class ImportedPoint(BaseModel):
    """One imported entry (a submission or reference) as the charts show it, beside the
    escape-room points but marked by source and never mixed into their scores or frontier."""

    label: str
    base_model: str
    base_model_key: str
    quant: str
    source: str
    """``llama-bench``, ``lm-eval`` or ``lm-eval × llama-bench``."""
    task: str | None
    """The lm-eval task (and metric) behind ``quality_pct``."""
    size_gb: float | None
    bits_per_weight: float | None
    tps: float | None
    """llama-bench token generation speed (tg), tok/s."""
    tps_stddev: float | None
    score: float | None
    """The lm-eval metric value."""
    quality_pct: float | None
    """100 * score / the baseline's score on the same task and metric (same base model)."""


def imported_points(rows: list[dict[str, Any]]) -> list[ImportedPoint]:
    """Chart points from :func:`read_imported` rows: per target, its llama-bench tg speed and,
    per lm-eval task and metric that its base model's baseline also has, its score as % of the
    baseline's."""
    targets: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["target"], row["submission_id"] or row["reference_id"])
        targets.setdefault(key, []).append(row)
    baseline_scores: dict[tuple[str, str, str], float] = {}
    for row in rows:
        if row["source"] == "lm-eval" and row["is_baseline"] and row["value"]:
            baseline_scores.setdefault((row["base_model_key"], row["task"], row["metric"]),
                                       row["value"])  # fmt: skip
    points = []
    for results in targets.values():
        first = results[0]
        speed = next((r for r in results if r["source"] == "llama-bench"
                      and r["task"].startswith("tg")), None)  # fmt: skip
        details = speed["details"] if speed else {}
        size = first["file_size_gb"] or (
            details["model_size"] / 1e9 if details.get("model_size") else None
        )
        bpw = first["bits_per_weight"] or details.get("bits_per_weight")
        common = {
            "label": first["label"], "base_model": first["base_model"],
            "base_model_key": first["base_model_key"], "quant": first["quant"],
            "size_gb": size, "bits_per_weight": bpw,
            "tps": speed["value"] if speed else None,
            "tps_stddev": speed["stderr"] if speed else None,
        }  # fmt: skip
        scored = False
        for r in results:
            base = baseline_scores.get((r["base_model_key"], r["task"], r["metric"]))
            if r["source"] != "lm-eval" or base is None:
                continue
            scored = True
            source = "lm-eval × llama-bench" if speed else "lm-eval"
            task = f"{r['task']} {r['metric']}"
            quality = 100.0 * r["value"] / base
            points.append(
                ImportedPoint(
                    **common, source=source, task=task, score=r["value"], quality_pct=quality
                )
            )
        if speed and not scored:
            points.append(ImportedPoint(**common, source="llama-bench", task=None, score=None,
                                        quality_pct=None))  # fmt: skip
    return points
