"""The REST API over a real store, a real submission service and null servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arena.analysis import _calibration_store as calibration_store
from arena.analysis._calibration import CalibrationConfig
from arena.client import ClientLimits
from arena.dev.nullserver import NullServer, NullServerConfig
from arena.engine import _profile as profiles
from arena.engine._match import play_match
from arena.engine._models import ContestantSpec, MatchSettings, MatchSpec
from arena.engine._store import Store
from arena.views._api import build_router, install_error_handlers
from submissions.keystore import KeyStore
from submissions.service import SubmissionService
from tests.arena.analysis.test_leaderboard import add_submission, play
from tests.arena.engine.test_match import Scripted

CANARY_KEY = "sk-CANARY-api-0123456789"


@pytest.fixture
def server() -> Iterator[NullServer]:
    with NullServer(NullServerConfig(reply="ready", model="smol")) as s:
        yield s


def make_client(store: Store, **kwargs: Any) -> TestClient:
    kwargs.setdefault("allow_private", True)
    service = SubmissionService(
        store,
        KeyStore(Fernet.generate_key().decode()),
        probe_limits=ClientLimits(deadline_s=5, max_retries=0),
        **kwargs,
    )
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(build_router(store, service))
    return TestClient(app)


def body(url: str, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "display_name": "Smol <b>Q4</b>",
        "base_model": "SmolLM2-135M",
        "quant": "Q4_0",
        "bits_per_weight": 4.5,
        "hardware": "CPU",
        "engine": "llama.cpp",
        "base_url": url,
        "model": "smol",
        "api_key": CANARY_KEY,
        "sampling": {"temperature": 0, "max_tokens": 64},
    }
    fields.update(changes)
    return fields


def test_health_on_an_empty_database(store: Store) -> None:
    response = make_client(store).get("/api/health")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok" and data["matches"] == {} and data["api_keys_accepted"] is True
    assert data["sandbox_level"] in ("namespaces", "user-namespaces", "rlimits", "refused")


def test_empty_leaderboard_and_matches(store: Store) -> None:
    client = make_client(store)
    assert client.get("/api/leaderboard").json() == []
    assert client.get("/api/matches").json() == []
    missing = client.get("/api/matches/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_submission_lifecycle(store: Store, server: NullServer) -> None:
    client = make_client(store)
    created = client.post("/api/submissions", json=body(server.base_url))
    assert created.status_code == 201, created.text
    receipt = created.json()
    assert receipt["probe"]["models"] == ["smol"] and len(receipt["deletion_token"]) >= 24
    number = receipt["submission_id"]
    public = client.get(f"/api/submissions/{number}").json()
    assert public["status"] == "active" and public["has_api_key"] is True
    assert public["display_name"] == "Smol <b>Q4</b>"  # stored as plain text, escaped at display
    text = client.get(f"/api/submissions/{number}").text
    assert CANARY_KEY not in text and server.base_url not in text and "deletion_token" not in text
    rows = client.get("/api/leaderboard").json()
    assert [r["submission_id"] for r in rows] == [number] and rows[0]["matches"] == 0

    duplicate = client.post("/api/submissions", json=body(server.base_url))
    assert duplicate.status_code == 409 and duplicate.json()["kind"] == "duplicate"

    wrong = client.post(
        f"/api/submissions/{number}/status", json={"token": "x", "status": "paused"}
    )
    assert wrong.status_code == 403 and wrong.json()["kind"] == "forbidden"
    token = receipt["deletion_token"]
    paused = client.post(
        f"/api/submissions/{number}/status", json={"token": token, "status": "paused"}
    )
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    gone = client.post(
        f"/api/submissions/{number}/status", json={"token": token, "status": "deleted"}
    )
    assert gone.status_code == 200
    assert client.get(f"/api/submissions/{number}").status_code == 404
    again = client.post(
        f"/api/submissions/{number}/status", json={"token": token, "status": "active"}
    )
    assert again.status_code == 410


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quant": "Q9_9"}, "quant"),
        ({"bits_per_weight": 0}, "bits_per_weight"),
        ({"display_name": "\u202e\u200b"}, "display_name"),
        ({"engine": "vllm-ish"}, "engine"),
        ({"sampling": {"temperature": 9}}, "temperature"),
        ({"unexpected": 1}, "unexpected"),
        ({"api_key": "x" * 5000}, "api_key"),
        ({"display_name": None}, "display_name"),
    ],
)
def test_bad_fields_get_a_422_naming_the_field(
    store: Store, server: NullServer, changes: dict[str, Any], field: str
) -> None:
    response = make_client(store).post("/api/submissions", json=body(server.base_url, **changes))
    assert response.status_code == 422
    problem = response.json()
    assert problem["kind"] == "invalid_field" and field in problem["detail"]
    assert any(field in [str(p) for p in error["loc"]] for error in problem["fields"])
    assert CANARY_KEY not in response.text
    assert store.query("SELECT COUNT(*) AS n FROM submissions")[0]["n"] == 0


def test_refusals_map_to_status_codes(store: Store, server: NullServer) -> None:
    guarded = make_client(store, allow_private=False)
    refused = guarded.post("/api/submissions", json=body(server.base_url))
    assert refused.status_code == 400 and refused.json()["kind"] == "url_refused"
    assert "loopback" in refused.json()["detail"]
    client = make_client(store, rate_limit=2)
    probe = client.post("/api/submissions", json=body(server.base_url, model="not-served"))
    assert probe.status_code == 422 and probe.json()["kind"] == "probe_failed"
    assert "does not serve model 'not-served'" in probe.json()["detail"]
    limited = client.post("/api/submissions", json=body(server.base_url))
    assert limited.status_code == 429 and limited.json()["kind"] == "rate_limited"


async def test_matches_and_replay_routes(store: Store) -> None:
    def contestant(name: str) -> ContestantSpec:
        return ContestantSpec(base_url="http://127.0.0.1:1/v1", model=name, api_key=CANARY_KEY)

    spec = MatchSpec(a=contestant("a"), b=contestant("b"), settings=MatchSettings(seed=7))
    result = await play_match(spec, store, endpoints={"a": Scripted(["right"] * 12),
                                                      "b": Scripted([])})  # fmt: skip
    client = make_client(store)
    listed = client.get("/api/matches").json()
    assert [m["id"] for m in listed] == [result.match_id]
    assert client.get("/api/matches", params={"status": "running"}).json() == []
    assert client.get("/api/matches", params={"limit": 0}).status_code == 422
    full = client.get(f"/api/matches/{result.match_id}")
    assert full.status_code == 200
    data = full.json()
    assert len(data["rooms"]) == 6 and data["status"] == "done"
    assert CANARY_KEY not in full.text and "127.0.0.1:1" not in full.text


def test_openapi_schema_is_typed(store: Store) -> None:
    schema = make_client(store).get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/health", "/api/leaderboard", "/api/matches", "/api/matches/{match_id}",
                 "/api/submissions"):  # fmt: skip
        assert path in paths
    created = paths["/api/submissions"]["post"]["responses"]
    assert created["201"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "SubmissionCreated"
    )
    assert {"409", "429", "400"} <= set(created)
    board = paths["/api/leaderboard"]["get"]["responses"]["200"]["content"]["application/json"]
    assert board["schema"]["items"]["$ref"].endswith("LeaderboardRow")
    assert "SubmissionForm" in str(paths["/api/submissions"]["post"]["requestBody"])


LLAMA_BENCH = Path(__file__).resolve().parents[2] / "data" / "llama_bench"


def test_imports_need_the_admin_token(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(store)
    data = (LLAMA_BENCH / "qwen2.5-7b-q4_k_m.json").read_bytes()
    params = {"filename": "bench.json", "base_model": "Qwen2.5-7B", "quant": "Q4_K_M"}
    monkeypatch.delenv("QER_ADMIN_TOKEN", raising=False)
    off = client.post("/api/imports/llama-bench", params=params, content=data)
    assert off.status_code == 403 and "QER_ADMIN_TOKEN" in off.json()["detail"]
    monkeypatch.setenv("QER_ADMIN_TOKEN", "admin-secret")
    wrong = client.post("/api/imports/llama-bench", params=params, content=data,
                        headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert wrong.status_code == 401
    for raw in ("admin-secret", "Basic admin-secret", "Bearer"):  # the scheme is required
        bare = client.post("/api/imports/llama-bench", params=params, content=data,
                           headers={"Authorization": raw})  # fmt: skip
        assert bare.status_code == 401 and bare.json()["kind"] == "unauthorized", raw
    auth = {"Authorization": "Bearer admin-secret"}
    created = client.post("/api/imports/llama-bench", params=params, content=data, headers=auth)
    assert created.status_code == 201, created.text
    report = created.json()
    assert report["target"] == "reference" and report["stored"]
    assert {r["source"] for r in report["stored"]} == {"llama-bench"}
    again = client.post("/api/imports/llama-bench", params=params, content=data, headers=auth)
    assert again.status_code == 201 and again.json()["stored"] == []  # same file: nothing new
    bad = client.post("/api/imports/llama-bench", params=params, content=b"[{}]", headers=auth)
    assert bad.status_code == 400 and "missing" in bad.json()["detail"]
    rows = store.query("SELECT COUNT(*) AS n FROM imported_results")[0]["n"]
    assert rows == len(report["stored"])  # the bad file stored nothing
    nothing = client.post("/api/imports/lm-eval", params={"filename": "r.json"}, content=b"{}",
                          headers=auth)  # fmt: skip
    assert nothing.status_code == 400 and "submission_id" in nothing.json()["detail"]


async def test_verdict_ratings_and_contagion_routes(store: Store) -> None:
    """A candidate with another max_tokens than its baseline is NOT COMPARABLE in the API too,
    naming the field; a comparable one gets its verdict and discordant pairs with replay ids."""
    from arena.analysis._verdicts import paired_outcomes
    from tests.arena.analysis.test_leaderboard import add_submission, play

    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q2_K", 2.6)
    other = add_submission(store, "O", "Smol", "Q8_0", 8.5)
    match = await play(store, 1, base, "HHHHHH", cand, "TTHHHH", {})
    await play(store, 2, base, "HHHHHH", other, "HHHHHH", {})
    store.write(lambda db: db.execute(
        "UPDATE contestants SET sampling = json_set(sampling, '$.max_tokens', 1024) "
        "WHERE submission_id = ?", (other,)))  # the candidate ran with another cap  # fmt: skip
    assert paired_outcomes(store, other, base)[0] == []
    client = make_client(store)
    report = client.get(f"/api/submissions/{cand}/verdict").json()
    assert report["baseline_id"] == base and report["verdict"]["b"] == 2
    assert [p["candidate_match"] for p in report["discordant"]] == [match, match]
    assert client.get(f"/api/matches/{match}").status_code == 200
    odd = client.get(f"/api/submissions/{other}/verdict").json()["verdict"]
    assert odd["kind"] == "NOT COMPARABLE" and odd["label"].startswith(
        "NOT COMPARABLE: max_tokens (1024 vs"
    )
    rows = {r["submission_id"]: r for r in client.get("/api/leaderboard").json()}
    assert rows[other]["retention_pct"] is None
    assert rows[other]["retention_note"].startswith("NOT COMPARABLE: max_tokens")
    assert client.get(f"/api/submissions/{base}/verdict").json()["verdict"] is None
    assert client.get("/api/submissions/999/verdict").status_code == 404
    rated = {r["submission_id"]: r for r in client.get("/api/ratings").json()}
    assert set(rated) == {base, cand, other} and rated[base]["rating"] == 0.0
    assert rated[cand]["wins"] + rated[cand]["losses"] + rated[cand]["ties"] == 1
    (matrix,) = client.get("/api/contagion").json()
    assert matrix["base_model_key"] == "smol"


async def test_the_calibrations_route_lists_every_calibration_without_endpoints(
    store: Store,
) -> None:
    from tests.arena.analysis.test_leaderboard import (
        CALIBRATED,
        SILENT,
        add_submission,
        calibrated_result,
        calibration_run,
    )

    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    gone = add_submission(store, "G", "Gone", "BF16", 16.0, baseline=True, status="deleted")
    done = calibration_store.get_or_create(store, "smol", "greedy", base, CalibrationConfig(runs=9))
    calibration_store.finish(store, done.id, calibrated_result())
    running = calibration_store.get_or_create(
        store, "smol", "greedy", base, CalibrationConfig(runs=12)
    )
    await calibration_run(store, running.id, base, 0)
    calibration_store.get_or_create(store, "gone", "greedy", gone, CalibrationConfig())
    by_hand = calibration_store.save_result(
        store, "cli-1b", "greedy", CalibrationConfig(runs=9), calibrated_result()
    )
    response = make_client(store).get("/api/calibrations")
    assert response.status_code == 200
    listed = response.json()
    assert [c["id"] for c in listed] == [done.id, running.id, by_hand]  # not the deleted one's
    first, second, cli = listed
    assert set(first) == {
        "id", "base_model_key", "settings_class", "baseline_id", "status", "runs_played",
        "runs_planned", "target", "profile", "profile_label", "solve_rates", "chosen_rates",
        "no_signal", "created_at", "finished_at",
    }  # fmt: skip
    assert (first["base_model_key"], first["settings_class"], first["baseline_id"]) == (
        "smol", "greedy", base)  # fmt: skip
    assert (first["status"], first["runs_played"], first["runs_planned"]) == ("done", 9, 9)
    assert first["profile"] == CALIBRATED and first["target"] == 0.6
    assert first["profile_label"] == (
        "Cipher 4 · Map 2 · Mechanism 3 · Archive 0 · Paradox 1 · Warden 2"
    )
    assert first["solve_rates"]["cipher-v3"] == {"4": [3, 5], "5": [1, 4]}
    assert first["chosen_rates"]["cipher-v3"] == [3, 5]
    assert first["chosen_rates"][SILENT.room_id] == [0, 4]
    assert first["no_signal"] == {SILENT.room_id: SILENT.reason} and first["finished_at"]
    assert (second["status"], second["runs_played"], second["runs_planned"]) == ("running", 1, 12)
    assert second["profile"] is second["profile_label"] is second["solve_rates"] is None
    assert second["chosen_rates"] == {} and second["no_signal"] == {}
    assert (cli["baseline_id"], cli["runs_played"], cli["status"]) == (None, 9, "done")
    text = response.text
    assert "http" not in text and "127.0.0.1" not in text and "encrypted" not in text
    assert "base_url" not in text and "token" not in text and "api_key" not in text

    schema = make_client(store).get("/openapi.json").json()
    listed_schema = schema["paths"]["/api/calibrations"]["get"]["responses"]["200"]["content"]
    assert listed_schema["application/json"]["schema"]["items"]["$ref"].endswith(
        "CalibrationSummary"
    )
    fields = schema["components"]["schemas"]["CalibrationSummary"]["properties"]
    assert all(field.get("description") for field in fields.values())


async def test_the_verdict_report_names_the_profile_margin_and_silent_rooms(
    store: Store,
) -> None:
    from tests.arena.analysis.test_leaderboard import (
        SILENT,
        add_submission,
        calibrated_result,
        play,
    )

    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q2_K", 2.6)
    await play(store, 1, base, "HHHHHH", cand, "TTHHHH", {})
    level_one = profiles.uniform(1)
    found = calibrated_result().model_copy(update={"profile": level_one})
    record = calibration_store.get_or_create(store, "smol", "greedy", base, CalibrationConfig())
    calibration_store.finish(store, record.id, found)
    report = make_client(store).get(f"/api/submissions/{cand}/verdict").json()
    assert report["profile_label"] == "every room at level 1"
    verdict = report["verdict"]
    assert verdict["profile"] == profiles.text(level_one)
    assert verdict["no_signal"] == {SILENT.room_id: SILENT.reason}
    assert (verdict["n_pairs"], verdict["b"], verdict["c"]) == (5, 2, 0)  # Archive left out
    assert verdict["margin_pp"] == 5.0 and verdict["kind"] == "undecided"
    low, high = verdict["equivalence_ci_pp"]
    assert low < verdict["difference_pp"] < high


def test_the_rate_limit_key_is_the_proxys_entry_across_every_header_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client may send its own X-Forwarded-For lines before the proxy's: the rightmost entry
    over all lines is the one the proxy appended."""
    from starlette.datastructures import Headers

    from arena.views._api import client_id_from

    lines = Headers(raw=[(b"x-forwarded-for", b"1.1.1.1"),
                         (b"x-forwarded-for", b"6.6.6.6, 9.9.9.9")])  # fmt: skip
    monkeypatch.setenv("QER_TRUST_PROXY", "1")
    assert client_id_from(lines, "10.0.0.1") == "9.9.9.9"
    assert client_id_from({"x-forwarded-for": "2.2.2.2, 3.3.3.3"}, "10.0.0.1") == "3.3.3.3"
    assert client_id_from(Headers(raw=[(b"x-forwarded-for", b" , ")]), "10.0.0.1") == "10.0.0.1"
    monkeypatch.setenv("QER_TRUST_PROXY", "0")
    assert client_id_from(lines, "10.0.0.1") == "10.0.0.1"  # no proxy trusted: the peer


