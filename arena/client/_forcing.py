"""Prompt logprobs by teacher forcing, for servers that give logprobs only for generated tokens
(llama.cpp's ``llama-server`` ignores ``echo``).

The text is tokenized by the server itself (``POST /tokenize`` with ``with_pieces``, special
tokens added as the model adds them), then, for every position ``i >= 1``, the first ``i``
token ids are sent as the prompt of ``/v1/completions`` with ``max_tokens: 1, temperature: 0,
logprobs: k``: the top-k of the one generated token is the model's next-token distribution
after exactly that prefix, the distribution ``echo`` would have reported at position ``i``. The
prefix is sent as token ids, so nothing is re-tokenized, and each request extends the previous
one, so the server's prompt cache makes it cheap (one decoded token per position).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arena.client._errors import HTTPStatusError, MalformedResponse
from arena.client._logprobs import (
    LOGPROBS_REJECT,
    LogprobsUnavailable,
    PromptLogprobs,
    _merge_logprob,
    _top_logprobs,
)
from arena.client._redact import _clean_text

if TYPE_CHECKING:
    from arena.client._chat import ChatClient

TOKENIZE_PATH = "/tokenize"
"""llama-server's tokenizer route, relative to the server root."""


def _piece(raw: Any) -> str:
    """A token's text: a string, or (for a piece that is not valid UTF-8 alone) its bytes."""
    if isinstance(raw, str):
        return _clean_text(raw)
    if isinstance(raw, list) and all(isinstance(b, int) and 0 <= b < 256 for b in raw):
        return _clean_text(bytes(raw).decode("utf-8", errors="replace"))
    raise MalformedResponse(f"a token piece is a {type(raw).__name__}")


def parse_tokens(body: dict[str, Any]) -> list[tuple[int, str]]:
    """``(id, text)`` of every token of a ``/tokenize`` answer made ``with_pieces``."""
    tokens = body.get("tokens")
    if not isinstance(tokens, list):
        raise LogprobsUnavailable("its /tokenize answer has no tokens array")
    found: list[tuple[int, str]] = []
    for token in tokens:
        if not isinstance(token, dict) or not isinstance(token.get("id"), int):
            raise LogprobsUnavailable("its /tokenize answer gives no token texts (pieces)")
        found.append((token["id"], _piece(token.get("piece"))))
    return found


def parse_next_token(body: dict[str, Any]) -> dict[str, float] | None:
    """The top-k logprobs of the one generated token of a ``/completions`` answer, in OpenAI's
    legacy form (``top_logprobs: [{token: logprob}]``) or the newer one (``content: [{
    top_logprobs: [{token, logprob}]}]``, as llama-server sends)."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LogprobsUnavailable("the completion body has no choice object")
    logprobs = choices[0].get("logprobs")
    if logprobs is None:  # llama-server holds them back for a token that is a partial UTF-8
        return None  # character: that position has no distribution (it is skipped)
    if not isinstance(logprobs, dict):
        raise MalformedResponse(f"logprobs is a {type(logprobs).__name__}, not an object")
    legacy = logprobs.get("top_logprobs")
    if isinstance(legacy, list) and legacy:
        return _top_logprobs(legacy[0])
    content = logprobs.get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        raise LogprobsUnavailable("the completion's logprobs name no generated token")
    merged: dict[str, float] = {}
    for entry in content[0].get("top_logprobs") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            raise MalformedResponse("a top_logprobs entry has no token text")
        _merge_logprob(merged, entry["token"], entry.get("logprob"))
    return merged or None


async def forced_logprobs(client: ChatClient, model: str, text: str, top_k: int) -> PromptLogprobs:
    """Prompt logprobs of ``text`` by teacher forcing (see the module); LogprobsUnavailable when
    the server has no ``/tokenize`` with pieces or no generated-token logprobs."""
    try:
        return await _forced(client, model, text, top_k)
    except LogprobsUnavailable as err:
        err.endpoint = err.endpoint or client.base_url
        raise


async def _forced(client: ChatClient, model: str, text: str, top_k: int) -> PromptLogprobs:
    try:
        tokens = parse_tokens(
            await client.server_json(
                "POST", TOKENIZE_PATH, {"content": text, "add_special": True, "with_pieces": True}
            )
        )
    except HTTPStatusError as err:
        if err.status in LOGPROBS_REJECT:
            raise LogprobsUnavailable(
                f"it has no {TOKENIZE_PATH} (answered {err.status})"
            ) from None
        raise
    if len(tokens) < 2:
        raise LogprobsUnavailable(f"{len(tokens)} token(s) in the text: nothing to score")
    if len(tokens) > len(text.encode()) + 8:  # more tokens than bytes: not this text's tokens
        raise LogprobsUnavailable(f"its /tokenize answered {len(tokens)} tokens for this text")
    ids = [token_id for token_id, _ in tokens]
    tops: list[dict[str, float] | None] = [None]
    for position in range(1, len(ids)):
        body = {
            "model": model,
            "prompt": ids[:position],
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": top_k,
            "cache_prompt": True,
        }
        tops.append(parse_next_token(await client.server_json("POST", "/completions", body,
                                                               root=False)))  # fmt: skip
    if all(top is None for top in tops):
        raise LogprobsUnavailable("no generated-token logprobs at any position")
    return PromptLogprobs(
        style="teacher_forcing",
        tokens=[piece for _, piece in tokens],
        top_logprobs=tops,
        attempts=len(ids),
    )
