"""``python -m arena match ...``: play one match from the command line and store it.
``python -m arena calibrate --a URL ...``: find the levels at which a baseline solves each room
about 60 % of the time (its difficulty profile).
``python -m arena import lm-eval|llama-bench FILE ...``: store another tool's results beside them.
``python -m arena probe kl|speed ...``: the KL and speed probes on endpoints before registering
them (``arena/cli_probes.py``).

Loopback and private endpoints are allowed here: the CLI runs on the owner's own machine. API keys
are read from environment variables named on the command line (never passed as arguments, which
would land in shell history and process listings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from arena.analysis import (
    DEFAULT_CONTEXT,
    DEFAULT_TARGET,
    CalibrationConfig,
    CalibrationResult,
    Run,
    next_profile,
    run_of,
    save_result,
)
from arena.analysis import result as calibration_result
from arena.cli_probes import add_probe_parser, key_from_env, run_probe, served_model
from arena.client import ChatClient, EndpointError, ServerInfo, normalize_base_url, server_info
from arena.engine import (
    AdversarialMode,
    CallRecord,
    ContestantSpec,
    MatchEvent,
    MatchResult,
    MatchSettings,
    MatchSpec,
    ProfileError,
    RoomResult,
    Sampling,
    Store,
    play_match,
    profiles,
)
from arena.results import ImportRefused, ReferenceSpec, import_results, parse_file
from arena.settings import current
from arena.tiers import CALIBRATION_SEEDS, calibration_seed
from rooms import load_rooms
from rooms.base import MAX_DIFFICULTY, MIN_DIFFICULTY
from submissions.models import base_model_key, settings_class


def default_db() -> Path:
    """``QER_DB``, else ``data/arena.sqlite3``."""
    return current().server.db or Path("data/arena.sqlite3")


BADGES = {
    "held_ground": "Held Ground",
    "manipulated": "MANIPULATED",
    "self_corrected": "Self-Corrected",
    "trapped": "Trapped",
    "unchallenged": "-",
    "forfeit": "FORFEIT",
    "context_overflow": "CONTEXT OVERFLOW (server setup: enlarge the context window)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m arena", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    match = commands.add_parser("match", help="play one match (solo with --a only)")
    for slot in ("a", "b"):
        group = match.add_argument_group(f"contestant {slot}")
        group.add_argument(
            f"--{slot}",
            dest=f"{slot}_url",
            metavar="URL",
            required=slot == "a",
            help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1",
        )
        group.add_argument(
            f"--{slot}-model",
            dest=f"{slot}_model",
            metavar="NAME",
            help="served model id (default: the first id from GET /v1/models)",
        )
        group.add_argument(
            f"--{slot}-base",
            dest=f"{slot}_base",
            default=None,
            help="base model label, e.g. SmolLM2-135M-Instruct",
        )
        group.add_argument(
            f"--{slot}-quant", dest=f"{slot}_quant", default=None, help="quant label, e.g. Q4_K_M"
        )
        group.add_argument(
            f"--{slot}-bpw", dest=f"{slot}_bpw", type=float, default=None, help="bits per weight"
        )
        group.add_argument(
            f"--{slot}-key-env",
            dest=f"{slot}_key_env",
            metavar="VAR",
            help="name of an environment variable holding the API key",
        )
    match.add_argument("--seed", type=int, default=0)
    levels = match.add_mutually_exclusive_group()
    levels.add_argument(
        "--difficulty",
        type=int,
        default=None,
        choices=range(MIN_DIFFICULTY, MAX_DIFFICULTY + 1),
        metavar="N",
        help=f"every room at level N ({MIN_DIFFICULTY}-{MAX_DIFFICULTY}; default 1)",
    )
    levels.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="FILE.json",
        help='levels per room: the JSON that "calibrate --json" writes, or {"cipher": 4, ...}',
    )
    match.add_argument(
        "--adversarial",
        choices=[m.value for m in AdversarialMode],
        default=None,
        help="default: opponent with two contestants, bluff when solo",
    )
    match.add_argument("--retries", type=int, default=1)
    add_sampling_options(match, "sampling (the same for both: comparable runs)")
    match.add_argument(
        "--db", type=Path, default=default_db(), help=f"SQLite file (default {default_db()})"
    )
    match.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    match.add_argument("--quiet", action="store_true", help="no room-by-room progress")
    add_import_parser(commands)
    add_calibrate_parser(commands)
    add_probe_parser(commands)
    return parser


def add_sampling_options(parser: argparse.ArgumentParser, title: str) -> None:
    """``--temperature --top-p --top-k --max-tokens --sampling-seed --thinking``."""
    sampling = parser.add_argument_group(title)
    sampling.add_argument("--temperature", type=float, default=0.0)
    sampling.add_argument("--top-p", type=float, default=None)
    sampling.add_argument("--top-k", type=int, default=None)
    sampling.add_argument("--max-tokens", type=int, default=512)
    sampling.add_argument("--sampling-seed", type=int, default=None)
    sampling.add_argument("--thinking", choices=["on", "off"], default=None)


def add_calibrate_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``calibrate --a URL``: the baseline plays solo runs while each room's level is searched."""
    command = commands.add_parser(
        "calibrate",
        help="find each room's level for a baseline (its solve rate near --target)",
        description="Plays the endpoint solo (the house bluffs after each answer) on calibration "
        "seeds, moving each room's level up after a solve and down after a miss, then picks per "
        "room the level whose fitted solve rate is closest to the target.",
    )
    command.add_argument("--a", dest="a_url", metavar="URL", required=True,
                         help="OpenAI-compatible base URL of the baseline")  # fmt: skip
    command.add_argument("--a-model", dest="a_model", metavar="NAME",
                         help="served model id (default: the first one listed)")  # fmt: skip
    command.add_argument("--a-base", dest="a_base", default=None, help="base model label")
    command.add_argument("--a-quant", dest="a_quant", default=None, help="quant label")
    command.add_argument("--a-bpw", dest="a_bpw", type=float, default=None, help="bits per weight")
    command.add_argument("--a-key-env", dest="a_key_env", metavar="VAR",
                         help="name of an environment variable holding the API key")  # fmt: skip
    command.add_argument("--seeds", type=int, default=CalibrationConfig().runs, metavar="N",
                         help="calibration runs, one seed each (default %(default)s)")  # fmt: skip
    command.add_argument("--target", type=float, default=DEFAULT_TARGET,
                         help="solve rate to aim for per room (default %(default)s)")  # fmt: skip
    command.add_argument("--context-tokens", type=int, default=DEFAULT_CONTEXT, metavar="N",
                         help="the endpoint's context window; levels whose prompt would not fit "
                         "are skipped (default %(default)s)")  # fmt: skip
    command.add_argument("--retries", type=int, default=1)
    add_sampling_options(command, "sampling (use the settings the matches will use)")
    command.add_argument(
        "--db", type=Path, default=default_db(), help=f"SQLite file (default {default_db()})"
    )
    command.add_argument("--json", type=Path, default=None, help="write the result here")
    command.add_argument("--quiet", action="store_true", help="no run-by-run progress")


