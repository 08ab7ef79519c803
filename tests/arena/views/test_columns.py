"""The leaderboard's columns explained in words (``arena/views/_columns.py``)."""

from __future__ import annotations

import re

from arena.views._columns import (
    ALL_COLUMNS,
    COLUMN_GUIDE_TAIL,
    COLUMNS,
    DEFAULT_COLUMNS,
    column_guide,
)

JARGON = ("McNemar", "SPRT", "A/A", "KL", "pp")


def test_every_column_says_what_it_means() -> None:
    assert all(c.description.strip().endswith(".") for c in COLUMNS)
    guide = column_guide(ALL_COLUMNS)
    assert guide.count("\n- **") + 1 == len(ALL_COLUMNS)


def test_the_guide_follows_the_columns_shown_in_table_order() -> None:
    guide = column_guide(["verdict", "quant", "A/A floor"])
    lines = guide.splitlines()
    assert [line.split("**")[1] for line in lines if line.startswith("- ")] == [
        "quant", "verdict", "A/A floor",
    ]  # fmt: skip
    assert "noise floor" in guide and "baseline disagrees with itself" in guide
    assert lines[-1] == COLUMN_GUIDE_TAIL and all(word in COLUMN_GUIDE_TAIL for word in JARGON[:4])
    assert column_guide() == column_guide(DEFAULT_COLUMNS)
    assert column_guide([]) == COLUMN_GUIDE_TAIL


def test_the_verdict_and_retention_are_explained_without_jargon() -> None:
    explained = {c.name: c.description for c in COLUMNS}
    for name in ("verdict", "retention % [95% CI]"):
        words = set(re.findall(r"[\w/-]+", explained[name]))
        assert not words & set(JARGON), explained[name]
    assert "degraded" in explained["verdict"] and "undecided" in explained["verdict"]
