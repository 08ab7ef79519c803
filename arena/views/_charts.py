"""The leaderboard's charts as plotly figures (no UI framework; nothing loaded from the network).

- :func:`pareto_figure`: decode speed against quality retained, one colour per base model, the
  Pareto frontier in gold;
- :func:`bang_per_bit_figures`: quality against file size, escape rate against bits per weight
  (one panel per room), speed against file size.

Every figure without data shows a centred note saying what it needs instead of empty axes.
Submitter-written text (names, base models) is HTML-escaped: plotly renders a subset of HTML
(links included) in hover labels and legends.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from arena.analysis import ChartPoint
from arena.results import ImportedPoint
from rooms import load_rooms

GOLD: Final = "#D4AF37"
"""Colour of the Pareto frontier."""
PALETTE: Final[tuple[str, ...]] = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#ff7f0e",
    "#bcbd22",
)
"""Colours of the base models, in the order of their keys (gold is kept for the frontier)."""
TEMPLATE: Final = "plotly_white"
HEIGHT: Final = 520
PANEL_COLUMNS: Final = 3
"""Panels per row of the per-room chart."""

EMPTY_PARETO: Final = (
    "No points yet: a quant needs finished matches against its baseline (same base model)<br>"
    "to get a quality %, and answered calls for its decode speed.<br>"
    "Register a baseline and a quant of the same base model in the Submit tab."
)
EMPTY_QUALITY_VS_GB: Final = (
    "No points yet: a quant needs its file size (GB) on its submission<br>"
    "and finished matches against its baseline (same base model) to get a quality %."
)
EMPTY_ROOMS: Final = (
    "No rooms played yet: escape rates per room appear once submissions<br>have finished matches."
)
EMPTY_TPS_VS_GB: Final = (
    "No points yet: a submission needs its file size (GB)<br>"
    "and finished matches (for its decode speed)."
)


# -- helpers --------------------------------------------------------------------------------------
def esc(text: object) -> str:
    """Text made inert for plotly's HTML-ish labels."""
    return html.escape(str(text), quote=True)


def model_key(point: ChartPoint) -> str:
    """The grouping (and colour) key of a point: its base-model key."""
    return point.base_model_key or point.base_model


def colours(keys: Iterable[str]) -> dict[str, str]:
    """One palette colour per base-model key, assigned in sorted key order."""
    return {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(sorted(set(keys)))}


def empty_figure(message: str, title: str) -> go.Figure:
    """A figure with no axes and ``message`` in its middle."""
    figure = go.Figure()
    figure.add_annotation(
        text=message,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        align="center",
        font={"size": 15},
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(title=title, template=TEMPLATE, height=HEIGHT)
    return figure


def _ci_text(value: float, ci: tuple[float, float] | None) -> str:
    text = f"{value:.1f} %"
    return text + (f" [95% CI {ci[0]:.1f}, {ci[1]:.1f}]" if ci is not None else "")


def hover_text(point: ChartPoint) -> str:
    """The hover label of a point: who, which quant, and every number with its interval."""
    lines = [
        f"<b>{esc(point.label)}</b>",
        f"{esc(point.base_model)} · {esc(point.quant)}",
        f"bits/weight: {point.bits_per_weight:.2f}",
    ]
    if point.file_size_gb is not None:
        lines.append(f"file size: {point.file_size_gb:.2f} GB")
    if point.decode_tps is not None:
        spread = f" ± {point.tps_sd:.1f}" if point.tps_sd is not None else ""
        lines.append(f"generation: {point.decode_tps:.1f}{spread} tok/s ({point.tps_source})")
    if point.quality_pct is not None:
        lines.append(f"quality retained: {_ci_text(point.quality_pct, point.quality_ci)}")
    if point.mean_escaped is not None:
        lines.append(f"rooms escaped per match: {point.mean_escaped:.2f}")
    lines.append(f"paired puzzles (n): {point.n}")
    return "<br>".join(lines)


def _error_bars(points: Sequence[ChartPoint]) -> dict[str, Any]:
    """Asymmetric error bars from each point's quality interval (zero where it has none)."""
    upper, lower = [], []
    for p in points:
        y = p.quality_pct or 0.0
        upper.append(p.quality_ci[1] - y if p.quality_ci else 0.0)
        lower.append(y - p.quality_ci[0] if p.quality_ci else 0.0)
    return {
        "type": "data",
        "symmetric": False,
        "array": upper,
        "arrayminus": lower,
        "thickness": 1.2,
        "width": 3,
    }


def _model_traces(
    points: Sequence[ChartPoint],
    x: Callable[[ChartPoint], float | None],
    y: Callable[[ChartPoint], float | None],
    palette: dict[str, str],
    *,
    error_bars: bool,
) -> list[go.Scatter]:
    """One trace per base model: its points having both values, joined in order of x."""
    groups: dict[str, list[ChartPoint]] = {}
    for p in points:
        if x(p) is not None and y(p) is not None:
            groups.setdefault(model_key(p), []).append(p)
    traces = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda p: (x(p), p.bits_per_weight, p.submission_id))
        colour = palette.get(key, PALETTE[0])
        traces.append(
            go.Scatter(
                x=[x(p) for p in members],
                y=[y(p) for p in members],
                mode="lines+markers" if len(members) > 1 else "markers",
                name=esc(members[0].base_model),
                legendgroup=key,
                line={"color": colour, "width": 1.5},
                marker={"color": colour, "size": 10},
                error_y=_error_bars(members) if error_bars else None,
                hovertext=[hover_text(p) for p in members],
                hoverinfo="text",
            )
        )
    return traces


