"""Parsing what an endpoint sends: body lines, SSE ``data:`` payloads, JSON objects, text
fields, usage, timings and model lists."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arena.client._errors import MalformedResponse
from arena.client._redact import _clean_text


class _LineSplitter:
    """Splits a byte stream into text lines (``\\n`` or ``\\r\\n``), in linear time."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[str]:
        """The complete lines that ``chunk`` finishes."""
        scan_from = len(self._buffer)
        self._buffer += chunk
        lines: list[str] = []
        start = 0
        while (newline := self._buffer.find(b"\n", scan_from)) >= 0:
            lines.append(_decode_line(self._buffer[start:newline]))
            start = scan_from = newline + 1
        del self._buffer[:start]
        return lines

    def flush(self) -> list[str]:
        """The last, unterminated line (if any) at the end of the stream."""
        rest = self._buffer
        self._buffer = bytearray()
        return [_decode_line(rest)] if rest else []


def _decode_line(raw: bytes | bytearray) -> str:
    """One line as text, without its ``\\r``; invalid UTF-8 is replaced, not fatal."""
    return bytes(raw).rstrip(b"\r").decode("utf-8", errors="replace")


def _sse_data(line: str) -> str | None:
    """The payload of a ``data:`` line; None for comments, ``event:``/``id:`` and blank lines.

    Every data line is taken as one event: OpenAI-compatible servers put one JSON object on
    one ``data:`` line.
    """
    if not line.startswith("data:"):
        return None
    payload = line[5:]
    return payload[1:] if payload.startswith(" ") else payload


def _text_field(part: Mapping[str, Any], key: str) -> str:
    """A string field of a delta or message; null is ``""``, anything else is malformed."""
    value = part.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedResponse(f"{key} is a {type(value).__name__}, not a string")
    return value


def _reasoning_field(part: Mapping[str, Any]) -> str:
    """``reasoning_content`` (vLLM, llama.cpp, DeepSeek) or ``reasoning`` (Ollama, newer vLLM)."""
    for key in ("reasoning_content", "reasoning"):
        value = part.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _is_int(value: Any) -> bool:
    """A JSON integer (booleans are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Usage:
    """Token counts the server reported."""

    prompt: int
    completion: int
    reasoning: int | None


def _parse_usage(raw: Any) -> _Usage | None:
    """A usage object with integer prompt and completion counts, else None."""
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if not (_is_int(prompt) and _is_int(completion)):
        return None
    details = raw.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return _Usage(prompt, completion, reasoning if _is_int(reasoning) else None)


def _parse_timings(raw: Any) -> dict[str, float] | None:
    """The numeric entries of llama.cpp's ``timings`` object, or None."""
    if not isinstance(raw, dict):
        return None
    timings = {
        _clean_text(str(key)): float(value)
        for key, value in raw.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    return timings or None


def _as_text(raw: str | bytes) -> str:
    """Server-provided bytes or text as text (invalid UTF-8 replaced)."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _decode_json(raw: str | bytes, what: str) -> dict[str, Any]:
    """A JSON object, or MalformedResponse quoting the text.

    The whole text goes into the error: :meth:`ChatClient._finish` scrubs the key out of all
    of it before clipping it to a snippet (clipping first could cut a key in half).
    """
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise MalformedResponse(f"undecodable JSON in {what}: {_as_text(raw)}") from None
    if not isinstance(value, dict):
        raise MalformedResponse(f"{what} is JSON but not an object: {_as_text(raw)}")
    return value


def _json_text(value: Any) -> str:
    """``value`` (decoded from the server) as JSON text again, for an error message."""
    try:
        return json.dumps(value)
    except (ValueError, RecursionError):
        return repr(value)


def _parse_model_ids(raw: bytes) -> list[str]:
    """Model ids from a ``GET /models`` body (``{"data": [{"id": ...}, ...]}``)."""
    body = _decode_json(raw, "the model list")
    data = body.get("data")
    if not isinstance(data, list):
        raise MalformedResponse(f"model list has no data array: {_as_text(raw)}")
    ids = [item.get("id") for item in data if isinstance(item, dict)]
    if len(ids) != len(data) or not all(isinstance(model_id, str) for model_id in ids):
        raise MalformedResponse(f"model list entries lack string ids: {_as_text(raw)}")
    return [_clean_text(model_id) for model_id in ids]
