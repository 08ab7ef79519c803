"""One chat reply: the ChatResult a call returns and the _Reply that gathers it from a
streamed or plain response."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from arena.client._errors import EmptyChoices, IncompleteResponse, MalformedResponse
from arena.client._redact import _clean_optional, _clean_text
from arena.client._sse import (
    _decode_json,
    _json_text,
    _parse_timings,
    _parse_usage,
    _reasoning_field,
    _sse_data,
    _text_field,
    _Usage,
)
from arena.client._think import split_inline_reasoning


class ChatResult(BaseModel):
    """One completed chat call: the reply, its token counts and its timings."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    text: str
    """The reply content without inline reasoning blocks (``""`` when the server sent
    ``content: null``): the only text answers are read from."""
    reasoning: str | None
    """``reasoning_content`` (or ``reasoning``) text, streamed deltas concatenated, then any
    inline ``<think>`` blocks taken out of the content (see ``arena.client._think``); None if
    the reply had none."""
    finish_reason: str | None
    """Why generation stopped; ``"length"`` means it hit ``max_tokens``."""
    prompt_tokens: int
    """Prompt tokens (from the server, or estimated: see ``usage_source``)."""
    completion_tokens: int
    """Completion tokens, reasoning included (from the server, or estimated)."""
    reasoning_tokens: int | None
    """Tokens spent thinking: ``usage.completion_tokens_details.reasoning_tokens`` when the
    server reported it; else counted (streamed chunks that carried ``reasoning_content`` or
    ``reasoning``) or, for inline ``<think>`` text and non-streamed replies, estimated
    (characters / 4, at most ``completion_tokens``); None when the reply had no reasoning."""
    usage_source: Literal["server", "estimated"]
    """``estimated`` when the server sent no usage: prompt = ceil(prompt characters / 4);
    completion = number of streamed chunks that carried content or reasoning text (for a
    non-streamed body: ceil(reply characters / 4))."""
    ttft_s: float | None
    """Seconds from the start of the last attempt to the first content or reasoning token
    (None when the reply was not streamed or carried no text)."""
    latency_s: float
    """Seconds from the start of the last attempt to the end of the stream."""
    decode_tps: float | None
    """``completion_tokens / (latency_s - ttft_s)`` when both are positive, else None."""
    attempts: int
    """HTTP attempts made, the first one, retries and a stream-options fallback included."""
    server_timings: dict[str, float] | None
    """llama.cpp's ``timings`` object (its numeric entries) if the server sent one."""
    model: str | None
    """The model id the server reported."""


def estimate_tokens(chars: int) -> int:
    """The usual rough estimate: one token per four characters (rounded up)."""
    return math.ceil(chars / 4)


