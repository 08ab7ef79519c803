"""Reading one base model's rows or every base model's: the shared scoping of the leaderboard's
and the head-to-head's SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

GROUP_IDS = "(SELECT id FROM submissions WHERE base_model_key = :key)"
"""The ids of the submissions of one base model (``:key``)."""


def scope_sql(sql: str, base_model_key: str | None, clauses: Mapping[str, str]) -> str:
    """``sql`` with each ``{name}`` placeholder filled: empty for every base model (None),
    ``clauses[name]`` for one (bound to ``:key``)."""
    return sql.format(**{name: "" if base_model_key is None else c for name, c in clauses.items()})


def scoped_rows(
    db: sqlite3.Connection, sql: str, base_model_key: str | None, clauses: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The rows of :func:`scope_sql`'s query, as dicts."""
    query = scope_sql(sql, base_model_key, clauses)
    return [dict(row) for row in db.execute(query, {"key": base_model_key})]


__all__ = ["GROUP_IDS", "scope_sql", "scoped_rows"]
