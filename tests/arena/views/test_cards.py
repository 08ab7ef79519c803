"""The first screen's answer cards (``arena/views/_cards.py``) over a real store."""

from __future__ import annotations

import re

from arena.analysis import leaderboard_rows
from arena.engine import Store
from arena.views._cards import SOLO_RUNS, answer_cards, reading
from tests.arena.analysis.test_heatmap import board_row
from tests.arena.analysis.test_leaderboard import add_submission, play
from tests.arena.analysis.test_verdicts import add_probe


def visible(html: str) -> str:
    """The text a reader sees (tags and the style block dropped)."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html, flags=re.S))


async def test_each_base_model_shows_its_quants_by_bits_with_the_answer(store: Store) -> None:
    base = add_submission(store, "Base", "Smol-135M", "BF16", 16.0, baseline=True)
    q8 = add_submission(store, "Eight <img src=x onerror=alert(1)>", "smol 135m", "Q8_0", 8.5)
    q2 = add_submission(store, "Two", "Smol-135M", "Q2_K", 2.6)
    other = add_submission(store, "Lone", "Other-7B", "Q4_0", 4.5)
    for seed in (1, 2, 3):
        await play(store, seed, base, "HHHHHH", q2, "TTTHHH", {})
        await play(store, seed, base, "HHHHHH", q8, "HHHHHH", {})
    add_probe(store, base, "speed", "done", {"tg_tps_mean": 20.0, "tg_tps_sd": 1.0})
    add_probe(store, q2, "speed", "done", {"tg_tps_mean": 50.0, "tg_tps_sd": 2.0})
    rows = leaderboard_rows(store)
    html = answer_cards(rows)
    text = visible(html)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert text.index("Other-7B") < text.index("Smol-135M")  # models by name, not by key
    order = [int(n) for n in re.findall(r'data-submission="(\d+)"', html)]
    assert order == [other, base, q8, q2]  # the baseline first, then the most bits
    assert "degraded" in text and "2.50× baseline (50.0 tok/s)" in text
    assert "baseline: BF16, #" in text and "The reference" in text
    assert "No baseline for this model yet" in text
    by_id = {r.submission_id: r for r in rows}
    line = reading(by_id[q2])
    assert line.startswith("Worse than its baseline on 18 paired puzzles (9 solved only by")
    assert "It solved 50 % as many of the same puzzles (95 % interval" in line
    assert "Too early to tell" in reading(by_id[q8]) or "As good" in reading(by_id[q8])
    headers = re.findall(r'<th title="([^"]+)">([^<]+)</th>', html)
    assert len(headers) == 2 * 5  # every header of both cards explains itself on hover
    assert all(len(help_text) > 40 and "McNemar" not in help_text for help_text, _ in headers)


def test_empty_and_early_states_say_what_happens_next(store: Store) -> None:
    assert "No results yet" in answer_cards([])
    add_submission(store, "Claim", "Smol", "BF16", 16.0, baseline=True, review="pending")
    cand = add_submission(store, "Cand", "Smol", "Q4_0", 4.5)
    rows = {r.submission_id: r for r in leaderboard_rows(store)}
    assert "has not played its baseline" in reading(rows[cand])
    assert "(provisional)" in visible(answer_cards(rows.values()))
    add_submission(store, "Rival", "Smol", "BF16", 16.0, baseline=True, review="pending")
    rows = {r.submission_id: r for r in leaderboard_rows(store)}
    assert "no verdict until the operator" in reading(rows[cand])


async def test_a_missing_retention_says_why(store: Store) -> None:
    base = add_submission(store, "Base", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "Cand", "Smol", "Q2_K", 2.6)
    await play(store, 1, base, "TTTTTT", cand, "TTTTTT", {})  # the baseline solved nothing
    html = answer_cards(leaderboard_rows(store))
    row = html[html.index(f'data-submission="{cand}"') :]
    text = visible(row[: row.index("</tr>")])
    assert "the baseline solved none of the paired puzzles" in text and "n/a" not in text


def test_a_verdict_from_solo_runs_says_so() -> None:
    """The demo's first verdicts come from solo runs: the line says where it was counted."""
    row = board_row(2, "Q2_K", 5.25, kind="degraded")
    assert row.verdict is not None
    counted = row.verdict.model_copy(update={"source": "solo runs"})
    solo = row.model_copy(update={"verdict": counted})
    assert reading(solo).startswith("Worse than its baseline") and SOLO_RUNS in reading(solo)
    assert SOLO_RUNS not in reading(row)
