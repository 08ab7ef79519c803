"""The keeper of the board snapshot: one background thread recomputes it when the store changed,
every request reads the current one.

A visitor never triggers the heavy computation. The thread looks at ``board_versions`` (one
small read) every ``poll_s`` seconds, or at once when kicked; everything written meanwhile, a
burst of finished matches included, is taken in by one recomputation. After a recomputation that
took T seconds it rests at least T (:func:`rest_after`): the keeper never takes more than half a
core from the matches, however fast they finish (the board lags more instead). A recomputation
that fails keeps the last good snapshot in service; :meth:`BoardKeeper.status` says since when,
and why.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from arena.board._snapshot import EMPTY, Snapshot, build_snapshot, is_current
from arena.engine import Store

log = logging.getLogger(__name__)

POLL_S = 1.0
"""How often the keeper looks for changes."""


@dataclass(frozen=True)
class Failure:
    """Recomputation failing: since when, and the error's kind."""

    since: datetime
    error: str


class BoardStatus(BaseModel):
    """How fresh the board everyone sees is (``GET /api/board``)."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    built_at: str | None
    """When the board shown was computed (ISO 8601, UTC); None before the first computation."""
    age_s: float | None
    """Seconds since then."""
    last_match_id: str | None
    """The newest finished match it includes."""
    last_match_finished_at: str | None
    """When that match finished."""
    compute_s: float
    """How long that computation took, in seconds."""
    recomputed: list[str]
    """The base models it recomputed (the others were reused)."""
    recomputations: int
    """Boards computed since the app started (one per change seen, not one per write)."""
    failing_since: str | None
    """Set while recomputations fail: since when (the board shown is the last good one)."""
    error: str | None
    """The kind of error they fail with, and the base model if it is one (details are in the
    server's log)."""
    stale_since: str | None = None
    """While recomputing fails: when the oldest part still shown was computed."""
    stale_age_s: float | None = None
    """Seconds since then."""


def rest_after(poll_s: float, computed_s: float | None) -> float:
    """Seconds to wait before the next look: the poll interval, and after a recomputation
    (successful or not) at least as long as it took (a duty cycle of at most one half)."""
    return max(poll_s, computed_s or 0.0)


class BoardKeeper:
    """The current :class:`Snapshot` of one store, kept fresh by a background thread."""

    def __init__(
        self, store: Store, *, poll_s: float = POLL_S, refresh_on_read: bool = False
    ) -> None:
        self.store = store
        self.poll_s = poll_s
        self.refresh_on_read = refresh_on_read
        """Bring the snapshot up to date on every read (for tests and one-shot tools: the
        reader pays for a recomputation; the app keeps it False and runs :meth:`start`)."""
        self._snapshot: Snapshot = EMPTY
        self._failure: Failure | None = None
        self._computing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.recomputations = 0
        """Snapshots computed so far (a burst of writes between two looks costs one)."""
        self._attempt_s: float | None = None
        """How long the last recomputation attempt took (None: there was nothing to do)."""

    @property
    def snapshot(self) -> Snapshot:
        """The board every request reads: the last good snapshot (computed here only with
        ``refresh_on_read``)."""
        if self.refresh_on_read:
            self.refresh()
        return self._snapshot

    def refresh(self) -> bool:
        """Recompute the snapshot if the store changed since it was built; True when a new one
        is in service. Failures are recorded (and logged): a base model that fails keeps its
        last good part while the others go on; a failure of the whole computation keeps the
        last good snapshot."""
        with self._computing:  # one computation at a time
            previous = self._snapshot
            started = time.perf_counter()
            try:
                if is_current(self.store, previous):
                    self._attempt_s = None
                    return False
                fresh = build_snapshot(self.store, previous if previous.built_at else None)
            except Exception as exc:  # any failure keeps the last good board
                log.exception("board recomputation failed; the last good board stays in service")
                self._fail(type(exc).__name__)
                self._attempt_s = time.perf_counter() - started
                return False
            self._attempt_s = time.perf_counter() - started
            self._snapshot = fresh
            self.recomputations += 1
            if fresh.failed:
                key, error = next(iter(fresh.failed.items()))
                self._fail(f"{error} in the board of {key}")
            else:
                self._failure = None
            log.debug("board recomputed in %.2f s (%s)", fresh.seconds, fresh.recomputed)
            return True

    def _fail(self, error: str) -> None:
        since = self._failure.since if self._failure else datetime.now(UTC)
        self._failure = Failure(since=since, error=error)

    def status(self, now: datetime | None = None, snapshot: Snapshot | None = None) -> BoardStatus:
        """How fresh the board is, for the API and the "as of" line (of ``snapshot`` when a page
        already holds one, else of the current board)."""
        snap, failure = snapshot or self._snapshot, self._failure
        now = now or datetime.now(UTC)
        stale = [snap.groups[k].built_at for k in snap.failed if k in snap.groups]
        oldest = min(stale) if stale else (snap.built_at if failure else None)
        return BoardStatus(
            built_at=snap.built_at.isoformat(timespec="seconds") if snap.built_at else None,
            age_s=(now - snap.built_at).total_seconds() if snap.built_at else None,
            last_match_id=snap.last_match.id if snap.last_match else None,
            last_match_finished_at=snap.last_match.finished_at if snap.last_match else None,
            compute_s=round(snap.seconds, 3),
            recomputed=list(snap.recomputed),
            recomputations=self.recomputations,
            failing_since=failure.since.isoformat(timespec="seconds") if failure else None,
            error=failure.error if failure else None,
            stale_since=oldest.isoformat(timespec="seconds") if oldest else None,
            stale_age_s=(now - oldest).total_seconds() if oldest else None,
        )

    # -- the background thread ----------------------------------------------------------------
    def start(self) -> None:
        """Compute the first snapshot now, then keep it fresh in a daemon thread."""
        self.refresh()
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="board-keeper", daemon=True)
            self._thread.start()

    def kick(self) -> None:
        """Look for changes now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (a computation under way finishes first)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        rest = self.poll_s
        while not self._stop.is_set():
            if rest > self.poll_s:
                self._stop.wait(rest - self.poll_s)  # the rest a recomputation earned
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh()
            except Exception:  # the thread must survive anything
                log.exception("board keeper")
            rest = rest_after(self.poll_s, self._attempt_s)


__all__ = ["POLL_S", "BoardKeeper", "BoardStatus", "Failure", "rest_after"]
