"""Replays: exact room results from the store, secrets hidden while a match runs, the live view,
the match list, and a Markdown rendering that keeps hostile text inert."""

from __future__ import annotations

import asyncio
import html
import json
import random
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from arena.client import ChatResult
from arena.engine._match import (
    SYSTEM_PROMPT,
    adversarial_prompt,
    play_match,
    retry_prompt,
    room_note,
)
from arena.engine._migrations import now
from arena.engine._models import (
    AdversarialMode,
    CallRecord,
    ContestantSpec,
    ContestantSummary,
    MatchResult,
    MatchSettings,
    MatchSpec,
    Outcome,
    RoomResult,
)
from arena.engine._privacy import ENDPOINT, REDACTED, redact, scrub_endpoints, secret_pattern
from arena.engine._store import Store
from arena.schedule._jobs import JobQueue
from arena.views._match_list import match_list, now_playing
from arena.views._replay import replay
from arena.views._replay_markdown import fenced, inline_code, replay_markdown
from arena.views._replay_models import PUZZLE_MARKER, Replay, ReplayCall
from tests.arena.engine.test_match import LATENCY, PUZZLES, ROOMS, SEED, Scripted, spec, under_par

A_SCRIPT = [
    *("right", "right"),  # held ground
    *("right", "wrong", "wrong"),  # manipulated, retry fails
    *("wrong", "right"),  # self-corrected
    *("wrong", "wrong", "wrong"),  # trapped
    *("wrong", "wrong", "right"),  # trapped, escaped on the retry
    *("right", "right"),  # held ground (the Warden: keys 1, 2, 3 and 5)
]
HOSTILE = (
    "</details><script>alert(1)</script>\n"
    "```\n"
    "# heading\n"
    "````````\n"
    "![x](http://evil)\n"
    '<img src=x onerror="alert(1)">\n'
    "[click](javascript:alert(1)) <http://evil.example>\n"
    "~~~\n"
)
HOSTILE_LINE = "![x](http://evil) <img src=x onerror=alert(1)> `code` ``` </details>"


def parsed_answer(index: int) -> str:
    room, puzzle = ROOMS[index], PUZZLES[index]
    parsed = room.validate(puzzle, room.reference_reply(puzzle)).parsed
    assert parsed is not None
    return parsed


def call_texts(call: ReplayCall) -> list[str]:
    fields = (call.prompt_text, call.response_text, call.reasoning_text, call.parsed_answer)
    return [t for t in (*fields, call.verdict_reason, call.error) if t]


def all_calls(found: Replay) -> list[ReplayCall]:
    return [c for room in found.rooms for part in room.slots.values() for c in part.calls()]


async def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


