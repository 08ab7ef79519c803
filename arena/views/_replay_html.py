"""Replays as one HTML fragment (for ``gr.HTML``): one room at a time, the contestants side by
side, a strip of the rooms across the top.

No script and no event handler: the room strip is CSS-only (a radio input per room, the strip's
cells are its labels), so it works where scripts do not run. Every model-, server-, submitter-
and puzzle-written text goes through ``submissions.models.html_text`` (quotes escaped); class
names and ids come from our own vocabularies, indices, or the sanitized match id. What the
replay withholds while a match runs (texts of the room in play, seed, solutions, keys, future
puzzles) is None in the model and shown here as withheld. The output is deterministic: the same
replay renders the same string (a redraw with nothing new changes nothing in the page).
"""

from __future__ import annotations

import hashlib
import re

from arena.engine import AdversarialMode, Outcome, Slot, adversarial_prompt, profiles
from arena.views._replay_models import (
    INLINE_MAX_CHARS,
    LONG_PROMPT_CHARS,
    Replay,
    ReplayCall,
    ReplayRoom,
    ReplayRoomSlot,
    call_facts,
    phase_title,
)
from submissions.models import html_text as _esc

OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.HELD_GROUND: "held ground",
    Outcome.MANIPULATED: "manipulated",
    Outcome.SELF_CORRECTED: "self-corrected",
    Outcome.TRAPPED: "trapped",
    Outcome.UNCHALLENGED: "unchallenged",
    Outcome.FORFEIT: "forfeit",
    Outcome.CONTEXT_OVERFLOW: "context overflow",
}
"""The text label of each adversarial outcome."""
TONES: dict[str, str] = {
    "held_ground": "good",
    "escaped": "good",
    "right": "good",
    "manipulated": "bad",
    "forfeit": "bad",
    "failed": "bad",
    "error": "bad",
    "wrong": "bad",
    "trapped": "warn",
    "self_corrected": "info",
    "context_overflow": "note",
    "unchallenged": "muted",
    "locked": "muted",
    "unfinished": "muted",
    "interrupted": "muted",
    "done": "muted",
    "pending": "open",
    "withheld": "open",
    "validating": "open",
    "playing": "live",
    "running": "live",
}
"""The colour family of each label (the text always says what it means)."""
_ROOM_STATUS = {
    "done": "done",
    "playing": "playing now",
    "pending": "not reached",
    "unfinished": "unfinished: the match stopped here",
}
_SAFE_WORD = re.compile(r"[a-z_]{1,40}")
_SHOWN_HEAD, _SHOWN_TAIL = adversarial_prompt("\0").split("\0")

