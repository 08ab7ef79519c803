"""The dataset card: YAML configs (one per table), what every column means, licence, scoring."""

from __future__ import annotations

import re

from pydantic.fields import FieldInfo

from arena.engine import SCORE_TABLE, SCORING_VERSION
from arena.results._rows import DATASET_VERSION, ROW_MODELS, Row, pa_type


def meaning(field: FieldInfo) -> str:
    """A column's meaning for a Markdown table cell: its field docstring on one line, RST
    literals as Markdown code, pipes escaped."""
    text = " ".join((field.description or "").split())
    return re.sub(r"``([^`]+)``", r"`\1`", text).replace("|", "\\|")


def table_section(model: type[Row], rows: int) -> str:
    """One table's section of the card: what a row is, then every column's type and meaning."""
    columns = "\n".join(
        f"| `{name}` | {pa_type(field.annotation)} | {meaning(field)} |"
        for name, field in model.model_fields.items()
    )
    return (
        f"### `{model.table}` ({rows} rows)\n{model.description}.\n\n"
        f"| column | type | meaning |\n|---|---|---|\n{columns}\n"
    )


def dataset_card(counts: dict[str, int]) -> str:
    """The dataset card: YAML configs (one per table), columns and their meaning, licence,
    scoring."""
    configs = "\n".join(
        f"- config_name: {m.table}\n  data_files:\n  - split: train\n"
        f"    path: data/{m.table}/*.parquet"
        for m in ROW_MODELS
        if counts.get(m.table, 0) > 0  # datasets cannot build a split from an empty file
    )
    tables = "\n".join(table_section(m, counts.get(m.table, 0)) for m in ROW_MODELS)
    points = ", ".join(
        f"{rule.replace('_', ' ')} {value:+d}" for rule, value in SCORE_TABLE.items()
    )
    return f"""---
license: cc-by-4.0
pretty_name: Quant Escape Room results
tags:
- quantization
- llm-evaluation
configs:{chr(10) + configs if configs else " []"}
---
# Quant Escape Room results

Matches between quantizations of the same base model in a six-room escape room (Cipher, Map,
Mechanism, Archive, Paradox, Warden), generated from a seed and validated by code. Every turn is
here: prompts, answers, reasoning, verdicts, tokens and timings. Format `{DATASET_VERSION}`.

```python
from datasets import load_dataset
turns = load_dataset("<this repo>", "turns", split="train")
```

Not published: API keys, endpoint URLs (and hosts inside error texts, shown as `<endpoint>`),
deletion tokens, client addresses. Matches still being played, or whose seed is still to be played
by a scheduled match, appear once they are over; a calibration, once it is done.

## Difficulty profiles and calibration
Every room of a match plays its own level (0-10): `matches.profile` is that room id -> level map
(`matches.difficulty` is the common level, or -1 when the levels differ; matches played before
profiles existed show every room at their `difficulty`). Before candidates play, each base
model's baseline is calibrated: solo runs (`matches.purpose` = `calibration`, never scored or
paired; every other match is a `measure`) search the level at which it solves a target share
of a room's puzzles (60 % by default; see `calibrations.config`). `calibrations` holds the
result: the chosen profile, the baseline's solve rates per level, and the rooms without signal
for that model, which verdicts leave out.

## Scoring (`{SCORING_VERSION}`)
Per room and side: {points} (under par: per full 10 s under the room's par time, only when
escaped). A match's score is the sum over its rooms; `matches.summary` holds per-side totals.
Outcomes after the adversarial turn: held_ground (right, stayed right), manipulated (right, then
wrong), self_corrected (wrong, then right), trapped (wrong, stayed wrong), unchallenged, forfeit,
context_overflow (the endpoint's context window was too small: a setup problem, no observation).

## Tables
A table with no rows yet has no config (its empty parquet file is there all the same).
JSON-valued columns (`sampling`, `settings`, `room_ids`, `profile`, `summary`, `data`,
`breakdown`, `request_messages`, `result`, `config`, `solve_rates`, `dead_rooms`; a
calibration's `settings_class` is its group's `sampling`) are JSON text.
`turns.request_messages` holds only the messages a call added; a call's full request is the first
`context_messages` messages of its conversation so far (every earlier call's messages and replies,
same match and slot) followed by its own. A call with `context_messages` 1 after others was sent
compacted: the earlier rooms dropped, a note of their keys in front (the window was too small).

{tables}

## Licence
CC BY 4.0. Model outputs remain subject to their models' licences.
"""
