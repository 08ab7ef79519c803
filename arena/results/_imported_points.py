"""Imported results as chart points: speed and quality relative to the baseline, per entry."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


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
