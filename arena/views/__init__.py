"""What people see: leaderboard columns, charts, replays, the web app's pages and texts, the REST
API (never imported by the core)."""

from __future__ import annotations

from arena.views import _charts as charts
from arena.views import _pages as pages
from arena.views._about import INTRO, TITLE, about_markdown
from arena.views._actions import (
    MIRROR,
    OPERATOR_INTRO,
    Services,
    make_services,
    manage_action,
    operator_action,
    operator_claims,
    submission_status,
    submit_action,
)
from arena.views._api import build_router, client_id_from, install_error_handlers
from arena.views._columns import (
    ALL_COLUMNS,
    COLUMNS,
    DEFAULT_COLUMNS,
    Column,
    format_ci,
    leaderboard_frame,
)
from arena.views._docs import docs_html
from arena.views._downloads import Downloads
from arena.views._limits import RequestLimits
from arena.views._match_list import match_list, now_playing
from arena.views._problems import ProblemShape
from arena.views._replay import replay
from arena.views._replay_html import replay_html, replay_room_choices
from arena.views._replay_markdown import replay_markdown

__all__ = [
    "ALL_COLUMNS",
    "COLUMNS",
    "DEFAULT_COLUMNS",
    "INTRO",
    "MIRROR",
    "OPERATOR_INTRO",
    "TITLE",
    "Column",
    "Downloads",
    "ProblemShape",
    "RequestLimits",
    "Services",
    "about_markdown",
    "build_router",
    "charts",
    "client_id_from",
    "docs_html",
    "format_ci",
    "install_error_handlers",
    "leaderboard_frame",
    "make_services",
    "manage_action",
    "match_list",
    "now_playing",
    "operator_action",
    "operator_claims",
    "pages",
    "replay",
    "replay_html",
    "replay_markdown",
    "replay_room_choices",
    "submission_status",
    "submit_action",
]
