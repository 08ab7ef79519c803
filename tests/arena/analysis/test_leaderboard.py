"""The leaderboard over a database of scripted matches: exact statistics computed by hand."""

from __future__ import annotations

import json
import math
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from arena.analysis import _calibration_store as calibration_store
from arena.analysis._bootstrap import mean_ci
from arena.analysis._calibration import CalibrationConfig, CalibrationResult, NoSignal
from arena.analysis._chart_data import (
    ROOM_QUALITY_COLUMNS,
    ChartPoint,
    chart_points,
    pareto_frontier,
    room_quality,
)
from arena.analysis._filters import QUANT_FAMILIES, filter_rows, quant_family
from arena.analysis._leaderboard import (
    NOTE_BASELINE,
    NOTE_BASELINE_ESCAPED_NOTHING,
    NOTE_NO_BASELINE,
    NOTE_NO_PAIRS,
    LeaderboardRow,
    leaderboard_rows,
)
from arena.analysis._ratings import ratings
from arena.analysis._stats import Pair, wilson_interval
from arena.analysis._verdicts import verdict
from arena.client import ChatResult
from arena.client._errors import ConnectFailed
from arena.engine._match import play_match
from arena.engine._migrations import now
from arena.engine._models import AdversarialMode, ContestantSpec, MatchSettings, MatchSpec
from arena.engine._store import Store
from arena.schedule._jobs import JobQueue
from arena.views._columns import ALL_COLUMNS, COLUMNS, DEFAULT_COLUMNS, format_ci, leaderboard_frame
from rooms import ROOM_ORDER, load_rooms
from submissions.models import QUANT_LABELS, display_text

ROOMS = list(load_rooms().values())
LEVEL = 1
LATENCY_S = 40.0
"""Reported by the fake for every call: over every room's par, so no under-par points."""
TTFT_S = 8.0

# Scripted room outcomes: the actions of (initial, adversarial[, retry]) and their points.
CODES: dict[str, list[str]] = {
    "H": ["right", "right"],  # held ground: 10 + 5
    "h": ["right!", "right"],  # held ground, first answer cut by the token cap
    "M": ["right", "wrong", "wrong"],  # manipulated, retry fails, escaped: 10 - 8 - 2
    "S": ["wrong", "right"],  # self-corrected: 10 + 3
    "T": ["wrong", "wrong", "wrong"],  # trapped, retry fails: -2
    "R": ["wrong", "wrong", "right"],  # trapped, escaped on the retry: 10 - 2
    "F": ["error", "wrong", "wrong"],  # forfeit (endpoint error), retry fails: -2
}


class Fake:
    """A scripted endpoint: 'right' (the reference reply), 'wrong' (the house bluff), either with
    '!' (cut by the token cap), or 'error'. Every answer reports the same tokens and timings."""

    def __init__(self, codes: str, seed: int, tokens: int) -> None:
        self.actions = deque(action for code in codes for action in CODES[code])
        self.puzzles = [room.generate(seed, LEVEL) for room in ROOMS]
        self.tokens = tokens

    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult:
        action = self.actions.popleft()
        if action == "error":
            raise ConnectFailed("scripted outage", endpoint="http://127.0.0.1:9/v1")
        users = [m["content"] for m in messages if m["role"] == "user"]
        index = max(i for i, p in enumerate(self.puzzles) if any(p.prompt in u for u in users))
        room, puzzle = ROOMS[index], self.puzzles[index]
        right = action.startswith("right")
        return ChatResult(
            text=room.reference_reply(puzzle) if right else room.bluff(puzzle),
            reasoning=None,
            finish_reason="length" if action.endswith("!") else "stop",
            prompt_tokens=100,
            completion_tokens=self.tokens,
            reasoning_tokens=None,
            usage_source="server",
            ttft_s=TTFT_S,
            latency_s=LATENCY_S,
            decode_tps=self.tokens / (LATENCY_S - TTFT_S),
            attempts=1,
            server_timings=None,
            model=model,
        )


def add_submission(
    store: Store,
    name: str,
    base_model: str,
    quant: str,
    bits: float,
    *,
    baseline: bool = False,
    size_gb: float | None = None,
    hardware: str = "RTX 4090",
    engine: str = "llama.cpp",
    status: str = "active",
    reason: str | None = None,
    review: str | None = None,
) -> int:
    """Insert a submission row directly (every NOT NULL column filled; a baseline without a
    ``review`` counts as confirmed)."""
    key = base_model.casefold().replace(" ", "-")
    stamp = now()

    def run(db: sqlite3.Connection) -> int:
        (count,) = db.execute("SELECT COUNT(*) FROM submissions").fetchone()
        cursor = db.execute(
            "INSERT INTO submissions (display_name, base_model, base_model_key, quant, "
            "bits_per_weight, file_size_gb, hardware, engine, base_url, model, sampling, "
            "settings_class, is_baseline, status, status_reason, deletion_token_hash, "
            "client_hash, probe, created_at, updated_at, baseline_review) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                base_model,
                key,
                quant,
                bits,
                size_gb,
                hardware,
                engine,
                f"http://127.0.0.1:{9000 + count}/v1",
                "m",
                json.dumps({"temperature": 0}),
                "greedy",
                int(baseline),
                status,
                reason,
                "hash",
                "client",
                "{}",
                stamp,
                stamp,
                review,
            ),
        )
        return int(cursor.lastrowid or 0)

    return store.write(run)


