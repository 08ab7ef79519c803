"""Every 4xx of the whole server, Gradio's routes included, in the one ``{detail, kind}`` shape
(the served app is checked in ``tests/test_app.py``: building Gradio in-process leaks its event
loops)."""

from __future__ import annotations

import json
from typing import Any

import brotli
from fastapi.testclient import TestClient

from arena.views._problems import MAX_REWRITTEN, ProblemShape, problem_body


def test_the_shape_of_each_kind_of_body() -> None:
    def shaped(status: int, body: bytes, kind: bytes = b"application/json") -> object:
        made = problem_body(status, body, kind)
        return json.loads(made) if made is not None else None

    assert shaped(404, b'{"detail": "Not Found"}') == {"detail": "Not Found", "kind": "not_found"}
    assert shaped(403, b'{"detail": "no", "kind": "forbidden"}') is None  # already shaped
    assert shaped(418, b"I'm a teapot", b"text/plain; charset=utf-8") == {
        "detail": "I'm a teapot", "kind": "client_error"
    }  # fmt: skip
    errors = [{"type": "missing", "loc": ["body", "x"], "msg": "Field required", "input": "KEY"}]
    made = shaped(422, json.dumps({"detail": errors}).encode())
    assert made == {
        "detail": "invalid request: body.x: Field required", "kind": "invalid_field",
        "fields": [{"loc": ["body", "x"], "msg": "Field required", "type": "missing"}],
    }  # fmt: skip
    assert shaped(400, b"not json", b"application/json") == {"detail": "not json",
                                                            "kind": "bad_request"}  # fmt: skip


def asgi_answering(status: int, parts: list[bytes], headers: list[tuple[bytes, bytes]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part,
                        "more_body": i < len(parts) - 1})  # fmt: skip

    return ProblemShape(app)


JSON = [(b"content-type", b"application/json"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]


def test_the_middleware_rewrites_whole_bodies_and_leaves_the_rest_alone() -> None:
    streamed = TestClient(asgi_answering(404, [b'{"deta', b'il": "gone"}'], JSON))
    answer = streamed.get("/x")
    assert answer.json() == {"detail": "gone", "kind": "not_found"}
    assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]  # every header kept
    assert int(answer.headers["content-length"]) == len(answer.content)
    compressed = [*JSON, (b"content-encoding", b"br")]
    original = b'{"detail": "File not allowed: ' + b"x" * 500 + b'"}'
    untouched = TestClient(asgi_answering(403, [brotli.compress(original)], compressed))
    assert untouched.get("/x.json").content == original  # decodes: passed on as it came
    big = [b'{"detail": "', b"x" * (MAX_REWRITTEN + 10), b'"}']
    assert len(TestClient(asgi_answering(400, big, JSON)).get("/x").content) == sum(map(len, big))
    page = [(b"content-type", b"text/html")]
    assert TestClient(asgi_answering(404, [b"<h1>no</h1>"], page)).get("/x").text == "<h1>no</h1>"
    fine = TestClient(asgi_answering(200, [b'{"ok": 1}'], JSON)).get("/x")
    assert fine.json() == {"ok": 1}
    odd = TestClient(asgi_answering(409, [b'{"detail": {"a": 1}, "extra": 2}'], JSON)).get("/x")
    assert odd.json() == {"detail": '{"a": 1}', "extra": 2, "kind": "duplicate"}
