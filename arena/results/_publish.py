"""Publishing the results dataset to the Hugging Face Hub, and restoring from it.

With ``HF_TOKEN`` and ``QER_RESULTS_REPO`` set, a background thread exports the publishable slice
(:mod:`arena.results._dataset`) into the local mirror ``leaderboard_data/`` at most every
``QER_PUBLISH_INTERVAL_S`` seconds (300 by default) and, when it changed, pushes it with
``HfApi.create_commit``:

- **idempotent**: only files whose bytes differ from the Hub copy are sent (compared by git blob
  id, or LFS sha256); nothing changed means no commit;
- **safe against a concurrent writer**: each commit names its parent revision; a conflict (409 /
  412) re-reads the Hub state and tries again;
- **retried with backoff** on 429, 5xx and connection errors. A commit whose answer was lost is
  not sent twice: every attempt starts by comparing with what the Hub now holds.

Without a token or repo the app works fully locally and says publishing is off.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
from huggingface_hub import CommitOperationAdd, HfApi, snapshot_download
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import RepoFile

from arena.engine import Store, now
from arena.results._dataset import export, is_empty, restore, slice_files
from arena.settings import PublishSettings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({409, 412, 429, 500, 502, 503, 504})
"""Conflicts (another writer moved the branch), rate limits and server errors."""


class PublishError(RuntimeError):
    """A push that still failed after every attempt."""


def git_blob_id(data: bytes) -> str:
    """The git object id of a file's bytes (what the Hub reports for non-LFS files)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, HfHubHTTPError):
        return exc.response is not None and exc.response.status_code in RETRY_STATUSES
    return isinstance(exc, httpx2.TransportError)


class Publisher:
    """Pushes the slice of one store to one dataset repo."""

    def __init__(
        self,
        store: Store,
        settings: PublishSettings,
        folder: Path,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.settings = settings
        self.folder = folder
        self.sleep = sleep
        self.api = HfApi(endpoint=settings.endpoint, token=settings.token.get_secret_value())
        self.last_commit: str | None = None
        self.last_error: str | None = None
        self.last_run: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one push -----------------------------------------------------------------------------
    def remote_files(self) -> dict[str, RepoFile]:
        try:
            entries = self.api.list_repo_tree(
                self.settings.repo_id, repo_type="dataset", recursive=True
            )
            return {e.path: e for e in entries if isinstance(e, RepoFile)}
        except HfHubHTTPError as exc:  # an empty repo has no tree yet
            if exc.response is not None and exc.response.status_code == 404:
                return {}
            raise

    def changed(self, remote: dict[str, RepoFile]) -> list[Path]:
        """Local files whose bytes the Hub does not hold at the same path."""
        out = []
        for path in slice_files(self.folder):
            data = path.read_bytes()
            there = remote.get(path.relative_to(self.folder).as_posix())
            if there is None:
                out.append(path)
            elif there.lfs is not None:
                if there.lfs.sha256 != hashlib.sha256(data).hexdigest():
                    out.append(path)
            elif there.blob_id != git_blob_id(data):
                out.append(path)
        return out

    def push(self) -> str | None:
        """Commit the files that differ; the new commit id, or None when nothing changed."""
        repo = self.settings.repo_id
        for attempt in range(self.settings.max_attempts):
            try:
                head = self.api.repo_info(repo, repo_type="dataset").sha
                changed = self.changed(self.remote_files())
                if not changed:
                    return None
                operations = [
                    CommitOperationAdd(path.relative_to(self.folder).as_posix(), str(path))
                    for path in changed
                ]
                info = self.api.create_commit(
                    repo,
                    operations,
                    commit_message=f"Update results ({len(changed)} file(s))",
                    repo_type="dataset",
                    parent_commit=head,
                )
                return info.oid
            except Exception as exc:
                if not _retryable(exc) or attempt + 1 == self.settings.max_attempts:
                    raise PublishError(f"push to {repo} failed: {_describe(exc)}") from None
                wait = self.settings.backoff_s * 2**attempt
                log.warning("push to %s: %s; retrying in %.1f s", repo, _describe(exc), wait)
                self.sleep(wait)
        raise PublishError(f"push to {repo} failed")  # pragma: no cover - loop always returns

    def publish_once(self) -> str | None:
        """Export the slice and push it; the new commit id, or None when nothing changed."""
        self.last_run = now()
        export(self.store, self.folder)
        try:
            commit = self.push()
        except PublishError as exc:
            self.last_error = str(exc)
            raise
        self.last_error = None
        if commit is not None:
            self.last_commit = commit
            log.info("published results to %s: commit %s", self.settings.repo_id, commit)
        return commit

    # -- in the background --------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="publisher", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.interval_s):
            try:
                self.publish_once()
            except Exception:
                log.exception("publishing failed; trying again in %.0f s", self.settings.interval_s)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the loop, then push what changed since the last push (a Space's disk does not
        survive its restart, so matches of the last minutes would otherwise be lost)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
            try:
                self.publish_once()
            except Exception:
                log.exception("the last push before stopping failed")

    def status(self) -> str:
        text = f"publishing to `{self.settings.repo_id}` every {self.settings.interval_s:.0f} s"
        if self.last_commit:
            text += f"; last commit `{self.last_commit[:10]}`"
        if self.last_error:
            text += f"; last attempt failed: {self.last_error}"
        return text


def _describe(exc: Exception) -> str:
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def restore_from_hub(
    store: Store, settings: PublishSettings, folder: Path
) -> dict[str, int] | None:
    """On start: an empty database is rebuilt from the Hub copy (None when not empty)."""
    if not is_empty(store):
        return None
    snapshot_download(
        settings.repo_id,
        repo_type="dataset",
        local_dir=folder,
        cache_dir=folder / ".cache",  # nothing outside the mirror (the app's own folder)
        endpoint=settings.endpoint,
        token=settings.token.get_secret_value(),
    )
    restored = restore(store, folder)
    log.info("restored from %s: %s", settings.repo_id, restored)
    return restored