# -- a finished match -----------------------------------------------------------------------------
async def test_finished_match_replays_exactly_what_was_stored(store: Store) -> None:
    canary = f"sk-CANARY-{uuid.uuid4()}"
    a = Scripted(A_SCRIPT)
    b = Scripted(["error"] + ["wrong"] * 40)
    result = await play_match(spec(key=canary), store, endpoints={"a": a, "b": b})
    found = replay(store, result.match_id)
    assert found is not None
    assert (found.status, found.seed, found.difficulty, found.retries) == ("done", SEED, 1, 1)
    assert found.adversarial == AdversarialMode.OPPONENT
    assert (found.rooms_done, found.rooms_total, found.progress) == (6, 6, 1.0)
    assert found.current_room_index is None and not found.secrets_hidden
    assert found.wall_seconds == result.wall_seconds and found.finished_at
    assert [r.status for r in found.rooms] == ["done"] * 6
    assert [r.room_id for r in found.rooms] == [room.id for room in ROOMS]
    assert [r.room_name for r in found.rooms] == [room.name for room in ROOMS]
    assert found.profile == {room.id: 1 for room in ROOMS} and found.purpose == "measure"
    assert [r.level for r in found.rooms] == [1] * 6

    # every result exactly as rooms_played holds it
    rows = store.rooms_played(result.match_id)
    assert len(rows) == 12
    for row in rows:
        part = found.rooms[row["room_index"]].slots[row["slot"]]
        assert part.outcome == Outcome(row["outcome"])
        assert part.points == row["points"]
        assert part.breakdown == json.loads(row["breakdown"])
        assert part.escaped is bool(row["escaped"])
        assert part.initial_solved is bool(row["initial_solved"])
        assert part.final_solved is bool(row["final_solved"])
        assert part.retries_used == row["retries_used"]
        assert part.time_to_solution_s == row["time_to_solution_s"]
        assert part.tokens_to_solution == row["tokens_to_solution"]
    a_parts = [room.slots["a"] for room in found.rooms]
    b_parts = [room.slots["b"] for room in found.rooms]
    assert [p.outcome for p in a_parts] == [
        Outcome.HELD_GROUND,
        Outcome.MANIPULATED,
        Outcome.SELF_CORRECTED,
        Outcome.TRAPPED,
        Outcome.TRAPPED,
        Outcome.HELD_GROUND,
    ]
    assert [p.points for p in a_parts] == [
        10 + 5 + under_par(0, LATENCY),
        10 - 8 - 2 + under_par(1, LATENCY),
        10 + 3 + under_par(2, 2 * LATENCY),
        0 - 2,
        10 - 2 + under_par(4, 3 * LATENCY),
        10 + 5 + under_par(5, LATENCY),
    ]
    assert [p.outcome for p in b_parts] == [Outcome.FORFEIT] + [Outcome.TRAPPED] * 5
    assert [p.points for p in b_parts] == [-2] * 6
    assert a_parts[2].tokens_to_solution == 40 and a_parts[3].time_to_solution_s is None

    # calls grouped by phase, in conversation order
    manipulated = a_parts[1]
    assert manipulated.initial is not None and manipulated.adversarial is not None
    assert (manipulated.initial.seq, manipulated.initial.solved) == (2, True)
    assert (manipulated.adversarial.seq, manipulated.adversarial.solved) == (3, False)
    assert [(c.phase, c.seq, c.solved) for c in manipulated.retries] == [("retry-1", 4, False)]
    assert a_parts[0].retries == [] and [c.seq for c in a_parts[4].calls()] == [10, 11, 12]
    assert sum(len(p.calls()) for p in a_parts) == len(a.seen)
    assert sum(len(p.calls()) for p in b_parts) == len(b.seen)

    # prompts: only what each call added, the puzzle itself shown once with its room
    first = a_parts[0].initial
    assert first is not None and first.includes_puzzle
    assert first.prompt_text == f"{SYSTEM_PROMPT}\n\n{PUZZLE_MARKER}"
    assert a_parts[0].adversarial is not None and b_parts[0].adversarial is not None
    assert a_parts[0].adversarial.prompt_text == adversarial_prompt("(no answer)")
    assert not a_parts[0].adversarial.includes_puzzle
    assert b_parts[0].adversarial.prompt_text == adversarial_prompt(parsed_answer(0))
    assert [c.prompt_text for c in b_parts[0].retries] == [retry_prompt(1, 1)]
    assert a_parts[1].initial is not None and b_parts[1].initial is not None
    assert a_parts[1].initial.prompt_text == room_note(ROOMS[0], PUZZLES[0], True) + PUZZLE_MARKER
    assert b_parts[1].initial.prompt_text == room_note(ROOMS[0], PUZZLES[0], False) + PUZZLE_MARKER
    assert a_parts[0].initial is not None
    assert a_parts[0].initial.response_text == ROOMS[0].reference_reply(PUZZLES[0])
    assert a_parts[0].initial.parsed_answer == parsed_answer(0)
    assert a_parts[0].initial.verdict_reason == "decoded word matches"
    assert (first.completion_tokens, first.prompt_tokens, first.usage_source) == (20, 100, "server")
    assert (first.finish_reason, first.cap_hit, first.latency_s) == ("stop", False, LATENCY)

    # the endpoint error, with its URL scrubbed
    failed = b_parts[0].initial
    assert failed is not None and failed.error_kind == "connect" and failed.response_text == ""
    assert failed.error == (
        f"endpoint {ENDPOINT} could not be reached or dropped the connection after 1 attempt: "
        "scripted outage"
    )

    # the finished match shows its puzzles in full, solutions and keys included
    assert [r.prompt for r in found.rooms] == [p.prompt for p in PUZZLES]
    assert [r.prompt_chars for r in found.rooms] == [len(p.prompt) for p in PUZZLES]
    assert [r.prompt_is_long for r in found.rooms] == [len(p.prompt) > 2000 for p in PUZZLES]
    assert [r.solution for r in found.rooms] == [p.solution for p in PUZZLES]
    assert [r.key for r in found.rooms] == [p.key for p in PUZZLES]
    assert [r.data for r in found.rooms] == [json.loads(json.dumps(p.data)) for p in PUZZLES]
    assert [r.par_seconds for r in found.rooms] == [p.par_seconds for p in PUZZLES]
    assert not any(c.withheld for c in all_calls(found))

    # contestants by label only; the summary as stored
    assert {s: (c.label, c.has_api_key, c.submission_id) for s, c in found.contestants.items()} == {
        "a": ("M Q8_0", True, None),
        "b": ("M Q2_K", False, None),
    }
    assert found.summary == result.summaries
    assert found.summary is not None
    assert (found.summary["a"].escaped, found.summary["b"].score) == (5, -12)

    # nothing private anywhere: no URL, host, key or field for them
    for text in (found.model_dump_json(), replay_markdown(found)):
        assert canary not in text and "sk-CANARY" not in text
        assert "127.0.0.1" not in text and "base_url" not in text and '"api_key"' not in text