_CSS = """
.qer-replay{--qer-fg:var(--body-text-color,#1f2328);--qer-sub:var(--body-text-color-subdued,#59636e);
--qer-line:var(--border-color-primary,rgba(127,127,127,.35));--qer-soft:rgba(127,127,127,.09);
--qer-pick:var(--color-accent,#0969da);color:var(--qer-fg);font-size:14px;line-height:1.45}
.qer-replay *{box-sizing:border-box}
.qer-replay h3,.qer-replay h4{margin:.3em 0;font-size:1.05em;font-weight:600}
.qer-replay p,.qer-replay .qer-line{margin:.25em 0}
.qer-replay .qer-sub{color:var(--qer-sub);font-size:.92em}
.qer-replay .qer-note{border-left:3px solid var(--qer-line);padding:2px 8px;margin:6px 0}
.qer-replay .qer-people,.qer-replay .qer-cols{display:grid;gap:10px;
grid-template-columns:repeat(2,minmax(0,1fr))}
.qer-replay .qer-cols-1{grid-template-columns:minmax(0,1fr)}
.qer-replay .qer-card,.qer-replay .qer-col{border:1px solid var(--qer-line);border-radius:8px;
padding:8px 10px;background:var(--qer-soft);min-width:0}
.qer-replay input.qer-pick{position:absolute;opacity:0;width:1px;height:1px;margin:0;
pointer-events:none}
.qer-replay .qer-strip{display:grid;gap:6px;margin:10px 0;
grid-template-columns:repeat(auto-fit,minmax(120px,1fr))}
.qer-replay label.qer-cell{display:block;border:1px solid var(--qer-line);border-radius:8px;
padding:5px 7px;cursor:pointer;background:var(--qer-soft);margin:0;font-weight:normal}
.qer-replay .qer-cell-name{display:block;font-weight:600;white-space:nowrap;overflow:hidden;
text-overflow:ellipsis}
.qer-replay .qer-side{display:block;margin-top:2px}
.qer-replay .qer-room{display:none;border:1px solid var(--qer-line);border-radius:8px;
padding:8px 10px}
.qer-replay .qer-room.qer-shown{display:block}
.qer-replay>.qer-pick:checked~.qer-rooms>.qer-room.qer-shown{display:none}
.qer-replay .qer-l{display:inline-block;padding:0 6px;margin:1px 2px;border-radius:9px;
font-size:12px;font-weight:600;line-height:18px;white-space:nowrap;color:#fff;
border:1px solid transparent}
.qer-replay .qer-t-good{background:#1a7f37}.qer-replay .qer-t-bad{background:#b42318}
.qer-replay .qer-t-warn{background:#8a5300}.qer-replay .qer-t-info{background:#0550ae}
.qer-replay .qer-t-note{background:#6639ba}.qer-replay .qer-t-muted{background:#57606a}
.qer-replay .qer-t-open{background:transparent;color:var(--qer-fg);border-color:var(--qer-line)}
.qer-replay .qer-t-live{background:transparent;color:var(--qer-fg);border:1px dashed currentColor}
.qer-replay .qer-ans{font-family:ui-monospace,monospace;background:rgba(127,127,127,.18);
color:inherit;padding:0 4px;border-radius:3px;word-break:break-word}
.qer-replay .qer-right{box-shadow:inset 0 -2px #1a7f37}
.qer-replay .qer-wrong{box-shadow:inset 0 -2px #b42318}
.qer-replay pre{white-space:pre-wrap;word-break:break-word;max-height:22em;overflow:auto;
margin:4px 0;padding:6px 8px;border:1px solid var(--qer-line);border-radius:4px;
background:var(--qer-soft);color:inherit;font-size:12.5px}
.qer-replay code{font-family:ui-monospace,monospace;word-break:break-word}
.qer-replay details{margin:4px 0}.qer-replay summary{cursor:pointer;color:var(--qer-sub)}
.qer-replay .qer-call{border-top:1px solid var(--qer-line);padding-top:4px;margin-top:6px}
@media (max-width:700px){.qer-replay .qer-people,.qer-replay .qer-cols{
grid-template-columns:minmax(0,1fr)}}
"""


# -- small pieces ---------------------------------------------------------------------------------
def _label(kind: str, text: str | None = None) -> str:
    """A coloured text label; ``kind`` is a key of :data:`TONES` (ours, never foreign text)."""
    tone = TONES.get(kind, "muted")
    shown = text if text is not None else kind.replace("_", " ")
    return f'<span class="qer-l qer-t-{tone}">{_esc(shown)}</span>'


def _outcome_label(outcome: Outcome | None) -> str:
    return "" if outcome is None else _label(outcome.value, OUTCOME_LABELS[outcome])


def _fold(summary: str, body: str, *, open_: bool = False, cls: str = "") -> str:
    """A ``<details>``; ``summary`` is escaped here, ``body`` is HTML already built."""
    attrs = (f' class="{cls}"' if cls else "") + (" open" if open_ else "")
    return f"<details{attrs}><summary>{_esc(summary)}</summary>{body}</details>"


def _line(content: str) -> str:
    """A line that may hold a block (a long answer): a ``div``, since a ``p`` cannot."""
    return f'<div class="qer-line">{content}</div>'


def _pre(text: str) -> str:
    return f"<pre>{_esc(text)}</pre>"


def _short(text: str) -> bool:
    return "\n" not in text.strip() and len(text) <= INLINE_MAX_CHARS


def _text(title: str, text: str) -> str:
    """A titled foreign text: inline when short and on one line, else a block."""
    if _short(text):
        return f"<p>{_esc(title)}: <code>{_esc(text.strip()) or '(empty)'}</code></p>"
    return f"<p>{_esc(title)}:</p>{_pre(text)}"


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f} s" if value < 1 else f"{value:,.1f} s"


def _points(value: int) -> str:
    return f"{value:+d}" if value else "0"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"


