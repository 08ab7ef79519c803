"""The leaderboard's charts as plotly figures (no UI framework; nothing loaded from the network).

- :func:`pareto_figure`: decode speed against quality retained, one colour per base model, each
  point labelled by its quant with its intervals, the Pareto frontier in gold;
- :func:`bang_per_bit_figures`: quality against file size, escape rate against bits per weight
  (one panel per room), speed against file size;
- ``arena.views._heatmap_figure``: quality retained per base model and quant, with the verdicts.

Every figure without data shows a centred note saying what it needs instead of empty axes. The
quality axes always show the baseline (100 %) and every interval whole.
Submitter-written text (names, base models) is HTML-escaped: plotly renders a subset of HTML
(links included) in hover labels and legends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from arena.analysis import ChartPoint, axis_range
from arena.results import ImportedPoint
from rooms import load_rooms
from submissions.models import html_text as esc

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
MIN_QUALITY_PAD: Final = 2.0
"""At least this many percentage points are left free at each end of a quality axis."""
BAR_STYLE: Final[dict[str, Any]] = {"type": "data", "thickness": 1.2, "width": 3}
"""How the error bars are drawn."""
PROVISIONAL_HOVER: Final = "provisional: against a baseline not confirmed yet"

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


def ci_text(value: float, ci: tuple[float, float] | None) -> str:
    """``"94.0 % [95% CI 88.0, 99.0]"`` (a hover label's retention)."""
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
        lines.append(f"quality retained: {ci_text(point.quality_pct, point.quality_ci)}")
    if point.mean_escaped is not None:
        lines.append(f"rooms escaped per match: {point.mean_escaped:.2f}")
    lines.append(f"paired puzzles (n): {point.n}")
    if point.provisional:
        lines.append(PROVISIONAL_HOVER)
    return "<br>".join(lines)


def _error_bars(points: Sequence[ChartPoint]) -> dict[str, Any]:
    """Asymmetric error bars from each point's quality interval (zero where it has none)."""
    upper, lower = [], []
    for p in points:
        y = p.quality_pct or 0.0
        upper.append(p.quality_ci[1] - y if p.quality_ci else 0.0)
        lower.append(y - p.quality_ci[0] if p.quality_ci else 0.0)
    return {**BAR_STYLE, "symmetric": False, "array": upper, "arrayminus": lower}


def _spread_bars(points: Sequence[ChartPoint]) -> dict[str, Any] | None:
    """Symmetric horizontal bars from each point's speed-probe spread (zero where it has none);
    None when no point has one."""
    if all(p.tps_sd is None for p in points):
        return None
    return {**BAR_STYLE, "symmetric": True, "array": [p.tps_sd or 0.0 for p in points]}


def _symbols(points: Sequence[ChartPoint]) -> list[str]:
    """Filled circles; open ones for points judged against a baseline not confirmed yet."""
    return ["circle-open" if p.provisional else "circle" for p in points]


def _model_traces(
    points: Sequence[ChartPoint],
    x: Callable[[ChartPoint], float | None],
    y: Callable[[ChartPoint], float | None],
    palette: dict[str, str],
    *,
    error_bars: bool,
    spread: bool = False,
    labels: bool = False,
) -> list[go.Scatter]:
    """One trace per base model: its points having both values, joined in order of x; with
    ``error_bars`` the quality intervals (vertical), with ``spread`` the speed probe's spread
    (horizontal), with ``labels`` each point's quant beside it (above right, off the bars)."""
    groups: dict[str, list[ChartPoint]] = {}
    for p in points:
        if x(p) is not None and y(p) is not None:
            groups.setdefault(model_key(p), []).append(p)
    traces = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda p: (x(p), p.bits_per_weight, p.submission_id))
        colour = palette.get(key, PALETTE[0])
        mode = "lines+markers" if len(members) > 1 else "markers"
        traces.append(
            go.Scatter(
                x=[x(p) for p in members],
                y=[y(p) for p in members],
                mode=mode + "+text" if labels else mode,
                name=esc(members[0].base_model),
                legendgroup=key,
                line={"color": colour, "width": 1.5},
                marker={"color": colour, "size": 10, "symbol": _symbols(members)},
                error_y=_error_bars(members) if error_bars else None,
                error_x=_spread_bars(members) if spread else None,
                text=[esc(p.quant) for p in members] if labels else None,
                textposition="top right",
                textfont={"color": colour, "size": 11},
                cliponaxis=False,
                hovertext=[hover_text(p) for p in members],
                hoverinfo="text",
            )
        )
    return traces


def _bar_ends(values: Sequence[Any] | None, bars: Any) -> list[float | None]:
    """The values of a trace and the ends of their error bars, when drawn."""
    values = list(values or ())
    if bars is None or bars.array is None:
        return values
    up = list(bars.array)
    down = up if bars.symmetric or bars.arrayminus is None else list(bars.arrayminus)
    ends = [v + u for v, u in zip(values, up, strict=False) if v is not None and u is not None]
    ends += [v - d for v, d in zip(values, down, strict=False) if v is not None and d is not None]
    return values + ends


def fit_quality_axes(figure: go.Figure) -> go.Figure:
    """Axis ranges holding every drawn point and interval, the baseline (y = 100 %) included;
    x from 0 where that is sensible (see :func:`axis_range`)."""
    xs: list[float | None] = []
    ys: list[float | None] = [100.0]
    for trace in figure.data:
        xs += _bar_ends(trace.x, trace.error_x)
        ys += _bar_ends(trace.y, trace.error_y)
    figure.update_xaxes(range=axis_range(xs, from_zero=True))
    figure.update_yaxes(range=axis_range(ys, min_pad=MIN_QUALITY_PAD))
    return figure


LEGEND_BELOW: Final[dict[str, Any]] = {
    "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.2, "yanchor": "top",
               "title": {"text": "base model"}},
}  # fmt: skip
"""The legend in rows under the plot, not beside it: on a phone a side legend took half the
width and clipped the axis title (the margin grows to hold it)."""


def _axes_layout(figure: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    figure.update_layout(
        title=title,
        template=TEMPLATE,
        height=HEIGHT,
        xaxis_title=x_title,
        yaxis_title=y_title,
        hoverlabel={"align": "left"},
        **LEGEND_BELOW,
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
    """Decode tok/s (x) against quality % retained vs the baseline (y), with 95 % error bars
    (and the speed probe's spread), one colour and line per base model, each point labelled by
    its quant, and the Pareto ``frontier`` as a gold line when it has two points or more."""
    title = "Speed vs quality retained"
    traces = _model_traces(
        points,
        lambda p: p.decode_tps,
        lambda p: p.quality_pct,
        colours(model_key(p) for p in points),
        error_bars=True,
        spread=True,
        labels=True,
    )
    extra = imported_traces(imported, lambda p: p.tps, lambda p: p.quality_pct)
    if not traces and not extra:
        return empty_figure(EMPTY_PARETO, title)
    figure = go.Figure([*traces, *extra])
    ordered = sorted(frontier, key=lambda p: (p.decode_tps or 0.0, p.quality_pct or 0.0))
    if len(ordered) >= 2:
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
    fit_quality_axes(figure)
    return _axes_layout(
        figure,
        title,
        "generation speed (tok/s, solo probe)",
        "quality retained vs baseline (%)",
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
    fit_quality_axes(figure)
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
        hoverlabel={"align": "left"},
        **LEGEND_BELOW,
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
    "ci_text",
    "empty_figure",
    "fit_quality_axes",
    "hover_text",
    "pareto_figure",
    "quality_vs_gb_figure",
    "room_escape_figure",
    "tps_vs_gb_figure",
]
