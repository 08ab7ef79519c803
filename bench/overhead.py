"""Harness overhead, measured in one run against local null OpenAI servers (loopback only).

Prints ratios, not absolute claims: the machine is noisy, so every comparison is made inside this
one run, interleaved where it matters.

1. Per call: ``ChatClient.chat`` (streaming, parsing, timing, usage) vs a bare httpx stream that
   only reads the bytes, against the same zero-delay null server.
2. Per match: a full match against zero-delay servers (everything the harness does: puzzles,
   validation incl. the sandbox when code is returned, storage) vs the same match against servers
   that decode at a realistic pace. Overhead share = harness-only time / realistic match time.
3. Concurrency: a match where A decodes faster than B vs B playing the same rooms alone (bluff
   mode: the same number of calls). Ratio = concurrent wall time / slower contestant alone.

Usage: ``python bench/overhead.py [--calls 200] [--tps 40] [--tokens 60]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena.client import ChatClient
from arena.match import play_match
from arena.models import (
    AdversarialMode,
    ContestantSpec,
    MatchSettings,
    MatchSpec,
    Sampling,
)
from arena.nullserver import NullServer, NullServerConfig
from arena.store import Store

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


def start(config: NullServerConfig) -> NullServer:
    server = NullServer(config)
    server.start()
    return server


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--tps", type=float, default=40.0, help="decode speed of the slower model")
    parser.add_argument("--tokens", type=int, default=60, help="tokens per reply")
    args = parser.parse_args()
    reply = "I looked at it carefully and I am sure. ANSWER: 42"
    instant = NullServerConfig(reply=reply, tokens=args.tokens)
    slow = NullServerConfig(reply=reply, tokens=args.tokens, token_delay_s=1.0 / args.tps)
    fast = NullServerConfig(reply=reply, tokens=args.tokens, token_delay_s=1.0 / (args.tps * 1.5))
    settings = MatchSettings(seed=1, difficulty=1, retries=1)
    servers = [start(instant), start(instant), start(slow), start(fast)]
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
                f"per match : harness alone {harness_s:.2f} s for {calls} calls "
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
