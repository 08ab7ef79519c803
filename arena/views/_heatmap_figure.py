"""The model x quant heatmap of quality retained, with the verdicts, as a plotly figure (no UI
framework): rows are base models, columns quant labels by bits per weight, each cell the
retention with its interval and verdict, coloured once the verdict is decided and grey until
then. Readable on a phone: long model names wrap, the colour bar lies across the top, and no
axis title takes the width. Submitter-written text is HTML-escaped."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

import plotly.graph_objects as go

from arena.analysis import HeatmapCell, HeatmapRow, RetentionHeatmap
from arena.views._charts import HEIGHT, PROVISIONAL_HOVER, TEMPLATE, ci_text, empty_figure
from submissions.models import html_text as esc

EMPTY_HEATMAP: Final = (
    "No submissions yet: each base model gets a row, each quant a column (by bits per weight),<br>"
    "and each cell the quality its quant retains against the baseline."
)


# -- colours ---------------------------------------------------------------------------------------
HEATMAP_ZMIN: Final = 50.0
HEATMAP_ZMAX: Final = 110.0
"""Fixed ends of the heatmap's colour scale (retention %), so a colour means the same in every
render."""
HEATMAP_COLOURS: Final[tuple[tuple[float, str], ...]] = (
    (0.0, "#a50026"),  # 50 % and below
    (0.5, "#f46d43"),  # 80 %
    (2 / 3, "#fee08b"),  # 90 %
    (5 / 6, "#66bd63"),  # 100 %: as good as the baseline
    (1.0, "#66bd63"),  # above 100 %: noise, no better
)
"""Red (much worse than the baseline) through yellow to green (as good as the baseline)."""


def _cell_text(cell: HeatmapCell | None) -> str:
    """What a cell shows: retention, its interval and the verdict (blank when not measured)."""
    if cell is None:
        return ""
    lines = ["n/a" if cell.retention_pct is None else f"{cell.retention_pct:.0f} %"]
    if cell.retention_ci is not None:
        lines.append(f"[{cell.retention_ci[0]:.0f}, {cell.retention_ci[1]:.0f}]")
    kind = "baseline" if cell.is_baseline else cell.verdict_kind
    if kind:
        lines.append(esc(kind))
    if cell.provisional:
        lines.append("<i>provisional</i>")
    return "<br>".join(lines)


def _cell_hover(base_model: str, quant: str, cell: HeatmapCell | None) -> str:
    """A cell's hover label: model, quant, every number and the verdict's label."""
    head = f"<b>{esc(base_model)}</b> · {esc(quant)}"
    if cell is None:
        return f"{head}<br>not measured"
    lines = [head, esc(cell.display_name), f"bits/weight: {cell.bits_per_weight:.2f}"]
    if cell.retention_pct is None:
        lines.append("quality retained: not measured")
    else:
        lines.append(f"quality retained: {ci_text(cell.retention_pct, cell.retention_ci)}")
    if cell.verdict_label:
        lines.append(f"verdict: {esc(cell.verdict_label)}")
    if cell.note and cell.note != cell.verdict_label:
        lines.append(f"note: {esc(cell.note)}")
    lines.append(f"paired puzzles (n): {cell.n_pairs}")
    if cell.provisional:
        lines.append(PROVISIONAL_HOVER)
    if cell.submissions > 1:
        lines.append(f"best-measured of {cell.submissions} submissions")
    return "<br>".join(lines)


def _row_hovers(row: HeatmapRow, columns: Sequence[str]) -> list[str]:
    return [_cell_hover(row.base_model, q, c) for q, c in zip(columns, row.cells, strict=True)]


def wrapped(name: str, width: int = 14) -> str:
    """``name`` escaped for a tick label, broken after hyphens, underscores, slashes, dots and
    spaces into lines of about ``width`` characters (a long model name would take half a
    phone's width; a longer run without any is cut)."""
    lines: list[str] = []
    pieces = re.split(r"(?<=[-_/. ])", name)
    for part in (p[i : i + width] for p in pieces for i in range(0, len(p), width)):
        if lines and len(lines[-1]) + len(part) <= width:
            lines[-1] += part
        else:
            lines.append(part)
    return "<br>".join(esc(line.strip()) for line in lines if line.strip())


UNDECIDED_GREY: Final = "#d9d9d9"


def coloured(cell: HeatmapCell | None) -> bool:
    """Whether a cell takes the colour of its retention: the baseline's, and a quant's whose
    verdict is final (a red "0 % [0, 141]" while play goes on would look certain when it is
    not); any other cell is grey, its numbers still written in it."""
    return cell is not None and cell.retention_pct is not None and cell.decided


def heatmap_figure(table: RetentionHeatmap) -> go.Figure:
    """Quality retained (%) per base model (rows) and quant (columns, by bits per weight from
    high to low); each cell shows its value, interval and verdict; colours on a fixed scale, and
    grey until the verdict is decided."""
    title = "Quality retained per base model and quant"
    if not table.rows or not table.columns:
        return empty_figure(EMPTY_HEATMAP, title)
    x = [esc(quant) for quant in table.columns]
    y = [esc(row.base_model) for row in table.rows]
    hovers = [_row_hovers(row, table.columns) for row in table.rows]

    def layer(
        keep: Callable[[HeatmapCell | None], bool], value: Callable[[HeatmapCell], Any]
    ) -> dict[str, Any]:
        """One trace's cells: those ``keep`` accepts, each with ``value`` as its colour."""
        return {
            "x": x,
            "y": y,
            "z": [[value(c) if c and keep(c) else None for c in r.cells] for r in table.rows],
            "text": [[_cell_text(c) if keep(c) else "" for c in r.cells] for r in table.rows],
            "texttemplate": "%{text}",
            "hovertext": hovers,
            "hoverinfo": "text",
            "xgap": 2,
            "ygap": 2,
        }

    decided = go.Heatmap(
        **layer(coloured, lambda c: c.retention_pct),
        zmin=HEATMAP_ZMIN,
        zmax=HEATMAP_ZMAX,
        colorscale=[list(stop) for stop in HEATMAP_COLOURS],
        colorbar={  # across the top: the width goes to the cells on a phone
            "title": {"text": "quality retained (%) · grey: undecided", "side": "top"},
            "orientation": "h",
            "x": 0.5,
            "xanchor": "center",
            "y": 1.02,
            "yanchor": "bottom",
            "len": 0.8,
            "thickness": 12,
        },
        hoverongaps=True,  # an empty cell says "not measured"
    )
    undecided = go.Heatmap(
        **layer(lambda c: c is not None and not coloured(c), lambda c: 0.0),
        colorscale=[[0.0, UNDECIDED_GREY], [1.0, UNDECIDED_GREY]],
        showscale=False,
        hoverongaps=False,
    )
    figure = go.Figure([decided, undecided])
    figure.update_xaxes(
        type="category",
        tickvals=x,
        ticktext=[f"{q}<br>{b:.2f} bpw" for q, b in zip(x, table.bits, strict=True)],
    )  # no axis title either: the ticks say the bits, from high to low
    figure.update_yaxes(
        type="category",
        autorange="reversed",
        tickvals=y,
        ticktext=[wrapped(row.base_model) for row in table.rows],
    )  # no axis title: the chart's says it, and a phone needs the width
    figure.update_layout(
        title=title,
        margin={"t": 130},
        template=TEMPLATE,
        height=max(HEIGHT, 160 + 90 * len(table.rows)),
        hoverlabel={"align": "left"},
    )
    return figure


__all__ = ["EMPTY_HEATMAP", "HEATMAP_ZMAX", "HEATMAP_ZMIN", "heatmap_figure", "wrapped"]