def contestant(submission_id: int | None, port: int = 1) -> ContestantSpec:
    return ContestantSpec(
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        base_model="Smol-135M",
        quant="Q8_0",
        submission_id=submission_id,
    )


async def play(
    store: Store,
    seed: int,
    a: int | None,
    a_codes: str,
    b: int | None,
    b_codes: str,
    tokens: dict[int | None, int],
) -> str:
    """Play one opponent-mode match (one retry) between two submissions; return its id."""
    spec = MatchSpec(
        a=contestant(a, 1),
        b=contestant(b, 2),
        settings=MatchSettings(seed=seed, difficulty=LEVEL, retries=1),
    )
    endpoints = {
        "a": Fake(a_codes, seed, tokens.get(a, 32)),
        "b": Fake(b_codes, seed, tokens.get(b, 32)),
    }
    result = await play_match(spec, store, endpoints=endpoints)  # type: ignore[arg-type]
    assert result.status == "done"
    return result.match_id


def set_status(store: Store, match_id: str, status: str) -> None:
    store.write(
        lambda db: db.execute("UPDATE matches SET status = ? WHERE id = ?", (status, match_id))
    )


class Board:
    """The ids of the module's database."""

    B, C, D, G, Z0, Z1, O1, O2 = range(1, 9)


@pytest.fixture(scope="module")
async def board(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Store]:
    """Smol-135M: baseline B, candidate C (3 paired matches), candidate D (no match), G (deleted).
    Zero-1B: baseline Z0 escapes nothing against Z1. Other-7B: O1 vs O2, no baseline. Plus
    failed, interrupted, running and unscheduled matches that must not count."""
    path = tmp_path_factory.mktemp("board") / "arena.sqlite3"
    with Store(path) as store:
        ids = [
            add_submission(
                store,
                "Smol BF16",
                "Smol-135M",
                "BF16",
                16.0,
                baseline=True,
                size_gb=0.27,
                hardware="RTX 4090",
            ),
            add_submission(
                store,
                "Smol <b>Q4</b>",
                "Smol-135M",
                "Q4_K_M",
                4.8,
                size_gb=0.1,
                hardware="DGX Spark",
                engine="vLLM",
            ),
            add_submission(
                store,
                "Smol Q2",
                "Smol 135M",
                "Q2_K",
                2.6,
                hardware="CPU 8 GB",
                status="paused",
                reason="endpoint http://10.0.0.5:8080/v1 died",
            ),
            add_submission(
                store, "Smol Q3 (deleted)", "Smol-135M", "Q3_K_M", 3.9, status="deleted"
            ),
            add_submission(store, "Zero BF16", "Zero-1B", "BF16", 16.0, baseline=True),
            add_submission(store, "Zero Q4", "Zero-1B", "Q4_K_M", 4.8),
            add_submission(store, "Other Q8", "Other-7B", "Q8_0", 8.5, size_gb=7.2),
            add_submission(store, "Other Q4", "Other-7B", "Q4_0", 4.5, size_gb=3.9),
        ]
        assert ids == list(range(1, 9))
        tokens = {Board.B: 96, Board.C: 64}
        await play(store, 1, Board.B, "HHHHHH", Board.C, "hMSTRH", tokens)
        await play(store, 2, Board.C, "TTTTTH", Board.B, "HHHTTT", tokens)
        await play(store, 3, Board.B, "HHHHHT", Board.C, "SSHhTF", tokens)
        # never counted: C wins everything in them
        for status in ("failed", "interrupted"):
            match_id = await play(store, 9, Board.C, "HHHHHH", Board.B, "TTTTTT", tokens)
            set_status(store, match_id, status)
        settings = MatchSettings(seed=10, adversarial=AdversarialMode.OPPONENT)
        puzzles = [room.generate(10, LEVEL) for room in ROOMS]
        running = {"a": contestant(Board.C), "b": contestant(Board.B, 2)}
        await store.start_match(settings, running, puzzles)  # type: ignore[arg-type]
        await play(store, 11, None, "HHHHHH", None, "HHHHHH", tokens)  # a CLI match
        await play(store, 4, Board.Z0, "TTTTTT", Board.Z1, "HHTTTT", tokens)
        await play(store, 5, Board.O1, "HHHHHH", Board.O2, "HTTTTT", tokens)
        yield store


@pytest.fixture(scope="module")
def rows(board: Store) -> list[LeaderboardRow]:
    return leaderboard_rows(board)


def by_id(rows: Iterable[LeaderboardRow], submission_id: int) -> LeaderboardRow:
    return next(r for r in rows if r.submission_id == submission_id)


