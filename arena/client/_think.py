"""Reasoning sent inline in the content (``<think>...</think>``), as llama-server without
``--reasoning-format``, older Ollama, TGI and LM Studio send it, told apart from the answer.

Answers are only ever read from what is left outside the tags. The forms handled:

- ``<think>...</think>answer``: the usual one (several blocks are joined);
- ``...</think>answer`` with no opening tag: chat templates (Qwen3, DeepSeek-R1 distills) that put
  ``<think>`` at the end of the prompt, so the reply starts inside the block;
- ``answer<think>...`` never closed: the model hit ``max_tokens`` while thinking: all of it after
  the tag is reasoning, and the answer is what came before (usually nothing).

``<thinking>`` is taken like ``<think>``; the tags are case-blind.
"""

from __future__ import annotations

import re

_OPEN = re.compile(r"<think(?:ing)?>", re.IGNORECASE)
_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)


def split_inline_reasoning(text: str) -> tuple[str, str]:
    """``(answer, reasoning)`` of a content that may hold inline reasoning blocks; a content
    without tags is all answer."""
    first_open, first_close = _OPEN.search(text), _CLOSE.search(text)
    if first_open is None and first_close is None:
        return text, ""
    answer: list[str] = []
    reasoning: list[str] = []
    rest = text
    if first_close is not None and (first_open is None or first_close.start() < first_open.start()):
        reasoning.append(text[: first_close.start()])
        rest = text[first_close.end() :]
    while (opening := _OPEN.search(rest)) is not None:
        answer.append(rest[: opening.start()])
        inside = rest[opening.end() :]
        closing = _CLOSE.search(inside)
        if closing is None:  # cut off while thinking
            reasoning.append(inside)
            rest = ""
            break
        reasoning.append(inside[: closing.start()])
        rest = inside[closing.end() :]
    answer.append(rest)
    kept = [part.strip() for part in reasoning if part.strip()]
    return "".join(answer).strip(), "\n\n".join(kept)
