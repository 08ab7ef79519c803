"""``python -m arena probe kl|speed``: check a quant before registering it.

``probe kl --baseline URL --candidate URL`` runs the KL probe of the candidate against the
baseline (prompt logprobs where the servers offer them, else teacher forcing) and prints the mean
KL, the reverse KL, the p99 tail, the top-1 agreement and the method used; ``probe speed --a URL``
runs the llama-bench-style speed probe. ``--json OUT`` writes the whole result (``mean_kl`` ...).
API keys come from environment variables named with ``--*-key-env``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from arena.client import ChatClient, EndpointError
from arena.probes import (
    KL_TOP_K,
    MIN_REPS,
    KlResult,
    KlUnavailable,
    SpeedResult,
    run_kl_probe,
    run_speed_probe,
)


def add_probe_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``probe kl`` and ``probe speed``."""
    probe = commands.add_parser("probe", help="probe an endpoint: KL against a baseline, speed")
    kinds = probe.add_subparsers(dest="probe", required=True)
    kl = kinds.add_parser("kl", help="next-token distributions of a candidate vs its baseline")
    for side in ("baseline", "candidate"):
        kl.add_argument(f"--{side}", metavar="URL", required=True, help=f"{side} base URL")
        kl.add_argument(f"--{side}-model", metavar="NAME",
                        help="served model id (default: the first one listed)")  # fmt: skip
        kl.add_argument(f"--{side}-key-env", metavar="VAR",
                        help="environment variable holding its API key")  # fmt: skip
    kl.add_argument("--top-k", type=int, default=KL_TOP_K, help="top-k (default %(default)s)")
    kl.add_argument("--json", type=Path, default=None, help="write the result here")
    speed = kinds.add_parser("speed", help="llama-bench-style pp/tg speed of one endpoint")
    speed.add_argument("--a", dest="a", metavar="URL", required=True, help="base URL")
    speed.add_argument("--a-model", metavar="NAME", help="served model id (default: first listed)")
    speed.add_argument("--a-key-env", metavar="VAR", help="environment variable with its API key")
    speed.add_argument("--reps", type=int, default=MIN_REPS,
                       help="measured repetitions per phase (default %(default)s)")  # fmt: skip
    speed.add_argument("--json", type=Path, default=None, help="write the result here")


def key_from_env(var: str | None, what: str = "an API key") -> str | None:
    """The API key held by the environment variable the user named (``--*-key-env``; keys are
    never passed as arguments); None when no variable was named, an error when it is empty."""
    if not var:
        return None
    value = os.environ.get(var)
    if not value:
        raise SystemExit(f"error: environment variable {var} ({what}) is empty")
    return value


async def served_model(client: ChatClient, given: str | None, hint: str = "name one") -> str:
    """The model to ask for: the one given, else the first the endpoint lists."""
    if given:
        return given
    models = await client.list_models()
    if not models:
        raise SystemExit(f"error: {client.base_url} lists no models; {hint}")
    return models[0]


def kl_lines(result: KlResult | KlUnavailable) -> list[str]:
    """What ``probe kl`` prints."""
    if isinstance(result, KlUnavailable):
        return [result.reason]
    return [
        f"mean KL(baseline || candidate): {result.mean_kl:.5f} nats/token "
        f"over {result.n_positions} positions",
        f"mean reverse KL:                {result.mean_reverse_kl or 0:.5f}",
        f"p99 KL (the tail):              {result.p99_kl:.5f}   max {result.max_kl:.4f}",
        f"top-1 agreement:                {100 * result.top1_agreement:.2f} %",
        f"method:                         {result.collection} (top-{result.top_k}, "
        f"{result.probe_version}; a lower bound of the true KL)",
        *result.notes,
    ]


def speed_lines(result: SpeedResult) -> list[str]:
    """What ``probe speed`` prints."""
    if result.status != "done":
        return [f"speed probe failed: {result.reason}"]
    lines = [
        f"tg: {result.tg_tps_mean:.1f} ± {result.tg_tps_sd or 0:.1f} tok/s "
        f"({result.tg_n} runs, {result.tg_tokens_source} token counts)",
        f"pp: {result.pp_tps_mean or 0:.1f} ± {result.pp_tps_sd or 0:.1f} tok/s "
        f"({result.pp_n} runs); TTFT median {result.tg_ttft_median_s or 0:.3f} s",
    ]
    if result.server_tg_tps_mean is not None:
        lines.append(f"the server's own tg: {result.server_tg_tps_mean:.1f} tok/s")
    return lines


async def _kl(args: argparse.Namespace) -> KlResult | KlUnavailable:
    async with (
        ChatClient(args.baseline, api_key=key_from_env(args.baseline_key_env)) as base,
        ChatClient(args.candidate, api_key=key_from_env(args.candidate_key_env)) as cand,
    ):
        base_model = await served_model(base, args.baseline_model)
        cand_model = await served_model(cand, args.candidate_model)
        return await run_kl_probe(cand, cand_model, base, base_model, top_k=args.top_k)


async def _speed(args: argparse.Namespace) -> SpeedResult:
    async with ChatClient(args.a, api_key=key_from_env(args.a_key_env)) as client:
        return await run_speed_probe(
            client, await served_model(client, args.a_model), reps=args.reps
        )


def _write(path: Path | None, payload: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def run_probe(args: argparse.Namespace) -> int:
    """0: measured; 1: the probe could not measure (it says why); 2: bad arguments."""
    try:
        if args.probe == "kl":
            if args.top_k < 1:
                raise SystemExit("error: --top-k must be at least 1")
            kl = asyncio.run(_kl(args))
            print("\n".join(kl_lines(kl)))
            _write(args.json, kl.model_dump(mode="json"))
            return 0 if isinstance(kl, KlResult) else 1
        if args.reps < MIN_REPS:
            raise SystemExit(f"error: --reps must be at least {MIN_REPS}")
        speed = asyncio.run(_speed(args))
        print("\n".join(speed_lines(speed)))
        _write(args.json, speed.model_dump(mode="json"))
        return 0 if speed.status == "done" else 1
    except EndpointError as exc:
        print(f"error: {exc}")
        return 1
