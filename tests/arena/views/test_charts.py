"""The charts: they build for empty and real inputs, the frontier is gold, hovers carry the CIs."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest

from arena.analysis._chart_data import (
    ROOM_QUALITY_COLUMNS,
    ChartPoint,
    axis_range,
    chart_points,
    pareto_frontier,
    room_quality,
)
from arena.analysis._leaderboard import leaderboard_rows
from arena.engine._store import Store
from arena.results._external import import_results, read_imported
from arena.results._external_models import ImportedResult, ReferenceSpec
from arena.results._imported_points import imported_points
from arena.views import _charts as charts
from arena.views._charts import bang_per_bit_figures, pareto_figure
from rooms import ROOM_ORDER


def point(
    submission_id: int,
    tps: float | None,
    quality: float | None,
    *,
    model: str = "Smol-135M",
    quant: str = "Q4_K_M",
    bits: float = 4.8,
    size: float | None = 0.1,
    ci: tuple[float, float] | None = None,
    label: str | None = None,
) -> ChartPoint:
    return ChartPoint(
        submission_id=submission_id,
        label=label or f"{model} {quant}",
        base_model=model,
        base_model_key=model.casefold(),
        quant=quant,
        bits_per_weight=bits,
        file_size_gb=size,
        decode_tps=tps,
        quality_pct=quality,
        quality_ci=ci,
        n=3,
        mean_escaped=4.0,
    )


POINTS = [
    point(1, 30.0, 100.0, quant="BF16", bits=16.0, size=0.27),
    point(2, 55.0, 83.333, ci=(61.04, 100.0), size=0.1),
    point(3, 70.0, 40.0, quant="Q2_K", bits=2.6, size=0.07, ci=(20.0, 55.0)),
    point(4, 20.0, 100.0, model="Other-7B", quant="BF16", bits=16.0, size=14.0),
    point(5, 60.0, 90.0, model="Other-7B", quant="Q8_0", bits=8.5, size=7.2, ci=(80.0, 97.0)),
    point(6, None, None, model="Other-7B", quant="Q4_0", bits=4.5, size=None),
]


def room_frame() -> pd.DataFrame:
    records = []
    for index, room_id in enumerate(ROOM_ORDER[:4]):
        for p in POINTS:
            records.append(
                {
                    "submission_id": p.submission_id,
                    "display_name": p.label,
                    "base_model": p.base_model,
                    "base_model_key": p.base_model_key,
                    "quant": p.quant,
                    "bits_per_weight": p.bits_per_weight,
                    "file_size_gb": p.file_size_gb,
                    "room_id": room_id,
                    "escape_rate": (index + p.submission_id) % 4 / 3,
                    "n": 3,
                }
            )
    return pd.DataFrame(records, columns=list(ROOM_QUALITY_COLUMNS))


def annotations(figure: go.Figure) -> list[str]:
    return [a.text for a in figure.layout.annotations]


def test_empty_inputs_explain_what_is_needed(store: Store) -> None:
    points = chart_points(leaderboard_rows(store))
    pareto = charts.pareto_figure(points, pareto_frontier(points))
    assert len(pareto.data) == 0
    assert annotations(pareto) == [charts.EMPTY_PARETO]
    assert annotations(pareto)[0].startswith("No points yet: a quant needs finished matches")
    assert pareto.layout.annotations[0].x == 0.5 and pareto.layout.annotations[0].y == 0.5
    bang = charts.bang_per_bit_figures(points, room_quality(store))
    assert set(bang) == {"quality_vs_gb", "quality_vs_bpw_by_room", "tps_vs_gb"}
    assert annotations(bang["quality_vs_gb"]) == [charts.EMPTY_QUALITY_VS_GB]
    assert annotations(bang["quality_vs_bpw_by_room"]) == [charts.EMPTY_ROOMS]
    assert annotations(bang["tps_vs_gb"]) == [charts.EMPTY_TPS_VS_GB]
    assert all(len(f.data) == 0 for f in bang.values())


def test_points_without_the_needed_values_give_the_empty_state() -> None:
    no_quality = [point(1, 30.0, None), point(2, None, 90.0, size=None)]
    pareto = charts.pareto_figure(no_quality, pareto_frontier(no_quality))
    assert annotations(pareto) == [charts.EMPTY_PARETO]
    bang = charts.bang_per_bit_figures(no_quality, pd.DataFrame(columns=ROOM_QUALITY_COLUMNS))
    assert annotations(bang["quality_vs_gb"]) == [charts.EMPTY_QUALITY_VS_GB]
    assert len(bang["tps_vs_gb"].data) == 1  # point 1 has a size and a speed


def test_pareto_figure() -> None:
    frontier = pareto_frontier(POINTS)
    assert [p.submission_id for p in frontier] == [1, 5, 3]
    figure = charts.pareto_figure(POINTS, frontier)
    models = [t for t in figure.data if t.name != "Pareto frontier"]
    assert [t.name for t in models] == ["Other-7B", "Smol-135M"]
    smol = models[1]
    assert list(smol.x) == [30.0, 55.0, 70.0]  # joined in order of speed
    assert smol.mode == "lines+markers+text"
    assert list(smol.error_y.array) == pytest.approx([0.0, 100.0 - 83.333, 15.0])
    assert list(smol.error_y.arrayminus) == pytest.approx([0.0, 83.333 - 61.04, 20.0])
    assert models[0].line.color != smol.line.color
    gold = [t for t in figure.data if t.name == "Pareto frontier"]
    assert len(gold) == 1 and gold[0].line.color == charts.GOLD == "#D4AF37"
    assert list(gold[0].x) == [30.0, 60.0, 70.0] and list(gold[0].y) == [100.0, 90.0, 40.0]
    hover = smol.hovertext[1]
    assert "quality retained: 83.3 % [95% CI 61.0, 100.0]" in hover
    assert "generation: 55.0 tok/s (matches)" in hover and "bits/weight: 4.80" in hover
    assert "paired puzzles (n): 3" in hover and "Q4_K_M" in hover
    assert figure.layout.xaxis.title.text == "generation speed (tok/s, solo probe)"
    assert figure.layout.yaxis.title.text == "quality retained vs baseline (%)"
    assert figure.layout.legend.orientation == "h"  # under the plot: a phone keeps its width
    probed = charts.hover_text(
        POINTS[0].model_copy(update={"tps_sd": 1.25, "tps_source": "speed probe"})
    )
    assert f"generation: {POINTS[0].decode_tps:.1f} ± 1.2 tok/s (speed probe)" in probed
    assert not figure.layout.annotations or charts.EMPTY_PARETO not in annotations(figure)


def test_submitter_text_is_inert_in_hovers_and_legends() -> None:
    evil = [
        point(1, 10.0, 100.0, model='<a href="https://x.example">M</a>', label="<b>me</b>"),
        point(2, 20.0, 50.0, model='<a href="https://x.example">M</a>', label="<b>me</b>"),
    ]
    figure = charts.pareto_figure(evil, pareto_frontier(evil))
    for trace in figure.data:
        assert "<a " not in (trace.name or "")
        assert all("<b>me</b>" not in text for text in trace.hovertext)
    assert "&lt;b&gt;me&lt;/b&gt;" in figure.data[0].hovertext[0]


def test_bang_per_bit_figures() -> None:
    figures = charts.bang_per_bit_figures(POINTS, room_frame())
    by_gb = figures["quality_vs_gb"]
    smol = next(t for t in by_gb.data if t.name == "Smol-135M")
    assert list(smol.x) == [0.07, 0.1, 0.27] and list(smol.y) == [40.0, 83.333, 100.0]
    assert "[95% CI 20.0, 55.0]" in smol.hovertext[0]
    speed = figures["tps_vs_gb"]
    other = next(t for t in speed.data if t.name == "Other-7B")
    assert list(other.x) == [7.2, 14.0] and list(other.y) == [60.0, 20.0]
    assert speed.layout.yaxis.title.text == "decode speed (tok/s)"
    # the same base model has the same colour in every figure
    colour = {t.name: t.line.color for t in by_gb.data}
    assert {t.name: t.line.color for t in speed.data} == colour


def test_one_panel_per_room() -> None:
    frame = room_frame()
    figure = charts.bang_per_bit_figures(POINTS, frame)["quality_vs_bpw_by_room"]
    titles = [a.text for a in figure.layout.annotations]
    assert titles == ["Cipher (cipher-v3)", "Map (map-v2)", "Mechanism (mechanism-v3)",
                      "Archive (archive-v3)"]  # fmt: skip
    axes = {(t.xaxis, t.yaxis) for t in figure.data}
    assert len(axes) == 4  # four rooms, four panels
    assert len(figure.data) == 4 * 2  # one line per base model in each panel
    assert sum(bool(t.showlegend) for t in figure.data) == 2  # one legend entry per model
    first = next(t for t in figure.data if t.name == "Smol-135M")
    assert list(first.x) == [2.6, 4.8, 16.0]
    cipher = frame[(frame["room_id"] == "cipher-v3") & (frame["base_model_key"] == "smol-135m")]
    expected = cipher.sort_values("bits_per_weight")["escape_rate"] * 100
    assert list(first.y) == pytest.approx(list(expected))
    assert "escape rate:" in first.hovertext[0] and "plays (n): 3" in first.hovertext[0]


def test_figures_are_self_contained() -> None:
    figures = [charts.pareto_figure(POINTS, pareto_frontier(POINTS))]
    figures += list(charts.bang_per_bit_figures(POINTS, room_frame()).values())
    for figure in figures:
        text = figure.to_json()
        assert "http://" not in text and "https://" not in text and "mapbox" not in text


def test_imported_points_are_drawn_apart_and_marked_by_source(store: Store) -> None:
    """lm-eval scores as % of the BF16 reference's score, llama-bench tg speed; they get their
    own traces and never join the escape-room frontier."""

    def add(quant: str, score: float, tps: float, size: int, sha: str) -> None:
        results = [
            ImportedResult(source="lm-eval", task="arc", metric="acc,none", value=score),
            ImportedResult(source="llama-bench", task="tg128", metric="tokens_per_second",
                           value=tps, stderr=0.5,
                           details={"model_size": size, "bits_per_weight": 16 * size / 2e9}),
        ]  # fmt: skip
        reference = ReferenceSpec(base_model="Ref-1B", quant=quant)
        import_results(store, results, source_sha256=sha, reference=reference)

    add("BF16", 0.80, 20.0, 2_000_000_000, "a" * 64)
    add("Q4_K_M", 0.60, 55.0, 600_000_000, "b" * 64)
    points = imported_points(read_imported(store))
    by_quant = {p.quant: p for p in points}
    assert by_quant["BF16"].quality_pct == pytest.approx(100.0)
    assert by_quant["Q4_K_M"].quality_pct == pytest.approx(75.0)
    assert by_quant["Q4_K_M"].source == "lm-eval × llama-bench"
    assert by_quant["Q4_K_M"].size_gb == pytest.approx(0.6)
    pareto = pareto_figure([], [], points)
    names = [t.name for t in pareto.data]
    assert names == ["imported: lm-eval × llama-bench"]  # no frontier made of imported points
    assert sorted(pareto.data[0].y) == pytest.approx([75.0, 100.0])
    assert "imported: lm-eval × llama-bench" in pareto.data[0].hovertext[0]
    bang = bang_per_bit_figures([], pd.DataFrame(), points)
    assert [t.name for t in bang["tps_vs_gb"].data] == ["imported: lm-eval × llama-bench"]
    assert sorted(bang["tps_vs_gb"].data[0].y) == [20.0, 55.0]


# -- intervals, labels, frontier and axis ranges ---------------------------------------------------
def spread(p: ChartPoint, sd: float | None, *, provisional: bool = False) -> ChartPoint:
    return p.model_copy(
        update={"tps_sd": sd, "tps_source": "speed probe", "provisional": provisional}
    )


def test_pareto_points_carry_both_intervals_and_their_quant() -> None:
    points = [
        spread(point(1, 30.0, 100.0, quant="BF16", bits=16.0), 1.5),
        spread(point(2, 55.0, 83.0, ci=(61.0, 100.0)), None),
        spread(point(3, 70.0, 40.0, quant="Q2_K", bits=2.6, ci=(20.0, 55.0)), 4.0),
    ]
    figure = charts.pareto_figure(points, pareto_frontier(points))
    smol = figure.data[0]
    assert list(smol.error_y.array) == pytest.approx([0.0, 17.0, 15.0])
    assert list(smol.error_y.arrayminus) == pytest.approx([0.0, 22.0, 20.0])
    assert smol.error_x.symmetric and list(smol.error_x.array) == [1.5, 0.0, 4.0]
    assert list(smol.text) == ["BF16", "Q4_K_M", "Q2_K"]
    assert "text" in smol.mode and smol.textposition == "top right"  # off both bars
    plain = charts.pareto_figure(POINTS, pareto_frontier(POINTS))
    assert all(t.error_x.array is None for t in plain.data)  # no probe: no horizontal bars
    by_gb = charts.quality_vs_gb_figure(points)
    assert by_gb.data[0].error_x.array is None and by_gb.data[0].text is None


def test_the_frontier_needs_two_points() -> None:
    one = [point(1, 30.0, 90.0, ci=(80.0, 97.0))]
    assert [t.name for t in charts.pareto_figure(one, pareto_frontier(one)).data] == ["Smol-135M"]
    two = [*one, point(2, 50.0, 70.0)]
    names = [t.name for t in charts.pareto_figure(two, pareto_frontier(two)).data]
    assert names == ["Smol-135M", "Pareto frontier"]


def test_axis_ranges_hold_the_baseline_and_every_interval() -> None:
    one = [spread(point(1, 50.0, 80.0, ci=(70.0, 90.0)), 5.0)]
    figure = charts.pareto_figure(one, pareto_frontier(one))
    low, high = figure.layout.yaxis.range
    assert low <= 70.0 - 2.0 and high >= 100.0 + 2.0  # the interval, the baseline, padding
    assert (low, high) == (68.0, 102.0)  # 5 % of the 30-point span is under 2 points
    assert figure.layout.xaxis.range == (44.5, 55.5)  # the spread, 5 % of it either side
    bare = [point(1, 50.0, 80.0, ci=(70.0, 90.0))]
    x_low, x_high = charts.pareto_figure(bare, bare).layout.xaxis.range
    assert x_low == 0.0 and x_high == 52.5  # a lone value: from 0
    wide = [point(1, 10.0, 40.0, ci=(20.0, 60.0)), point(2, 90.0, 120.0, ci=(105.0, 130.0))]
    low, high = charts.pareto_figure(wide, pareto_frontier(wide)).layout.yaxis.range
    assert (low, high) == pytest.approx((20.0 - 5.5, 130.0 + 5.5))  # 5 % of the 110-point span
    baseline_only = [point(1, 30.0, 100.0, size=0.27)]
    by_gb = charts.quality_vs_gb_figure(baseline_only)
    assert by_gb.layout.yaxis.range == (98.0, 102.0)
    assert by_gb.layout.xaxis.range[0] == 0.0 and by_gb.layout.xaxis.range[1] > 0.27


def test_axis_range_rule() -> None:
    assert axis_range([]) is None and axis_range([None, float("nan")]) is None
    assert axis_range([100.0], min_pad=2.0) == [98.0, 102.0]
    assert axis_range([20.0, 70.0], from_zero=True) == pytest.approx([0.0, 73.5])
    assert axis_range([100.0, 110.0], from_zero=True) == pytest.approx([99.5, 110.5])
    assert axis_range([5.0], from_zero=True) == pytest.approx([0.0, 5.25])
    assert axis_range([0.0], from_zero=True) == [0.0, 1.0]
    assert axis_range([-2.0, 8.0], from_zero=True) == pytest.approx([-2.5, 8.5])


def test_provisional_points_say_so_and_are_drawn_open() -> None:
    points = [
        spread(point(1, 30.0, 100.0, quant="BF16", bits=16.0), None, provisional=True),
        spread(point(2, 55.0, 83.0, ci=(61.0, 100.0)), None, provisional=True),
        point(3, 40.0, 90.0, model="Other-7B"),
    ]
    figure = charts.pareto_figure(points, pareto_frontier(points))
    other, smol = figure.data[0], figure.data[1]
    assert list(smol.marker.symbol) == ["circle-open", "circle-open"]
    assert list(other.marker.symbol) == ["circle"]
    assert all("provisional" in text for text in smol.hovertext)
    assert "provisional" not in other.hovertext[0]


def test_quant_labels_are_inert() -> None:
    evil = [point(1, 10.0, 90.0, quant="<img src=x onerror=alert(1)>")]
    text = charts.pareto_figure(evil, pareto_frontier(evil)).data[0].text[0]
    assert text == "&lt;img src=x onerror=alert(1)&gt;"
