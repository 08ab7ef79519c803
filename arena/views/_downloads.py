"""The Download tab's archives on disk, and their cleanup."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from arena.engine import Store
from arena.results import download_archives


class Downloads:
    """The Download tab's archives. Gradio copies a returned file to its own cache, so the
    folder made for one click is removed at the next click (the event runs one at a time) and
    the last one when the app stops: at most one is ever on disk."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.made: list[Path] = []

    def prepare(self) -> tuple[str, str]:
        """Fresh CSV and parquet archives of the public slice (paths for Gradio)."""
        self.cleanup()
        workdir = Path(tempfile.mkdtemp(prefix="qer-download-"))
        self.made.append(workdir)
        csv_zip, parquet_zip = download_archives(self.store, workdir)
        return str(csv_zip), str(parquet_zip)

    def cleanup(self) -> None:
        """Remove every folder made so far."""
        while self.made:
            shutil.rmtree(self.made.pop(), ignore_errors=True)


__all__ = ["Downloads"]
