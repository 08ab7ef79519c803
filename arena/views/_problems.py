"""Every 4xx of the server in one shape, ``{detail, kind}``, Gradio's routes included.

The REST API's handlers already answer so (``arena.views._api``). The mounted Gradio app answers
``{"detail": "Not Found"}``, ``{"detail": "File not allowed: ..."}`` or FastAPI's list of
validation errors (whose ``input`` can echo a whole request body). This ASGI middleware rewrites
any JSON or plain-text 4xx that lacks a ``kind``: the detail as text, the kind from the status,
the field list without inputs. HTML pages, compressed bodies (Gradio compresses some) and
bodies over :data:`MAX_REWRITTEN` bytes pass untouched.
"""

from __future__ import annotations

import json
from typing import Any, Final

from arena.views._limits import ASGIApp, Message, Receive, Scope, Send

KIND_BY_STATUS: Final = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "duplicate", 410: "gone", 413: "too_large",
    415: "unsupported_media_type", 422: "invalid_field", 429: "rate_limited",
}  # fmt: skip
"""The ``kind`` of a 4xx that did not say (others: ``client_error``)."""
_REWRITTEN: Final = (b"application/json", b"text/plain")
MAX_REWRITTEN: Final = 64 * 1024
"""Larger 4xx bodies are passed on as they are (an error message is a few hundred bytes)."""


def problem_body(status: int, body: bytes, content_type: bytes) -> bytes | None:
    """The ``{detail, kind}`` body for a 4xx ``body``; None when it already has a kind or is
    not JSON or text."""
    detail: Any = body.decode("utf-8", "replace").strip()
    fields: list[dict[str, Any]] = []
    kept: dict[str, Any] = {}
    if content_type.startswith(b"application/json"):
        try:
            parsed = json.loads(body or b"null")
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "kind" in parsed:
            return None
        if isinstance(parsed, dict):
            detail = parsed.get("detail", detail)
            kept = {k: v for k, v in parsed.items() if k not in ("detail", "input", "fields")}
    if isinstance(detail, list):  # FastAPI's validation errors: keep where and what, no input
        fields = [
            {"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in detail if isinstance(e, dict)
        ]  # fmt: skip
        named = "; ".join(f"{'.'.join(map(str, f['loc']))}: {f['msg']}" for f in fields)
        detail = f"invalid request: {named or 'malformed'}"
    if not isinstance(detail, str):
        detail = json.dumps(detail)
    problem = {**kept, "detail": detail or "client error",
               "kind": KIND_BY_STATUS.get(status, "client_error")}  # fmt: skip
    if fields:
        problem["fields"] = fields
    return json.dumps(problem).encode()


class ProblemShape:
    """ASGI middleware: :func:`problem_body` for every JSON or plain-text 4xx response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def shaped(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                kind = headers.get(b"content-type", b"")
                if (
                    400 <= message["status"] < 500
                    and kind.startswith(_REWRITTEN)
                    and b"content-encoding" not in headers
                ):
                    held = message  # wait for the whole body
                    return
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
                if more and sum(map(len, chunks)) <= MAX_REWRITTEN:
                    return
                if more:  # too large to be an error message: pass it on as it came
                    await send(held)
                    await send({"type": "http.response.body", "body": b"".join(chunks),
                                "more_body": True})  # fmt: skip
                    held = None
                    return
                await _send_problem(send, held, b"".join(chunks))
                return
            await send(message)

        await self.app(scope, receive, shaped)


async def _send_problem(send: Send, start: Message, body: bytes) -> None:
    headers = list(start.get("headers", []))
    content_type = {k.lower(): v for k, v in headers}.get(b"content-type", b"")
    rewritten = (
        problem_body(start["status"], body, content_type) if len(body) <= MAX_REWRITTEN else None
    )
    if rewritten is not None:
        body, content_type = rewritten, b"application/json"
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-type", b"content-length")]
    kept += [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({**start, "headers": kept})
    await send({"type": "http.response.body", "body": body})


__all__ = ["KIND_BY_STATUS", "MAX_REWRITTEN", "ProblemShape", "problem_body"]