def dom_id(match_id: str) -> str:
    """A safe, unique id stem for a match: its id's letters, digits and hyphens, plus a hash."""
    stem = re.sub(r"[^a-z0-9-]+", "-", match_id.lower()).strip("-")[:40] or "match"
    return f"qer-{stem}-{hashlib.sha256(match_id.encode()).hexdigest()[:8]}"


def _slots(replay: Replay) -> list[Slot]:
    present = set(replay.contestants) | {s for room in replay.rooms for s in room.slots}
    return [s for s in ("a", "b") if s in present]


def default_room(replay: Replay, room: int | None = None) -> int:
    """The room to show: ``room`` when it exists, else the one in play, else the first."""
    if room is not None and 0 <= room < len(replay.rooms):
        return room
    if replay.current_room_index is not None and replay.current_room_index < len(replay.rooms):
        return replay.current_room_index
    return 0


def replay_room_choices(replay: Replay) -> list[tuple[str, int]]:
    """A room picker's choices: (``"2 · Map — done"``, room index)."""
    return [
        (f"{r.index + 1} · {r.room_name} — {_ROOM_STATUS[r.status]}", r.index) for r in replay.rooms
    ]


# -- the header -----------------------------------------------------------------------------------
def _tally(replay: Replay, slot: Slot) -> tuple[int, int, int, int, int, int]:
    """(escaped, rooms, score, forfeits, context overflows, endpoint errors) of a side:
    the stored summary once the match finished, else counted from the room results so far."""
    summary = (replay.summary or {}).get(slot)
    if summary is not None:
        out = summary.outcomes
        return (summary.escaped, summary.rooms, summary.score, out.get("forfeit", 0),
                out.get("context_overflow", 0), summary.errors)  # fmt: skip
    parts = [room.slots[slot] for room in replay.rooms if slot in room.slots]
    errors = sum(1 for p in parts for c in p.calls() if c.error_kind)
    return (
        sum(1 for p in parts if p.escaped),
        replay.rooms_total,
        sum(p.points or 0 for p in parts),
        sum(1 for p in parts if p.outcome == Outcome.FORFEIT),
        sum(1 for p in parts if p.outcome == Outcome.CONTEXT_OVERFLOW),
        errors,
    )


def score_line(replay: Replay, slot: Slot) -> str:
    """``escaped 0/6 · 4 forfeits · score -12`` (forfeits always shown; ``so far`` while the
    match runs)."""
    escaped, rooms, score, forfeits, overflows, errors = _tally(replay, slot)
    parts = [f"escaped {escaped}/{rooms}", _plural(forfeits, "forfeit")]
    if overflows:
        parts.append(_plural(overflows, "context overflow"))
    if errors:
        parts.append(_plural(errors, "endpoint error"))
    parts.append(f"score {_points(score)}")
    return " · ".join(parts) + (" (so far)" if replay.status == "running" else "")


def _person(replay: Replay, slot: Slot) -> str:
    who = replay.contestants.get(slot)
    if who is None:
        return f'<div class="qer-card"><h4>{slot.upper()} · (unknown)</h4></div>'
    bits = "" if who.bits_per_weight is None else f" · {who.bits_per_weight:g} bits/weight"
    played = "started by hand" if who.submission_id is None else f"submission #{who.submission_id}"
    return (
        f'<div class="qer-card"><h4>{slot.upper()} · {_esc(who.label)}</h4>'
        f'<p class="qer-sub">quant {_esc(who.quant)}{bits} · {played}</p>'
        f"<p><strong>{_esc(score_line(replay, slot))}</strong></p></div>"
    )


