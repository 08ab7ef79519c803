"""Request limits over a real app: body caps (declared and chunked), the closed upload route,
and everything else untouched."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from arena.views._limits import DEFAULT_BODY_BYTES, IMPORT_BODY_BYTES, RequestLimits, body_cap


def app() -> TestClient:
    api = FastAPI()
    api.add_middleware(RequestLimits)

    @api.post("/api/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @api.post("/api/imports/x")
    async def imports(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @api.get("/api/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    return TestClient(api)


def test_bodies_under_the_cap_pass_untouched() -> None:
    client = app()
    assert client.post("/api/echo", content=b"x" * 1000).json() == {"bytes": 1000}
    assert client.post("/api/echo", content=b"x" * DEFAULT_BODY_BYTES).json()["bytes"] == (
        DEFAULT_BODY_BYTES
    )
    assert client.get("/api/ping").json() == {"ok": "yes"}


def test_a_declared_body_over_the_cap_is_a_413_before_it_is_read() -> None:
    response = app().post("/api/echo", content=b"x" * (DEFAULT_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"request body larger than {DEFAULT_BODY_BYTES} bytes",
        "kind": "too_large",
    }


def test_a_chunked_body_is_counted_as_it_arrives() -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"y" * 65536  # 2.5 MB, no Content-Length

    response = app().post("/api/echo", content=chunks())
    assert response.status_code == 413 and response.json()["kind"] == "too_large"


def test_imports_have_their_own_larger_cap() -> None:
    assert body_cap("/api/imports/lm-eval") == IMPORT_BODY_BYTES > DEFAULT_BODY_BYTES
    size = DEFAULT_BODY_BYTES * 2
    assert app().post("/api/imports/x", content=b"z" * size).json() == {"bytes": size}


def test_the_anonymous_upload_route_is_closed() -> None:
    response = app().post("/gradio_api/upload", files={"files": ("a.bin", b"0" * 100)})
    assert response.status_code == 403 and response.json()["kind"] == "forbidden"
