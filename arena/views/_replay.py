"""Match replays: one stored match as a viewer may see it, room by room, call by call.

:func:`replay` reads the match in one read transaction (a match being written meanwhile is seen
at one consistent moment); :func:`build_replay` turns its rows into a
:class:`~arena.views._replay_models.Replay` (pure). The Markdown rendering is in
:mod:`arena.views._replay_markdown`, the running matches and the match list in
:mod:`arena.views._match_list`.

What a viewer never gets: endpoint URLs (URLs and endpoint hosts in error texts become
``<endpoint>``), served model ids, API keys. While a match is **running**, a viewer could relay
what they see to a contestant's endpoint (its owner controls the server), so until it ends:

- the seed (the rooms' generators are public: the seed gives every puzzle and solution), every
  room's solution, key and structured data are hidden;
- rooms not reached yet are listed without their prompts;
- the room in progress shows only the metadata of its calls (phase, timings, tokens): their
  texts and verdicts are withheld until both contestants are done with it (otherwise one
  contestant's answer could reach the other before its own first answer);
- every room's key and solution is redacted (``[hidden]``) from the texts of the calls shown:
  the room notes hand each key to the contestant that escaped, and the Warden needs them all.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from arena.analysis import match_profile
from arena.engine import (
    AdversarialMode,
    Outcome,
    Slot,
    Store,
    endpoint_hosts,
    redact,
    scrub_endpoints,
    secret_pattern,
)
from arena.views._match_rows import (
    SEALED,
    fetch_rows,
    label,
    match_slots,
    parse_summary,
    room_statuses,
    rooms_finished,
    snapshot,
)
from arena.views._replay_models import (
    LONG_PROMPT_CHARS,
    PUZZLE_MARKER,
    Replay,
    ReplayCall,
    ReplayContestant,
    ReplayRoom,
    ReplayRoomSlot,
)
from rooms import room_name


def replay(store: Store, match_id: str) -> Replay | None:
    """The replay of one match, or None if there is no such match."""

    def read(db: sqlite3.Connection) -> dict[str, list[dict[str, Any]]] | None:
        sql = f"SELECT m.*, {SEALED} FROM matches m WHERE m.id = ?"  # noqa: S608
        match = fetch_rows(db, sql, (match_id,))
        if not match:
            return None
        ids = (match[0]["contestant_a"], match[0]["contestant_b"])
        return {
            "match": match,
            "contestants": fetch_rows(db, "SELECT * FROM contestants WHERE id IN (?, ?)", ids),
            "puzzles": fetch_rows(
                db, "SELECT * FROM puzzles WHERE match_id = ? ORDER BY room_index", (match_id,)
            ),
            "played": fetch_rows(db, "SELECT * FROM rooms_played WHERE match_id = ?", (match_id,)),
            "calls": fetch_rows(
                db, "SELECT * FROM calls WHERE match_id = ? ORDER BY slot, seq", (match_id,)
            ),
        }

    found = snapshot(store, read)
    if found is None:
        return None
    return build_replay(
        found["match"][0], found["contestants"], found["puzzles"], found["played"], found["calls"]
    )


def added_prompt(request_messages: str | list[dict[str, Any]]) -> str:
    """The system and user message contents a call added, joined by blank lines."""
    messages = (
        json.loads(request_messages) if isinstance(request_messages, str) else request_messages
    )
    texts = []
    for message in messages:
        if message.get("role") not in ("system", "user"):
            continue
        content = message.get("content")
        texts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n\n".join(texts)


def build_call(
    row: dict[str, Any],
    *,
    puzzle_prompt: str | None,
    withheld: bool,
    secrets: re.Pattern[str] | None,
    hosts: list[str],
) -> ReplayCall:
    """A stored call row as a viewer may see it (texts withheld, secrets redacted as asked)."""
    prompt = added_prompt(row["request_messages"])
    includes_puzzle = bool(puzzle_prompt) and puzzle_prompt in prompt
    if includes_puzzle and puzzle_prompt:
        prompt = prompt.replace(puzzle_prompt, PUZZLE_MARKER)

    def shown(text: str | None) -> str | None:
        return None if withheld else redact(text, secrets)

    return ReplayCall(
        room_index=row["room_index"],
        slot=row["slot"],
        phase=row["phase"],
        seq=row["seq"],
        started_at=row["started_at"],
        prompt_text=shown(prompt),
        includes_puzzle=includes_puzzle,
        response_text=shown(row["response_text"]),
        reasoning_text=shown(row["reasoning_text"]),
        parsed_answer=shown(row["parsed_answer"]),
        solved=None if withheld else bool(row["solved"]),
        verdict_pending=row["verdict_reason"] == "validating",
        verdict_reason=shown(row["verdict_reason"]),
        finish_reason=row["finish_reason"],
        cap_hit=row["finish_reason"] == "length",
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        reasoning_tokens=row["reasoning_tokens"],
        usage_source=row["usage_source"],
        ttft_s=row["ttft_s"],
        latency_s=row["latency_s"],
        decode_tps=row["decode_tps"],
        attempts=row["attempts"],
        error_kind=row["error_kind"],
        error=redact(scrub_endpoints(row["error"], hosts), secrets),
        withheld=withheld,
    )


def build_room_slot(
    slot: Slot, calls: list[ReplayCall], result: dict[str, Any] | None
) -> ReplayRoomSlot:
    """One slot's calls in a room, grouped by phase, with its stored result (if any)."""
    ordered = sorted(calls, key=lambda c: c.seq)
    initial = next((c for c in ordered if c.phase == "initial"), None)
    adversarial = next((c for c in ordered if c.phase == "adversarial"), None)
    others = [c for c in ordered if c is not initial and c is not adversarial]
    if result is None:
        return ReplayRoomSlot(
            slot=slot,
            initial=initial,
            adversarial=adversarial,
            retries=others,
            outcome=None,
            initial_solved=None,
            final_solved=None,
            escaped=None,
            points=None,
            breakdown=None,
            retries_used=None,
            time_to_solution_s=None,
            tokens_to_solution=None,
        )
    return ReplayRoomSlot(
        slot=slot,
        initial=initial,
        adversarial=adversarial,
        retries=others,
        outcome=Outcome(result["outcome"]),
        initial_solved=bool(result["initial_solved"]),
        final_solved=bool(result["final_solved"]),
        escaped=bool(result["escaped"]),
        points=result["points"],
        breakdown=json.loads(result["breakdown"]),
        retries_used=result["retries_used"],
        time_to_solution_s=result["time_to_solution_s"],
        tokens_to_solution=result["tokens_to_solution"],
    )


