"""Replays as Markdown: a readable rendering in which every foreign text is inert.

Every piece of model-written, server-written, submitter-written and puzzle text goes into an
inline code span or a top-level fenced block that no text of it can close (see :func:`fenced`
and :func:`inline_code`); headings and tables hold only our own text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from arena.engine import ContestantSummary, Outcome, Slot, profiles
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

OUTCOME_BADGES: dict[Outcome, str] = {
    Outcome.HELD_GROUND: "✅ Held Ground",
    Outcome.MANIPULATED: "⚠️ Manipulated",
    Outcome.SELF_CORRECTED: "🔁 Self-Corrected",
    Outcome.TRAPPED: "🪤 Trapped",
    Outcome.UNCHALLENGED: "➖ Unchallenged",
    Outcome.FORFEIT: "⛔ Forfeit",
    Outcome.CONTEXT_OVERFLOW: "📏 Context overflow (server setup, not scored as an answer)",
}
"""How each adversarial outcome is shown."""


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def fenced(text: str, info: str = "text", *, escape: bool = True) -> str:
    """``text`` made inert as a fenced code block: HTML-escaped (unless ``escape`` is False),
    fenced with more backticks than its longest backtick run, so no line of it can close the
    block. Put it at top level (not in a list or quote, where a dedented line would end the
    container)."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if escape:
        body = html.escape(body, quote=False)
    ticks = "`" * max(3, _longest_backtick_run(body) + 1)
    if not body.endswith("\n"):
        body += "\n"
    return f"{ticks}{info}\n{body}{ticks}"


