"""Every write that changes a board raises its base model's version (triggers of migration
m009), and writes that change none leave the versions alone."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable

from arena.analysis import calibration_store
from arena.analysis._calibration import CalibrationConfig
from arena.board import GLOBAL_KEY, read_versions
from arena.engine import Store
from arena.engine._migrations import BOARD_IGNORED_SUBMISSION_COLUMNS, BOARD_SUBMISSION_COLUMNS
from tests.arena.analysis.test_leaderboard import add_submission
from tests.arena.board._writes import (
    add_probe,
    finish_match,
    finished_match,
    play_rooms,
    set_submission_status,
    start_match,
)


def test_every_submissions_column_is_shown_on_the_board_or_declared_ignored(store: Store) -> None:
    columns = {r["name"] for r in store.query("SELECT name FROM pragma_table_info('submissions')")}
    shown, ignored = set(BOARD_SUBMISSION_COLUMNS), set(BOARD_IGNORED_SUBMISSION_COLUMNS)
    assert not shown & ignored
    assert columns == shown | ignored, "a new submissions column: does a board show it?"


def test_a_flaky_endpoints_failure_count_moves_no_board(store: Store) -> None:
    sid = add_submission(store, "B", "Alpha", "BF16", 16, baseline=True)
    bump = "UPDATE submissions SET consecutive_failures = consecutive_failures + 1 WHERE id = ?"
    assert moved(store, lambda: store.write(lambda db: db.execute(bump, (sid,)))) == set()


def moved(store: Store, write: Callable[[], object]) -> set[str]:
    """The keys whose version the write raised."""
    before = read_versions(store)
    write()
    after = read_versions(store)
    return {k for k in after if after[k] != before.get(k)}


def test_each_kind_of_write_raises_the_versions_of_its_base_models(store: Store) -> None:
    rng = random.Random(1)
    assert moved(store, lambda: add_submission(store, "B", "Alpha", "BF16", 16, baseline=True)) == {
        "alpha"
    }
    base = 1
    cand = add_submission(store, "C", "Alpha", "Q4_0", 4.5)
    other = add_submission(store, "O", "Beta", "BF16", 16, baseline=True)
    assert moved(store, lambda: set_submission_status(store, cand, "paused")) == {"alpha"}
    assert moved(store, lambda: set_submission_status(store, cand, "active")) == {"alpha"}

    # A running match and its rooms change no board; finishing it does.
    match_id = start_match(store, base, cand, seed=3)
    assert moved(store, lambda: play_rooms(store, match_id, rng)) == set()
    assert moved(store, lambda: finish_match(store, match_id)) == {"alpha"}
    # Failed matches count nowhere: no version moves for them.
    failed = start_match(store, base, cand, seed=4)
    assert moved(store, lambda: finish_match(store, failed, "failed")) == set()
    # Corrections of a finished match's rows, and deleting it, move its base model.
    fix = "UPDATE rooms_played SET escaped = 1 - escaped WHERE match_id = ? AND room_index = 0"
    assert moved(store, lambda: store.write(lambda db: db.execute(fix, (match_id,)))) == {"alpha"}
    tokens = "UPDATE calls SET completion_tokens = 7 WHERE match_id = ?"
    assert moved(store, lambda: store.write(lambda db: db.execute(tokens, (match_id,)))) == {
        "alpha"
    }
    solo = finished_match(store, other, None, seed=5, rng=rng)

    def unlink(db: sqlite3.Connection) -> None:
        db.execute(
            "UPDATE contestants SET submission_id = NULL WHERE id = "
            "(SELECT contestant_a FROM matches WHERE id = ?)",
            (solo,),
        )

    assert moved(store, lambda: store.write(unlink)) == {"beta"}
    assert moved(store, lambda: add_probe(store, cand, "kl", base, 0.1)) == {"alpha"}
    assert moved(
        store,
        lambda: calibration_store.get_or_create(
            store, "beta", "greedy", other, CalibrationConfig()
        ),
    ) == {"beta"}

    def import_row(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO reference_entries (base_model, base_model_key, quant, bits_per_weight, "
            "file_size_gb, hardware, engine, created_at) "
            "VALUES ('Gamma', 'gamma', 'Q4_0', 4.5, NULL, '', '', '2026-01-01')"
        )

    assert moved(store, lambda: store.write(import_row)) == {GLOBAL_KEY}
    assert moved(store, lambda: set_submission_status(store, other, "deleted")) == {"beta"}