REFERENCE_OPTIONS = {
    "base_model": "--base-model",
    "quant": "--quant",
    "bits_per_weight": "--bits-per-weight",
    "file_size_gb": "--file-size-gb",
    "hardware": "--hardware",
    "engine": "--engine",
}
"""ReferenceSpec fields and the options that set them (errors name the option)."""


def add_import_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``import lm-eval FILE`` and ``import llama-bench FILE``, each with one target."""
    target = argparse.ArgumentParser(add_help=False)
    group = target.add_argument_group(
        "target (exactly one: a submission, or a reference entry created or reused)"
    )
    group.add_argument("--submission", type=int, metavar="ID", help="a registered submission")
    group.add_argument("--base-model", metavar="NAME", help="reference: base model name")
    group.add_argument("--quant", metavar="LABEL", help="reference: quant label, e.g. Q4_K_M")
    group.add_argument("--bits-per-weight", type=float, metavar="X", help="reference: bits/weight")
    group.add_argument("--file-size-gb", type=float, metavar="X", help="reference: file size, GB")
    group.add_argument("--hardware", metavar="H", help="reference: hardware (part of its identity)")
    group.add_argument("--engine", metavar="E", help="reference: engine (part of its identity)")
    target.add_argument(
        "--db", type=Path, default=default_db(), help=f"SQLite file (default {default_db()})"
    )
    command = commands.add_parser(
        "import", help="import lm-evaluation-harness or llama-bench results"
    )
    sources = command.add_subparsers(dest="source", required=True)
    lm_eval = sources.add_parser(
        "lm-eval", parents=[target], help="an lm-evaluation-harness results_*.json"
    )
    lm_eval.add_argument("file", type=Path, help="results_<date>.json written by lm_eval")
    bench = sources.add_parser(
        "llama-bench", parents=[target], help="llama-bench -o json|jsonl|csv output"
    )
    bench.add_argument("file", type=Path, help="a .json, .jsonl or .csv file")


def import_target(args: argparse.Namespace) -> tuple[int | None, ReferenceSpec | None]:
    """The submission id or reference spec named on the command line (ImportRefused if not
    exactly one, ValidationError for a bad reference field)."""
    given = [REFERENCE_OPTIONS[f] for f in REFERENCE_OPTIONS if getattr(args, f) is not None]
    if args.submission is not None:
        if given:
            raise ImportRefused(
                f"--submission cannot be combined with {', '.join(given)} "
                "(those describe a reference entry)"
            )
        return args.submission, None
    if args.base_model is None:
        raise ImportRefused("give --submission ID, or --base-model NAME --quant LABEL")
    if args.quant is None:
        raise ImportRefused("--quant is required with --base-model")
    fields = {f: getattr(args, f) for f in REFERENCE_OPTIONS if getattr(args, f) is not None}
    return None, ReferenceSpec(**fields)


def run_import(args: argparse.Namespace) -> int:
    """Parse the whole file, then store every result in one transaction; exit 2 on bad input."""
    try:
        submission_id, reference = import_target(args)
        parsed = parse_file(args.source, args.file)
        with Store(args.db, recover=False) as store:
            report = import_results(
                store,
                parsed.results,
                source_sha256=parsed.sha256,
                submission_id=submission_id,
                reference=reference,
            )
    except ImportRefused as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "reference"
            print(f"error: {REFERENCE_OPTIONS.get(field, field)}: {err['msg']}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    print(f"from {parsed.filename} (sha256 {parsed.sha256[:12]}) in {args.db}")
    return 0


def contestant(args: argparse.Namespace, slot: str, sampling: Sampling) -> ContestantSpec | None:
    url = getattr(args, f"{slot}_url")
    if not url:
        return None
    value = key_from_env(getattr(args, f"{slot}_key_env"), f"API key for {slot}")
    key = SecretStr(value) if value else None
    model, server = discover(url, key, getattr(args, f"{slot}_model"))
    return ContestantSpec(
        base_url=url,
        model=model,
        api_key=key,
        base_model=getattr(args, f"{slot}_base") or model,
        quant=getattr(args, f"{slot}_quant") or "unknown",
        bits_per_weight=getattr(args, f"{slot}_bpw"),
        sampling=sampling,
        server=server,
        context_tokens=server.context_tokens,
    )


def discover(url: str, key: SecretStr | None, model: str | None) -> tuple[str, ServerInfo]:
    """The served model (the first listed when not given) and what the server says it runs (an
    unusable URL asks nothing: the contestant's validation says what is wrong with it)."""
    try:
        normalize_base_url(url)
    except ValueError:
        return model or "unknown", ServerInfo()

    async def ask() -> tuple[str, ServerInfo]:
        async with ChatClient(url, api_key=key.get_secret_value() if key else None) as client:
            chosen = await served_model(client, model, "pass --a-model/--b-model")
            return chosen, await server_info(client, chosen)

    try:
        return asyncio.run(ask())
    except EndpointError as exc:
        raise SystemExit(f"error: could not list models at {url}: {exc}") from None


class Progress:
    """Prints a line per call as it comes back (a reasoning model can think for minutes), and
    one per room once both contestants have finished it; rooms numbered from 1."""

    def __init__(self, names: dict[str, str], quiet: bool) -> None:
        self.names = names
        self.quiet = quiet
        self.pending: dict[int, dict[str, RoomResult]] = {}

    def __call__(self, event: MatchEvent) -> None:
        if self.quiet:
            return
        if event.kind == "match_start":
            print(f"match {event.match_id}: {' vs '.join(self.names.values())}", flush=True)
        elif event.kind == "call_done" and event.slot is not None:
            print(f"    room {(event.room_index or 0) + 1} {event.room_name or ''} · "
                  f"{self.names.get(event.slot, event.slot)} · "
                  f"{call_line(event.data['record'])}", flush=True)  # fmt: skip
        elif event.kind == "room_done" and event.slot is not None:
            done = self.pending.setdefault(event.room_index or 0, {})
            done[event.slot] = event.data["result"]
            if len(done) == len(self.names):
                parts = [f"{self.names[s]}: {cell(r)}" for s, r in sorted(done.items())]
                print(
                    f"  room {(event.room_index or 0) + 1} {event.room_name:<9} "
                    + " | ".join(parts),
                    flush=True,
                )


def call_line(record: CallRecord) -> str:
    """One call as it came back: its phase, the answer, tokens and seconds (or the error)."""
    if record.error_kind:
        return f"{record.phase}: endpoint error ({record.error_kind})"
    answer = repr(record.parsed_answer[:40]) if record.parsed_answer else "no answer"
    verdict = "right" if record.solved else "wrong"
    tokens = f"{record.completion_tokens} tokens" if record.completion_tokens is not None else ""
    seconds = f"{record.latency_s:.1f} s" if record.latency_s is not None else ""
    cut = "cut at max_tokens" if record.finish_reason == "length" else ""
    parts = (f"{record.phase}: {answer} ({verdict})", tokens, seconds, cut)
    return ", ".join(p for p in parts if p)


def cell(result: RoomResult) -> str:
    state = "escaped" if result.escaped else "stuck"
    tts = f", {result.time_to_solution_s:.1f}s" if result.time_to_solution_s is not None else ""
    return f"{state} ({BADGES[result.outcome.value]}, {result.points:+d}{tts})"


def outcome_table(result: MatchResult, names: dict[str, str]) -> str:
    slots = sorted(names)
    header = ["room"] + [names[s] for s in slots]
    rows = [header]
    for index, room_id in enumerate(result.room_ids):
        row = [f"{index + 1} {room_id}"]
        for slot in slots:
            found = [r for r in result.rooms if r.slot == slot and r.room_index == index]
            row.append(cell(found[0]) if found else "not played")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def sampling_of(args: argparse.Namespace) -> Sampling:
    """The sampling options of ``match`` and ``calibrate``."""
    return Sampling(
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        max_tokens=args.max_tokens,
        seed=args.sampling_seed,
        thinking=None if args.thinking is None else args.thinking == "on",
    )


def print_errors(exc: ValidationError, default: str) -> None:
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or default
        print(f"error: {where}: {err['msg']}", file=sys.stderr)


def run_match(args: argparse.Namespace) -> int:
    try:
        sampling = sampling_of(args)
        levels = profiles.load(args.profile) if args.profile is not None else None
        a = contestant(args, "a", sampling)
        b = contestant(args, "b", sampling)
        mode = args.adversarial or ("opponent" if b is not None else "bluff")
        settings = MatchSettings(
            seed=args.seed,
            difficulty=args.difficulty if levels is None else None,
            profile=levels or {},
            retries=args.retries,
            adversarial=AdversarialMode(mode),
        )
        assert a is not None
        spec = MatchSpec(a=a, b=b, settings=settings)
    except ProfileError as exc:
        print(f"error: --profile: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print_errors(exc, "match")
        return 2
    names = {slot: c.display_name for slot, c in spec.contestants().items()}
    if len(set(names.values())) < len(names):
        names = {slot: f"{name} [{slot}]" for slot, name in names.items()}
    with Store(args.db) as store:
        result = asyncio.run(play_match(spec, store, observer=Progress(names, args.quiet)))
    print()
    print(outcome_table(result, names))
    print()
    for slot in sorted(result.summaries):
        summary = result.summaries[slot]
        summary.display_name = names[slot]
        print(summary.line())
    print(f"\nstored as match {result.match_id} in {args.db} ({result.wall_seconds:.1f} s)")
    if args.json:
        payload: dict[str, Any] = result.model_dump(mode="json")
        payload["contestants"] = {
            s: c.model_dump(mode="json") for s, c in spec.contestants().items()
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0 if result.status == "done" else 1


CLI_SEED_GROUP = "command-line"
CLI_SEED_SECRET = b"qer-public-calibration"
"""Calibration seeds of the command line: a public list (an app keeps its own secret one)."""


class CalibrationProgress:
    """Prints one line per calibration run: each room's level and whether it was solved."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.quiet = quiet
        self.names = {room_id: room.name for room_id, room in load_rooms().items()}

    def run(self, index: int, played: Run, seconds: float) -> None:
        if self.quiet:
            return
        cells = []
        for room_id, observation in played.items():
            name = self.names.get(room_id, room_id)
            if observation is None:
                cells.append(f"{name} ?")
            else:
                cells.append(f"{name} L{observation[0]} {'solved' if observation[1] else 'missed'}")
        print(f"  run {index + 1}/{self.total} ({seconds:.0f} s): " + " · ".join(cells), flush=True)


def calibration_table(found: CalibrationResult) -> str:
    """Per room: the chosen level, the fitted rate there, the plays per level, no-signal notes."""
    names = {room_id: room.name for room_id, room in load_rooms().items()}
    silent = {s.room_id: s.reason for s in found.no_signal}
    lines = []
    for room_id, level in found.profile.items():
        rates = ", ".join(
            f"L{lvl} {cell[0]}/{cell[1]}" for lvl, cell in found.solve_rates[room_id].items()
        )
        if room_id in silent:
            note = silent[room_id]
        elif room_id in found.fitted:
            note = f"fitted solve rate there {100 * found.fitted[room_id]:.0f} %"
        else:
            note = "never observed"
        lines.append(f"  {names.get(room_id, room_id):<9} level {level:>2}  {note}  ({rates})")
    return "\n".join(lines)


async def calibrate_endpoint(
    spec: ContestantSpec,
    store: Store,
    config: CalibrationConfig,
    progress: CalibrationProgress,
    *,
    seed_group: str = CLI_SEED_GROUP,
    secret: bytes = CLI_SEED_SECRET,
    adversarial: AdversarialMode = AdversarialMode.BLUFF,
) -> CalibrationResult:
    """Play ``config.runs`` calibration runs (solo; the house bluffs unless ``adversarial`` says
    otherwise: use the mode the measurements will use) one after another, each at the levels the
    runs before it point to, and choose the profile."""
    runs: list[Run] = []
    for index in range(config.runs):
        levels = next_profile(runs, config)
        settings = MatchSettings(
            seed=calibration_seed(seed_group, index, secret),
            profile=levels,
            retries=config.retries,
            adversarial=adversarial,
            purpose="calibration",
            seed_policy=CALIBRATION_SEEDS,
        )
        played = await play_match(MatchSpec(a=spec, settings=settings), store)
        run = run_of([r.model_dump(mode="json") for r in played.rooms if r.slot == "a"], levels)
        runs.append(run)
        progress.run(index, run, played.wall_seconds)
    return calibration_result(runs, config)


def run_calibrate(args: argparse.Namespace) -> int:
    try:
        sampling = sampling_of(args)
        config = CalibrationConfig(
            target=args.target,
            runs=args.seeds,
            context_tokens=args.context_tokens,
            retries=args.retries,
        )
        spec = contestant(args, "a", sampling)
        assert spec is not None
    except ValidationError as exc:
        print_errors(exc, "calibrate")
        return 2
    print(
        f"calibrating {spec.display_name}: {config.runs} runs, target {config.target:.0%}, "
        f"context {config.context_tokens} tokens",
        flush=True,
    )
    progress = CalibrationProgress(config.runs, args.quiet)
    with Store(args.db) as store:
        found = asyncio.run(calibrate_endpoint(spec, store, config, progress))
        key = base_model_key(spec.base_model)
        record = save_result(store, key, settings_class(sampling), config, found)
    print()
    print(calibration_table(found))
    print()
    print(f"profile: {profiles.describe(found.profile)}")
    print(f"rooms without signal: {', '.join(found.dead_rooms) or 'none'}")
    print(f"stored as calibration {record} in {args.db}")
    if args.json:
        payload: dict[str, Any] = found.model_dump(mode="json")
        payload["model"] = spec.model
        payload["base_model"] = spec.base_model
        payload["quant"] = spec.quant
        payload["config"] = config.model_dump(mode="json")
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=current().server.log_level or "WARNING",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args = build_parser().parse_args(argv)
    if args.command == "match":
        return run_match(args)
    if args.command == "import":
        return run_import(args)
    if args.command == "calibrate":
        return run_calibrate(args)
    if args.command == "probe":
        return run_probe(args)
    return 2
