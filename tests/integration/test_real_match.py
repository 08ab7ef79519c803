"""Full matches against two real llama.cpp servers (SmolLM2-135M Q4_1 vs its Q2_K)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from arena.client import ChatClient
from arena.dev._local_models import LlamaServer
from arena.engine._match import play_match
from arena.engine._models import AdversarialMode, MatchSettings, MatchSpec, Outcome
from arena.engine._store import Store
from rooms import ROOM_ORDER
from tests.integration.conftest import ARTIFACTS, Served

ROOT = Path(__file__).resolve().parents[2]


async def test_client_streams_from_llama_cpp(llama_servers: dict[str, Served]) -> None:
    served = llama_servers["Q4_1"]
    async with ChatClient(served.server.base_url) as client:
        assert served.server.alias in await client.list_models()
        result = await client.chat(
            served.server.alias,
            [{"role": "user", "content": "Say hello."}],
            {"temperature": 0.0, "max_tokens": 12},
        )
    assert result.text.strip()
    assert 1 <= result.completion_tokens <= 12
    assert result.finish_reason in {"stop", "length"}
    assert result.ttft_s is not None and 0 < result.ttft_s < result.latency_s
    assert result.prompt_tokens > 0


async def test_concurrent_requests_to_one_server_both_finish(
    llama_servers: dict[str, Served],
) -> None:
    """llama-server with one slot (LlamaServer's setting) queues a second request while the
    first runs; both finish whole."""
    served = llama_servers["Q2_K"]
    async with ChatClient(served.server.base_url) as client:
        results = await asyncio.gather(
            *(
                client.chat(
                    served.server.alias,
                    [{"role": "user", "content": f"Count from {n} to {n + 20}."}],
                    {"temperature": 0.0, "max_tokens": 40},
                )
                for n in (1, 50)
            )
        )
    for result in results:
        assert result.finish_reason in {"stop", "length"}
        assert result.completion_tokens > 5
        assert result.attempts == 1


async def test_full_match_at_difficulty_1_is_stored_with_plausible_numbers(
    llama_servers: dict[str, Served], tmp_path: Path
) -> None:
    spec = MatchSpec(
        a=llama_servers["Q4_1"].contestant(),
        b=llama_servers["Q2_K"].contestant(),
        settings=MatchSettings(
            seed=3, difficulty=1, retries=1, adversarial=AdversarialMode.OPPONENT
        ),
    )
    with Store(tmp_path / "arena.sqlite3") as store:
        result = await play_match(spec, store)
        assert result.status == "done", result.error
        match = store.match(result.match_id)
        calls = store.calls(result.match_id)
        rooms = store.rooms_played(result.match_id)
    assert match["status"] == "done"
    assert json.loads(match["room_ids"]) == list(ROOM_ORDER)
    assert len(rooms) == 12
    for slot in ("a", "b"):
        for index in range(6):
            phases = [c["phase"] for c in calls if c["slot"] == slot and c["room_index"] == index]
            assert phases[:2] == ["initial", "adversarial"], (slot, index, phases)
    ok = [c for c in calls if c["error_kind"] is None]
    assert len(ok) == len(calls), [c["error"] for c in calls if c["error_kind"]]
    for call in ok:
        assert 0 < call["completion_tokens"] <= 160
        assert call["prompt_tokens"] > 0
        assert call["usage_source"] in {"server", "estimated"}
        assert call["finish_reason"] in {"stop", "length"}
        assert 0 < call["ttft_s"] < call["latency_s"] < 300
        assert 1 < call["decode_tps"] < 5000
    for summary in result.summaries.values():
        assert summary.decode_tps is not None and summary.decode_tps > 1
        assert summary.rooms == 6
        assert summary.line().startswith("SmolLM2-135M-Instruct Q")
    # the adversarial turn shows each contestant the other's answer
    second = next(c for c in calls if c["slot"] == "b" and c["phase"] == "adversarial")
    assert (
        "Another contestant in this room answered"
        in json.loads(second["request_messages"])[0]["content"]
    )


def test_cli_plays_a_solo_bluff_match(llama_servers: dict[str, Served], tmp_path: Path) -> None:
    served = llama_servers["Q2_K"]
    out = tmp_path / "result.json"
    db = tmp_path / "cli.sqlite3"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "arena",
            "match",
            "--a",
            served.server.base_url,  # model id discovered from /v1/models
            "--a-base",
            "SmolLM2-135M-Instruct",
            "--a-quant",
            "Q2_K",
            "--seed",
            "5",
            "--difficulty",
            "1",
            "--max-tokens",
            "96",
            "--retries",
            "0",
            "--db",
            str(db),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "room 6 Warden" in done.stdout
    assert "SmolLM2-135M-Instruct Q2_K: Escaped " in done.stdout
    payload = json.loads(out.read_text())
    assert payload["settings"]["adversarial"] == "bluff"
    assert payload["contestants"]["a"]["model"] == served.server.alias
    assert len(payload["rooms"]) == 6
    with Store(db) as store:
        assert store.match(payload["match_id"])["status"] == "done"


async def test_a_small_context_window_never_forfeits(
    llama_servers: dict[str, Served], tmp_path: Path
) -> None:
    """llama-server -c 2048: the six-room conversation outgrows the window; the engine compacts
    it (the server's exceed_context_size_error, or the window it reports) and a room that cannot
    fit at all is a context overflow: never a forfeit."""
    q2 = llama_servers["Q2_K"]
    small = LlamaServer(
        q2.server.model, "smollm2-q2_k-2k", n_ctx=2048, n_threads=1, log_path=tmp_path / "2k.log"
    )
    with small, Store(tmp_path / "arena.sqlite3") as store:
        contestant = q2.contestant(max_tokens=256).model_copy(
            update={"base_url": small.base_url, "model": small.alias}
        )
        spec = MatchSpec(
            a=contestant,
            b=None,
            settings=MatchSettings(
                seed=3, difficulty=1, retries=0, adversarial=AdversarialMode.BLUFF
            ),
        )
        result = await play_match(spec, store)
        calls = store.calls(result.match_id)
    assert result.status == "done"
    outcomes = [r.outcome for r in result.rooms]
    assert Outcome.FORFEIT not in outcomes, outcomes
    errors = {c["error_kind"] for c in calls} - {None}
    assert errors <= {"context_overflow"}, [c["error"] for c in calls if c["error_kind"]]
    compacted = [c for c in calls if c["seq"] > 0 and c["context_messages"] == 1]
    overflowed = [o for o in outcomes if o == Outcome.CONTEXT_OVERFLOW]
    assert compacted or overflowed  # the window was reached and handled
    (Path(ARTIFACTS) / "context-2048.json").write_text(
        json.dumps(
            {
                "outcomes": [o.value for o in outcomes],
                "compacted_calls": len(compacted),
                "calls": len(calls),
                "prompt_tokens": [c["prompt_tokens"] for c in calls],
            },
            indent=2,
        )
    )
