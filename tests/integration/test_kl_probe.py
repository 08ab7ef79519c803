"""The KL probe against the real llama.cpp servers (SmolLM2-135M Q4_1 baseline, its Q2_K re-quant).

Only relations and ranges are asserted, never timings. The numbers measured (and the wall time
of each run) are written to test-artifacts/kl-probe.json for a human to look at.

llama-cpp-python spends ~40 ms per echoed position (it sorts the whole vocabulary in Python),
so the self-comparison uses three of the probe texts: both of its collections queue on the one
Q4_1 server. The Q2_K comparison runs the whole shipped set, both servers at once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from arena.client import ChatClient
from arena.probes._kl import (
    DEFAULT_TOP_K,
    collect_logprobs,
    detect_alignment,
    load_probe_texts,
    run_kl_probe,
)
from arena.probes._kl_models import PROBE_VERSION, KlResult
from tests.integration.conftest import ARTIFACTS, Served


def record(name: str, result: KlResult, wall_s: float) -> None:
    out = Path(ARTIFACTS) / "kl-probe.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(out.read_text()) if out.is_file() else {}
    data[name] = {"wall_s": round(wall_s, 1), **result.model_dump(exclude={"per_text"})}
    data[name]["per_text"] = {
        t.text_id: [round(t.mean_kl, 4), round(t.top1_agreement, 3)] for t in result.per_text
    }
    out.write_text(json.dumps(data, indent=2))


async def test_q4_1_against_itself_is_near_zero(llama_servers: dict[str, Served]) -> None:
    server = llama_servers["Q4_1"].server
    texts = load_probe_texts()[:3]
    started = time.perf_counter()
    async with ChatClient(server.base_url) as first, ChatClient(server.base_url) as second:
        result = await run_kl_probe(first, server.alias, second, server.alias, texts=texts)
    record("q4_1_vs_q4_1", result, time.perf_counter() - started)

    assert isinstance(result, KlResult), result
    assert result.probe_version == "custom"  # a subset of the shipped texts
    assert result.n_positions > 200
    assert result.mean_kl < 1e-3
    assert result.p99_kl < 1e-2
    assert result.top1_agreement >= 0.99
    assert result.notes == []


async def test_q2_k_drifts_from_q4_1(llama_servers: dict[str, Served]) -> None:
    baseline, candidate = llama_servers["Q4_1"].server, llama_servers["Q2_K"].server
    started = time.perf_counter()
    async with ChatClient(baseline.base_url) as base, ChatClient(candidate.base_url) as cand:
        result = await run_kl_probe(cand, candidate.alias, base, baseline.alias)
    record("q2_k_vs_q4_1", result, time.perf_counter() - started)

    assert isinstance(result, KlResult), result
    assert result.probe_version == PROBE_VERSION
    assert result.top_k == DEFAULT_TOP_K
    texts = load_probe_texts()
    assert [t.text_id for t in result.per_text] == [t.id for t in texts]
    assert result.n_positions > 600
    # clearly apart from the self-comparison (< 1e-3 nats, top-1 >= 0.99)
    assert result.mean_kl > 0.05
    assert result.median_kl > 0.01
    assert result.median_kl <= result.mean_kl  # a long right tail
    assert result.median_kl <= result.p90_kl <= result.p99_kl <= result.max_kl
    assert 0.3 < result.top1_agreement < 0.95
    # both sides are llama-cpp-python (late alike): compared as reported, tokens identical
    assert result.notes == []


async def test_llama_cpp_python_reports_distributions_one_position_late(
    llama_servers: dict[str, Served],
) -> None:
    """What the module docstring claims about llama-cpp-python for a model without BOS."""
    server = llama_servers["Q2_K"].server
    async with ChatClient(server.base_url) as client:
        got = await collect_logprobs(client, server.alias, load_probe_texts()[:1])
    assert got.style == "echo"
    assert detect_alignment(got.texts) == "next"
    text = got.texts[0]
    assert "".join(t or "" for t in text.tokens) == load_probe_texts()[0].text  # no generated
