"""The state of one request attempt: its progress against the deadline and the
``stream_options`` negotiation."""

from __future__ import annotations

from dataclasses import dataclass

STREAM_OPTIONS_REJECT_STATUSES: frozenset[int] = frozenset({400, 422})
"""Statuses with which servers that do not know ``stream_options`` reject it."""


@dataclass
class _Progress:
    """Where an attempt is (for deadline messages) and how many body bytes it read."""

    deadline_at: float
    phase: str = "waiting for the response headers"
    bytes_read: int = 0

    def describe(self) -> str:
        """``stopped while reading the response body (1234 bytes read)``."""
        return f"stopped while {self.phase} ({self.bytes_read} bytes read)"


@dataclass
class _ChatState:
    """Per-call state of the stream_options negotiation."""

    use_stream_options: bool
    rejected: bool = False

    def note_error_body(self, status: int, body: str) -> None:
        """Remember whether an error answer rejects the stream_options we sent."""
        lowered = body.lower()
        self.rejected = (
            self.use_stream_options
            and status in STREAM_OPTIONS_REJECT_STATUSES
            and ("stream_options" in lowered or "include_usage" in lowered)
        )