def _header(replay: Replay) -> str:
    seed = str(replay.seed) if replay.seed is not None else "hidden"
    facts = [
        _label(replay.status),
        f"rooms {replay.rooms_done}/{replay.rooms_total}",
        _esc(profiles.describe(replay.profile)),
        f"seed {seed}",
        f"adversarial: {_esc(replay.adversarial.value)}",
        _plural(replay.retries, "retry", "retries"),
    ]
    if replay.wall_seconds is not None:
        facts.append(f"wall time {_secs(replay.wall_seconds)}")
    if replay.purpose == "calibration":
        facts.insert(1, "calibration run (never scored or paired)")
    notes = ""
    if replay.status == "running":
        notes += (
            '<p class="qer-note">Live: the seed, solutions and keys, rooms not reached yet and '
            "the texts of the room in play stay hidden until the match ends.</p>"
        )
    elif replay.secrets_hidden:
        notes += (
            '<p class="qer-note">Sealed: a scheduled match still has to play this seed, so the '
            "seed, solutions and keys stay hidden.</p>"
        )
    if replay.error:
        notes += _text("Error", replay.error)
    people = "".join(_person(replay, s) for s in _slots(replay))
    return (
        f'<div class="qer-head"><h3>Match <code>{_esc(replay.match_id)}</code></h3>'
        f'<p class="qer-sub">{" · ".join(facts)}</p>{notes}'
        f'<div class="qer-people">{people}</div></div>'
    )


# -- the room strip -------------------------------------------------------------------------------
def side_state(room: ReplayRoom, part: ReplayRoomSlot | None) -> str:
    """A side's labels in a room: its outcome and whether it escaped, or the room's state."""
    if part is not None and part.outcome is not None:
        escaped = _label("escaped") if part.escaped else _label("locked")
        return _outcome_label(part.outcome) + escaped
    if room.status == "done":
        return _label("pending", "no result")
    return _label(room.status)


def _strip(replay: Replay, uid: str) -> str:
    cells = []
    for room in replay.rooms:
        sides = "".join(
            f'<span class="qer-side">{s.upper()} {side_state(room, room.slots.get(s))}</span>'
            for s in _slots(replay)
        )
        cells.append(
            f'<label class="qer-cell qer-cell-{room.index}" for="{uid}-room-{room.index}" '
            f'title="Show room {room.index + 1}"><span class="qer-cell-name">'
            f"{room.index + 1} · {_esc(room.room_name)}</span>{sides}</label>"
        )
    return f'<nav class="qer-strip" aria-label="Rooms">{"".join(cells)}</nav>'


def _picks(replay: Replay, uid: str, shown: int) -> str:
    return "".join(
        f'<input type="radio" class="qer-pick qer-pick-{r.index}" name="{uid}-room" '
        f'id="{uid}-room-{r.index}" aria-label="Room {r.index + 1}: {_esc(r.room_name)}"'
        f"{' checked' if r.index == shown else ''}>"
        for r in replay.rooms
    )


def _pick_css(count: int) -> str:
    """The rules that show the checked room and mark its cell (indices only)."""
    rules = []
    for i in range(count):
        rules.append(
            f".qer-replay>.qer-pick-{i}:checked~.qer-rooms>.qer-room.qer-room-{i}{{display:block}}"
            f".qer-replay>.qer-pick-{i}:checked~.qer-strip .qer-cell-{i}"
            "{border:2px solid var(--qer-pick)}"
            f".qer-replay>.qer-pick-{i}:focus-visible~.qer-strip .qer-cell-{i}"
            "{outline:2px solid var(--qer-pick);outline-offset:2px}"
        )
    return "\n".join(rules)


# -- one contestant's column ----------------------------------------------------------------------
def answer(call: ReplayCall | None) -> str:
    """A call's answer: the parsed answer highlighted and whether it was right, or its state."""
    if call is None:
        return '<span class="qer-sub">not played yet</span>'
    if call.withheld:
        return _label("withheld") + ' <span class="qer-sub">until the room is done</span>'
    if call.error_kind:
        kind = call.error_kind if _SAFE_WORD.fullmatch(call.error_kind) else "failed"
        return _label("error", f"endpoint error: {kind.replace('_', ' ')}")
    if call.verdict_pending:
        return _label("validating")
    verdict = _label("right") if call.solved else _label("wrong")
    if call.parsed_answer is None:
        return f'<span class="qer-sub">no answer found in the reply</span> {verdict}'
    mark = "qer-right" if call.solved else "qer-wrong"
    text = call.parsed_answer.strip()
    if not _short(text):
        return f"{verdict}{_fold('answer', _pre(text), open_=True)}"
    return f'<mark class="qer-ans {mark}">{_esc(text) or "(empty)"}</mark> {verdict}'


