"""The model x quant table: columns by bits, one cell per model and quant (the best-measured),
the baseline's own cell, missing cells, and the spelling of each base model."""

from __future__ import annotations

from typing import Any

from arena.analysis import DegradationVerdict, LeaderboardRow, retention_heatmap
from arena.analysis._chart_data import chart_points
from arena.analysis._heatmap import best_measured, column_order, spelling
from arena.analysis._probe_summaries import SpeedSummary
from submissions.models import base_model_key


def verdict(
    kind: str = "equivalent", *, provisional: bool = False, decided: bool | None = None
) -> DegradationVerdict:
    prefix = "provisional · " if provisional else ""
    return DegradationVerdict(
        kind=kind,  # type: ignore[arg-type]
        label=f"{prefix}{kind}: -2.0 pp [-5.0, 1.0]",
        n_pairs=40,
        b=3,
        c=2,
        p_value=1.0,
        difference_pp=-2.0,
        ci_pp=(-5.0, 1.0),
        detectable_drop_pp=8.0,
        discordance=0.125,
        provisional=provisional,
        decided=decided if decided is not None else kind in ("degraded", "equivalent"),
    )


def board_row(
    submission_id: int,
    quant: str,
    bits: float,
    *,
    model: str = "Smol-135M",
    retention: float | None = 94.0,
    ci: tuple[float, float] | None = (88.0, 99.0),
    n: int = 40,
    baseline: bool = False,
    kind: str | None = "equivalent",
    provisional: bool = False,
    decided: bool | None = None,
    hardware: str = "RTX 4090",
    **extra: Any,
) -> LeaderboardRow:
    """A hand-built leaderboard row: a candidate with a verdict, or a baseline (100 %)."""
    found = (
        verdict(kind, provisional=provisional, decided=decided) if kind and not baseline else None
    )
    return LeaderboardRow(
        submission_id=submission_id,
        display_name=f"{model} {quant} #{submission_id}",
        base_model=model,
        base_model_key=base_model_key(model),
        quant=quant,
        bits_per_weight=bits,
        file_size_gb=bits / 16,
        hardware=hardware,
        engine="llama.cpp",
        is_baseline=baseline,
        status="active",
        status_reason=None,
        matches=10,
        rooms_played=40,
        mean_escaped=3.0,
        mean_escaped_ci=(2.5, 3.5),
        mean_score=30.0,
        mean_score_ci=(25.0, 35.0),
        retention_pct=100.0 if baseline else retention,
        retention_ci=None if baseline else ci,
        retention_n=n,
        retention_note="baseline" if baseline else None,
        verdict=found,
        baseline_standing="provisional" if provisional else "confirmed",
        challenged_n=0,
        held_ground_rate=None,
        manipulated_rate=None,
        decode_tps=50.0,
        ttft_median_s=0.2,
        time_to_solution_median_s=12.0,
        calls=100,
        cap_hit_rate=0.0,
        cap_hit_ci=(0.0, 0.04),
        **extra,
    )


ROWS = [
    board_row(1, "BF16", 16.0, baseline=True, n=120),
    board_row(2, "Q4_K_M", 4.85),
    board_row(3, "Q8_0", 8.5, retention=99.0, ci=(96.0, 101.0)),
    board_row(4, "BF16", 16.0, model="Other-7B", baseline=True),
    board_row(5, "Q2_K", 2.6, model="Other-7B", retention=61.0, ci=(50.0, 70.0), kind="degraded"),
    board_row(6, "Q4_K_M", 4.5, model="Other-7B"),  # other bits for the same label
]


def test_columns_follow_bits_per_weight_from_high_to_low() -> None:
    table = retention_heatmap(ROWS)
    assert table.columns == ["BF16", "Q8_0", "Q4_K_M", "Q2_K"]
    assert table.bits == [16.0, 8.5, 4.675, 2.6]  # Q4_K_M: the median of 4.85 and 4.5
    assert [r.base_model for r in table.rows] == ["Other-7B", "Smol-135M"]  # key order
    other, smol = table.rows
    assert [c.submission_id if c else None for c in other.cells] == [4, None, 6, 5]
    assert [c.submission_id if c else None for c in smol.cells] == [1, 3, 2, None]
    assert column_order([]) == []


def test_the_median_decides_a_label_with_several_bits() -> None:
    rows = [
        board_row(1, "AWQ", 4.25),
        board_row(2, "AWQ", 4.3, model="B"),
        board_row(3, "AWQ", 6.0, model="C"),
        board_row(4, "INT4", 4.28),
    ]
    table = retention_heatmap(rows)
    assert table.columns == ["AWQ", "INT4"]  # median 4.3 > 4.28, though one model has 4.25
    assert table.bits == [4.3, 4.28]