# -- empty and match-less ------------------------------------------------------------------------
def test_empty_store(store: Store) -> None:
    assert leaderboard_rows(store) == []
    frame = leaderboard_frame([])
    assert list(frame.columns) == list(DEFAULT_COLUMNS) and frame.empty
    assert list(leaderboard_frame([], ALL_COLUMNS).columns) == list(ALL_COLUMNS)
    assert chart_points([]) == [] and pareto_frontier([]) == []
    quality = room_quality(store)
    assert quality.empty and list(quality.columns) == list(ROOM_QUALITY_COLUMNS)


def test_submissions_without_matches(store: Store) -> None:
    baseline = add_submission(store, "Base", "Qwen3-4B", "BF16", 16.0, baseline=True)
    quant = add_submission(store, "Quant", "Qwen3-4B", "Q4_K_M", 4.8)
    orphan = add_submission(store, "Alone", "Llama-3-8B", "Q8_0", 8.5)
    rows = leaderboard_rows(store)
    assert [r.submission_id for r in rows] == [orphan, baseline, quant]
    for row in rows:
        assert row.matches == row.rooms_played == row.calls == row.challenged_n == 0
        assert row.mean_escaped is row.mean_escaped_ci is row.mean_score is None
        assert row.decode_tps is row.ttft_median_s is row.time_to_solution_median_s is None
        assert row.held_ground_rate is row.manipulated_rate is None
        assert row.cap_hit_rate is row.cap_hit_ci is None
    assert by_id(rows, baseline).retention_pct == 100.0
    assert by_id(rows, baseline).retention_note == NOTE_BASELINE
    assert by_id(rows, quant).retention_pct is None
    assert by_id(rows, quant).retention_note == NOTE_NO_PAIRS
    assert by_id(rows, orphan).retention_note == NOTE_NO_BASELINE
    frame = leaderboard_frame(rows)
    assert len(frame) == 3 and frame["matches"].tolist() == [0, 0, 0]
    assert frame["decode tok/s"].tolist() == [None, None, None]


# -- the scripted database -----------------------------------------------------------------------
def test_rows_order_and_deleted_hidden(rows: list[LeaderboardRow]) -> None:
    # other-7b < smol-135m < zero-1b; baseline first, then mean score (no score last)
    assert [r.submission_id for r in rows] == [
        Board.O1,
        Board.O2,
        Board.B,
        Board.C,
        Board.D,
        Board.Z0,
        Board.Z1,
    ]
    assert Board.G not in {r.submission_id for r in rows}


def test_candidate_statistics_are_exact(rows: list[LeaderboardRow]) -> None:
    c = by_id(rows, Board.C)
    assert c.matches == 3 and c.rooms_played == 18
    assert c.mean_escaped == pytest.approx((5 + 1 + 4) / 3)
    assert c.mean_score == pytest.approx((49 + 5 + 52) / 3)
    # first answers on the 18 paired puzzles: the baseline solved 6 + 3 + 5, C 3 + 1 + 2
    assert c.retention_pct == pytest.approx(100 * 6 / 14, abs=0.005)
    assert c.retention_n == 18 and c.retention_note is None
    assert c.verdict is not None and (c.verdict.b, c.verdict.c) == (9, 1)
    # 17 challenged rooms (one forfeit): 5 held ground, 1 manipulated
    assert c.challenged_n == 17
    assert c.held_ground_rate == pytest.approx(5 / 17)
    assert c.manipulated_rate == pytest.approx(1 / 17)
    # 46 calls, one endpoint error: 45 answered, 2 cut by the cap
    assert c.calls == 45
    assert c.cap_hit_rate == pytest.approx(2 / 45)
    wilson = binomtest(2, 45).proportion_ci(method="wilson")
    assert c.cap_hit_ci == pytest.approx((wilson.low, wilson.high))
    assert c.decode_tps == pytest.approx(64 / (LATENCY_S - TTFT_S))  # 2.0
    assert c.ttft_median_s == TTFT_S
    # escaped rooms' times: six at 40 s, three at 80 s, one at 120 s
    assert c.time_to_solution_median_s == pytest.approx(40.0)
    # and their tokens to the solve (64 per call): six rooms at 64, three at 128, one at 192
    assert c.tokens_per_solved_room == pytest.approx((6 * 64 + 3 * 128 + 192) / 10)
    assert c.reasoning_share is None  # no call reported reasoning tokens
    assert (c.quant, c.hardware, c.engine, c.file_size_gb) == ("Q4_K_M", "DGX Spark", "vLLM", 0.1)
    assert c.display_name == "Smol <b>Q4</b>" and c.status == "active"


def test_baseline_statistics_are_exact(rows: list[LeaderboardRow]) -> None:
    b = by_id(rows, Board.B)
    assert b.is_baseline and b.matches == 3 and b.rooms_played == 18
    assert b.mean_escaped == pytest.approx((6 + 3 + 5) / 3)
    assert b.mean_score == pytest.approx((90 + 39 + 73) / 3)
    assert (b.retention_pct, b.retention_ci, b.retention_n) == (100.0, None, 3)
    assert b.retention_note == NOTE_BASELINE
    assert b.challenged_n == 18 and b.held_ground_rate == pytest.approx(14 / 18)
    assert b.manipulated_rate == 0.0
    assert b.calls == 12 + 15 + 13 and b.cap_hit_rate == 0.0
    wilson = binomtest(0, 40).proportion_ci(method="wilson")
    assert b.cap_hit_ci == pytest.approx((wilson.low, wilson.high))
    assert b.decode_tps == pytest.approx(96 / (LATENCY_S - TTFT_S))  # 3.0
    assert b.time_to_solution_median_s == pytest.approx(40.0)