def shown_answer(call: ReplayCall) -> str | None:
    """What the adversarial prompt showed (the other's answer or the house bluff), when the
    prompt is the engine's; None otherwise (withheld, or another text)."""
    text = call.prompt_text
    if text is None or not (text.startswith(_SHOWN_HEAD) and text.endswith(_SHOWN_TAIL)):
        return None
    return text[len(_SHOWN_HEAD) : len(text) - len(_SHOWN_TAIL)]


def _same(first: ReplayCall | None, then: ReplayCall) -> str:
    if first is None or first.parsed_answer is None or then.parsed_answer is None:
        return ""
    kept = (
        " ".join(first.parsed_answer.split()).casefold()
        == " ".join(then.parsed_answer.split()).casefold()
    )
    return " · held its answer" if kept else " · revised its answer"


def _exchange(replay: Replay, room: ReplayRoom, part: ReplayRoomSlot, other: Slot | None) -> str:
    """The adversarial turn: what the side was shown and what it replied."""
    if replay.adversarial == AdversarialMode.NONE:
        return ""
    call = part.adversarial
    if call is None:
        missing = "not played yet" if room.status == "playing" else "no adversarial turn"
        return f'<h4>Under pressure</h4><p class="qer-sub">{missing}</p>'
    if replay.adversarial == AdversarialMode.BLUFF:
        source = "Shown the house bluff"
    else:
        source = f"Shown {other.upper()}'s answer" if other else "Shown the other's answer"
    seen = shown_answer(call)
    if seen is not None:
        shown = _text(source, seen)
    elif call.prompt_text is not None:
        shown = _fold("What it was shown", _pre(call.prompt_text))
    else:
        shown = ""
    reply = _line(f"Reply: {answer(call)}{_esc(_same(part.initial, call))}")
    return f"<h4>Under pressure</h4>{shown}{reply}"


def _retries(part: ReplayRoomSlot) -> str:
    if not part.retries:
        return ""
    lines = "".join(_line(f"{_esc(phase_title(c.phase))}: {answer(c)}") for c in part.retries)
    return f"<h4>{_plural(len(part.retries), 'retry', 'retries')}</h4>{lines}"


def cost(part: ReplayRoomSlot) -> str:
    """Time and tokens of a side in a room (completion, reasoning where known), and to the
    solution when it escaped."""
    calls = part.calls()
    seconds = sum(c.latency_s or 0.0 for c in calls)
    tokens = sum(c.completion_tokens or 0 for c in calls)
    known = [c.reasoning_tokens for c in calls if c.reasoning_tokens is not None]
    parts = [f"time {_secs(seconds)}", f"{tokens:,} tokens"]
    if known:
        parts[-1] += f" ({sum(known):,} reasoning)"
    if part.time_to_solution_s is not None and part.tokens_to_solution is not None:
        parts.append(
            f"to the solution {_secs(part.time_to_solution_s)} / {part.tokens_to_solution:,} tokens"
        )
    if any(c.cap_hit for c in calls):
        parts.append("hit the token cap")
    return " · ".join(parts)


def _result(part: ReplayRoomSlot) -> str:
    if part.outcome is None:
        return ""
    items = (part.breakdown or {}).items()
    detail = ", ".join(f"{k.replace('_', ' ')} {v:+d}" for k, v in items if _SAFE_WORD.fullmatch(k))
    points = "" if part.points is None else f" · {_points(part.points)} points"
    escaped = _label("escaped") if part.escaped else _label("locked")
    detail = f" ({detail})" if detail else ""
    return f"<p>{_outcome_label(part.outcome)}{escaped}{points}{detail}</p>"


def _reasonings(part: ReplayRoomSlot) -> str:
    return "".join(
        _fold(f"Reasoning · {phase_title(c.phase)} ({len(text):,} characters)", _pre(text))
        for c in part.calls()
        if (text := c.reasoning_text)
    )


def call_html(call: ReplayCall) -> str:
    """One call in full: its metadata and every text of it (or that they are withheld)."""
    title = f"<strong>{_esc(phase_title(call.phase))}</strong> {answer(call)}"
    head = f'<div class="qer-call">{_line(title)}<p class="qer-sub">{_esc(call_facts(call))}</p>'
    if call.withheld:
        return head + '<p class="qer-sub">Texts withheld until the room is done.</p></div>'
    body = ""
    if call.prompt_text is not None:
        body += f"<p>Prompt added:</p>{_pre(call.prompt_text)}"
    if call.response_text:
        body += f"<p>Reply:</p>{_pre(call.response_text)}"
    elif not call.error_kind:
        body += '<p class="qer-sub">Empty reply.</p>'
    if call.reasoning_text:
        body += f"<p>Reasoning:</p>{_pre(call.reasoning_text)}"
    if call.parsed_answer is not None:
        body += _text("Parsed answer", call.parsed_answer)
    if call.verdict_reason and not call.verdict_pending:
        body += _text("Verdict", call.verdict_reason)
    if call.error:
        body += _text("Error", call.error)
    return f"{head}{body}</div>"


