"""Prompt logprobs: what ``/completions`` with ``echo`` + ``logprobs`` (or vLLM's
``prompt_logprobs``) reports at each position of a prompt, and the parsers of both forms."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from arena.client._errors import EndpointError, MalformedResponse
from arena.client._redact import _clean_text
from arena.client._sse import _decode_json, _is_int, _json_text, _parse_usage

COMPLETIONS_PATH = "/completions"
"""Legacy completions path, relative to the OpenAI root."""
LogprobsStyle = Literal["echo", "prompt_logprobs", "teacher_forcing"]
"""How prompt logprobs were obtained: ``echo`` (OpenAI's legacy echo), ``prompt_logprobs``
(vLLM), ``teacher_forcing`` (one generated token per prefix: ``arena.client._forcing``)."""
LOGPROBS_STYLES: tuple[LogprobsStyle, ...] = ("echo", "prompt_logprobs")
"""How prompt logprobs are asked for in one request, in the order they are tried."""
LOGPROBS_REJECT: frozenset[int] = frozenset({400, 404, 405, 422, 501})
"""Statuses taken to mean "this server does not offer that kind of logprobs"."""


class PromptLogprobs(BaseModel):
    """The top-k next-token distributions a server reported at each position of one prompt."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    style: LogprobsStyle
    """Which request produced them."""
    tokens: list[str | None]
    """The prompt's tokens as text, in order (None where the server did not say: position 0
    of vLLM's ``prompt_logprobs``). Only prompt tokens: the generated one is dropped."""
    top_logprobs: list[dict[str, float] | None]
    """Per position, token text -> logprob (natural log, at most 0), as the server put it;
    None at position 0 (always) and wherever the server sent none."""
    attempts: int = 1
    """HTTP attempts made, retries and the fallback from ``echo`` included."""


class LogprobsUnavailable(EndpointError):
    """The endpoint answered, but offers no prompt logprobs (or not in a form we know)."""

    kind = "no_logprobs"

    def headline(self) -> str:
        return "offers no prompt logprobs"


def _parse_prompt_logprobs(raw: bytes, prompt: str, style: LogprobsStyle) -> PromptLogprobs:
    """The prompt logprobs in a ``/completions`` body (either format, whichever it carries).

    Only the prompt's positions are kept. The echoed list may end with the generated token
    (``max_tokens`` is 1), which is dropped: a position is kept only while its ``text_offset``
    (when sent) is below ``len(prompt)`` and its index below ``usage.prompt_tokens`` (when
    sent). llama-cpp-python's echo lists the prompt tokens only (BOS stripped); vLLM's echo
    lists BOS, the prompt tokens and the generated token.
    """
    body = _decode_json(raw, "the completion body")
    if body.get("error"):
        raise MalformedResponse(f"error object: {_json_text(body['error'])}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LogprobsUnavailable("the completion body has no choice object")
    choice = choices[0]
    usage = _parse_usage(body.get("usage"))
    limit = usage.prompt if usage is not None else None
    legacy = choice.get("logprobs")
    if isinstance(legacy, dict) and legacy.get("tokens"):
        tokens, tops = _legacy_logprobs(legacy, prompt)
    elif isinstance(choice.get("prompt_logprobs"), list):
        tokens, tops = _vllm_prompt_logprobs(choice["prompt_logprobs"])
    else:
        asked = "echo + logprobs" if style == "echo" else "prompt_logprobs"
        raise LogprobsUnavailable(f"the answer to {asked} carries no prompt logprobs")
    n = len(tokens) if limit is None else min(len(tokens), limit)
    tops = [None, *tops[1:n]]  # position 0 has no distribution (nothing before it)
    if n < 2 or all(top is None for top in tops):
        raise LogprobsUnavailable(f"logprobs for only {n} prompt position(s) (echo ignored?)")
    return PromptLogprobs(style=style, tokens=tokens[:n], top_logprobs=tops)


def _legacy_logprobs(
    logprobs: dict[str, Any], prompt: str
) -> tuple[list[str | None], list[dict[str, float] | None]]:
    """Tokens and top logprobs of OpenAI's legacy ``logprobs`` object, cut at the prompt's end."""
    tokens, tops = logprobs.get("tokens"), logprobs.get("top_logprobs")
    offsets = logprobs.get("text_offset")
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise MalformedResponse("logprobs.tokens is not an array of strings")
    if not isinstance(tops, list) or len(tops) != len(tokens):
        raise LogprobsUnavailable("logprobs.top_logprobs is missing or not one per token")
    n = len(tokens)
    if isinstance(offsets, list) and len(offsets) == n and all(map(_is_int, offsets)):
        if offsets and offsets[0] != 0:
            raise LogprobsUnavailable(f"the prompt was not echoed (first offset {offsets[0]})")
        n = next((i for i, offset in enumerate(offsets) if offset >= len(prompt)), n)
    return (
        [_clean_text(token) for token in tokens[:n]],
        [_top_logprobs(top) for top in tops[:n]],
    )


def _vllm_prompt_logprobs(
    entries: list[Any],
) -> tuple[list[str | None], list[dict[str, float] | None]]:
    """Tokens and top logprobs of vLLM's ``prompt_logprobs`` (token id -> {logprob, rank,
    decoded_token}); vLLM lists the prompt's own token first in each entry."""
    tokens: list[str | None] = []
    tops: list[dict[str, float] | None] = []
    for entry in entries:
        if not entry:
            tokens.append(None)
            tops.append(None)
            continue
        if not isinstance(entry, dict):
            raise MalformedResponse(f"a prompt_logprobs entry is a {type(entry).__name__}")
        named: list[tuple[str, Any]] = []
        for token_id, value in entry.items():
            if isinstance(value, dict):
                text = value.get("decoded_token")
                named.append((text if isinstance(text, str) else f"<id {token_id}>", value))
            else:
                named.append((f"<id {token_id}>", {"logprob": value}))
        merged: dict[str, float] = {}
        for text, value in named:
            _merge_logprob(merged, text, value.get("logprob"))
        tokens.append(_clean_text(named[0][0]))
        tops.append(merged or None)
    return tokens, tops


def _top_logprobs(raw: Any) -> dict[str, float] | None:
    """A ``{token text: logprob}`` map, checked (None for null or empty)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MalformedResponse(f"a top_logprobs entry is a {type(raw).__name__}, not an object")
    merged: dict[str, float] = {}
    for text, logprob in raw.items():
        _merge_logprob(merged, str(text), logprob)
    return merged or None


def _merge_logprob(into: dict[str, float], text: str, logprob: Any) -> None:
    """Add one token's logprob; texts that clean to the same string have their mass summed.

    ``-inf`` (probability 0) is left out; positive values (rounding) are clamped to 0.
    """
    if not isinstance(logprob, int | float) or isinstance(logprob, bool) or math.isnan(logprob):
        raise MalformedResponse(f"a logprob is {_json_text(logprob)}, not a number")
    if logprob == -math.inf:
        return
    if logprob == math.inf:
        raise MalformedResponse("a logprob is +Infinity")
    text, logprob = _clean_text(text), min(float(logprob), 0.0)
    if text in into:
        high, low = max(into[text], logprob), min(into[text], logprob)
        logprob = min(high + math.log1p(math.exp(low - high)), 0.0)
    into[text] = logprob
