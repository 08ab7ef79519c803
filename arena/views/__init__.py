"""What people see: leaderboard columns, charts, replays, the REST API (never imported by the
core)."""

from __future__ import annotations

from arena.views import _charts as charts
from arena.views._api import build_router, client_id_from, install_error_handlers, verdict_report
from arena.views._replay import match_list, now_playing, replay, replay_markdown

__all__ = [
    "build_router",
    "charts",
    "client_id_from",
    "install_error_handlers",
    "match_list",
    "now_playing",
    "replay",
    "replay_markdown",
    "verdict_report",
]
