"""The dataset card documents every published column from its field docstring."""

from __future__ import annotations

import re

import pytest

from arena.results._card import dataset_card, meaning
from arena.results._rows import ROW_MODELS


@pytest.mark.parametrize("model", ROW_MODELS, ids=lambda m: m.table)
def test_every_published_column_has_a_meaning(model: type) -> None:
    missing = [name for name, field in model.model_fields.items() if not meaning(field)]
    assert missing == [], f"{model.table}: write a field docstring for {missing}"


def test_the_card_has_a_row_per_column_with_type_and_meaning() -> None:
    card = dataset_card({m.table: 1 for m in ROW_MODELS})
    for model in ROW_MODELS:
        section = card.split(f"### `{model.table}`", 1)[1].split("\n### ", 1)[0]
        assert "| column | type | meaning |" in section
        for name, field in model.model_fields.items():
            line = next(x for x in section.splitlines() if x.startswith(f"| `{name}` |"))
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            assert len(cells) == 3, line  # a pipe inside a docstring is escaped
            assert cells[2] == meaning(field) != ""


def test_meaning_is_one_markdown_line() -> None:
    from pydantic.fields import FieldInfo

    field = FieldInfo(description="A ``kl``\n    or ``speed`` | probe.")
    assert meaning(field) == "A `kl` or `speed` \\| probe."