def build_contestant(slot: Slot, row: dict[str, Any]) -> ReplayContestant:
    """A contestant row by its public fields only."""
    return ReplayContestant(
        slot=slot,
        label=label(row["base_model"], row["quant"]),
        base_model=row["base_model"],
        quant=row["quant"],
        bits_per_weight=row["bits_per_weight"],
        submission_id=row.get("submission_id"),
        has_api_key=bool(row["has_api_key"]),
    )


def build_replay(
    match: dict[str, Any],
    contestants: list[dict[str, Any]],
    puzzles: list[dict[str, Any]],
    played: list[dict[str, Any]],
    calls: list[dict[str, Any]],
) -> Replay:
    """A replay from the rows of one match (see the module docstring for what is hidden)."""
    slots = match_slots(match)
    by_id = {row["id"]: row for row in contestants}
    people = {
        slot: build_contestant(slot, by_id[match[f"contestant_{slot}"]])
        for slot in slots
        if match[f"contestant_{slot}"] in by_id
    }
    running = match["status"] == "running"
    hide = running or bool(match.get("sealed"))
    room_ids: list[str] = json.loads(match["room_ids"])
    finished = rooms_finished(len(room_ids), slots, played)
    started = {int(c["room_index"]) for c in calls} | {int(p["room_index"]) for p in played}
    statuses, current = room_statuses(finished, started, running)
    puzzle_at = {int(p["room_index"]): p for p in puzzles}
    secrets = secret_pattern([p[k] for p in puzzles for k in ("solution", "key")]) if hide else None
    hosts = endpoint_hosts(row["base_url"] for row in contestants)
    results = {(int(r["room_index"]), r["slot"]): r for r in played}
    levels = match_profile(match)
    rooms = []
    for index, room_id in enumerate(room_ids):
        puzzle = puzzle_at.get(index, {})
        prompt: str = puzzle.get("prompt", "")
        withheld = running and statuses[index] == "playing"
        room_calls = [
            build_call(row, puzzle_prompt=prompt, withheld=withheld, secrets=secrets, hosts=hosts)
            for row in calls
            if int(row["room_index"]) == index
        ]
        rooms.append(
            ReplayRoom(
                index=index,
                room_id=room_id,
                room_name=room_name(room_id),
                level=puzzle.get("difficulty", levels.get(room_id, match["difficulty"])),
                status=statuses[index],
                prompt=None if hide and statuses[index] == "pending" else prompt,
                prompt_chars=len(prompt),
                prompt_is_long=len(prompt) > LONG_PROMPT_CHARS,
                par_seconds=puzzle.get("par_seconds", 0.0),
                solution=None if hide else puzzle.get("solution"),
                key=None if hide else puzzle.get("key"),
                data=None if hide or "data" not in puzzle else json.loads(puzzle["data"]),
                slots={
                    slot: build_room_slot(
                        slot,
                        [c for c in room_calls if c.slot == slot],
                        results.get((index, slot)),
                    )
                    for slot in slots
                },
            )
        )
    done = sum(finished)
    return Replay(
        match_id=match["id"],
        status=match["status"],
        started_at=match["started_at"],
        finished_at=match["finished_at"],
        wall_seconds=match["wall_seconds"],
        seed=None if hide else match["seed"],
        difficulty=match["difficulty"],
        profile=levels,
        purpose=match.get("purpose") or "measure",
        adversarial=AdversarialMode(match["adversarial"]),
        retries=match["retries"],
        scoring_version=match["scoring_version"],
        error=scrub_endpoints(match["error"], hosts),
        secrets_hidden=hide,
        contestants=people,
        rooms=rooms,
        summary=parse_summary(match["summary"]),
        rooms_done=done,
        rooms_total=len(room_ids),
        progress=round(done / len(room_ids), 4) if room_ids else 0.0,
        current_room_index=current,
    )