def prompt_chars(messages: list[dict[str, Any]]) -> int:
    """Characters of text in ``messages`` (string contents and ``text`` content parts)."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(
                len(part["text"])
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
    return total


@dataclass
class _Reply:
    """Everything gathered from one attempt's response, streamed or not."""

    started: float
    streamed: bool = True
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: _Usage | None = None
    timings: dict[str, float] | None = None
    model: str | None = None
    saw_choices: bool = False
    token_chunks: int = 0
    reasoning_chunks: int = 0
    first_token_at: float | None = None
    finished_at: float | None = None

    def add_line(self, line: str, now: float) -> bool:
        """Take one SSE line; True once ``data: [DONE]`` arrived."""
        payload = _sse_data(line)
        if payload is None or not payload.strip():
            return False
        if payload.strip() == "[DONE]":
            return True
        self._add_object(_decode_json(payload, "a stream data line"), "delta", now)
        return False

    def add_completion(self, raw: bytes) -> None:
        """Take a whole non-streamed completion body."""
        self.streamed = False
        self._add_object(_decode_json(raw, "the response body"), "message", None)

    def _add_object(self, obj: dict[str, Any], part_key: str, now: float | None) -> None:
        """Take one chunk or completion object: its envelope, then its choices."""
        error = obj.get("error")
        if error:
            raise MalformedResponse(f"error object: {_json_text(error)}")
        if isinstance(obj.get("model"), str) and obj["model"]:
            self.model = obj["model"]
        self.usage = _parse_usage(obj.get("usage")) or self.usage
        self.timings = _parse_timings(obj.get("timings")) or self.timings
        choices = obj.get("choices")
        if choices is None:
            return
        if not isinstance(choices, list):
            raise MalformedResponse(f"choices is a {type(choices).__name__}, not an array")
        for choice in choices:
            self._add_choice(choice, part_key, now)

    def _add_choice(self, choice: Any, part_key: str, now: float | None) -> None:
        """Take the text, reasoning and finish reason of choice 0 (others are ignored)."""
        if not isinstance(choice, dict):
            raise MalformedResponse(f"a choice is a {type(choice).__name__}, not an object")
        self.saw_choices = True
        if choice.get("index", 0) != 0:
            return
        part = choice.get(part_key, choice.get("message"))
        if part is None:
            part = {}
        if not isinstance(part, dict):
            raise MalformedResponse(f"{part_key} is a {type(part).__name__}, not an object")
        content, reasoning = _text_field(part, "content"), _reasoning_field(part)
        if content:
            self.text.append(content)
        if reasoning:
            self.reasoning.append(reasoning)
            if now is not None:
                self.reasoning_chunks += 1
        if (content or reasoning) and now is not None:
            self.token_chunks += 1
            if self.first_token_at is None:
                self.first_token_at = now
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]

    def finish(self, now: float) -> None:
        """Mark the end of the reply (first call wins); EmptyChoices if it had no choices."""
        if self.finished_at is None:
            self.finished_at = now
        if not self.saw_choices:
            raise EmptyChoices("no choice in the whole response")
        if self.streamed and self.finish_reason is None:
            raise IncompleteResponse(f"{self.token_chunks} token chunk(s) received")

    def _reasoning_tokens(self, fielded: str, inline: str, completion: int) -> int | None:
        """The server's reasoning count, else the reasoning chunks streamed plus an estimate
        of the rest (see ``ChatResult.reasoning_tokens``)."""
        if self.usage is not None and self.usage.reasoning is not None:
            return self.usage.reasoning
        if not (fielded or inline):
            return None
        counted = self.reasoning_chunks if self.streamed else estimate_tokens(len(fielded))
        return min(counted + estimate_tokens(len(inline)), completion)

    def result(self, *, attempts: int, prompt_chars: int) -> ChatResult:
        """The :class:`ChatResult` of this reply."""
        text, reasoning = _clean_text("".join(self.text)), _clean_text("".join(self.reasoning))
        written = len(text + reasoning)  # everything generated, inline thinking included
        text, inline = split_inline_reasoning(text)
        latency = (self.finished_at or self.started) - self.started
        ttft = None if self.first_token_at is None else self.first_token_at - self.started
        if self.usage is not None:
            prompt, completion = self.usage.prompt, self.usage.completion
        else:
            prompt = estimate_tokens(prompt_chars)
            completion = self.token_chunks if self.streamed else estimate_tokens(written)
        decoding = latency - ttft if ttft is not None else 0.0
        thought = "\n\n".join(part for part in (reasoning, inline) if part)
        return ChatResult(
            text=text,
            reasoning=thought or None,
            finish_reason=_clean_optional(self.finish_reason),
            prompt_tokens=prompt,
            completion_tokens=completion,
            reasoning_tokens=self._reasoning_tokens(reasoning, inline, completion),
            usage_source="server" if self.usage is not None else "estimated",
            ttft_s=ttft,
            latency_s=latency,
            decode_tps=completion / decoding if completion > 0 and decoding > 0 else None,
            attempts=attempts,
            server_timings=self.timings,
            model=_clean_optional(self.model),
        )
