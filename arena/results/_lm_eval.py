"""lm-evaluation-harness results: a ``results_*.json`` file parsed into imported results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arena.results._external_models import ImportedResult, ImportRefused
from arena.results._scrub import file_name_only, finite_number, looks_like_url, scrub

_LM_EVAL_SEEDS = ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``data[key]`` when it is an object, else an empty one (optional sections)."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


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
        value = finite_number(raw)
        if value is None:
            continue
        stderr = finite_number(entry.get(f"{name}_stderr,{filter_name}"))
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
