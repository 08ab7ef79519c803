"""Harness overhead, measured in one run against local null OpenAI servers (loopback only).

Prints ratios, not absolute claims: the machine is noisy, so every comparison is made inside this
one run, interleaved where it matters.

The null servers run in their own processes (``python -m arena.dev.nullserver``), so their work does
not compete with the harness for this process's GIL.

1. Per call: ``ChatClient.chat`` (streaming, parsing, timing, usage) vs a bare httpx stream that
   only reads the bytes, against the same zero-delay null server.
2. Per match: a full match against zero-delay servers (everything the harness does: puzzles, the
   client, validation incl. the sandbox when code is returned, storage, plus the transport to an
   instant server, so an upper bound) vs the same match against servers that decode at a
   realistic pace. Overhead share = instant-match time / realistic match time.
3. Concurrency: a match where A decodes faster than B vs B playing the same rooms alone (bluff
   mode: the same number of calls). Ratio = concurrent wall time / slower contestant alone.

Usage: ``python bench/overhead.py [--calls 200] [--tps 40] [--tokens 60]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.client import ChatClient
from arena.dev import free_port
from arena.engine import (
    AdversarialMode,
    ContestantSpec,
    MatchSettings,
    MatchSpec,
    Sampling,
    Store,
    play_match,
)

MESSAGES = [{"role": "user", "content": "Say something."}]


async def per_call(url: str, calls: int) -> tuple[float, float]:
    """Median seconds per call: the full client, and a bare byte-reading stream (interleaved)."""
    body = {"model": "null-model", "messages": MESSAGES, "stream": True, "max_tokens": 64}
    client_times: list[float] = []
    raw_times: list[float] = []
    async with ChatClient(url) as client, httpx.AsyncClient(trust_env=False) as raw:
        for _ in range(10):  # warm both connection pools
            await client.chat("null-model", MESSAGES, {"max_tokens": 64})
        for _ in range(calls):
            start = time.perf_counter()
            await client.chat("null-model", MESSAGES, {"max_tokens": 64})
            client_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            async with raw.stream("POST", f"{url}/chat/completions", json=body) as response:
                async for _ in response.aiter_bytes():
                    pass
            raw_times.append(time.perf_counter() - start)
    return statistics.median(client_times), statistics.median(raw_times)


def contestant(url: str, quant: str) -> ContestantSpec:
    return ContestantSpec(
        base_url=url, model="null-model", base_model="Null", quant=quant,
        sampling=Sampling(max_tokens=512),
    )  # fmt: skip


async def timed_match(spec: MatchSpec, db: Path) -> tuple[float, int]:
    with Store(db) as store:
        start = time.perf_counter()
        result = await play_match(spec, store)
        wall = time.perf_counter() - start
        calls = len(store.calls(result.match_id))
    return wall, calls


class ServerProcess:
    """``python -m arena.dev.nullserver`` in its own process on a free loopback port."""

    def __init__(self, reply: str, tokens: int, tokens_per_second: float) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "arena.dev.nullserver", "--port", str(self.port),
                "--reply", reply, "--tokens", str(tokens),
                "--tokens-per-second", str(tokens_per_second)]  # fmt: skip
        self.process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/models", trust_env=False, timeout=1).is_success:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("null server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--tps", type=float, default=40.0, help="decode speed of the slower model")
    parser.add_argument("--tokens", type=int, default=60, help="tokens per reply")
    args = parser.parse_args()
    # one character per "token" at most, so make the reply long enough for --tokens
    reply = ("I looked at it carefully and I am sure of it. " * 8)[: max(args.tokens, 60)].rstrip()
    reply += "\nANSWER: 42"
    settings = MatchSettings(seed=1, difficulty=1, retries=1)
    servers = [
        ServerProcess(reply, args.tokens, 0),
        ServerProcess(reply, args.tokens, 0),
        ServerProcess(reply, args.tokens, args.tps),
        ServerProcess(reply, args.tokens, args.tps * 1.5),
    ]
    zero_a, zero_b, slow_server, fast_server = servers
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            client_s, raw_s = await per_call(zero_a.base_url, args.calls)
            print(
                f"per call  : client {client_s * 1e3:.2f} ms, bare stream {raw_s * 1e3:.2f} ms "
                f"-> client overhead {(client_s - raw_s) * 1e3:.2f} ms per call "
                f"({client_s / raw_s:.2f}x the bare stream)"
            )

            harness = MatchSpec(
                a=contestant(zero_a.base_url, "A"),
                b=contestant(zero_b.base_url, "B"),
                settings=settings,
            )
            harness_s, calls = await timed_match(harness, folder / "zero.sqlite3")
            realistic = MatchSpec(
                a=contestant(fast_server.base_url, "A"),
                b=contestant(slow_server.base_url, "B"),
                settings=settings,
            )
            match_s, match_calls = await timed_match(realistic, folder / "real.sqlite3")
            per_turn_ms = harness_s / max(calls, 1) * 1e3
            print(
                "per match : harness alone (upper bound, incl. transport) "
                f"{harness_s:.2f} s for {calls} calls "
                f"({per_turn_ms:.1f} ms per call incl. validation and storage); "
                f"match at {args.tps:g}/{args.tps * 1.5:g} tok/s {match_s:.1f} s "
                f"-> overhead {100 * harness_s / match_s:.2f} % of match time"
            )

            solo = MatchSpec(
                a=contestant(slow_server.base_url, "B"),
                settings=settings.model_copy(update={"adversarial": AdversarialMode.BLUFF}),
            )
            solo_s, solo_calls = await timed_match(solo, folder / "solo.sqlite3")
            print(
                f"concurrent: match {match_s:.1f} s ({match_calls} calls for two) vs slower "
                f"contestant alone {solo_s:.1f} s ({solo_calls} calls) "
                f"-> ratio {match_s / solo_s:.3f}"
            )
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
