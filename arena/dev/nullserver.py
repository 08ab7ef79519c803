"""A real, minimal OpenAI-compatible server that "generates" a fixed reply: for tests and benches.

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` and chunked request bodies,
``Expect: 100-continue``, chunked responses) over raw asyncio streams, which costs far less per
request than a framework stack and keeps the client's measured overhead honest. It serves:

* ``GET /v1/models``: one model, ``NullServerConfig.model``.
* ``POST /v1/chat/completions``: the configured reply split into ``tokens`` chunks, streamed as
  SSE (``stream: true``) or returned as one JSON completion, optionally at a fixed pace
  (``token_delay_s`` before each token) to emulate a model decoding at X tokens/s. Usage comes in
  a final ``choices: []`` chunk when ``stream_options.include_usage`` is set; ``max_tokens``
  (or ``max_completion_tokens``) cuts the reply short with ``finish_reason: "length"``.
* ``GET /health``: ``{"status": "ok"}``.
* ``GET /props``: ``NullServerConfig.props`` when set (a scripted llama-server identity).

It binds 127.0.0.1 only. In tests, run it in a background thread::

    with NullServer(NullServerConfig(reply="ANSWER: 7")) as server:
        client = ChatClient(server.base_url)

Standalone: ``python -m arena.dev.nullserver --port 8000 --tokens-per-second 50``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

HOST = "127.0.0.1"
"""The only address the server binds."""
MAX_HEADER_BYTES = 64 * 1024
"""Largest request head (request line and headers) accepted."""
MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest request body accepted."""

_REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}


@dataclass(frozen=True)
class NullServerConfig:
    """What the null server answers and how fast."""

    reply: str = "ANSWER: 42"
    """The text every chat completion returns."""
    tokens: int | None = None
    """How many chunks ("tokens") the reply is split into; None: one per whitespace-separated
    word (whitespace kept, so the chunks join back into ``reply``)."""
    token_delay_s: float = 0.0
    """Pause before each token (``1 / tokens-per-second``); 0 sends everything at once."""
    reject_stream_options: bool = False
    """Answer 400 to any request carrying ``stream_options`` (like servers that lack it)."""
    model: str = "null-model"
    props: dict[str, Any] | None = None
    """Served at ``GET /props`` as llama-server's self-description (build, ``model_ftype``,
    ``n_ctx``); None: no such route (404), like most servers."""
    """The model id served and reported."""
    responder: Callable[[dict[str, Any]], str] | None = None
    """Computes each chat request's reply from its JSON body (a simulated contestant, see
    ``arena/skillsim.py``), run in a worker thread; None: every request gets ``reply``. Its reply
    is split into words as tokens (``tokens`` applies to ``reply`` only)."""

    def __post_init__(self) -> None:
        if self.tokens is not None and not 1 <= self.tokens <= len(self.reply):
            raise ValueError(
                f"tokens must be between 1 and len(reply) = {len(self.reply)}, got {self.tokens}"
            )
        if not (math.isfinite(self.token_delay_s) and self.token_delay_s >= 0):
            raise ValueError(f"token_delay_s must be >= 0, got {self.token_delay_s}")

    def pieces(self) -> list[str]:
        """The reply split into its tokens; they join back into ``reply``."""
        return split_pieces(self.reply, self.tokens)


