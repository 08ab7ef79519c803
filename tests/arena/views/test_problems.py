"""Every 4xx of the whole server, Gradio's routes included, in the one ``{detail, kind}`` shape
(the served app is checked in ``tests/test_app.py``: building Gradio in-process leaks its event
loops)."""

from __future__ import annotations

import json

from arena.views._problems import problem_body


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
