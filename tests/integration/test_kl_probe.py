"""The KL probe against real llama.cpp ``llama-server`` processes (SmolLM2-135M Q4_1 baseline,
its Q8_0 and Q2_K re-quants), checked against llama.cpp's own offline KLD.

``llama-server`` ignores ``echo``: the probe teacher-forces it (one generated token per prefix).
The same probe texts go through ``llama-perplexity --kl-divergence`` (full vocabulary, 128-token
chunks, the second half of each scored): both means are written to test-artifacts/kl-probe.json
side by side. The probe's number is a top-10 lower bound over other positions, so it is lower;
what must hold is the same order: each quant's ratio probe/offline is of the same size, and the
two quants rank and separate alike. Only relations and ranges are asserted, never timings.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from arena.client import ChatClient
from arena.dev._local_models import llama_binary
from arena.probes._kl import DEFAULT_TOP_K, load_probe_texts, run_kl_probe
from arena.probes._kl_models import PROBE_VERSION, KlResult
from tests.integration.conftest import ARTIFACTS, Served


def record(name: str, values: dict[str, object]) -> None:
    out = Path(ARTIFACTS) / "kl-probe.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(out.read_text()) if out.is_file() else {}
    data[name] = values
    out.write_text(json.dumps(data, indent=2))


async def probe(servers: dict[str, Served], quant: str) -> KlResult:
    baseline, candidate = servers["Q4_1"].server, servers[quant].server
    started = time.perf_counter()
    async with ChatClient(baseline.base_url) as base, ChatClient(candidate.base_url) as cand:
        result = await run_kl_probe(cand, candidate.alias, base, baseline.alias)
    assert isinstance(result, KlResult), result
    summary = result.model_dump(exclude={"per_text"})
    record(
        f"{quant.lower()}_vs_q4_1", {"wall_s": round(time.perf_counter() - started, 1), **summary}
    )
    return result


def offline_kld(servers: dict[str, Served], quant: str, folder: Path) -> dict[str, float]:
    """``llama-perplexity --kl-divergence`` of ``quant`` against Q4_1 on the probe texts."""
    texts = folder / "kl-texts.txt"
    texts.write_text("\n\n".join(t.text for t in load_probe_texts()))
    base = folder / "q4_1.kld"
    tool = str(llama_binary("llama-perplexity"))
    common = ["-f", str(texts), "-c", "128", "-t", "1", "--kl-divergence-base", str(base)]
    if not base.is_file():
        subprocess.run(
            [tool, "-m", str(servers["Q4_1"].server.model), *common],
            check=True,
            capture_output=True,
            timeout=300,
        )
    done = subprocess.run(
        [tool, "-m", str(servers[quant].server.model), *common, "--kl-divergence"],
        check=True,
        capture_output=True,
        timeout=300,
        text=True,
    )
    out = done.stdout + done.stderr
    mean = re.search(r"Mean\s+KLD:\s+([0-9.]+)", out)
    p99 = re.search(r"99\.0%\s+KLD:\s+([0-9.]+)", out)
    same = re.search(r"Same top p:\s+([0-9.]+)", out)
    assert mean and p99 and same, out[-2000:]
    return {
        "mean_kld": float(mean.group(1)),
        "p99_kld": float(p99.group(1)),
        "same_top_pct": float(same.group(1)),
    }


@pytest.fixture(scope="module")
def kld_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kld")


async def test_teacher_forced_kl_separates_q8_0_from_q2_k(
    llama_servers: dict[str, Served], kld_folder: Path
) -> None:
    q8, q2 = await probe(llama_servers, "Q8_0"), await probe(llama_servers, "Q2_K")
    for result in (q8, q2):
        assert result.collection == "teacher_forcing"  # llama-server ignores echo
        assert result.probe_version == PROBE_VERSION and result.top_k == DEFAULT_TOP_K
        assert result.n_positions > 600
        assert [t.text_id for t in result.per_text] == [t.id for t in load_probe_texts()]
        assert result.median_kl <= result.p90_kl <= result.p99_kl <= result.max_kl
        assert result.mean_reverse_kl is not None and result.mean_reverse_kl > 0
    assert q2.mean_kl > 10 * q8.mean_kl  # far above
    assert q8.mean_kl < 0.05 and q2.mean_kl > 0.05
    assert q2.top1_agreement < q8.top1_agreement and q8.top1_agreement > 0.85

    offline = {q: offline_kld(llama_servers, q, kld_folder) for q in ("Q8_0", "Q2_K")}
    probed = {"Q8_0": q8, "Q2_K": q2}
    ratios = {q: probed[q].mean_kl / offline[q]["mean_kld"] for q in probed}
    record(
        "probe_vs_llama_perplexity",
        {
            q: {
                "probe_mean_kl": round(probed[q].mean_kl, 5),
                "probe_top1_pct": round(100 * probed[q].top1_agreement, 2),
                "offline_mean_kld": offline[q]["mean_kld"],
                "offline_p99_kld": offline[q]["p99_kld"],
                "offline_same_top_pct": offline[q]["same_top_pct"],
                "ratio_probe_over_offline": round(ratios[q], 3),
            }
            for q in probed
        },
    )
    for quant, ratio in ratios.items():
        assert 0.2 < ratio < 2.0, (quant, ratio)  # a lower bound, of the same order
    spread_probe = q2.mean_kl / q8.mean_kl
    spread_offline = offline["Q2_K"]["mean_kld"] / offline["Q8_0"]["mean_kld"]
    assert 1 / 3 < spread_probe / spread_offline < 3  # the quants separate alike
    for quant in probed:  # top-1 agreement and llama.cpp's "same top p" tell the same story
        assert abs(100 * probed[quant].top1_agreement - offline[quant]["same_top_pct"]) < 15


async def test_q4_1_against_itself_is_zero(llama_servers: dict[str, Served]) -> None:
    server = llama_servers["Q4_1"].server
    texts = load_probe_texts()[:2]
    async with ChatClient(server.base_url) as first, ChatClient(server.base_url) as second:
        result = await run_kl_probe(first, server.alias, second, server.alias, texts=texts)
    assert isinstance(result, KlResult), result
    assert result.probe_version == "custom" and result.collection == "teacher_forcing"
    assert result.mean_kl < 1e-4 and result.top1_agreement >= 0.99
