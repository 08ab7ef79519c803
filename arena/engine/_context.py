"""Keeping a contestant's conversation inside its endpoint's context window.

A contestant plays the six rooms in one conversation, which grows with every room. When the next
request would not fit the window (the server refuses it: llama-server's
``exceed_context_size_error``, vLLM's "maximum context length"...; or, when the window is known,
the conversation's estimated size reaches it, which also guards Ollama, which silently cuts the
oldest messages instead), the conversation is **compacted**, once per call:

- kept: the system prompt and every message of the room in play;
- dropped: the messages of the earlier rooms;
- added, in front of the room's first message: a note naming the rooms left and the key each
  escaped room handed over, so the Warden can still be opened.

The call that follows records ``context_messages = 1`` (only the system prompt carried) and the
room's messages as its ``request_messages``. If even the compacted request does not fit, the turn
fails as ``context_overflow``: the room's outcome is ``context_overflow`` (a setup problem, shown
as such: never Trapped, never a forfeit, and left out of verdicts and calibration).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from arena.client import ChatResult, estimate_tokens, prompt_chars
from rooms import load_rooms

TOKEN_MARGIN: Final = 1.25
"""Estimated prompt tokens are multiplied by this (tokenizers differ from ``len / 4``)."""
PRESSURE_TOKENS: Final = 1024
"""What the pressure turn adds to a room's conversation besides the answers: the other's answer
(at most 4,000 characters) and the instructions around it."""


def effective_window(stated: int | None, served: int | None) -> int | None:
    """The context window a contestant plays in: the smaller of the one stated at submission and
    the one its server reports (a statement cannot enlarge what is served); None when neither is
    known."""
    known = [window for window in (stated, served) if window is not None]
    return min(known) if known else None


def tokens_needed(levels: Mapping[str, int], max_tokens: int, system_prompt: str) -> int:
    """The smallest context window in which every room of ``levels`` can be played even
    compacted: the system prompt, the longest room prompt (with ``TOKEN_MARGIN``), the first
    answer and the answer under pressure (``max_tokens`` each) and the pressure turn."""
    rooms = load_rooms()
    prompt = max(rooms[room_id].prompt_tokens(level) for room_id, level in levels.items())
    system = estimate_tokens(len(system_prompt))
    return math.ceil((prompt + system) * TOKEN_MARGIN) + 2 * max_tokens + PRESSURE_TOKENS


def keys_note(rooms: list[tuple[str, str | None]]) -> str:
    """What a compacted conversation says of the rooms it left out: each room's name and the key
    it handed over (None: not escaped, no key)."""
    if not rooms:
        return ""
    parts = [f"{name}: key {key}" if key else f"{name}: no key" for name, key in rooms]
    return (
        "(The earlier rooms were removed from this conversation to fit the server's context "
        f"window. Rooms played so far and the keys they handed you: {'; '.join(parts)}.)\n\n"
    )


def compacted(
    messages: list[dict[str, Any]], room_start: int, rooms: list[tuple[str, str | None]]
) -> list[dict[str, Any]] | None:
    """The conversation without the earlier rooms (see the module), or None when there is
    nothing to drop (the room in play is all there is)."""
    if room_start <= 1 or room_start >= len(messages):
        return None
    first, *rest = messages[room_start:]
    note = {**first, "content": keys_note(rooms) + str(first["content"])}
    return [messages[0], note, *rest]


def estimated_prompt_tokens(
    messages: list[dict[str, Any]], last: ChatResult | None, sent: int
) -> int:
    """The next request's prompt size in tokens: the last reply's server-reported prompt and
    its answer as carried (completion minus the reasoning, which is never sent back), plus an
    estimate (characters / 4) of the messages added since; without server usage, an estimate of
    the whole conversation."""
    if last is None or last.usage_source != "server":
        return estimate_tokens(prompt_chars(messages))
    carried = max(last.completion_tokens - (last.reasoning_tokens or 0), 0)
    return last.prompt_tokens + carried + estimate_tokens(prompt_chars(messages[sent:]))
