"""Play and record one match: typed settings and records, the difficulty profile, scoring, the
match itself, the SQLite store and what is never shown."""

from __future__ import annotations

from arena.engine import _profile as profiles
from arena.engine._context import TOKEN_MARGIN, effective_window
from arena.engine._match import (
    MatchEvent,
    adversarial_prompt,
    context_needed,
    play_match,
    retry_prompt,
)
from arena.engine._migrations import now
from arena.engine._models import (
    AdversarialMode,
    CallRecord,
    ContestantSpec,
    ContestantSummary,
    MatchResult,
    MatchSettings,
    MatchSpec,
    Outcome,
    RoomResult,
    Sampling,
    Slot,
    not_a_flag,
)
from arena.engine._privacy import (
    SEALED_SQL,
    endpoint_hosts,
    redact,
    scrub_endpoints,
    secret_pattern,
)
from arena.engine._profile import Profile, ProfileError
from arena.engine._scoring import SCORE_TABLE, SCORING_VERSION
from arena.engine._store import Store, clean_text, is_row_id

__all__ = [
    "SCORE_TABLE",
    "SCORING_VERSION",
    "SEALED_SQL",
    "TOKEN_MARGIN",
    "AdversarialMode",
    "CallRecord",
    "ContestantSpec",
    "ContestantSummary",
    "MatchEvent",
    "MatchResult",
    "MatchSettings",
    "MatchSpec",
    "Outcome",
    "Profile",
    "ProfileError",
    "RoomResult",
    "Sampling",
    "Slot",
    "Store",
    "adversarial_prompt",
    "clean_text",
    "context_needed",
    "effective_window",
    "endpoint_hosts",
    "is_row_id",
    "not_a_flag",
    "now",
    "play_match",
    "profiles",
    "redact",
    "retry_prompt",
    "scrub_endpoints",
    "secret_pattern",
]