def test_ids_sqlite_cannot_hold_are_not_found_not_a_crash(store: Store) -> None:
    """Ids and offsets of 2^63 and more (SQLite's OverflowError) answer 404 or an empty page."""
    client = make_client(store)
    huge = 2**63
    for path in (f"/api/submissions/{huge}", f"/api/submissions/{huge}/verdict",
                 f"/api/submissions/{-huge - 1}"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["kind"] == "not_found"
    changed = client.post(
        f"/api/submissions/{huge}/status", json={"token": "t", "status": "paused"}
    )
    assert changed.status_code == 403 and changed.json()["kind"] == "forbidden"
    for query in (f"offset={huge}", f"submission_id={huge}", f"submission_id={-huge - 1}"):
        response = client.get(f"/api/matches?{query}")
        assert response.status_code == 200 and response.json() == [], query


@pytest.mark.parametrize("key", ["sk abc", "sk-é", "sk-a\r\nb", "sk-a\x00b", "k" * 10_000])
def test_an_unsendable_api_key_is_a_422_naming_the_field(
    store: Store, server: NullServer, key: str
) -> None:
    response = make_client(store).post("/api/submissions", json=body(server.base_url, api_key=key))
    assert response.status_code == 422, response.text
    assert "api_key" in response.text and key not in response.text


def test_unknown_filter_values_are_refused_not_an_empty_list(store: Store) -> None:
    client = make_client(store)
    for query in ("quant_family=8bit-ish", "engine=notanengine"):
        response = client.get(f"/api/leaderboard?{query}")
        assert response.status_code == 400 and response.json()["kind"] == "bad_request", query
        assert "known:" in response.json()["detail"]
    assert client.get("/api/leaderboard?quant_family=4-bit&engine=vLLM").status_code == 200


def test_fastapis_own_errors_use_the_refusal_shape_under_api(store: Store) -> None:
    client = make_client(store)
    broken = client.post("/api/submissions", content=b"\x80{",
                         headers={"content-type": "application/json"})  # fmt: skip
    assert broken.status_code in (400, 422)
    assert {"detail", "kind"} <= set(broken.json())
    missing = client.get("/api/no-such-route")
    assert missing.status_code == 404 and missing.json()["kind"] == "not_found"
    wrong = client.delete("/api/leaderboard")
    assert wrong.status_code == 405 and wrong.json()["kind"] == "method_not_allowed"


async def test_the_operator_confirms_and_demotes_baselines_over_the_api(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provisional group says so in the leaderboard and the verdict; the admin routes need the
    token, list the claims with their evidence, and confirm or demote with a note."""
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True, review="pending")
    cand = add_submission(store, "C", "Smol", "Q2_K", 2.6)
    for seed in (1, 2):
        await play(store, seed, base, "HHHHHH", cand, "TTTHHH", {})
    client = make_client(store)
    rows = {r["submission_id"]: r for r in client.get("/api/leaderboard").json()}
    assert rows[base]["baseline_standing"] == "provisional"
    assert rows[cand]["verdict"]["provisional"] is True
    report = client.get(f"/api/submissions/{cand}/verdict").json()
    assert report["baseline_standing"] == "provisional"
    assert report["verdict"]["label"].startswith("provisional · ")

    monkeypatch.delenv("QER_ADMIN_TOKEN", raising=False)
    off = client.get("/api/admin/baselines")
    assert off.status_code == 403 and off.json()["kind"] == "forbidden"
    monkeypatch.setenv("QER_ADMIN_TOKEN", "op-secret")
    for headers in ({}, {"Authorization": "op-secret"}, {"Authorization": "Bearer nope"}):
        refused = client.post(f"/api/admin/baselines/{base}/confirm", headers=headers)
        assert refused.status_code == 401 and refused.json()["kind"] == "unauthorized"
    auth = {"Authorization": "Bearer op-secret"}
    [claim] = client.get("/api/admin/baselines", headers=auth).json()
    assert claim["submission_id"] == base and claim["review"] == "pending"
    assert claim["evidence"]["flags"] == [] and claim["history"] == []
    confirmed = client.post(
        f"/api/admin/baselines/{base}/confirm", headers=auth, json={"note": "server says BF16"}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["standing"] == "confirmed"
    last = confirmed.json()["history"][-1]
    assert (last["action"], last["note"]) == ("confirm", "server says BF16")
    verdict = client.get(f"/api/submissions/{cand}/verdict").json()["verdict"]
    assert verdict["provisional"] is False and not verdict["label"].startswith("provisional")
    bad = [
        client.post(f"/api/admin/baselines/{cand}/demote", headers=auth),  # no claim
        client.post(f"/api/admin/baselines/{base}/promote", headers=auth),
        client.post(f"/api/admin/baselines/{2**63}/confirm", headers=auth),
        client.post(f"/api/admin/baselines/{base}/demote", headers=auth, json={"note": "x" * 501}),
    ]
    assert [r.status_code for r in bad] == [400, 422, 404, 422]
    assert all("kind" in r.json() for r in bad)
    demoted = client.post(f"/api/admin/baselines/{base}/demote", headers=auth)
    assert demoted.json()["review"] == "demoted" and demoted.json()["standing"] is None
    assert client.get(f"/api/submissions/{cand}/verdict").json()["verdict"] is None


def test_over_long_text_gets_a_422_with_its_length_and_the_limit(
    store: Store, server: NullServer
) -> None:
    client = make_client(store)
    for length in (61, 5000):
        answer = client.post("/api/submissions", json=body(server.base_url,
                                                            display_name="x" * length))  # fmt: skip
        assert answer.status_code == 422 and answer.json()["kind"] == "invalid_field"
        [field] = answer.json()["fields"]
        assert field["loc"] == ["body", "display_name"]
        assert field["msg"] == f"is {length} characters long; at most 60 are accepted"
        assert field["msg"] in answer.json()["detail"]


def rounding_artefacts(value: Any, path: str = "") -> list[tuple[str, float]]:
    """Floats a hair off zero or off a whole number (``2.78e-17``, ``39.99999999999997``); a
    p-value may be that small."""
    if isinstance(value, float) and not path.endswith("p_value"):
        off = abs(value - round(value))
        return [(path, value)] if 0 < abs(value) < 1e-9 or 0 < off < 1e-9 else []
    if isinstance(value, dict):
        return [a for k, v in value.items() for a in rounding_artefacts(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [a for i, v in enumerate(value) for a in rounding_artefacts(v, f"{path}[{i}]")]
    return []


async def test_no_number_the_api_returns_is_a_rounding_artefact(store: Store) -> None:
    """The candidate never held ground (0 of its challenged rooms): every rate and interval end
    is exactly 0 or 1 where it should be, not 2.78e-17 (the issue's finding)."""
    base = add_submission(store, "Base", "Smol-135M", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "Cand", "Smol-135M", "Q2_K", 2.6)
    await play(store, 1, base, "HHHHHH", cand, "TTTTTT", {})  # 0 of 6 manipulated: Wilson
    client = make_client(store)
    routes = ["/api/leaderboard", "/api/ratings", "/api/contagion", "/api/board"]
    routes += [f"/api/submissions/{i}{tail}" for i in (base, cand) for tail in ("", "/verdict")]
    routes += [f"/api/matches/{m['id']}" for m in client.get("/api/matches").json()]
    found = []
    for route in routes:
        response = client.get(route)
        assert response.status_code == 200, route
        found += rounding_artefacts(response.json(), route)
    assert found == []
    row = next(r for r in client.get("/api/leaderboard").json() if r["submission_id"] == cand)
    assert row["challenged_n"] > 0 and row["held_ground_rate"] == 0.0