def test_intervals_contain_the_estimate_and_are_deterministic(
    board: Store, rows: list[LeaderboardRow]
) -> None:
    c = by_id(rows, Board.C)
    for value, ci in (
        (c.mean_escaped, c.mean_escaped_ci),
        (c.mean_score, c.mean_score_ci),
        (c.retention_pct, c.retention_ci),
        (c.cap_hit_rate, c.cap_hit_ci),
    ):
        assert value is not None and ci is not None
        assert ci[0] <= value <= ci[1]
    assert c.mean_escaped_ci is not None and c.mean_score_ci is not None
    assert c.mean_escaped_ci[0] >= 1.0 and c.mean_escaped_ci[1] <= 5.0  # within the data
    assert c.mean_score_ci[0] >= 5.0 and c.mean_score_ci[1] <= 52.0
    # the bootstrap's range (between the per-seed ratios, 1/3 .. 1/2) is contained, widened
    # to what three seeds can support, within what is possible
    assert c.retention_ci is not None
    assert 0.0 <= c.retention_ci[0] <= 100 / 3 and c.retention_ci[1] >= 50
    assert leaderboard_rows(board) == rows


def test_retention_missing_with_the_reason(rows: list[LeaderboardRow]) -> None:
    z1 = by_id(rows, Board.Z1)
    assert z1.retention_pct is None and z1.retention_ci is None
    assert (z1.retention_n, z1.retention_note) == (6, NOTE_BASELINE_ESCAPED_NOTHING)
    assert z1.mean_escaped == 2.0 and z1.mean_escaped_ci is None  # one match: no interval
    assert by_id(rows, Board.Z0).retention_note == NOTE_BASELINE
    for other in (Board.O1, Board.O2):
        row = by_id(rows, other)
        assert row.retention_pct is None and row.retention_note == NOTE_NO_BASELINE
        assert row.matches == 1
    d = by_id(rows, Board.D)
    assert (d.matches, d.retention_pct, d.retention_note) == (0, None, NOTE_NO_PAIRS)


def test_unfinished_and_unscheduled_matches_do_not_count(
    board: Store, rows: list[LeaderboardRow]
) -> None:
    statuses = board.query("SELECT status, COUNT(*) AS n FROM matches GROUP BY status")
    assert {r["status"]: r["n"] for r in statuses} == {
        "done": 6,
        "failed": 1,
        "interrupted": 1,
        "running": 1,
    }
    assert sum(r.matches for r in rows) == 2 * 5  # 5 done matches between submissions


def test_paused_reason_hides_the_endpoint(rows: list[LeaderboardRow]) -> None:
    d = by_id(rows, Board.D)
    assert d.status == "paused"
    assert d.status_reason == "endpoint <endpoint> died"


def test_interval_helpers() -> None:
    assert mean_ci([]) is None and mean_ci([3.0]) is None
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    ci = mean_ci([0.0, 10.0, 5.0, 5.0])
    assert ci is not None and 0.0 <= ci[0] <= 5.0 <= ci[1] <= 10.0
    assert mean_ci([0.0, 10.0, 5.0, 5.0]) == ci
    assert mean_ci(list(range(3000))) is not None  # chunked resampling
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(5, 10) or (0, 0)
    # by hand: centre 0.5, half = z * sqrt(0.025 + z^2/400) / (1 + z^2/10)
    z = 1.959963984540054
    half = z * math.sqrt(0.025 + z * z / 400) / (1 + z * z / 10)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half))
    assert format_ci(83.333, (61.04, 100.0)) == "83.3 [61.0, 100.0]"
    assert format_ci(None, None) is None and format_ci(2.0, None, 2) == "2.00"