def _axes_layout(figure: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    figure.update_layout(
        title=title,
        template=TEMPLATE,
        height=HEIGHT,
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend_title_text="base model",
        hoverlabel={"align": "left"},
    )
    return figure


def _baseline_line(figure: go.Figure) -> None:
    figure.add_hline(
        y=100.0,
        line={"color": "#999999", "dash": "dot", "width": 1},
        annotation_text="baseline = 100 %",
        annotation_position="bottom right",
    )


# -- figures --------------------------------------------------------------------------------------
IMPORTED_SYMBOLS: Final = {
    "lm-eval × llama-bench": "x",
    "lm-eval": "diamond",
    "llama-bench": "diamond-open",
}
"""Imported points are drawn with their own symbols and legend entries, marked by source."""


def _imported_hover(point: ImportedPoint) -> str:
    lines = [f"<b>{esc(point.label)}</b> (imported: {esc(point.source)})",
             f"{esc(point.base_model)} · {esc(point.quant)}"]  # fmt: skip
    if point.task is not None and point.score is not None and point.quality_pct is not None:
        lines.append(
            f"{esc(point.task)}: {point.score:.4g} = {point.quality_pct:.1f} % of baseline"
        )
    if point.tps is not None:
        spread = f" ± {point.tps_stddev:.1f}" if point.tps_stddev else ""
        lines.append(f"llama-bench tg: {point.tps:.1f}{spread} tok/s")
    if point.size_gb is not None:
        lines.append(f"size: {point.size_gb:.2f} GB")
    return "<br>".join(lines)


def imported_traces(
    imported: Sequence[ImportedPoint],
    x: Callable[[ImportedPoint], float | None],
    y: Callable[[ImportedPoint], float | None],
) -> list[go.Scatter]:
    """One trace per source of the imported points that have both values."""
    traces = []
    for source, symbol in IMPORTED_SYMBOLS.items():
        chosen = [
            p for p in imported if p.source == source and x(p) is not None and y(p) is not None
        ]
        if not chosen:
            continue
        traces.append(
            go.Scatter(
                x=[x(p) for p in chosen],
                y=[y(p) for p in chosen],
                mode="markers",
                name=f"imported: {source}",
                marker={"symbol": symbol, "size": 12, "color": "#555555"},
                hovertext=[_imported_hover(p) for p in chosen],
                hoverinfo="text",
            )
        )
    return traces


def pareto_figure(
    points: Sequence[ChartPoint],
    frontier: Sequence[ChartPoint],
    imported: Sequence[ImportedPoint] = (),
) -> go.Figure:
    """Decode tok/s (x) against quality % retained vs the baseline (y), with 95 % error bars,
    one colour and line per base model, and the Pareto ``frontier`` as a gold line."""
    title = "Speed vs quality retained"
    traces = _model_traces(
        points,
        lambda p: p.decode_tps,
        lambda p: p.quality_pct,
        colours(model_key(p) for p in points),
        error_bars=True,
    )
    extra = imported_traces(imported, lambda p: p.tps, lambda p: p.quality_pct)
    if not traces and not extra:
        return empty_figure(EMPTY_PARETO, title)
    figure = go.Figure([*traces, *extra])
    ordered = sorted(frontier, key=lambda p: (p.decode_tps or 0.0, p.quality_pct or 0.0))
    if ordered:
        figure.add_trace(
            go.Scatter(
                x=[p.decode_tps for p in ordered],
                y=[p.quality_pct for p in ordered],
                mode="lines+markers",
                name="Pareto frontier",
                line={"color": GOLD, "width": 3},
                marker={"color": GOLD, "size": 16, "symbol": "circle-open", "line": {"width": 2}},
                hovertext=[hover_text(p) for p in ordered],
                hoverinfo="text",
            )
        )
    _baseline_line(figure)
    return _axes_layout(
        figure,
        title,
        "generation speed, solo speed probe (tok/s, higher is better)",
        "quality retained vs baseline, paired puzzles (%)",
    )


def quality_vs_gb_figure(
    points: Sequence[ChartPoint],
    palette: dict[str, str] | None = None,
    imported: Sequence[ImportedPoint] = (),
) -> go.Figure:
    """Quality % retained (y, with 95 % error bars) against file size in GB (x)."""
    title = "Quality retained vs file size"
    traces = _model_traces(
        points,
        lambda p: p.file_size_gb,
        lambda p: p.quality_pct,
        palette or colours(model_key(p) for p in points),
        error_bars=True,
    )
    extra = imported_traces(imported, lambda p: p.size_gb, lambda p: p.quality_pct)
    if not traces and not extra:
        return empty_figure(EMPTY_QUALITY_VS_GB, title)
    figure = go.Figure([*traces, *extra])
    _baseline_line(figure)
    return _axes_layout(figure, title, "file size (GB)", "quality retained vs baseline (%)")


def tps_vs_gb_figure(
    points: Sequence[ChartPoint],
    palette: dict[str, str] | None = None,
    imported: Sequence[ImportedPoint] = (),
) -> go.Figure:
    """Decode tok/s (y) against file size in GB (x)."""
    title = "Decode speed vs file size"
    traces = _model_traces(
        points,
        lambda p: p.file_size_gb,
        lambda p: p.decode_tps,
        palette or colours(model_key(p) for p in points),
        error_bars=False,
    )
    extra = imported_traces(imported, lambda p: p.size_gb, lambda p: p.tps)
    if not traces and not extra:
        return empty_figure(EMPTY_TPS_VS_GB, title)
    figure = go.Figure([*traces, *extra])
    return _axes_layout(figure, title, "file size (GB)", "decode speed (tok/s)")


def room_title(room_id: str) -> str:
    """A room's display name (its id when unknown)."""
    found = load_rooms().get(room_id)
    return f"{found.name} ({room_id})" if found is not None else esc(room_id)


def _room_hover(row: Any) -> str:
    return "<br>".join(
        (
            f"<b>{esc(row.display_name)}</b>",
            f"{esc(row.base_model)} · {esc(row.quant)}",
            f"bits/weight: {row.bits_per_weight:.2f}",
            f"escape rate: {100.0 * row.escape_rate:.1f} %",
            f"plays (n): {int(row.n)}",
        )
    )


def room_escape_figure(room_quality: pd.DataFrame, palette: dict[str, str]) -> go.Figure:
    """Escape rate % (y) against bits per weight (x), one panel per room (in play order), one
    line per base model in each."""
    title = "Escape rate vs bits per weight, per room"
    if room_quality is None or room_quality.empty:
        return empty_figure(EMPTY_ROOMS, title)
    rooms = list(dict.fromkeys(room_quality["room_id"]))
    columns = min(PANEL_COLUMNS, len(rooms))
    rows = math.ceil(len(rooms) / columns)
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[room_title(r) for r in rooms],
        shared_yaxes=True,
        horizontal_spacing=0.06,
        vertical_spacing=0.16,
    )
    shown: set[str] = set()
    for i, room_id in enumerate(rooms):
        in_room = room_quality[room_quality["room_id"] == room_id]
        for key, group in sorted(in_room.groupby("base_model_key"), key=lambda kv: str(kv[0])):
            group = group.sort_values(["bits_per_weight", "submission_id"])
            colour = palette.get(str(key), PALETTE[0])
            figure.add_trace(
                go.Scatter(
                    x=list(group["bits_per_weight"]),
                    y=[100.0 * v for v in group["escape_rate"]],
                    mode="lines+markers" if len(group) > 1 else "markers",
                    name=esc(group["base_model"].iloc[0]),
                    legendgroup=str(key),
                    showlegend=str(key) not in shown,
                    line={"color": colour, "width": 1.5},
                    marker={"color": colour, "size": 9},
                    hovertext=[_room_hover(r) for r in group.itertuples()],
                    hoverinfo="text",
                ),
                row=i // columns + 1,
                col=i % columns + 1,
            )
            shown.add(str(key))
    figure.update_yaxes(range=[-5, 105])
    figure.update_yaxes(title_text="escape rate (%)", col=1)
    figure.update_xaxes(title_text="bits/weight", row=rows)
    figure.update_layout(
        title=title,
        template=TEMPLATE,
        height=max(HEIGHT, 300 * rows),
        legend_title_text="base model",
        hoverlabel={"align": "left"},
    )
    return figure


def bang_per_bit_figures(
    points: Sequence[ChartPoint],
    room_quality: pd.DataFrame,
    imported: Sequence[ImportedPoint] = (),
) -> dict[str, go.Figure]:
    """The bang-per-bit charts: ``quality_vs_gb``, ``quality_vs_bpw_by_room`` (one panel per
    room, from :func:`arena.leaderboard.room_quality`) and ``tps_vs_gb``; base models keep the
    same colour in all three."""
    keys = [model_key(p) for p in points]
    if room_quality is not None and not room_quality.empty:
        keys += [str(k) for k in room_quality["base_model_key"]]
    palette = colours(keys)
    return {
        "quality_vs_gb": quality_vs_gb_figure(points, palette, imported),
        "quality_vs_bpw_by_room": room_escape_figure(room_quality, palette),
        "tps_vs_gb": tps_vs_gb_figure(points, palette, imported),
    }


__all__ = [
    "GOLD",
    "bang_per_bit_figures",
    "empty_figure",
    "hover_text",
    "pareto_figure",
    "quality_vs_gb_figure",
    "room_escape_figure",
    "tps_vs_gb_figure",
]