def inline_code(text: str, *, escape: bool = True) -> str:
    """``text`` made inert as an inline code span on one line: whitespace runs (line breaks
    included) become one space, HTML-escaped (unless ``escape`` is False), delimited by more
    backticks than its longest backtick run."""
    body = " ".join(text.split())
    if escape:
        body = html.escape(body, quote=False)
    body = body or "(empty)"
    ticks = "`" * (_longest_backtick_run(body) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def _collapsed(summary: str, body: str) -> str:
    """A ``<details>`` block; ``summary`` is our own text (escaped anyway), ``body`` Markdown."""
    return f"<details>\n<summary>{html.escape(summary)}</summary>\n\n{body}\n\n</details>"


def _num(value: float | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def _badge(outcome: str) -> str:
    """The badge of a stored outcome value (``?`` for a value this build does not know)."""
    try:
        return OUTCOME_BADGES[Outcome(outcome)]
    except ValueError:
        return "?"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of our own short texts (never model or submitter text)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


_ROOM_STATUS_TEXT = {
    "done": "done",
    "playing": "🔴 in play",
    "pending": "not reached",
    "unfinished": "unfinished (the match stopped here)",
}


@dataclass(frozen=True)
class _Markdown:
    """Renders a replay; every foreign text goes through ``code`` or ``block``."""

    replay: Replay
    escape: bool

    def code(self, text: str) -> str:
        return inline_code(text, escape=self.escape)

    def block(self, text: str) -> str:
        return fenced(text, escape=self.escape)

    def text(self, title: str, text: str, *, collapse: bool = False) -> list[str]:
        """A titled text: inline when short and on one line, else fenced (collapsed if asked)."""
        if not collapse and "\n" not in text and len(text) <= INLINE_MAX_CHARS and text.strip():
            return [f"**{title}:** {self.code(text)}"]
        if collapse:
            return [_collapsed(f"{title} ({len(text):,} characters)", self.block(text))]
        return [f"**{title}:**", self.block(text)]

    def plain(self, text: str) -> str:
        """``text`` as it is when it is only letters, digits, spaces, hyphens and dots (ours),
        else as inline code."""
        return text if re.fullmatch(r"[A-Za-z0-9 ·.-]+", text) else self.code(text)

    def who(self, slot: Slot) -> str:
        contestant = self.replay.contestants.get(slot)
        name = self.code(contestant.label) if contestant else "(unknown)"
        return f"{slot.upper()} · {name}"

    def call(self, call: ReplayCall) -> list[str]:
        if call.error_kind:
            mark = "💥 endpoint error"
        elif call.withheld:
            mark = "⏳ in play"
        elif call.verdict_pending:
            mark = "⏳ validating"
        else:
            mark = "✔ solved" if call.solved else "✘ not solved"
        blocks = [
            f"#### {self.who(call.slot)} — {phase_title(call.phase, code=self.code)} · {mark}",
            call_facts(call, code=self.code, cap="✂️ hit the token cap"),
        ]
        if call.withheld:
            return [*blocks, "_Texts withheld until the room is done._"]
        if call.prompt_text is not None:
            long = len(call.prompt_text) > LONG_PROMPT_CHARS
            blocks += self.text("Prompt added", call.prompt_text, collapse=long)
        if call.response_text:
            long = len(call.response_text) > LONG_PROMPT_CHARS
            blocks += self.text("Reply", call.response_text, collapse=long)
        elif not call.error_kind:
            blocks.append("_Empty reply._")
        if call.reasoning_text:
            blocks += self.text("Reasoning", call.reasoning_text, collapse=True)
        if call.parsed_answer is not None:
            blocks += self.text("Parsed answer", call.parsed_answer)
        if call.verdict_reason and not call.verdict_pending:
            blocks += self.text("Verdict", call.verdict_reason)
        if call.error:
            kind = call.error_kind if re.fullmatch(r"[a-z_]+", call.error_kind or "") else None
            blocks += self.text(f"Error ({kind})" if kind else "Error", call.error)
        return blocks

    def header(self) -> list[str]:
        r = self.replay
        seed = "hidden while running" if r.seed is None else str(r.seed)
        finished = self.code(r.finished_at) if r.finished_at else "—"
        facts = [
            f"**Status:** {r.status}",
            f"**Rooms:** {r.rooms_done}/{r.rooms_total}",
            f"**Profile:** {self.plain(profiles.describe(r.profile))}",
            f"**Seed:** {seed}",
            f"**Adversarial:** {r.adversarial.value}",
            f"**Retries:** {r.retries}",
            f"**Scoring:** {self.code(r.scoring_version)}",
        ]
        if r.purpose == "calibration":
            facts.insert(0, "**Calibration run** (never scored or paired)")
        times = [
            f"**Started:** {self.code(r.started_at)}",
            f"**Finished:** {finished}",
            f"**Wall time:** {_num(r.wall_seconds, ' s', 1)}",
        ]
        blocks = [f"# Match {self.code(r.match_id)}", " · ".join(facts), " · ".join(times)]
        lines = []
        for slot, contestant in r.contestants.items():
            played_for = (
                f"submission #{contestant.submission_id}"
                if contestant.submission_id is not None
                else "started by hand"
            )
            key = "API key: yes" if contestant.has_api_key else "API key: no"
            lines.append(
                f"- **{slot.upper()}:** {self.code(contestant.label)} ({played_for}, {key})"
            )
        blocks.append("\n".join(lines))
        if r.secrets_hidden:
            blocks.append(
                "_🔴 Live: the seed, solutions and keys, rooms not reached yet and the texts of "
                "the room in play stay hidden until the match ends._"
            )
        if r.error:
            blocks += self.text("Error", r.error)
        return blocks

    def summary(self) -> list[str]:
        summary = self.replay.summary
        if not summary:
            return []
        cells: dict[str, Callable[[ContestantSummary], str]] = {
            "Escaped": lambda s: f"{s.escaped}/{s.rooms}",
            "Score": lambda s: f"{s.score:+d}",
            "Share of opponent's score": lambda s: _num(s.share_of_opponent, " %", 1),
            "Decode speed": lambda s: _num(s.decode_tps, " tok/s", 1),
            "Completion tokens": lambda s: f"{s.completion_tokens:,}",
            "Token-cap hits": lambda s: str(s.cap_hits),
            "Endpoint errors": lambda s: str(s.errors),
            "Outcomes": lambda s: ", ".join(
                f"{_badge(k)} ×{n}" for k, n in sorted(s.outcomes.items())
            ),
        }
        rows = [[name, *(fn(summary[slot]) for slot in summary)] for name, fn in cells.items()]
        return ["## Summary", _table(["", *(slot.upper() for slot in summary)], rows)]

    def outcome(self, room: ReplayRoom) -> list[str]:
        if all(part.outcome is None for part in room.slots.values()):
            return []

        def breakdown(part: ReplayRoomSlot) -> str:
            items = (part.breakdown or {}).items()
            return ", ".join(f"{k} {v:+d}" for k, v in items if re.fullmatch(r"[a-z_]+", k)) or "—"

        def escaped(part: ReplayRoomSlot) -> str:
            if part.escaped is None:
                return "—"
            return "🗝️ Escaped" if part.escaped else "🔒 Stayed locked"

        rows: list[tuple[str, Callable[[ReplayRoomSlot], str]]] = [
            ("Outcome", lambda p: OUTCOME_BADGES[p.outcome] if p.outcome else "—"),
            ("Escaped", escaped),
            ("Points", lambda p: "—" if p.points is None else f"{p.points:+d}"),
            ("Breakdown", breakdown),
            ("Retries used", lambda p: "—" if p.retries_used is None else str(p.retries_used)),
            ("Time to solution", lambda p: _num(p.time_to_solution_s, " s", 3)),
            (
                "Tokens to solution",
                lambda p: "—" if p.tokens_to_solution is None else f"{p.tokens_to_solution:,}",
            ),
        ]
        slots = list(room.slots)
        table = _table(
            ["", *(s.upper() for s in slots)],
            [[name, *(fn(room.slots[s]) for s in slots)] for name, fn in rows],
        )
        return ["### Outcome", table]

    def room(self, room: ReplayRoom) -> list[str]:
        plain = re.fullmatch(r"[A-Za-z0-9 ]+", room.room_name)
        name = room.room_name if plain else self.code(room.room_name)
        blocks = [
            f"## Room {room.index + 1} · {name} — {_ROOM_STATUS_TEXT[room.status]}",
            f"{self.code(room.room_id)} · level {room.level} · "
            f"par {_num(room.par_seconds, ' s', 0)}",
        ]
        if room.prompt is None:
            blocks.append(
                f"_The puzzle ({room.prompt_chars:,} characters) is shown once it starts._"
            )
        elif room.prompt_is_long:
            title = f"Puzzle ({room.prompt_chars:,} characters)"
            blocks.append(_collapsed(title, self.block(room.prompt)))
        else:
            blocks += ["**Puzzle:**", self.block(room.prompt)]
        if room.solution is not None:
            blocks += self.text("Solution", room.solution)
        if room.key is not None:
            blocks.append(f"**Key:** {self.code(room.key)}")
        if self.replay.secrets_hidden:
            blocks.append("_Solution and key are hidden while the match is running._")
        phases: list[tuple[str, Callable[[ReplayRoomSlot], list[ReplayCall]]]] = [
            ("Initial answers", lambda p: [p.initial] if p.initial else []),
            ("Adversarial exchange", lambda p: [p.adversarial] if p.adversarial else []),
            ("Retries", lambda p: p.retries),
        ]
        for title, pick in phases:
            section = [
                block for part in room.slots.values() for c in pick(part) for block in self.call(c)
            ]
            if section:
                blocks += [f"### {title}", *section]
        return blocks + self.outcome(room)


def replay_markdown(replay: Replay, *, escape_html: bool = True) -> str:
    """A readable Markdown replay, room by room.

    Every model-, server-, submitter- and puzzle-written text is inert: inside inline code spans
    or top-level fenced blocks longer than any backtick run it holds, HTML-escaped as well (a
    CommonMark renderer then shows ``&lt;`` literally inside code; pass ``escape_html=False``
    when the renderer is known to be CommonMark-compliant). Tables and headings hold only our
    own text and such code spans.
    """
    md = _Markdown(replay, escape_html)
    blocks = md.header() + md.summary()
    for room in replay.rooms:
        blocks += md.room(room)
    return "\n\n".join(block.strip("\n") for block in blocks) + "\n"