# -- the display frame ---------------------------------------------------------------------------
def test_frame_cells(rows: list[LeaderboardRow]) -> None:
    frame = leaderboard_frame(rows, ALL_COLUMNS).set_index("id")
    c, b, d = frame.loc[Board.C], frame.loc[Board.B], frame.loc[Board.D]
    ci = by_id(rows, Board.C).retention_ci
    assert ci is not None
    assert c["retention % [95% CI]"] == f"42.9 [{ci[0]:.1f}, {ci[1]:.1f}]"
    assert b["retention % [95% CI]"] == "100.0 (baseline)"
    assert d["retention % [95% CI]"] == f"n/a ({NOTE_NO_PAIRS})"
    assert c["escaped/match [95% CI]"].startswith("3.33 [")
    assert c["score/match [95% CI]"].startswith("35.3 [")
    assert (c["held ground %"], c["manipulated %"]) == (29.4, 5.9)
    assert (c["decode tok/s"], b["decode tok/s"]) == (2.0, 3.0)
    assert c["cap hit % [95% CI]"].startswith("4.4 [")
    assert (c["matches"], c["calls"], c["paired puzzles"], c["challenged rooms"]) == (3, 45, 18, 17)
    # C cut 2 of 45 answers, B none of 40: not significant (Fisher exact, two-sided)
    assert c["truncation canary"] == "4.4 % vs 0.0 % (p=0.496)"
    assert b["A/A floor"] == "no repeated puzzles yet" and c["KL / top-1"] == ""
    assert (c["bits/weight"], c["size GB"], b["baseline"], c["baseline"]) == (4.8, 0.1, "yes", "")
    assert d["status"] == "paused: endpoint <endpoint> died"
    assert d["decode tok/s"] is None and d["escaped/match [95% CI]"] is None
    # submitter text stays plain in a plain-text table (the browser escapes it)
    assert c["name"] == "Smol <b>Q4</b>"


def test_frame_for_markdown_escapes_submitter_text(rows: list[LeaderboardRow]) -> None:
    frame = leaderboard_frame([by_id(rows, Board.C)], ["name", "quant"], markdown=True)
    assert frame.loc[0, "name"] == display_text("Smol <b>Q4</b>")
    assert "<b>" not in frame.loc[0, "name"] and frame.loc[0, "quant"] == "Q4_K_M"


def test_frame_columns_follow_the_column_table(rows: list[LeaderboardRow]) -> None:
    assert list(leaderboard_frame(rows, ["quant", "name"]).columns) == ["name", "quant"]
    assert set(DEFAULT_COLUMNS) < set(ALL_COLUMNS) and len(ALL_COLUMNS) == len(set(ALL_COLUMNS))
    assert tuple(c.name for c in COLUMNS) == ALL_COLUMNS
    assert {"base model", "quant", "bits/weight", "retention % [95% CI]", "decode tok/s"} <= set(
        DEFAULT_COLUMNS
    )
    with pytest.raises(ValueError, match="unknown leaderboard column"):
        leaderboard_frame(rows, ["nope"])
    assert isinstance(leaderboard_frame(rows), pd.DataFrame)


# -- calibration and profiles --------------------------------------------------------------------
CALIBRATED = dict(zip(ROOM_ORDER, (4, 2, 3, 0, 1, 2), strict=True))
"""The profile the calibration below chooses (Archive at level 0: no signal)."""
SILENT = NoSignal(
    room_id=ROOM_ORDER[3],
    level=0,
    solved=0,
    played=4,
    reason="no signal for this model: solved 0 of 4 at level 0 (the easiest)",
)


def calibrated_result() -> CalibrationResult:
    """Nine runs: 3 of 5 solved at the chosen level of every room but Archive (0 of 4)."""
    rates = {room: {str(lvl): [3, 5], str(lvl + 1): [1, 4]} for room, lvl in CALIBRATED.items()}
    rates[SILENT.room_id] = {"0": [0, 4]}
    return CalibrationResult(
        profile=CALIBRATED,
        solve_rates=rates,
        dead_rooms=[SILENT.room_id],
        no_signal=[SILENT],
        target=0.6,
        runs=9,
    )


async def calibration_run(store: Store, calibration: int, submission_id: int, index: int) -> str:
    """Run ``index`` of a calibration as the scheduler plays it: the baseline solo (house bluff),
    ``purpose = 'calibration'``, linked to a finished queue job naming the calibration. The
    baseline solves every room."""
    seed = 100 + index
    payload = {
        "kind": "calibrate",
        "a": submission_id,
        "calibration": calibration,
        "round": index,
        "seed": seed,
    }
    job = JobQueue(store).enqueue(f"calibrate:{calibration}:run{index}", payload)
    settings = MatchSettings(
        seed=seed,
        difficulty=LEVEL,
        retries=1,
        adversarial=AdversarialMode.BLUFF,
        purpose="calibration",
    )
    spec = MatchSpec(a=contestant(submission_id), settings=settings, job_id=job)
    result = await play_match(spec, store, endpoints={"a": Fake("HHHHHH", seed, 32)})  # type: ignore[dict-item]
    store.write(lambda db: db.execute("UPDATE job_queue SET status = 'done' WHERE id = ?", (job,)))
    return result.match_id


def calibrated_group(store: Store) -> tuple[int, int, int]:
    """Cal-1B: a baseline, a candidate, and a candidate of another sampling class (another
    group: the baseline's calibration is not its own)."""
    base = add_submission(store, "Cal BF16", "Cal-1B", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "Cal Q4", "Cal-1B", "Q4_K_M", 4.8)
    odd = add_submission(store, "Cal Q8 hot", "Cal-1B", "Q8_0", 8.5)
    store.write(
        lambda db: db.execute("UPDATE submissions SET settings_class = 'hot' WHERE id = ?", (odd,))
    )
    return base, cand, odd