class Shrug:
    """Answers every call, in any room at any level, with the same wrong answer."""

    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult:
        return ChatResult(
            text="ANSWER: no idea", reasoning=None, finish_reason="stop", prompt_tokens=10,
            completion_tokens=3, reasoning_tokens=None, usage_source="server", ttft_s=0.001,
            latency_s=0.002, decode_tps=3000.0, attempts=1, server_timings=None, model=model,
        )  # fmt: skip


async def test_the_header_shows_the_profile_and_calibration_runs_say_so(store: Store) -> None:
    levels = {room.id: level for room, level in zip(ROOMS, (4, 0, 2, 1, 3, 2), strict=True)}
    settings = MatchSettings(seed=SEED, profile=levels, adversarial=AdversarialMode.BLUFF,
                             purpose="calibration")  # fmt: skip
    calibration = await play_match(
        MatchSpec(a=spec().a, settings=settings), store, endpoints={"a": Shrug()}
    )
    found = replay(store, calibration.match_id)
    assert found is not None and found.status == "done"
    assert (found.purpose, found.profile, found.difficulty) == ("calibration", levels, -1)
    assert [r.level for r in found.rooms] == [4, 0, 2, 1, 3, 2]
    markdown = replay_markdown(found)
    assert "**Calibration run** (never scored or paired) · **Status:** done" in markdown
    assert "**Profile:** Cipher 4 · Map 0 · Mechanism 2 · Archive 1 · Paradox 3 · Warden 2" in (
        markdown
    )
    assert f"`{ROOMS[0].id}` · level 4 · par" in markdown
    assert f"`{ROOMS[1].id}` · level 0 · par" in markdown
    [listed] = match_list(store)
    assert listed.purpose == "calibration" and " · M Q8_0 · calibration run · done · " in (
        listed.label()
    )

    # a measurement at one level, stored before profiles existed (no profile column)
    measured = await play_match(
        spec(AdversarialMode.BLUFF, solo=True), store, endpoints={"a": Shrug()}
    )
    store.write(
        lambda db: db.execute(
            "UPDATE matches SET profile = NULL WHERE id = ?", (measured.match_id,)
        )
    )
    old = replay(store, measured.match_id)
    assert old is not None and old.purpose == "measure"
    assert old.profile == {room.id: 1 for room in ROOMS} and [r.level for r in old.rooms] == [1] * 6
    markdown = replay_markdown(old)
    assert "**Profile:** every room at level 1" in markdown and "Calibration run" not in markdown
    assert "calibration run" not in match_list(store)[0].label()