def split_pieces(text: str, tokens: int | None = None) -> list[str]:
    """``text`` split into ``tokens`` chunks (None: one per whitespace-separated word, the
    whitespace kept); the chunks join back into ``text``."""
    if tokens is None:
        words = re.findall(r"\S+\s*", text)
        lead = text[: len(text) - len(text.lstrip())]
        return [lead + words[0], *words[1:]] if words else []
    size, count = len(text), tokens
    bounds = [index * size // count for index in range(count + 1)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]


DEFAULT_CONFIG = NullServerConfig()
"""The configuration a server gets when none is given."""


class _BadRequest(Exception):
    """The request cannot be parsed; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Request:
    """One parsed HTTP request."""

    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the response."""
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


@dataclass
class _Completion:
    """What one chat request is answered with."""

    pieces: list[str]
    finish_reason: str
    prompt_tokens: int
    include_usage: bool
    request_id: str = field(default_factory=lambda: f"chatcmpl-null-{uuid.uuid4().hex[:12]}")
    created: int = field(default_factory=lambda: int(time.time()))

    def usage(self) -> dict[str, int]:
        """OpenAI usage object: one completion token per piece."""
        completion = len(self.pieces)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


def _json_bytes(obj: Any) -> bytes:
    """Compact JSON."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _chunked(data: bytes) -> bytes:
    """One chunk of a chunked transfer-encoded body."""
    return f"{len(data):X}\r\n".encode() + data + b"\r\n"


def _head(status: int, headers: Iterable[tuple[str, str]]) -> bytes:
    """Status line and headers."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _error_body(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    """OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "code": None}}


def _prompt_tokens(messages: list[Any]) -> int:
    """ceil(characters of message text / 4), the usual estimate."""
    chars = sum(
        len(message["content"])
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), str)
    )
    return math.ceil(chars / 4)


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> _Request | None:
    """The next request on the connection, or None when the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise _BadRequest(400, "incomplete request head") from None
    except asyncio.LimitOverrunError:
        raise _BadRequest(413, "request head too large") from None
    request = _parse_head(head)
    if request.headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.body = await _read_body(reader, request.headers)
    return request


def _parse_head(head: bytes) -> _Request:
    """Request line and headers (header names lower-cased)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400, f"bad request line {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(400, f"bad header line {line[:100]!r}")
            headers[name.strip().lower()] = value.strip()
    return _Request(parts[0], parts[1].split("?", 1)[0], parts[2], headers)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """The request body (``Content-Length`` or chunked), within ``MAX_BODY_BYTES``."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return await _read_chunked(reader)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _BadRequest(400, "bad Content-Length") from None
    if not 0 <= length <= MAX_BODY_BYTES:
        raise _BadRequest(413, "request body too large")
    return await reader.readexactly(length)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked request body."""
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest(400, "bad chunk size") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return bytes(body)
        if len(body) + size > MAX_BODY_BYTES:
            raise _BadRequest(413, "request body too large")
        body += await reader.readexactly(size)
        await reader.readexactly(2)