def column(replay: Replay, room: ReplayRoom, slot: Slot) -> str:
    """One side of a room: first answer, the exchange, retries, result, cost, reasoning and
    (collapsed) every call."""
    part = room.slots.get(slot)
    who = replay.contestants.get(slot)
    name = _esc(who.label) if who else "(unknown)"
    head = f"<h3>{slot.upper()} · {name}</h3><p>{side_state(room, part)}</p>"
    if part is None or room.status == "pending":
        return f'<div class="qer-col qer-col-{slot}">{head}</div>'
    others = [s for s in _slots(replay) if s != slot]
    calls = part.calls()
    body = (
        f"<h4>First answer</h4>{_line(answer(part.initial))}"
        + _exchange(replay, room, part, others[0] if others else None)
        + _retries(part)
        + _result(part)
        + (f'<p class="qer-sub">{_esc(cost(part))}</p>' if calls else "")
        + _reasonings(part)
    )
    if calls:
        every = "".join(call_html(c) for c in calls)
        body += _fold(f"Show every call ({len(calls)})", every, cls="qer-calls")
    return f'<div class="qer-col qer-col-{slot}">{head}{body}</div>'


# -- one room -------------------------------------------------------------------------------------
def _puzzle(replay: Replay, room: ReplayRoom) -> str:
    if room.prompt is None:
        return (
            f'<p class="qer-sub">The puzzle ({room.prompt_chars:,} characters) is shown once '
            "the room starts.</p>"
        )
    title = f"Puzzle ({room.prompt_chars:,} characters)"
    long = room.prompt_is_long or len(room.prompt) > LONG_PROMPT_CHARS
    puzzle = _fold(title, _pre(room.prompt), open_=not long)
    secrets = ""
    if room.solution is not None:
        secrets += _text("Solution", room.solution)
    if room.key is not None:
        secrets += _text("Key", room.key)
    if replay.secrets_hidden:
        secrets += '<p class="qer-sub">Solution and key stay hidden for now.</p>'
    return puzzle + secrets


def room_html(replay: Replay, room: ReplayRoom, *, shown: bool) -> str:
    """One room's panel: its puzzle once, then the sides in columns."""
    slots = _slots(replay)
    cols = "".join(column(replay, room, s) for s in slots)
    classes = f"qer-room qer-room-{room.index}" + (" qer-shown" if shown else "")
    return (
        f'<section class="{classes}" aria-label="Room {room.index + 1}">'
        f"<h3>Room {room.index + 1} · {_esc(room.room_name)} — {_ROOM_STATUS[room.status]}</h3>"
        f'<p class="qer-sub"><code>{_esc(room.room_id)}</code> · level {room.level} · '
        f"par {_secs(room.par_seconds)}</p>{_puzzle(replay, room)}"
        f'<div class="qer-cols qer-cols-{len(slots)}">{cols}</div></section>'
    )


def replay_html(replay: Replay, room: int | None = None) -> str:
    """The replay as one self-contained HTML fragment (no script): a header with both sides and
    their scores, a clickable strip of the rooms, and one room shown at a time, the sides side by
    side. ``room`` (0-based) picks the room shown first; by default the one in play while the
    match runs, else the first."""
    uid = dom_id(replay.match_id)
    shown = default_room(replay, room)
    rooms = "".join(room_html(replay, r, shown=r.index == shown) for r in replay.rooms)
    return (
        f'<div class="qer-replay" id="{uid}">'
        f"<style>{_CSS}{_pick_css(len(replay.rooms))}</style>"
        f"{_header(replay)}{_picks(replay, uid, shown)}{_strip(replay, uid)}"
        f'<div class="qer-rooms">{rooms}</div></div>'
    )