def test_a_cell_holds_retention_interval_verdict_and_pairs() -> None:
    smol = retention_heatmap(ROWS).rows[1]
    q4 = smol.cells[2]
    assert q4 is not None
    assert (q4.retention_pct, q4.retention_ci, q4.n_pairs) == (94.0, (88.0, 99.0), 40)
    assert q4.verdict_kind == "equivalent" and q4.verdict_label is not None
    assert q4.verdict_label.startswith("equivalent: -2.0 pp")
    assert not q4.is_baseline and not q4.provisional and q4.submissions == 1
    degraded = retention_heatmap(ROWS).rows[0].cells[3]
    assert degraded is not None and degraded.verdict_kind == "degraded"


def test_the_baseline_cell_is_100_and_marked() -> None:
    cell = retention_heatmap(ROWS).rows[1].cells[0]
    assert cell is not None and cell.is_baseline
    assert (cell.retention_pct, cell.retention_ci, cell.verdict_kind) == (100.0, None, None)
    assert cell.verdict_label == "baseline" and cell.n_pairs == 120
    # a baseline row whose retention field is empty still shows 100 %
    bare = board_row(9, "BF16", 16.0, baseline=True).model_copy(update={"retention_pct": None})
    only = retention_heatmap([bare]).rows[0].cells[0]
    assert only is not None and only.retention_pct == 100.0


def test_missing_cells_and_unmeasured_ones() -> None:
    rows = [
        board_row(1, "BF16", 16.0, baseline=True),
        board_row(2, "Q4_K_M", 4.8, retention=None, ci=None, n=0, kind=None),
        board_row(3, "Q8_0", 8.5, model="Lonely-1B", retention=None, ci=None, n=0, kind=None),
    ]
    table = retention_heatmap(rows)
    assert table.columns == ["BF16", "Q8_0", "Q4_K_M"]
    lonely, smol = table.rows
    assert lonely.cells[0] is None and lonely.cells[2] is None  # not submitted: no cell
    unmeasured = smol.cells[2]
    assert unmeasured is not None and unmeasured.retention_pct is None
    assert unmeasured.verdict_kind is None and unmeasured.n_pairs == 0
    assert retention_heatmap([]).rows == [] and retention_heatmap([]).columns == []


def test_several_submissions_of_one_quant_keep_the_best_measured() -> None:
    rows = [
        board_row(1, "BF16", 16.0, baseline=True, n=5),
        board_row(2, "Q4_K_M", 4.8, n=12, retention=80.0, hardware="Apple M2"),
        board_row(3, "Q4_K_M", 4.8, n=48, retention=95.0),
        board_row(4, "Q4_K_M", 4.8, n=48, retention=None, ci=None),  # same n, no value
        board_row(5, "BF16", 16.0, n=200, retention=99.0),  # a candidate: the baseline wins
    ]
    cells = retention_heatmap(rows).rows[0].cells
    assert cells[0] is not None and cells[0].submission_id == 1 and cells[0].submissions == 2
    assert cells[1] is not None and cells[1].submission_id == 3 and cells[1].submissions == 3
    assert cells[1].retention_pct == 95.0
    assert best_measured([rows[1], rows[2]]).submission_id == 3
    tied = [board_row(8, "Q4_0", 4.5, n=10), board_row(7, "Q4_0", 4.5, n=10)]
    assert best_measured(tied).submission_id == 7  # the lowest id


def test_base_models_show_their_most_common_spelling() -> None:
    rows = [
        board_row(1, "BF16", 16.0, model="qwen3-4b", baseline=True),
        board_row(2, "Q8_0", 8.5, model="Qwen3 4B"),
        board_row(3, "Q4_K_M", 4.8, model="Qwen3 4B"),
    ]
    table = retention_heatmap(rows)
    assert len(table.rows) == 1 and table.rows[0].base_model == "Qwen3 4B"
    assert table.rows[0].base_model_key == "qwen3-4b"
    assert spelling(["b", "a", "b", "a"]) == "a"  # a tie: the first in sorted order


def test_provisional_cells_and_points() -> None:
    rows = [
        board_row(1, "BF16", 16.0, baseline=True, provisional=True),
        board_row(2, "Q4_K_M", 4.8, provisional=True),
        board_row(3, "Q8_0", 8.5),
    ]
    cells = retention_heatmap(rows).rows[0].cells
    assert [c.provisional for c in cells if c] == [True, False, True]  # BF16, Q8_0, Q4_K_M
    points = {p.submission_id: p for p in chart_points(rows)}
    assert points[1].provisional and points[2].provisional and not points[3].provisional
    judged = rows[2].model_copy(update={"verdict": verdict(provisional=True)})
    assert chart_points([judged])[0].provisional  # the verdict alone says so too


def test_chart_points_take_the_speed_probe_spread() -> None:
    probe = SpeedSummary(status="done", tg_tps_mean=61.5, tg_tps_sd=2.5)
    point = chart_points([board_row(2, "Q4_K_M", 4.8, speed=probe)])[0]
    assert (point.decode_tps, point.tps_sd, point.tps_source) == (61.5, 2.5, "speed probe")
