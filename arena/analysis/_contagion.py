"""The contagion matrix per base model: how often each submission is talked out of a right answer
by each opponent.

**Contagion matrix** (:func:`contagion_matrices`, :func:`contagion`). Per base model, over
opponent-mode matches (the pressure is the other contestant's answer): cell (row, column) is the
row submission's Manipulated rate when facing the column submission, ``k / n`` with ``k`` its
rooms ``manipulated`` (right first, talked into a wrong answer) and ``n`` its rooms in which it
was right first and challenged (``held_ground`` + ``manipulated``), with a Wilson 95 % interval.
An A/A match (a submission against itself) counts on the diagonal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd
from pydantic import BaseModel, ConfigDict

from arena.analysis._head_to_head import HeadToHead, Player, read_head_to_head, same_model_matches
from arena.analysis._stats import wilson_interval
from arena.engine import Store

CHALLENGED_RIGHT: Final = ("held_ground", "manipulated")
"""Outcomes of a room in which the contestant was right first and then challenged."""

_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


@dataclass(frozen=True, slots=True)
class RoomOutcome:
    """One side of one room of an opponent-mode match (a plain dataclass: a board makes tens of
    thousands of them)."""

    submission_id: int
    """The side whose outcome this is (the matrix row)."""
    opponent_id: int
    """The side whose answer pressured it (the matrix column)."""
    outcome: str
    """``held_ground``, ``manipulated``, ``self_corrected``, ``trapped``, ``unchallenged`` or
    ``forfeit``."""


class ContagionCell(BaseModel):
    """The row submission's Manipulated rate when facing the column submission."""

    model_config = _CONFIG

    row_id: int
    """The pressured side."""
    column_id: int
    """The side whose answer pressured it."""
    manipulated: int
    """``k``: rooms in which the row side was right, was challenged and switched to wrong."""
    challenged_right: int
    """``n``: rooms in which the row side was right first and challenged (held ground or
    manipulated)."""
    rate: float | None
    """``k / n``; None when ``n`` is 0."""
    ci: tuple[float, float] | None
    """Wilson 95 % interval of ``rate``."""


class ContagionMatrix(BaseModel):
    """The contagion matrix of one base model."""

    model_config = _CONFIG

    base_model_key: str
    """Base-model key."""
    players: list[Player]
    """Rows and columns, in order: the baseline first, then larger quants first, then id."""
    labels: list[str]
    """Row/column labels, parallel to ``players``: the quant, or the display name when two
    players share a quant (plus ``#id`` if that is not unique either)."""
    cells: list[ContagionCell]
    """Every (row, column) pair, row-major in ``players`` order (``n == 0`` where no rooms)."""

    def cell(self, row_id: int, column_id: int) -> ContagionCell:
        """The cell of two submission ids (KeyError when either is not in the matrix)."""
        for c in self.cells:
            if c.row_id == row_id and c.column_id == column_id:
                return c
        raise KeyError((row_id, column_id))


def room_outcomes(data: HeadToHead) -> list[RoomOutcome]:
    """Both sides' rooms of the opponent-mode matches between live submissions of one base
    model (an A/A match gives rows on the diagonal)."""
    sides: dict[str, dict[str, int]] = {}
    for match, _ in same_model_matches(data):
        if match["adversarial"] == "opponent":
            sides[match["match_id"]] = {"a": match["a"], "b": match["b"]}
    out = []
    for room in data.rooms:
        players = sides.get(room["match_id"])
        if players is not None:
            other = "b" if room["slot"] == "a" else "a"
            out.append(
                RoomOutcome(
                    submission_id=players[room["slot"]],
                    opponent_id=players[other],
                    outcome=room["outcome"],
                )
            )
    return out


def _labels(players: Sequence[Player]) -> list[str]:
    quants = defaultdict(int)
    for p in players:
        quants[p.quant] += 1
    labels = [p.quant if quants[p.quant] == 1 else p.display_name for p in players]
    seen = defaultdict(int)
    for label in labels:
        seen[label] += 1
    return [
        label if seen[label] == 1 else f"{label} #{p.submission_id}"
        for label, p in zip(labels, players, strict=True)
    ]


def _matrix_order(p: Player) -> tuple[bool, float, int]:
    return (not p.is_baseline, -p.bits_per_weight, p.submission_id)


def contagion_matrices(
    outcomes: Iterable[RoomOutcome], players: Iterable[Player]
) -> list[ContagionMatrix]:
    """One matrix per base model (sorted by key) from room outcomes: its rows and columns are the
    live players of that model in at least one counted room; rooms naming an unknown player or
    pairing two base models are ignored."""
    live = {p.submission_id: p for p in players}
    tally: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    involved: dict[str, set[int]] = defaultdict(set)
    for o in outcomes:
        row, column = live.get(o.submission_id), live.get(o.opponent_id)
        if row is None or column is None or row.base_model_key != column.base_model_key:
            continue
        involved[row.base_model_key] |= {row.submission_id, column.submission_id}
        if o.outcome in CHALLENGED_RIGHT:
            counts = tally[(row.submission_id, column.submission_id)]
            counts[0] += o.outcome == "manipulated"
            counts[1] += 1
    matrices = []
    for key in sorted(involved):
        members = sorted((live[sid] for sid in involved[key]), key=_matrix_order)
        cells = []
        for row in members:
            for column in members:
                k, n = tally.get((row.submission_id, column.submission_id), (0, 0))
                cells.append(
                    ContagionCell(
                        row_id=row.submission_id,
                        column_id=column.submission_id,
                        manipulated=k,
                        challenged_right=n,
                        rate=k / n if n else None,
                        ci=wilson_interval(k, n),
                    )
                )
        matrices.append(
            ContagionMatrix(
                base_model_key=key, players=members, labels=_labels(members), cells=cells
            )
        )
    return matrices


def contagion(store: Store, base_model_key: str | None = None) -> list[ContagionMatrix]:
    """The contagion matrix of every base model with opponent-mode matches between its live
    submissions (see the module doc), or of one (``base_model_key``)."""
    return contagion_of(read_head_to_head(store, base_model_key))


def contagion_of(data: HeadToHead) -> list[ContagionMatrix]:
    """The contagion matrices of already-read head-to-head data."""
    return contagion_matrices(room_outcomes(data), data.players)


def format_cell(cell: ContagionCell, digits: int = 0) -> str:
    """``"3/7 (43 %)"``; empty without rooms."""
    if cell.rate is None:
        return ""
    return f"{cell.manipulated}/{cell.challenged_right} ({100.0 * cell.rate:.{digits}f} %)"


def contagion_frame(matrix: ContagionMatrix, digits: int = 0) -> pd.DataFrame:
    """The matrix as a display table: rows are the pressured side, columns the side pressuring
    it, both labelled by :attr:`ContagionMatrix.labels`; cells ``"k/n (rate %)"``, empty where
    no rooms."""
    size = len(matrix.players)
    cells = [format_cell(c, digits) for c in matrix.cells]
    records = [cells[r * size : (r + 1) * size] for r in range(size)]
    frame = pd.DataFrame(records, index=list(matrix.labels), columns=list(matrix.labels))
    frame.index.name = "row manipulated when facing column"
    return frame


__all__ = [
    "CHALLENGED_RIGHT",
    "ContagionCell",
    "ContagionMatrix",
    "RoomOutcome",
    "contagion",
    "contagion_frame",
    "contagion_matrices",
    "format_cell",
    "room_outcomes",
]