async def test_a_calibrated_group_shows_its_profile_solve_rates_and_silent_rooms(
    store: Store,
) -> None:
    base, cand, odd = calibrated_group(store)
    config = CalibrationConfig(runs=9)
    record = calibration_store.get_or_create(store, "cal-1b", "greedy", base, config)
    await calibration_run(store, record.id, base, 0)
    rows = leaderboard_rows(store)
    for row in (by_id(rows, base), by_id(rows, cand)):
        assert row.calibration is not None and row.profile is None
        assert (row.calibration.status, row.calibration.runs_played) == ("running", 1)
    assert by_id(rows, odd).calibration is None
    frame = leaderboard_frame(rows, ALL_COLUMNS).set_index("id")
    assert frame.loc[cand, "difficulty profile"] == "calibrating: 1 of 9 runs"
    assert frame.loc[base, "baseline solve rate at the profile"] == ""
    assert frame.loc[base, "no-signal rooms"] == ""

    calibration_store.finish(store, record.id, calibrated_result())
    await play(store, 1, base, "HHHHHH", cand, "HTHHHH", {})  # a measurement at level 1
    rows = leaderboard_rows(store)
    found = by_id(rows, cand).calibration
    assert found is not None and found == by_id(rows, base).calibration
    assert (found.status, found.runs_played, found.profile) == ("done", 9, CALIBRATED)
    assert found.chosen_rates[ROOM_ORDER[0]] == [3, 5] and found.no_signal == {
        SILENT.room_id: SILENT.reason
    }
    described = "Cipher 4 · Map 2 · Mechanism 3 · Archive 0 · Paradox 1 · Warden 2"
    assert by_id(rows, cand).profile == by_id(rows, base).profile == described
    frame = leaderboard_frame(rows, ALL_COLUMNS).set_index("id")
    for who in (base, cand):
        assert frame.loc[who, "difficulty profile"] == described
        assert frame.loc[who, "baseline solve rate at the profile"] == (
            "Cipher 60 % (3/5) · Map 60 % (3/5) · Mechanism 60 % (3/5) · Archive 0 % (0/4) · "
            "Paradox 60 % (3/5) · Warden 60 % (3/5)"
        )
        assert frame.loc[who, "no-signal rooms"] == (
            "Archive: solved 0 of 4 at level 0 (the easiest)"
        )
    # the other sampling class is not calibrated; without pairs it has no profile either
    assert (frame.loc[odd, "difficulty profile"], frame.loc[odd, "no-signal rooms"]) == ("", "")
    assert {"difficulty profile", "no-signal rooms"} <= set(DEFAULT_COLUMNS)


async def test_a_group_without_calibration_shows_the_profile_of_its_pairs(store: Store) -> None:
    base, cand, _ = calibrated_group(store)
    await play(store, 1, base, "HHHHHH", cand, "HTHHHH", {})
    row = by_id(leaderboard_rows(store), cand)
    assert row.calibration is None and row.profile == "every room at level 1"
    frame = leaderboard_frame([row], ["difficulty profile", "baseline solve rate at the profile"])
    assert frame.iloc[0].tolist() == ["every room at level 1", ""]


async def test_calibration_runs_never_count_on_the_leaderboard(store: Store) -> None:
    base, cand, _ = calibrated_group(store)
    record = calibration_store.get_or_create(store, "cal-1b", "greedy", base, CalibrationConfig())
    for index in range(3):  # the baseline escapes every room of its calibration runs
        await calibration_run(store, record.id, base, index)
    await play(store, 1, base, "TTTTTT", cand, "HHHHHH", {})  # and none when measured
    assert store.query("SELECT COUNT(*) AS n FROM matches WHERE purpose = 'calibration'") == [
        {"n": 3}
    ]
    rows = leaderboard_rows(store)
    b = by_id(rows, base)
    assert (b.matches, b.rooms_played, b.calls, b.challenged_n) == (1, 6, 18, 6)
    assert (b.mean_escaped, b.mean_score, b.held_ground_rate) == (0.0, -12.0, 0.0)
    assert b.time_to_solution_median_s is None and b.retention_n == 1
    assert b.aa_floor is not None and b.aa_floor.n == 0  # runs are no A/A repeats either
    assert b.calibration is not None and b.calibration.runs_played == 3
    c = by_id(rows, cand)
    assert c.verdict is not None and (c.verdict.n_pairs, c.verdict.b, c.verdict.c) == (6, 0, 6)
    quality = room_quality(store)
    assert set(quality[quality["submission_id"] == base]["n"]) == {1}
    assert set(quality[quality["submission_id"] == base]["escape_rate"]) == {0.0}
    assert sum(r.wins + r.losses + r.ties for r in ratings(store)) == 2  # one game, two sides


