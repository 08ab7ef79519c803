"""Results leaving or entering the app: the published dataset, its push and restore, and other
tools' results (lm-evaluation-harness, llama-bench)."""

from __future__ import annotations

from arena.results._dataset import download_archives, export, load_snippet, restore
from arena.results._external import import_results, parse_bytes, parse_file, read_imported
from arena.results._external_models import ImportRefused, ImportReport, ReferenceSpec
from arena.results._imported_points import ImportedPoint, imported_points
from arena.results._publish import Publisher, restore_from_hub

__all__ = [
    "ImportRefused",
    "ImportReport",
    "ImportedPoint",
    "Publisher",
    "ReferenceSpec",
    "download_archives",
    "export",
    "import_results",
    "imported_points",
    "load_snippet",
    "parse_bytes",
    "parse_file",
    "read_imported",
    "restore",
    "restore_from_hub",
]
