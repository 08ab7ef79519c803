"""The API docs page works offline: plain HTML from the schema, no script, no outside URL."""

from __future__ import annotations

import re

from fastapi import FastAPI

from arena.engine._store import Store
from arena.views._docs import docs_html
from tests.arena.views.test_api import make_client


def test_the_docs_page_lists_every_route_and_model_with_nothing_from_outside(
    store: Store,
) -> None:
    client = make_client(store)
    app = client.app
    assert isinstance(app, FastAPI)
    schema = app.openapi()
    page = docs_html(schema)
    for path, ops in schema["paths"].items():
        for method in ops:
            assert f"{method.upper()} {path}" in page
    assert "LeaderboardRow" in page and "BoardStatus" in page
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)=['\"]https?://", page)  # nothing loaded from elsewhere


def test_schema_text_is_escaped() -> None:
    page = docs_html({"info": {"title": "<b>x</b>"}, "paths": {"/a": {"get": {
        "description": "<script>alert(1)</script>", "responses": {}}}}})  # fmt: skip
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;" in page