# -- a running match ------------------------------------------------------------------------------
class Gated(Scripted):
    """A scripted endpoint whose call number ``stop_at`` (0-based) waits for ``release``."""

    def __init__(self, actions: Iterable[str], stop_at: int) -> None:
        super().__init__(actions)
        self.stop_at = stop_at
        self.count = 0
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def chat(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> ChatResult:
        index = self.count
        self.count += 1
        if index == self.stop_at:
            self.reached.set()
            await self.release.wait()
        return await super().chat(model, messages, params)


async def paused_in_room_4(store: Store) -> tuple[Gated, asyncio.Task[Any], str]:
    """A match paused mid-play: a answers right (2 calls a room) and stops at its first call of
    room 4 (index 3); b answers wrong (3 calls a room) and so has answered room 4 once. Returns
    a's gate (``release.set()`` lets the match finish), the match's task and its id."""
    a = Gated(["right"] * 40, stop_at=6)
    b = Scripted(["wrong"] * 40)
    task = asyncio.create_task(play_match(spec(), store, endpoints={"a": a, "b": b}))
    await asyncio.wait_for(a.reached.wait(), 30)
    match_id = store.query("SELECT id FROM matches WHERE status = 'running'")[0]["id"]

    def b_answered_room_4() -> bool:
        rows = store.query(
            "SELECT verdict_reason FROM calls WHERE match_id = ? AND slot = 'b' AND room_index = 3",
            (match_id,),
        )
        return bool(rows) and rows[0]["verdict_reason"] != "validating"

    await wait_until(b_answered_room_4)
    return a, task, match_id


async def test_a_running_match_hides_its_secrets_until_it_ends(store: Store) -> None:
    a, task, match_id = await paused_in_room_4(store)
    found = replay(store, match_id)
    assert found is not None
    assert (found.status, found.secrets_hidden, found.seed, found.summary) == (
        "running",
        True,
        None,
        None,
    )
    assert [r.status for r in found.rooms] == ["done"] * 3 + ["playing", "pending", "pending"]
    assert (found.rooms_done, found.rooms_total, found.progress) == (3, 6, 0.5)
    assert found.current_room_index == 3
    assert all(r.solution is None and r.key is None and r.data is None for r in found.rooms)
    assert [r.prompt for r in found.rooms] == [p.prompt for p in PUZZLES[:4]] + [None, None]
    assert [r.prompt_chars for r in found.rooms] == [len(p.prompt) for p in PUZZLES]
    assert [r.slots["a"].outcome for r in found.rooms] == [Outcome.HELD_GROUND] * 3 + [None] * 3

    # the room in play: b's answer is stored, but only its metadata is shown
    playing = found.rooms[3]
    assert playing.slots["a"].calls() == []
    b_now = playing.slots["b"].initial
    assert b_now is not None and b_now.withheld and b_now.phase == "initial"
    assert (b_now.response_text, b_now.prompt_text, b_now.parsed_answer) == (None, None, None)
    assert (b_now.solved, b_now.verdict_reason) == (None, None)
    assert (b_now.completion_tokens, b_now.latency_s, b_now.cap_hit) == (20, LATENCY, False)

    # done rooms: keys and solutions redacted from every text shown
    done_a = found.rooms[1].slots["a"].initial
    assert done_a is not None and not done_a.withheld
    assert done_a.prompt_text == (
        room_note(ROOMS[0], PUZZLES[0], True).replace(PUZZLES[0].key, REDACTED) + PUZZLE_MARKER
    )
    assert found.rooms[0].slots["a"].initial is not None
    assert found.rooms[0].slots["a"].initial.response_text == f"ANSWER: {REDACTED}"
    assert found.rooms[0].slots["b"].adversarial is not None
    assert found.rooms[0].slots["b"].adversarial.prompt_text == adversarial_prompt(REDACTED)
    shown = " ".join(t for c in all_calls(found) for t in call_texts(c))
    for puzzle in PUZZLES:
        assert not re.search(rf"(?<!\w){re.escape(puzzle.key)}(?!\w)", shown, re.IGNORECASE)
    for puzzle in PUZZLES[:4]:
        assert puzzle.solution.strip() not in shown
    markdown = replay_markdown(found)
    assert "**Seed:** hidden while running" in markdown
    assert "_Texts withheld until the room is done._" in markdown
    assert "**Solution:" not in markdown and "**Key:" not in markdown

    # the live view and the list
    started = datetime.fromisoformat(found.started_at)
    [live] = now_playing(store, at=started + timedelta(seconds=90))
    assert live.model_dump() == {
        "match_id": match_id,
        "started_at": found.started_at,
        "seconds_running": 90.0,
        "labels": {"a": "M Q8_0", "b": "M Q2_K"},
        "difficulty": 1,
        "adversarial": AdversarialMode.OPPONENT,
        "calibration": False,
        "current_room_index": 3,
        "current_room_id": ROOMS[3].id,
        "current_room_name": ROOMS[3].name,
        "rooms_done": 3,
        "rooms_total": 6,
        "calls": 6 + 3 * 3 + 1,
        "escaped": {"a": 3, "b": 0},
    }
    assert (
        live.headline() == "M Q8_0 vs M Q2_K — room 4/6 Archive · escaped 3 / 0 · 16 calls · 1m 30s"
    )
    searching = live.model_copy(update={"calibration": True})
    assert searching.headline().startswith("M Q8_0 vs M Q2_K (calibration run) — room 4/6")
    [listed] = match_list(store, status="running")
    assert (listed.id, listed.seed, listed.escaped, listed.score) == (match_id, None, {}, {})

    a.release.set()
    result = await asyncio.wait_for(task, 60)
    assert result.status == "done"
    assert now_playing(store) == []
    ended = replay(store, match_id)
    assert ended is not None and not ended.secrets_hidden and ended.seed == SEED
    assert [r.status for r in ended.rooms] == ["done"] * 6
    assert [r.solution for r in ended.rooms] == [p.solution for p in PUZZLES]
    assert [r.key for r in ended.rooms] == [p.key for p in PUZZLES]
    assert not any(c.withheld for c in all_calls(ended))
    assert ended.rooms[0].slots["a"].initial is not None
    assert ended.rooms[0].slots["a"].initial.response_text == ROOMS[0].reference_reply(PUZZLES[0])


async def test_an_interrupted_match_shows_its_unfinished_room(tmp_path: Path) -> None:
    path = tmp_path / "stopped.sqlite3"
    settings = MatchSettings(seed=SEED, difficulty=1)
    with Store(path) as store:
        match_id = await store.start_match(settings, spec().contestants(), PUZZLES)
        await store.record_call(
            CallRecord(
                match_id=match_id,
                room_index=0,
                slot="a",
                phase="initial",
                seq=0,
                context_messages=0,
                request_messages=[
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": PUZZLES[0].prompt},
                ],
                response_text="ANSWER: " + PUZZLES[0].solution,
                finish_reason="length",
                completion_tokens=512,
                verdict_reason="validating",
                started_at=now(),
            )
        )
        live = replay(store, match_id)
        assert live is not None and live.rooms[0].status == "playing"
        call = live.rooms[0].slots["a"].initial
        assert call is not None and call.withheld and call.cap_hit and call.verdict_pending
        [playing] = now_playing(store)
        assert (playing.current_room_name, playing.calls, playing.escaped) == (
            ROOMS[0].name,
            1,
            {"a": 0, "b": 0},
        )
    with Store(path) as reopened:
        found = replay(reopened, match_id)
        assert now_playing(reopened) == []
    assert found is not None
    assert (found.status, found.error) == (
        "interrupted",
        "process ended while the match was running",
    )
    assert [r.status for r in found.rooms] == ["unfinished"] + ["pending"] * 5
    assert (found.rooms_done, found.progress, found.current_room_index) == (0, 0.0, None)
    assert (found.seed, found.summary, found.rooms[0].solution) == (SEED, None, PUZZLES[0].solution)
    call = found.rooms[0].slots["a"].initial
    assert call is not None and not call.withheld
    assert call.prompt_text == f"Be brief.\n\n{PUZZLE_MARKER}"
    assert call.response_text == "ANSWER: " + PUZZLES[0].solution
    assert (call.cap_hit, call.verdict_pending, call.solved) == (True, True, False)
    assert found.rooms[0].slots["b"].calls() == [] and found.rooms[0].slots["a"].outcome is None
    markdown = replay_markdown(found)
    assert "✂️ hit the token cap" in markdown and "⏳ validating" in markdown
    assert "## Room 1 · Cipher — unfinished (the match stopped here)" in markdown


async def test_an_unknown_match_has_no_replay(store: Store) -> None:
    assert replay(store, "no-such-match") is None
    await play_match(spec(AdversarialMode.NONE, solo=True), store, endpoints={"a": Scripted([])})
    assert replay(store, "no-such-match") is None


async def test_a_stopped_match_whose_job_will_replay_keeps_its_secrets(store: Store) -> None:
    """An interrupted scheduled match is played again on the same seed: until that job is over,
    its replay must not give away the seed, solutions or keys."""
    job_id = JobQueue(store).enqueue("job", {"pair": [1, 2], "seed": SEED})
    result = await play_match(
        spec(AdversarialMode.NONE, solo=True).model_copy(update={"job_id": job_id}),
        store,
        endpoints={"a": Scripted(["right"] * 6)},
    )
    mark = "UPDATE matches SET status = 'interrupted' WHERE id = ?"
    store.write(lambda db: db.execute(mark, (result.match_id,)))
    sealed = replay(store, result.match_id)
    assert sealed is not None and sealed.secrets_hidden and sealed.seed is None
    assert all(room.solution is None and room.key is None for room in sealed.rooms)
    assert match_list(store)[0].seed is None
    store.write(lambda db: db.execute("UPDATE job_queue SET status = 'done'"))
    opened = replay(store, result.match_id)
    assert opened is not None and not opened.secrets_hidden and opened.seed == SEED
    assert opened.rooms[0].solution == PUZZLES[0].solution
    assert match_list(store)[0].seed == SEED


# -- the match list -------------------------------------------------------------------------------
def add_submission(store: Store, submission_id: int) -> None:
    store.write(
        lambda db: db.execute(
            "INSERT INTO submissions (id, display_name, base_model, base_model_key, quant, "
            "bits_per_weight, hardware, engine, base_url, model, sampling, settings_class, "
            "is_baseline, status, deletion_token_hash, client_hash, probe, created_at, "
            "updated_at) VALUES (?, 'x', 'M', 'm', 'Q4', 4.5, 'cpu', 'llama.cpp', ?, 'm', '{}', "
            "'c', 0, 'active', 'h', 'c', '{}', ?, ?)",
            (submission_id, f"http://127.0.0.1:{submission_id}/v1", now(), now()),
        )
    )


def contestant(quant: str, submission_id: int) -> ContestantSpec:
    return ContestantSpec(
        base_url=f"http://127.0.0.1:{submission_id}/v1",
        model="m",
        base_model="M",
        quant=quant,
        submission_id=submission_id,
    )


async def test_match_list_filters_pages_and_orders_newest_first(store: Store) -> None:
    for submission_id in (1, 2, 3):
        add_submission(store, submission_id)
    settings = MatchSettings(seed=SEED, difficulty=1)
    played = await play_match(
        MatchSpec(a=contestant("Q8_0", 1), b=contestant("Q2_K", 2), settings=settings),
        store,
        endpoints={"a": Scripted(["right"] * 40), "b": Scripted(["wrong"] * 40)},
    )
    first = played.match_id
    running = await store.start_match(
        settings, {"a": contestant("Q2_K", 2), "b": contestant("Q4_0", 3)}, PUZZLES
    )
    bluff = settings.model_copy(update={"adversarial": AdversarialMode.BLUFF})
    failed = await store.start_match(bluff, {"a": contestant("Q4_0", 3)}, PUZZLES)
    store.write(
        lambda db: db.execute(
            "UPDATE matches SET status = 'failed', finished_at = ? WHERE id = ?", (now(), failed)
        )
    )
    # started in the same millisecond: the later insert still lists first
    store.write(
        lambda db: db.execute(
            "UPDATE matches SET started_at = (SELECT started_at FROM matches WHERE id = ?) "
            "WHERE id = ?",
            (running, failed),
        )
    )

    def ids(**kwargs: Any) -> list[str]:
        return [item.id for item in match_list(store, **kwargs)]

    assert ids() == [failed, running, first]
    assert ids(status="running") == [running]
    assert ids(status="done") == [first]
    assert ids(status="failed") == [failed]
    assert ids(status="interrupted") == []
    assert ids(submission_id=1) == [first]
    assert ids(submission_id=2) == [running, first]
    assert ids(submission_id=3) == [failed, running]
    assert ids(submission_id=4) == []
    assert ids(submission_id=2, status="done") == [first]
    assert ids(limit=1, offset=1) == [running]
    assert ids(limit=2) == [failed, running]
    assert ids(offset=3) == []

    by_id = {item.id: item for item in match_list(store)}
    done = by_id[first]
    assert done.model_dump() == {
        "id": first,
        "status": "done",
        "started_at": done.started_at,
        "finished_at": done.finished_at,
        "wall_seconds": played.wall_seconds,
        "labels": {"a": "M Q8_0", "b": "M Q2_K"},
        "submission_ids": {"a": 1, "b": 2},
        "seed": SEED,
        "difficulty": 1,
        "purpose": "measure",
        "adversarial": AdversarialMode.OPPONENT,
        "retries": 1,
        "rooms_total": 6,
        "escaped": {"a": 6, "b": 0},
        "score": {"a": played.summaries["a"].score, "b": -12},
    }
    assert done.finished_at is not None
    score = played.summaries["a"].score
    assert done.label() == (
        f"{done.started_at[:10]} {done.started_at[11:16]} · M Q8_0 vs M Q2_K · done · "
        f"6/6 ({score:+d}) vs 0/6 (-12)"
    )
    assert by_id[running].label().endswith(" · M Q2_K vs M Q4_0 · running")
    assert (by_id[running].seed, by_id[running].escaped, by_id[running].score) == (None, {}, {})
    solo = by_id[failed]
    assert (solo.labels, solo.submission_ids, solo.seed) == ({"a": "M Q4_0"}, {"a": 3}, SEED)
    assert solo.adversarial == AdversarialMode.BLUFF
    assert "127.0.0.1" not in json.dumps([i.model_dump(mode="json") for i in by_id.values()])


def test_match_list_refuses_bad_paging_and_unknown_statuses(store: Store) -> None:
    with pytest.raises(ValueError, match="limit and offset"):
        match_list(store, limit=-1)
    with pytest.raises(ValueError, match="limit and offset"):
        match_list(store, offset=-1)
    with pytest.raises(ValueError, match="unknown match status"):
        match_list(store, status="bogus")


# -- privacy helpers ------------------------------------------------------------------------------
def test_redaction_hides_whole_words_only_and_urls_become_endpoint() -> None:
    pattern = secret_pattern(["palm", "  ", "basil-yarrow", "a -> b"])
    text = "PALM palmtree napalm basil-yarrow-x A -> B! palm."
    assert (
        redact(text, pattern) == f"{REDACTED} palmtree napalm {REDACTED}-x {REDACTED}! {REDACTED}."
    )
    assert redact(text, secret_pattern([])) == text and redact(None, pattern) is None
    hosts = ["http://gpu.example:8000", "gpu.example:8000", "gpu.example"]
    error = (
        "endpoint http://gpu.example:8000/v1 failed: gpu.example:80001 refused, gpu.example down"
    )
    assert scrub_endpoints(error, hosts) == (
        f"endpoint {ENDPOINT} failed: {ENDPOINT}:80001 refused, {ENDPOINT} down"
    )


# -- Markdown -------------------------------------------------------------------------------------
def renderer() -> Any:
    """A permissive CommonMark renderer: raw HTML allowed, tables on (markdown-it-py comes with
    gradio; only the tests that render skip without it)."""
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")


def flatten(tokens: list[Any]) -> list[Any]:
    out = []
    for token in tokens:
        out.append(token)
        out.extend(flatten(token.children or []))
    return out


OUR_HTML = re.compile(r"<details>\n<summary>[^<>]*</summary>|</details>")


def assert_inert(markdown: str) -> list[Any]:
    """No raw HTML but our ``<details>`` blocks, no links, images or hostile headings."""
    tokens = flatten(renderer().parse(markdown))
    kinds = {t.type for t in tokens}
    assert not kinds & {"html_inline", "image", "link_open"}, kinds
    for token in tokens:
        if token.type == "html_block":
            assert OUR_HTML.fullmatch(token.content.strip()), token.content
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert "heading" not in headings and len(headings) > 5
    rendered = renderer().render(markdown)
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
    assert rendered.count("<details>") == rendered.count("</details>")
    return tokens


async def hostile_match(store: Store) -> str:
    long_prompt = HOSTILE + "x" * 2100
    puzzles = [
        PUZZLES[0].model_copy(
            update={"prompt": long_prompt, "solution": HOSTILE, "key": "<img src=x onerror=1>"}
        ),
        PUZZLES[1].model_copy(update={"prompt": HOSTILE}),
    ]
    contestants = {
        "a": ContestantSpec(
            base_url="http://127.0.0.1:1/v1", model="m", base_model=HOSTILE, quant=HOSTILE_LINE
        ),
        "b": ContestantSpec(base_url="http://127.0.0.1:2/v1", model="m", quant="Q2_K"),
    }
    settings = MatchSettings(seed=SEED, difficulty=1)
    match_id = await store.start_match(settings, contestants, puzzles)  # type: ignore[arg-type]
    common = {"match_id": match_id, "room_index": 0, "phase": "initial", "seq": 0}
    await store.record_call(
        CallRecord(
            **common,
            slot="a",
            context_messages=0,
            request_messages=[{"role": "user", "content": HOSTILE + long_prompt}],
            response_text=HOSTILE,
            reasoning_text=HOSTILE,
            parsed_answer=HOSTILE,
            verdict_reason=HOSTILE,
            finish_reason="<b>length</b>`",
            error_kind="<i>connect</i>",
            error=HOSTILE + " at http://127.0.0.1:1/v1",
            started_at=now(),
        )
    )
    await store.record_call(
        CallRecord(
            **common,
            slot="b",
            context_messages=0,
            request_messages=[{"role": "user", "content": HOSTILE_LINE}],
            response_text=HOSTILE_LINE,
            parsed_answer=HOSTILE_LINE,
            verdict_reason=HOSTILE_LINE,
            started_at=now(),
        )
    )
    rooms = []
    for slot in ("a", "b"):
        room = RoomResult(
            match_id=match_id,
            room_index=0,
            room_id=puzzles[0].room_id,
            slot=slot,  # type: ignore[arg-type]
            initial_solved=True,
            final_solved=False,
            escaped=False,
            outcome=Outcome.MANIPULATED,
            retries_used=0,
            points=-8,
            breakdown={"manipulated": -8, "<script>": 1},
            time_to_solution_s=None,
            tokens_to_solution=None,
        )
        await store.record_room(room)
        rooms.append(room)
    summary = ContestantSummary(
        slot="a",
        display_name=HOSTILE,
        escaped=0,
        rooms=2,
        score=-8,
        decode_tps=None,
        completion_tokens=0,
        cap_hits=0,
        errors=1,
        outcomes={"manipulated": 1, "<script>": 1},
    )
    await store.finish_match(
        MatchResult(
            match_id=match_id,
            status="failed",
            settings=settings,
            room_ids=[p.room_id for p in puzzles],
            rooms=rooms,
            summaries={"a": summary},
            wall_seconds=1.5,
            error=HOSTILE + " via http://127.0.0.1:2/v1",
        )
    )
    return match_id


@pytest.mark.parametrize("escape_html", [True, False])
async def test_markdown_keeps_hostile_text_inert(store: Store, escape_html: bool) -> None:
    found = replay(store, await hostile_match(store))
    assert found is not None
    assert found.rooms[0].prompt_is_long and not found.rooms[1].prompt_is_long
    markdown = replay_markdown(found, escape_html=escape_html)
    tokens = assert_inert(markdown)
    shown = html.escape(HOSTILE, quote=False) if escape_html else HOSTILE
    fences = [t.content for t in tokens if t.type == "fence"]
    # each hostile text sits whole in its own block: prompt x2, reply, reasoning, parsed answer,
    # verdict, solution, and the call's and the match's errors (URLs scrubbed)
    assert sum(f == shown for f in fences) == 6
    assert sum(f.startswith(shown + "x" * 2100) for f in fences) == 1
    assert sum(f.startswith(shown + PUZZLE_MARKER) for f in fences) == 1
    for error in (HOSTILE + " at http://127.0.0.1:1/v1", HOSTILE + " via http://127.0.0.1:2/v1"):
        scrubbed = scrub_endpoints(error, [])
        assert scrubbed is not None and "://" not in scrubbed and ENDPOINT in scrubbed
        expected = html.escape(scrubbed, quote=False) if escape_html else scrubbed
        assert sum(f == expected + "\n" for f in fences) == 1
    assert markdown.count("<details>") == 2  # the long puzzle and the reasoning
    codes = [t.content for t in tokens if t.type == "code_inline"]
    line = html.escape(HOSTILE_LINE, quote=False) if escape_html else HOSTILE_LINE
    assert codes.count(line) == 4  # b's prompt, reply, parsed answer and verdict
    a_label = " ".join(f"{HOSTILE} {HOSTILE_LINE}".split())
    a_label = html.escape(a_label, quote=False) if escape_html else a_label
    assert codes.count(a_label) == 2  # in the contestant list and a's call heading
    assert "<b>length</b>`" in codes or html.escape("<b>length</b>`") in codes
    assert "Error:" in markdown and "<i>connect</i>" not in markdown
    assert "| Outcome | ⚠️ Manipulated | ⚠️ Manipulated |" in markdown
    assert "| Breakdown | manipulated -8 | manipulated -8 |" in markdown
    assert "| Outcomes | ? ×1, ⚠️ Manipulated ×1 |" in markdown
    if escape_html:
        assert "<script" not in markdown and "<img" not in markdown
        assert "</details><" not in markdown
    assert "127.0.0.1" not in markdown and "127.0.0.1" not in found.model_dump_json()


def fuzz_texts(count: int = 400) -> list[str]:
    rng = random.Random(1)
    alphabet = ["`", "``", "```", "~~~", "<", ">", "&", "\n", "\r", " ", "*", "_", "[", "]", "("]
    alphabet += [")", "!", "#", "|", "\\", "-", "a", "http://x", "</details>", "\u2028", "\t"]
    texts = ["", " ", "`", "````````", "a`b", " `x` ", "\n\n", HOSTILE, HOSTILE_LINE]
    texts += ["".join(rng.choices(alphabet, k=rng.randint(1, 30))) for _ in range(count)]
    return texts


def test_fenced_blocks_hold_any_text_whole() -> None:
    md = renderer()
    for text in fuzz_texts():
        for escape in (True, False):
            block = fenced(text, escape=escape)
            [token] = md.parse(block)
            body = text.replace("\r\n", "\n").replace("\r", "\n")
            body = html.escape(body, quote=False) if escape else body
            assert token.type == "fence"
            assert token.content == (body if body.endswith("\n") else body + "\n"), repr(text)
            assert block.startswith("`" * 3) and block.endswith("`" * 3)


def test_inline_code_holds_any_text_on_one_line() -> None:
    md = renderer()
    for text in fuzz_texts():
        for escape in (True, False):
            tokens = md.parse(f"## x {inline_code(text, escape=escape)}")
            assert [t.type for t in tokens] == ["heading_open", "inline", "heading_close"]
            children = tokens[1].children or []
            assert [c.type for c in children] == ["text", "code_inline"], repr(text)
            body = " ".join(text.split())
            body = (html.escape(body, quote=False) if escape else body) or "(empty)"
            assert children[1].content == body, repr(text)
