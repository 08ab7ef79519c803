"""The model x quant heatmap (``arena/views/_heatmap_figure.py``): cells with value, interval
and verdict, escaped submitter text, an explained empty state, and a layout that leaves a phone
its width."""

from __future__ import annotations

from arena.analysis import LeaderboardRow, retention_heatmap
from arena.views import _heatmap_figure as hm
from tests.arena.analysis.test_heatmap import board_row
from tests.arena.views.test_charts import annotations

EVIL = "<img src=x onerror=alert(1)>"


def heatmap_rows() -> list[LeaderboardRow]:
    return [
        board_row(1, "BF16", 16.0, baseline=True, n=120),
        board_row(2, "Q4_K_M", 4.8, n=12, retention=80.0),
        board_row(3, "Q4_K_M", 4.8, n=48),
        board_row(4, "Q2_K", 2.6, retention=61.0, ci=(50.0, 70.0), kind="degraded"),
        board_row(5, "Q8_0", 8.5, model=EVIL, provisional=True),
    ]


def test_heatmap_figure_cells() -> None:
    figure = hm.heatmap_figure(retention_heatmap(heatmap_rows()))
    heat, grey = figure.data
    assert all(v is None for row in grey.z for v in row)  # every verdict here is decided
    assert list(heat.x) == ["BF16", "Q8_0", "Q4_K_M", "Q2_K"]
    assert list(heat.y) == ["&lt;img src=x onerror=alert(1)&gt;", "Smol-135M"]
    assert [list(r) for r in heat.z] == [[None, 94.0, None, None], [100.0, None, 94.0, 61.0]]
    assert (heat.zmin, heat.zmax) == (hm.HEATMAP_ZMIN, hm.HEATMAP_ZMAX) == (50.0, 110.0)
    evil, smol = (list(r) for r in heat.text)
    assert smol == ["100 %<br>baseline", "", "94 %<br>[88, 99]<br>equivalent",
                    "61 %<br>[50, 70]<br>degraded"]  # fmt: skip
    assert evil[1] == "94 %<br>[88, 99]<br>equivalent<br><i>provisional</i>" and evil[0] == ""
    hover = heat.hovertext[1][2]
    assert "quality retained: 94.0 % [95% CI 88.0, 99.0]" in hover
    assert "verdict: equivalent: -2.0 pp [-5.0, 1.0]" in hover
    assert "paired puzzles (n): 48" in hover and "best-measured of 2 submissions" in hover
    assert "best-measured" not in heat.hovertext[1][3]
    assert heat.hovertext[1][1] == "<b>Smol-135M</b> · Q8_0<br>not measured"
    assert "not measured" in heat.hovertext[0][0] and "provisional" in heat.hovertext[0][1]
    assert figure.layout.yaxis.autorange == "reversed"  # the first base model on top
    assert list(figure.layout.xaxis.ticktext)[2] == "Q4_K_M<br>4.80 bpw"


def test_an_undecided_cell_is_grey_with_its_numbers() -> None:
    """A red "0 % [0, 141]" would look certain: until its verdict is decided a cell is grey,
    its value, interval and verdict written in it; the colour scale says so."""
    rows = [
        board_row(1, "BF16", 16.0, baseline=True, n=120),
        board_row(2, "Q2_K", 2.6, retention=0.0, ci=(0.0, 141.0), kind="undecided", n=6),
        board_row(3, "Q4_0", 4.5, retention=60.0, ci=(50.0, 70.0), kind="degraded"),
    ]
    heat, grey = hm.heatmap_figure(retention_heatmap(rows)).data
    assert list(heat.x) == ["BF16", "Q4_0", "Q2_K"]
    early = board_row(2, "Q2_K", 2.6, kind="no detectable degradation")  # the SPRT's early stop
    final = board_row(2, "Q2_K", 2.6, kind="no detectable degradation", decided=True)  # budget
    assert early.verdict is not None and final.verdict is not None
    late = hm.heatmap_figure(retention_heatmap([rows[0], early])).data
    assert [list(r) for r in late[1].z] == [[None, 0.0]]  # play goes on: still grey
    done = hm.heatmap_figure(retention_heatmap([rows[0], final])).data
    assert [list(r) for r in done[0].z] == [[100.0, 94.0]]
    assert [list(r) for r in heat.z] == [[100.0, 60.0, None]]
    assert [list(r) for r in grey.z] == [[None, None, 0.0]]
    assert list(grey.text[0]) == ["", "", "0 %<br>[0, 141]<br>undecided"]
    assert heat.text[0][2] == "" and "degraded" in heat.text[0][1]
    assert set(grey.colorscale[0]) | set(grey.colorscale[-1]) >= {hm.UNDECIDED_GREY}
    assert not grey.showscale and "grey: undecided" in heat.colorbar.title.text
    assert "paired puzzles (n): 6" in grey.hovertext[0][2]


def test_heatmap_figure_escapes_submitter_text() -> None:
    figure = hm.heatmap_figure(retention_heatmap(heatmap_rows()))
    payload = figure.to_json()
    assert EVIL not in payload and "<img" not in payload
    heat = figure.data[0]
    assert all("<img" not in text for row in heat.hovertext for text in row)
    assert "&lt;img src=x onerror=alert(1)&gt;" in heat.hovertext[0][1]


def test_the_heatmap_leaves_a_phone_its_width() -> None:
    """Long base-model names wrap (escaped, line by line); the colour bar lies across the top
    and the y axis has no title, so the cells keep the width of a narrow screen."""
    assert hm.wrapped("SmolLM2-135M-Instruct") == "SmolLM2-135M-<br>Instruct"
    assert hm.wrapped("Qwen/Qwen3-235B-A22B-Instruct-2507") == (
        "Qwen/Qwen3-<br>235B-A22B-<br>Instruct-2507"
    )
    assert hm.wrapped("x" * 30) == "x" * 14 + "<br>" + "x" * 14 + "<br>xx"
    assert hm.wrapped("<b>-" + "a" * 20) == "&lt;b&gt;-<br>" + "a" * 14 + "<br>" + "a" * 6
    figure = hm.heatmap_figure(retention_heatmap(heatmap_rows()))
    assert list(figure.layout.yaxis.ticktext) == ["&lt;img src=x<br>onerror=alert(<br>1)&gt;",
                                                  "Smol-135M"]  # fmt: skip
    assert list(figure.layout.yaxis.tickvals) == list(figure.data[0].y)
    assert not figure.layout.yaxis.title.text
    assert figure.data[0].colorbar.orientation == "h"


def test_heatmap_figure_without_data_explains() -> None:
    figure = hm.heatmap_figure(retention_heatmap([]))
    assert len(figure.data) == 0 and annotations(figure) == [hm.EMPTY_HEATMAP]
