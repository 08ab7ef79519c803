"""The shared board: the incremental snapshot always equals one computed from scratch, it agrees
with the analysis functions it stands for, a burst of writes costs one recomputation, and a
failing recomputation keeps the last good board in service with its age shown."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.analysis import (
    contagion,
    leaderboard_rows,
    ratings,
    room_quality,
    sealed_seeds,
    summaries,
)
from arena.board import BoardKeeper, Snapshot, build_snapshot, rest_after
from arena.board import _snapshot as snapshot_module
from arena.engine import Store
from arena.views import pages
from tests.arena.analysis.test_leaderboard import add_submission
from tests.arena.board._writes import (
    add_probe,
    finish_match,
    finished_match,
    play_rooms,
    set_submission_status,
    start_match,
)

MODELS = ("Alpha", "Beta", "Gamma")


class World:
    """A store and the submissions in it, changed by random steps."""

    def __init__(self, store: Store, rng: random.Random) -> None:
        self.store = store
        self.rng = rng
        self.subs: dict[int, str] = {}  # id -> base model
        self.running: list[str] = []
        self.seed = 0

    def live(self, model: str | None = None) -> list[int]:
        rows = self.store.query("SELECT id, base_model FROM submissions WHERE status = 'active'")
        return [r["id"] for r in rows if model is None or r["base_model"] == model]

    def step(self, kind: str, pick: int) -> None:
        model = MODELS[pick % len(MODELS)]
        members = self.live(model)
        self.seed += 1
        if kind == "submit" or len(members) < 2:
            quant, bits = [("BF16", 16.0), ("Q8_0", 8.5), ("Q4_K_M", 4.8), ("Q2_K", 2.6)][pick % 4]
            first = not self.store.query(
                "SELECT 1 FROM submissions WHERE base_model = ? AND is_baseline = 1", (model,)
            )
            sid = add_submission(self.store, f"{model} {quant} {self.seed}", model, quant, bits,
                                 baseline=first and pick % 4 != 3)  # fmt: skip
            self.subs[sid] = model
        elif kind == "match":
            a, b = self.rng.sample(members, 2)
            finished_match(self.store, a, b, self.seed % 5, self.rng)
        elif kind == "solo":
            finished_match(self.store, members[pick % len(members)], None, self.seed % 5, self.rng)
        elif kind == "start":
            a, b = self.rng.sample(members, 2)
            self.running.append(start_match(self.store, a, b, self.seed % 5))
            play_rooms(self.store, self.running[-1], self.rng)
        elif kind == "end" and self.running:
            finish_match(self.store, self.running.pop(0), self.rng.choice(["done", "failed"]))
        elif kind == "probe":
            sid = members[pick % len(members)]
            add_probe(self.store, sid, self.rng.choice(["kl", "speed"]), members[0], pick / 100)
        elif kind == "pause":
            set_submission_status(self.store, members[pick % len(members)], "paused")
        elif kind == "resume":
            paused = self.store.query("SELECT id FROM submissions WHERE status = 'paused'")
            if paused:
                set_submission_status(self.store, paused[0]["id"], "active")
        elif kind == "delete":
            set_submission_status(self.store, members[pick % len(members)], "deleted")


KINDS = ["submit", "match", "match", "solo", "start", "end", "probe", "pause", "resume", "delete"]
STEPS = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 11)), min_size=1, max_size=10)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, seed=st.integers(0, 2**16))
def test_the_incremental_snapshot_equals_one_from_scratch(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]], seed: int
) -> None:
    path = tmp_path_factory.mktemp("board") / "arena.sqlite3"
    with Store(Path(path)) as store:
        world = World(store, random.Random(seed))
        for kind, pick in [("submit", 0), ("submit", 1), ("submit", 3), ("match", 0)]:
            world.step(kind, pick)
        snap = build_snapshot(store)
        for kind, pick in steps:
            world.step(kind, pick)
            snap = build_snapshot(store, snap)  # only the groups whose version moved
        assert snap.content() == build_snapshot(store).content()


async def test_the_snapshot_is_what_the_analysis_functions_say(store: Store) -> None:
    world = World(store, random.Random(5))
    for kind, pick in [("submit", 0), ("submit", 3), ("submit", 1), ("submit", 4),
                       ("match", 0), ("match", 0), ("match", 1), ("solo", 0), ("probe", 1),
                       ("submit", 6), ("match", 0)]:  # fmt: skip
        world.step(kind, pick)
    snap = build_snapshot(store)
    assert [r.model_dump() for r in snap.rows] == [r.model_dump() for r in leaderboard_rows(store)]
    assert [r.model_dump() for r in snap.ratings] == [r.model_dump() for r in ratings(store)]
    assert [m.model_dump() for m in snap.contagion] == [m.model_dump() for m in contagion(store)]
    assert snap.room_quality.to_dict("records") == room_quality(store).to_dict("records")
    assert list(snap.calibrations) == summaries(store)
    assert len({r.base_model_key for r in snap.rows}) == 2 and snap.last_match is not None


def test_a_burst_of_writes_costs_one_recomputation_of_the_groups_it_touched(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(store, random.Random(2))
    for kind, pick in [("submit", 0), ("submit", 3), ("submit", 1), ("submit", 4)]:
        world.step(kind, pick)
    keeper = BoardKeeper(store)
    assert keeper.refresh() and set(keeper.snapshot.recomputed) == {"alpha", "beta"}
    computed: list[str] = []
    real = snapshot_module.compute_group

    def counting(store: Store, key: str) -> object:
        computed.append(key)
        return real(store, key)

    monkeypatch.setattr(snapshot_module, "compute_group", counting)
    for _ in range(5):
        world.step("match", 0)  # five finished matches of Alpha
    assert keeper.refresh()
    assert computed == ["alpha"]  # once, and Beta reused
    assert keeper.snapshot.rows[0].matches == 5
    assert not keeper.refresh() and computed == ["alpha"]  # nothing new: nothing computed


def test_a_failing_recomputation_keeps_the_last_good_board_and_says_how_old(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(store, random.Random(3))
    for kind, pick in [("submit", 0), ("submit", 3), ("submit", 1), ("submit", 4), ("match", 0)]:
        world.step(kind, pick)  # Alpha (one match) and Beta
    keeper = BoardKeeper(store)
    assert keeper.refresh()
    good = keeper.snapshot
    real = snapshot_module.compute_group

    def broken(store: Store, key: str) -> object:
        if key == "alpha":
            raise RuntimeError("disk on fire")
        return real(store, key)

    monkeypatch.setattr(snapshot_module, "compute_group", broken)
    world.step("match", 0)  # Alpha changes: its recomputation fails
    world.step("match", 1)  # Beta changes: it still gets its new board
    assert keeper.refresh()
    alpha = [r for r in keeper.snapshot.rows if r.base_model_key == "alpha"]
    beta = [r for r in keeper.snapshot.rows if r.base_model_key == "beta"]
    assert [r.model_dump() for r in alpha] == [
        r.model_dump() for r in good.rows if r.base_model_key == "alpha"
    ]  # the last good part of Alpha is still served
    assert alpha[0].matches == 1 and beta[0].matches == 1
    assert keeper.snapshot.failed == {"alpha": "RuntimeError"}
    assert not snapshot_module.is_current(store, keeper.snapshot)  # Alpha is retried
    assert keeper.refresh()  # and fails again
    status = keeper.status()
    assert status.error == "RuntimeError in the board of alpha" and status.failing_since
    assert status.stale_since == good.groups["alpha"].built_at.isoformat(timespec="seconds")
    later = good.groups["alpha"].built_at + timedelta(minutes=7)
    line = pages.board_freshness(keeper, now=later)
    assert line.startswith("**Not up to date:** recomputing the board has failed since")
    assert "(RuntimeError in the board of alpha)" in line and "(7 min ago)" in line
    assert "disk on fire" not in line
    _, note = pages.leaderboard_table(keeper)
    assert "Not up to date" in note

    monkeypatch.undo()  # repaired: the next refresh catches up and the warning goes
    assert keeper.refresh()
    assert next(r.matches for r in keeper.snapshot.rows if r.base_model_key == "alpha") == 2
    assert keeper.status().failing_since is None and not keeper.snapshot.failed
    assert pages.board_freshness(keeper).startswith("As of ")
    assert keeper.snapshot.content() == build_snapshot(store).content()


def test_a_failure_of_the_whole_computation_keeps_the_last_good_snapshot(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(store, random.Random(8))
    for kind, pick in [("submit", 0), ("submit", 3), ("match", 0)]:
        world.step(kind, pick)
    keeper = BoardKeeper(store)
    assert keeper.refresh()
    good = keeper.snapshot

    def broken(store: Store) -> object:
        raise OSError("database is locked")

    monkeypatch.setattr(snapshot_module, "summaries", broken)
    world.step("match", 0)
    assert not keeper.refresh()
    assert keeper.snapshot is good and keeper.status().error == "OSError"
    later = good.built_at + timedelta(minutes=3)  # type: ignore[operator]
    assert "(3 min ago)" in pages.board_freshness(keeper, now=later)


def test_the_keeper_rests_as_long_as_it_computed() -> None:
    assert rest_after(1.0, None) == 1.0  # nothing computed: the next look after a poll
    assert rest_after(1.0, 0.2) == 1.0
    assert rest_after(1.0, 4.5) == 4.5  # at most half the time spent computing


def test_before_the_first_board_the_pages_say_so(store: Store) -> None:
    keeper = BoardKeeper(store)
    assert keeper.snapshot.built_at is None
    assert pages.board_freshness(keeper) == "The leaderboard is being computed..."
    frame, note = pages.leaderboard_table(keeper)
    assert frame.empty and note == "The leaderboard is being computed..."  # not "no submissions"


def test_the_keeper_thread_follows_the_store(store: Store) -> None:
    world = World(store, random.Random(4))
    for kind, pick in [("submit", 0), ("submit", 3)]:
        world.step(kind, pick)
    keeper = BoardKeeper(store, poll_s=0.05)
    keeper.start()
    try:
        first: Snapshot = keeper.snapshot
        assert first.built_at is not None and first.rows[0].matches == 0
        world.step("match", 0)
        keeper.kick()
        deadline = time.monotonic() + 30  # a generous bound, not a timing assertion
        while keeper.snapshot is first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert keeper.snapshot.rows[0].matches == 1
        assert keeper.status().last_match_id == keeper.snapshot.last_match.id  # type: ignore[union-attr]
    finally:
        keeper.stop()


async def test_verdict_reports_hide_the_seeds_still_to_play(store: Store) -> None:
    from arena.schedule._jobs import JobQueue

    world = World(store, random.Random(6))
    for kind, pick in [("submit", 0), ("submit", 3)]:
        world.step(kind, pick)
    base, cand = world.live("Alpha")
    for seed in range(4):
        finished_match(store, base, cand, seed, random.Random(seed))
    keeper = BoardKeeper(store, refresh_on_read=True)
    report = pages.report_of(store, keeper.snapshot, cand)
    assert report is not None and report.discordant
    seed = report.discordant[0].seed
    assert seed is not None
    JobQueue(store).enqueue("again", {"kind": "match", "seed": seed})
    assert seed in sealed_seeds(store)
    hidden = pages.report_of(store, keeper.snapshot, cand)
    assert hidden is not None
    first = report.discordant[0]
    same = [
        p
        for p in hidden.discordant
        if (p.room_id, p.candidate_match) == (first.room_id, first.candidate_match)
    ]
    assert same and all(p.seed is None for p in same)
    assert keeper.snapshot.report(cand).discordant[0].seed == seed  # type: ignore[union-attr]
