"""Request size limits for the whole server (the REST API and the mounted Gradio app).

Every request body is capped before the app reads it: a declared ``Content-Length`` over the cap
is refused at once, and a chunked body is counted as it arrives (at most the cap is held in
memory). Gradio's file upload route is closed: this app has no upload widget, so nobody needs
to store files on the server. Refusals use the API's one shape, ``{detail, kind}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_BODY_BYTES: Final = 1 * 1024 * 1024
"""The largest request body by default (forms and API calls are a few kB)."""
IMPORT_BODY_BYTES: Final = 20 * 1024 * 1024
"""The largest body of ``POST /api/imports/...`` (a results file)."""
CLOSED_PREFIXES: Final = ("/gradio_api/upload",)
"""Routes refused outright (Gradio's anonymous file upload: no widget here uses it)."""


def body_cap(path: str) -> int:
    """The largest body accepted on ``path``."""
    return IMPORT_BODY_BYTES if path.startswith("/api/imports/") else DEFAULT_BODY_BYTES


async def _refuse(send: Send, status: int, detail: str, kind: str) -> None:
    body = json.dumps({"detail": detail, "kind": kind}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """ASGI middleware: close :data:`CLOSED_PREFIXES`, cap every body (:func:`body_cap`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path.startswith(CLOSED_PREFIXES):
            await _refuse(send, 403, "file uploads are not accepted here", "forbidden")
            return
        cap = body_cap(path)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            await _refuse(send, 413, f"request body larger than {cap} bytes", "too_large")
            return
        chunks, size, more = [], 0, True
        while more:  # read the body here, counting (chunked bodies declare no length)
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _refuse(send, 413, f"request body larger than {cap} bytes", "too_large")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


__all__ = [
    "CLOSED_PREFIXES",
    "DEFAULT_BODY_BYTES",
    "IMPORT_BODY_BYTES",
    "RequestLimits",
    "body_cap",
]
