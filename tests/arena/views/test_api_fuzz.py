"""A fuzz test of the REST API: hostile and malformed inputs on every route never get a 5xx, and
no answer echoes a secret sent in the request (an API key, a token)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.engine._store import Store
from tests.arena.views.test_api import make_client

SECRET = "sk-FUZZ-canary-7f3a9c"  # noqa: S105 - a canary, not a credential

TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "\r\n", "é", "𝕏", "../../etc/passwd", "<script>", "%00",
                     "9" * 30, "-1", "1e309", "NaN", "true", "null", "[]", "{}"]),
)  # fmt: skip
NUMBERISH = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    st.booleans(),
    st.none(),
)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
              st.floats(allow_nan=False, allow_infinity=False), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)  # fmt: skip


def submission_body() -> st.SearchStrategy[dict[str, Any]]:
    """A submission with any field replaced or dropped (URLs only to refused places: the SSRF
    guard answers before any connection)."""
    fields = {
        "display_name": TEXT, "base_model": TEXT, "quant": st.one_of(st.just("Q4_0"), TEXT),
        "bits_per_weight": NUMBERISH, "file_size_gb": NUMBERISH, "hardware": TEXT,
        "engine": st.one_of(st.just("llama.cpp"), TEXT),
        "base_url": st.sampled_from(["http://127.0.0.1:9/v1", "http://10.0.0.1/v1", "ftp://x",
                                     "http://[::1]/", "", "http://a b/"]),
        "model": TEXT, "api_key": st.one_of(st.just(SECRET), st.just(SECRET + " \r\n")),
        "sampling": st.one_of(JSONISH, st.fixed_dictionaries({
            "temperature": NUMBERISH, "max_tokens": NUMBERISH, "top_k": NUMBERISH})),
        "is_baseline": st.one_of(st.booleans(), TEXT), "context_tokens": NUMBERISH,
    }  # fmt: skip
    return st.fixed_dictionaries({}, optional=fields)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with Store(tmp_path_factory.mktemp("fuzz") / "arena.sqlite3") as store:
        yield make_client(store, allow_private=False, rate_limit=10_000)


def check(response: Any, sent: str = "") -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert SECRET not in response.text
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        problem = response.json()
        assert isinstance(problem, dict) and {"detail", "kind"} <= set(problem), problem


FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
"""Bounded and the same examples on every run: the fast suite stays deterministic (raise
``max_examples`` locally to search further)."""


@FUZZ
@given(body=submission_body())
def test_submissions_never_5xx_nor_echo_the_key(client: TestClient, body: dict[str, Any]) -> None:
    # json.dumps writes NaN and Infinity as Python's json module (and so the server) reads them
    check(client.post("/api/submissions", content=json.dumps(body),
                      headers={"content-type": "application/json"}))  # fmt: skip


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), TEXT.map(str.encode)))
def test_raw_bodies_never_5xx(client: TestClient, raw: bytes) -> None:
    check(client.post("/api/submissions", content=raw,
                      headers={"content-type": "application/json"}))  # fmt: skip


@FUZZ
@given(
    path=st.sampled_from(["/api/submissions/{x}", "/api/submissions/{x}/verdict",
                          "/api/matches/{x}"]),
    value=st.one_of(st.integers(-(2**70), 2**70).map(str), TEXT),
)  # fmt: skip
def test_path_parameters_never_5xx(client: TestClient, path: str, value: str) -> None:
    check(client.get(path.format(x=quote(value, safe="") or "x")))


@FUZZ
@given(
    sid=st.one_of(st.integers(-(2**70), 2**70).map(str), TEXT),
    change=st.one_of(JSONISH, st.fixed_dictionaries(
        {"token": st.one_of(st.just(SECRET), TEXT), "status": TEXT})),
)  # fmt: skip
def test_status_changes_never_5xx_nor_echo_the_token(
    client: TestClient, sid: str, change: Any
) -> None:
    safe = quote(sid, safe="") or "x"
    check(client.post(f"/api/submissions/{safe}/status", content=json.dumps(change),
                      headers={"content-type": "application/json"}))  # fmt: skip


@FUZZ
@given(
    route=st.sampled_from(["/api/leaderboard", "/api/matches"]),
    params=st.dictionaries(
        st.sampled_from(["base_model", "quant_family", "hardware", "engine", "search", "limit",
                         "offset", "status", "submission_id"]),
        st.one_of(st.integers(-(2**70), 2**70).map(str), TEXT), max_size=4),
)  # fmt: skip
def test_query_parameters_never_5xx(client: TestClient, route: str, params: dict[str, str]) -> None:
    check(client.get(route, params=params))


@FUZZ
@given(
    source=st.one_of(st.sampled_from(["lm-eval", "llama-bench"]), TEXT),
    auth=st.one_of(st.just(f"Bearer {SECRET}"), TEXT),
    raw=st.binary(max_size=100),
)  # fmt: skip
def test_imports_never_5xx_nor_echo_the_token(
    client: TestClient, source: str, auth: str, raw: bytes
) -> None:
    safe = quote(source, safe="") or "x"
    header = auth.encode("ascii", "ignore").decode().replace("\r", "").replace("\n", "")
    check(client.post(f"/api/imports/{safe}", params={"filename": "r.json"}, content=raw,
                      headers={"authorization": header}))  # fmt: skip


@FUZZ
@given(
    sid=st.one_of(st.integers(-(2**70), 2**70).map(str), TEXT),
    decision=st.one_of(st.sampled_from(["confirm", "demote"]), TEXT),
    body=st.one_of(JSONISH, st.fixed_dictionaries({"note": TEXT})),
    auth=st.one_of(st.just(f"Bearer {SECRET}"), TEXT),
)  # fmt: skip
def test_baseline_reviews_never_5xx_nor_echo_the_token(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, sid: str, decision: str, body: Any,
    auth: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("QER_ADMIN_TOKEN", SECRET)
    header = auth.encode("ascii", "ignore").decode().replace("\r", "").replace("\n", "")
    safe = [quote(part, safe="") or "x" for part in (sid, decision)]
    check(
        client.post(
            f"/api/admin/baselines/{safe[0]}/{safe[1]}",
            content=json.dumps(body),
            headers={"authorization": header, "content-type": "application/json"},
        )
    )
    check(client.get("/api/admin/baselines", headers={"authorization": header}))
