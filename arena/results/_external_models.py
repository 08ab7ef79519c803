"""Imported results' shapes: one number from another tool, a reference entry, an import's report."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from submissions.models import plain

Source = Literal["lm-eval", "llama-bench"]
SOURCES: tuple[Source, ...] = ("lm-eval", "llama-bench")
MAX_FILE_BYTES = 20 * 1024 * 1024
"""Result files are small (an lm-eval results JSON is a few kB); anything bigger is refused."""


class ImportRefused(ValueError):
    """A file or target that cannot be imported; ``reason`` names the offending field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImportedResult(BaseModel):
    """One number from another tool, ready to store."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    source: Source
    """The tool it comes from: ``lm-eval`` (lm-evaluation-harness) or ``llama-bench``."""
    task: str = Field(min_length=1, max_length=300)
    """lm-eval task or group name; llama-bench test name (``pp512``, ``tg128``, ``pp512+tg128``)."""
    metric: str = Field(min_length=1, max_length=200)
    """lm-eval's own ``<metric>,<filter>`` key; llama-bench ``tokens_per_second``."""
    value: float
    """lm-eval: the metric's value as reported; llama-bench: mean tokens per second (``avg_ts``)."""
    stderr: float | None = None
    """lm-eval: the metric's standard error (None when not reported or ``N/A``); llama-bench:
    the standard deviation of tokens per second over repetitions (``stddev_ts``)."""
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


class ReferenceSpec(BaseModel):
    """A base model + quant with no endpoint; unique on (base model key, quant, hardware,
    engine), so the same spec reuses its entry."""

    model_config = ConfigDict(extra="forbid")

    base_model: plain(100)
    quant: plain(40)
    bits_per_weight: float | None = Field(None, gt=0, le=32)
    file_size_gb: float | None = Field(None, gt=0, le=4096)
    hardware: plain(80, optional=True) = ""
    engine: plain(40, optional=True) = ""

    @property
    def label(self) -> str:
        return reference_label(self.base_model, self.quant, self.hardware, self.engine)


class ImportReport(BaseModel):
    """What one import did."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    target: Literal["submission", "reference"]
    """What the results are attached to: a registered ``submission``, or a ``reference`` entry
    (a base model + quant with no endpoint)."""
    target_id: int
    """The submission's id, or the reference entry's id."""
    target_label: str
    """The submission's display name, or the reference's label
    (``<base model> <quant> (<hardware>, <engine>)``)."""
    reference_created: bool = False
    """The reference entry was created by this import (False: it existed, or the target is a
    submission)."""
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


class ParsedFile(BaseModel):
    """A parsed result file and the SHA-256 of its bytes (what makes a re-import a no-op)."""

    source: Source
    filename: str
    sha256: str
    results: list[ImportedResult]