class NullServer:
    """The null server, on 127.0.0.1, in a background thread with its own event loop."""

    def __init__(self, config: NullServerConfig = DEFAULT_CONFIG, *, port: int = 0) -> None:
        """``port`` 0 (the default) picks a free port."""
        self.config = config
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._connections = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._base_url: str | None = None

    # ----------------------------------------------------------------------- thread control

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (once started)."""
        if self._base_url is None:
            raise RuntimeError("the null server is not running; call start() first")
        return self._base_url

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of the JSON bodies of every chat request received, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def connections(self) -> int:
        """How many TCP connections were accepted (to check connection reuse)."""
        with self._lock:
            return self._connections

    def start(self) -> str:
        """Start serving in a background thread; returns the base URL."""
        if self._thread is not None:
            raise RuntimeError("the null server is already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(ready, failure), name="nullserver", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("the null server did not start within 10 s")
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"the null server could not start: {failure[0]}") from failure[0]
        return self.base_url

    def stop(self) -> None:
        """Stop serving (open streams are cut) and join the thread; idempotent."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._request_stop)
        thread.join(timeout=10)
        self._thread = self._loop = self._stop = None
        self._base_url = None

    def _request_stop(self) -> None:
        """On the server's loop: make :meth:`serve` return."""
        if self._stop is not None:
            self._stop.set()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        """Thread body: run the server on a fresh event loop until stopped."""
        with asyncio.Runner() as runner:
            try:
                runner.run(self.serve(lambda _url: ready.set()))
            except Exception as exc:  # reported by start()
                failure.append(exc)
                ready.set()

    async def serve(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve on the running loop until :meth:`stop` or cancellation.

        ``on_ready`` is called with the base URL once the server listens.
        """
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(
            self._serve_connection, HOST, self._port, limit=MAX_HEADER_BYTES
        )
        port = server.sockets[0].getsockname()[1]
        self._base_url = f"http://{HOST}:{port}/v1"
        if on_ready is not None:
            on_ready(self._base_url)
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()

    # ---------------------------------------------------------------------------- HTTP

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Answer requests on one connection until it closes."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        with self._lock:
            self._connections += 1
        try:
            while (request := await _read_request(reader, writer)) is not None:
                await self._respond(request, writer)
                if not request.keep_alive:
                    break
        except _BadRequest as exc:
            with contextlib.suppress(ConnectionError):
                await self._send_json(writer, exc.status, _error_body(str(exc)), False)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away
        except asyncio.CancelledError:
            # stop() cancels open connections; ending normally matters on Python 3.11, whose
            # start_server callback calls task.exception() on the handler and would log a
            # CancelledError for a cancelled one.
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _respond(self, request: _Request, writer: asyncio.StreamWriter) -> None:
        """Route one request."""
        keep = request.keep_alive
        routes = {"/v1/models": "GET", "/health": "GET", "/v1/chat/completions": "POST"}
        if self.config.props is not None:
            routes["/props"] = "GET"
        if request.path not in routes:
            await self._send_json(writer, 404, _error_body(f"no route {request.path}"), keep)
        elif request.method != routes[request.path]:
            await self._send_json(writer, 405, _error_body(f"use {routes[request.path]}"), keep)
        elif request.path == "/v1/models":
            await self._send_json(writer, 200, self._models(), keep)
        elif request.path == "/health":
            await self._send_json(writer, 200, {"status": "ok"}, keep)
        elif request.path == "/props":
            await self._send_json(writer, 200, self.config.props or {}, keep)
        else:
            await self._chat(request, writer)

    def _models(self) -> dict[str, Any]:
        """The model list."""
        model = {"id": self.config.model, "object": "model", "created": 0, "owned_by": "null"}
        return {"object": "list", "data": [model]}

    async def _chat(self, request: _Request, writer: asyncio.StreamWriter) -> None:
        """Answer a chat completion request."""
        keep = request.keep_alive
        try:
            body = json.loads(request.body)
        except ValueError:
            await self._send_json(writer, 400, _error_body("body is not valid JSON"), keep)
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            await self._send_json(writer, 400, _error_body("messages must be an array"), keep)
            return
        with self._lock:
            self._requests.append(body)
        if self.config.reject_stream_options and "stream_options" in body:
            message = "Unrecognized request argument supplied: stream_options"
            await self._send_json(writer, 400, _error_body(message), keep)
            return
        reply: str | None = None
        if self.config.responder is not None:
            try:
                reply = await asyncio.to_thread(self.config.responder, body)
            except Exception as exc:  # a bug in a simulated contestant: say so, do not hang
                message = f"responder failed: {type(exc).__name__}: {exc}"
                await self._send_json(writer, 500, _error_body(message, "server_error"), keep)
                return
        completion = self._plan(body, reply)
        if body.get("stream") is True:
            await self._stream(completion, writer, keep)
        else:
            await asyncio.sleep(self.config.token_delay_s * len(completion.pieces))
            await self._send_json(writer, 200, self._whole(completion), keep)

    def _plan(self, body: dict[str, Any], reply: str | None = None) -> _Completion:
        """The pieces, finish reason and usage of the answer to ``body`` (``reply``: the
        responder's text instead of the configured one)."""
        pieces = self.config.pieces() if reply is None else split_pieces(reply)
        finish = "stop"
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit < len(pieces):
            pieces, finish = pieces[:limit], "length"
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return _Completion(pieces, finish, _prompt_tokens(body["messages"]), include_usage)

    def _whole(self, completion: _Completion) -> dict[str, Any]:
        """A non-streamed completion object."""
        message = {"role": "assistant", "content": "".join(completion.pieces)}
        choice = {"index": 0, "message": message, "finish_reason": completion.finish_reason}
        return {
            "id": completion.request_id,
            "object": "chat.completion",
            "created": completion.created,
            "model": self.config.model,
            "choices": [choice],
            "usage": completion.usage(),
        }

    def _event(self, completion: _Completion, choices: list[Any], **extra: Any) -> bytes:
        """One SSE event carrying a chunk object."""
        chunk = {
            "id": completion.request_id,
            "object": "chat.completion.chunk",
            "created": completion.created,
            "model": self.config.model,
            "choices": choices,
            **extra,
        }
        return _chunked(b"data: " + _json_bytes(chunk) + b"\n\n")

    def _delta(self, completion: _Completion, delta: dict[str, Any], finish: str | None) -> bytes:
        """A chunk event with one choice delta."""
        return self._event(completion, [{"index": 0, "delta": delta, "finish_reason": finish}])

    async def _stream(
        self, completion: _Completion, writer: asyncio.StreamWriter, keep_alive: bool
    ) -> None:
        """Stream the completion as SSE, one event per token, paced by ``token_delay_s``."""
        headers = [
            ("Content-Type", "text/event-stream; charset=utf-8"),
            ("Cache-Control", "no-cache"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "keep-alive" if keep_alive else "close"),
        ]
        writer.write(_head(200, headers))
        writer.write(self._delta(completion, {"role": "assistant", "content": ""}, None))
        delay = self.config.token_delay_s
        for piece in completion.pieces:
            if delay > 0:
                await writer.drain()
                await asyncio.sleep(delay)
            writer.write(self._delta(completion, {"content": piece}, None))
        tail = [self._delta(completion, {}, completion.finish_reason)]
        if completion.include_usage:
            tail.append(self._event(completion, [], usage=completion.usage()))
        tail += [_chunked(b"data: [DONE]\n\n"), b"0\r\n\r\n"]
        writer.write(b"".join(tail))
        await writer.drain()

    async def _send_json(
        self, writer: asyncio.StreamWriter, status: int, body: Any, keep_alive: bool
    ) -> None:
        """A complete JSON response."""
        data = _json_bytes(body)
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Connection", "keep-alive" if keep_alive else "close"),
        ]
        writer.write(_head(status, headers) + data)
        await writer.drain()


def main(argv: list[str] | None = None) -> None:
    """``python -m arena.dev.nullserver``: serve on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any)")
    parser.add_argument(
        "--tokens-per-second", type=float, default=0.0, help="decode pace (0: no delay)"
    )
    parser.add_argument("--reply", default=DEFAULT_CONFIG.reply, help="the fixed reply")
    parser.add_argument("--tokens", type=int, default=None, help="chunks (default: words)")
    parser.add_argument("--model", default=DEFAULT_CONFIG.model, help="model id served")
    parser.add_argument(
        "--reject-stream-options", action="store_true", help="400 on stream_options"
    )
    args = parser.parse_args(argv)
    if args.tokens_per_second < 0:
        parser.error("--tokens-per-second must be >= 0")
    config = NullServerConfig(
        reply=args.reply,
        tokens=args.tokens,
        token_delay_s=1 / args.tokens_per_second if args.tokens_per_second else 0.0,
        reject_stream_options=args.reject_stream_options,
        model=args.model,
    )
    server = NullServer(config, port=args.port)

    def on_ready(url: str) -> None:
        print(f"null server: {url}", flush=True)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server._request_stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(on_ready))


if __name__ == "__main__":
    main()
