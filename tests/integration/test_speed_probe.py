"""The speed probe against the real llama-server (SmolLM2-135M Q4_1, one thread, loopback).

Only relations and ranges are asserted, never speeds: the machine is shared and noisy. The
numbers measured are written to test-artifacts/speed-probe-q4_1.json for a human to look at.
"""

from __future__ import annotations

from pathlib import Path

from arena.client import ChatClient
from arena.probes._speed import run_speed_probe
from arena.probes._speed_prompts import PROBE_VERSION, TG_MAX_TOKENS
from tests.integration.conftest import ARTIFACTS, Served


async def test_speed_probe_on_real_q4_1(llama_servers: dict[str, Served]) -> None:
    served = llama_servers["Q4_1"]
    async with ChatClient(served.server.base_url) as client:
        result = await run_speed_probe(client, served.server.alias, reps=5)
    out = Path(ARTIFACTS) / "speed-probe-q4_1.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.model_dump_json(indent=2))

    assert result.status == "done", result.reason
    assert result.probe_version == PROBE_VERSION
    assert result.reps == 5 and result.pp_n == 5 and result.tg_n == 5
    assert len(result.runs) == 10
    assert result.pp_tps_mean is not None and result.pp_tps_mean > 0
    assert result.tg_tps_mean is not None and result.tg_tps_mean > 0
    assert result.pp_tps_sd is not None and result.pp_tps_sd >= 0
    assert result.tg_tps_sd is not None and result.tg_tps_sd >= 0
    for median, p90 in (
        (result.pp_ttft_median_s, result.pp_ttft_p90_s),
        (result.tg_ttft_median_s, result.tg_ttft_p90_s),
    ):
        assert median is not None and p90 is not None and 0 < median <= p90

    # llama-server streams usage (and honours ignore_eos: every tg run generates 128 tokens)
    assert result.pp_tokens_source == "server" and result.tg_tokens_source == "server"
    assert result.pp_prompt_tokens_mean is not None
    assert 400 <= result.pp_prompt_tokens_mean <= 700
    assert result.length_forced is True
    assert result.stopped_early == 0 and result.tg_tokens_mean == TG_MAX_TOKENS
    # and its own timings: the client's tg tok/s is checked against the server's
    assert result.server_tg_tps_mean is not None and result.server_tg_tps_mean > 0
    assert result.server_pp_tps_mean is not None and result.server_pp_tps_mean > 0
    assert result.server_agreement is not None and result.server_agrees is not None
    # the client's clock includes each token's trip over loopback: never faster than the server
    assert result.tg_tps_mean <= result.server_tg_tps_mean * 1.03

    # Prompt tokens are processed in batches, generated ones one by one: per token, pp is the
    # faster. Compared on each phase's fastest run, the one least slowed by other processes
    # on this shared machine (a mean can be dragged down by one contended run).
    pp_best = max(run.tps for run in result.runs if run.phase == "pp" and run.tps)
    tg_best = max(run.tps for run in result.runs if run.phase == "tg" and run.tps)
    assert pp_best > tg_best