def test_the_equivalent_verdict_has_its_badge(rows: list[LeaderboardRow]) -> None:
    agreeing = [Pair(s // 6, ROOM_ORDER[s % 6], s % 2 == 0, s % 2 == 0) for s in range(600)]
    found = verdict(agreeing, margin=0.05)
    assert found.kind == "equivalent" and found.decided
    row = by_id(rows, Board.C).model_copy(update={"verdict": found})
    [cell] = leaderboard_frame([row], ["verdict"])["verdict"]
    assert cell == found.label and cell.startswith("equivalent within ±5 pp at n=600: +0.0 pp [")
    assert "equivalent" in next(c.description for c in COLUMNS if c.name == "verdict")


# -- filters -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "family"),
    [
        ("BF16", "16-bit"),
        ("FP16", "16-bit"),
        ("Q8_0", "8-bit"),
        ("FP8", "8-bit"),
        ("INT8", "8-bit"),
        ("Q6_K", "6-bit"),
        ("Q5_K_M", "5-bit"),
        ("Q4_K_M", "4-bit"),
        ("Q4_1", "4-bit"),
        ("Q4_0", "4-bit"),
        ("INT4", "4-bit"),
        ("AWQ", "4-bit"),
        ("GPTQ", "4-bit"),
        ("MXFP4", "4-bit"),
        ("NVFP4", "4-bit"),
        ("Q3_K_M", "3-bit"),
        ("Q2_K", "2-bit"),
        ("other", "other"),
        ("q4_k_m", "4-bit"),
        ("Q5_K_S", "5-bit"),
        ("IQ3_XXS", "3-bit"),
        ("IQ2_XS", "2-bit"),
        ("F32", "other"),
        ("unknown", "other"),
        ("Q4KM", "other"),
    ],
)
def test_quant_family(label: str, family: str) -> None:
    assert quant_family(label) == family


def test_every_form_label_has_a_family() -> None:
    assert {quant_family(label) for label in QUANT_LABELS} == set(QUANT_FAMILIES)


def test_filter_rows(rows: list[LeaderboardRow]) -> None:
    def ids(**filters: Any) -> list[int]:
        return [r.submission_id for r in filter_rows(rows, **filters)]

    assert ids() == [r.submission_id for r in rows]
    assert ids(base_model="smol 135m") == [Board.B, Board.C, Board.D]
    assert ids(base_model="SMOL_135M", quant_family="4-bit") == [Board.C]
    assert ids(quant_family="4-bit") == [Board.O2, Board.C, Board.Z1]
    assert ids(quant_family="16-bit") == [Board.B, Board.Z0]
    assert ids(quant_family="nope") == []
    assert ids(hardware="dgx spark") == [Board.C]
    assert ids(engine="VLLM") == [Board.C]
    assert ids(search="  q4 ") == [Board.O2, Board.C, Board.Z1]
    assert ids(search="cpu") == [Board.D]  # hardware
    assert ids(search="OTHER-7") == [Board.O1, Board.O2]  # base model
    assert ids(search="", base_model=" ", hardware="") == ids()
    assert ids(base_model="Unknown-Model") == []


# -- chart data ----------------------------------------------------------------------------------
def test_chart_points(rows: list[LeaderboardRow]) -> None:
    points = {p.submission_id: p for p in chart_points(rows)}
    assert set(points) == {r.submission_id for r in rows}
    c = points[Board.C]
    assert c.label == "Smol <b>Q4</b>" and c.source == "escape-room"
    assert c.quality_pct == pytest.approx(100 * 6 / 14, abs=0.005) and c.n == 18
    assert c.tps_source == "matches" and c.tps_sd is None  # no speed probe yet
    assert c.decode_tps == pytest.approx(2.0) and c.quality_ci == by_id(rows, Board.C).retention_ci
    assert (c.bits_per_weight, c.file_size_gb, c.base_model_key) == (4.8, 0.1, "smol-135m")
    frontier = pareto_frontier(points.values())
    # B (3.0 tok/s, 100 %) beats C (2.0 tok/s, 71 %) and Z0 (1.0 tok/s, 100 %); Z1, O1, O2 and D
    # have no quality and are left out.
    assert [p.submission_id for p in frontier] == [Board.B]


def point(submission_id: int, x: float | None, y: float | None) -> ChartPoint:
    return ChartPoint(
        submission_id=submission_id,
        label=f"p{submission_id}",
        base_model="M",
        base_model_key="m",
        quant="Q4_K_M",
        bits_per_weight=4.8,
        file_size_gb=None,
        decode_tps=x,
        quality_pct=y,
        quality_ci=None,
        n=1,
        mean_escaped=None,
    )


def frontier_ids(*points: ChartPoint) -> list[int]:
    return [p.submission_id for p in pareto_frontier(points)]


def test_pareto_frontier_removes_dominated_points() -> None:
    assert frontier_ids(point(1, 10, 50), point(2, 20, 40), point(3, 5, 90), point(4, 8, 45)) == [
        3,
        1,
        2,
    ]
    assert frontier_ids(point(1, 10, 50), point(2, 20, 60)) == [2]
    assert frontier_ids(point(1, 30, 100)) == [1]


def test_pareto_frontier_ties_and_missing_values() -> None:
    # equal x: only the best y stays; equal y: only the best x stays
    assert frontier_ids(point(1, 10, 50), point(2, 10, 70)) == [2]
    assert frontier_ids(point(1, 10, 50), point(2, 12, 50)) == [2]
    # exact duplicates do not dominate each other: both stay (by id)
    assert frontier_ids(point(2, 10, 50), point(1, 10, 50), point(3, 5, 40)) == [1, 2]
    # missing values are ignored
    assert frontier_ids(point(1, None, 99), point(2, 10, None), point(3, 1, 1)) == [3]
    assert frontier_ids(point(1, None, None)) == []


def dominates(p: ChartPoint, q: ChartPoint) -> bool:
    assert p.decode_tps is not None and p.quality_pct is not None
    assert q.decode_tps is not None and q.quality_pct is not None
    at_least = p.decode_tps >= q.decode_tps and p.quality_pct >= q.quality_pct
    return at_least and (p.decode_tps, p.quality_pct) != (q.decode_tps, q.quality_pct)


values = st.one_of(st.none(), st.integers(0, 6).map(float))


@given(st.lists(st.tuples(values, values), max_size=12))
def test_pareto_frontier_is_exactly_the_undominated_points(
    coordinates: list[tuple[float | None, float | None]],
) -> None:
    points = [point(i, x, y) for i, (x, y) in enumerate(coordinates)]
    complete = [p for p in points if p.decode_tps is not None and p.quality_pct is not None]
    frontier = pareto_frontier(points)
    expected = {p.submission_id for p in complete if not any(dominates(q, p) for q in complete)}
    assert {p.submission_id for p in frontier} == expected
    xs = [(p.decode_tps, p.quality_pct, p.submission_id) for p in frontier]
    assert xs == sorted(xs)  # type: ignore[type-var]


def test_room_quality(board: Store) -> None:
    frame = room_quality(board)
    assert list(frame.columns) == list(ROOM_QUALITY_COLUMNS)
    assert len(frame) == 6 * 6  # six submissions with matches, six rooms; deleted/unplayed out
    assert Board.G not in set(frame["submission_id"]) and Board.D not in set(frame["submission_id"])
    assert list(dict.fromkeys(frame["room_id"])) == list(ROOM_ORDER)
    c = frame[frame["submission_id"] == Board.C].set_index("room_id")
    thirds = [2, 2, 2, 1, 1, 2]  # rooms escaped by C out of 3 (see the scripts)
    assert c.loc[list(ROOM_ORDER), "escape_rate"].tolist() == pytest.approx([t / 3 for t in thirds])
    assert set(c["n"]) == {3}
    b = frame[frame["submission_id"] == Board.B].set_index("room_id")
    assert b.loc[list(ROOM_ORDER), "escape_rate"].tolist() == pytest.approx(
        [1, 1, 1, 2 / 3, 2 / 3, 1 / 3]
    )
    assert (b["bits_per_weight"].iloc[0], b["file_size_gb"].iloc[0]) == (16.0, 0.27)


async def test_the_share_of_tokens_spent_thinking_and_the_call_totals(store: Store) -> None:
    """The calls are summed in SQL: thinking share, decode speed, cap hits and the median time
    to first token, against values set by hand."""
    sid = add_submission(store, "Thinker", "Think 1B", "Q8_0", 8.5)
    match_id = await play(store, 3, sid, "HHHHHH", None, "HHHHHH", {})
    # (completion, reasoning, error, finish, ttft, latency) of its first five calls; the rest 0.
    calls = [(100, 80, None, "stop", 1.0, 3.0), (50, 10, None, "length", 2.0, 3.0),
             (40, None, None, "stop", 4.0, 5.0), (0, None, "deadline", None, None, None),
             (30, None, None, "stop", None, 2.0)]  # fmt: skip

    def run(db: sqlite3.Connection) -> None:
        ids = [r[0] for r in db.execute(
            "SELECT id FROM calls WHERE match_id = ? AND slot = 'a' ORDER BY seq", (match_id,)
        )]  # fmt: skip
        for call_id in ids:
            db.execute(
                "UPDATE calls SET completion_tokens = 0, reasoning_tokens = NULL, ttft_s = NULL, "
                "latency_s = NULL, finish_reason = 'stop' WHERE id = ?",
                (call_id,),
            )
        for call_id, values in zip(ids, calls, strict=False):
            tokens, thought, error, finish, ttft, latency = values
            db.execute(
                "UPDATE calls SET completion_tokens = ?, reasoning_tokens = ?, error_kind = ?, "
                "finish_reason = ?, ttft_s = ?, latency_s = ? WHERE id = ?",
                (tokens, thought, error, finish, ttft, latency, call_id),
            )

    store.write(run)
    (row,) = leaderboard_rows(store)
    assert row.calls == 12 - 1  # the endpoint error left out
    assert row.reasoning_share == pytest.approx(90 / 220)  # a call without thinking: 0
    assert row.cap_hits == 1 and row.cap_hit_rate == pytest.approx(1 / 11)
    assert row.decode_tps == pytest.approx((100 + 50 + 40) / (2.0 + 1.0 + 1.0))
    assert row.ttft_median_s == pytest.approx(2.0)  # of 1, 2 and 4 (None left out)
    store.write(lambda db: db.execute("UPDATE calls SET reasoning_tokens = NULL"))
    assert leaderboard_rows(store)[0].reasoning_share is None
