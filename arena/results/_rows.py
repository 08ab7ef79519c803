"""The published tables' row models: one pydantic model per table (``extra="forbid"``), each
column documented by its field's docstring (the dataset card prints them), and their Arrow
schemas."""

from __future__ import annotations

import json
from typing import Any, ClassVar, get_args

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, model_validator

from arena.probes import ProbeRecord
from submissions.models import SubmissionPublic

DATASET_VERSION = "qer-dataset-v2"
"""Format of the published dataset (changes when a table or column does). v2:
``submissions.baseline_review`` (a v1 dataset restores its baselines as confirmed)."""


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    table: ClassVar[str]
    primary_key: ClassVar[tuple[str, ...]]
    description: ClassVar[str]


class SubmissionRow(Row, SubmissionPublic):
    """A registered endpoint, without where it lives or who registered it (the fields of
    ``submissions.models.SubmissionPublic``, and its sampling as JSON)."""

    table = "submissions"
    primary_key = ("id",)
    description = "one row per registered endpoint (no URL, key, token or client)"
    sampling: str
    """Sampling settings sent with every request, as JSON (temperature, top_p, top_k,
    max_tokens, seed, thinking)."""


class ContestantRow(Row):
    """One side of one match (a submission's settings at the time)."""

    table = "contestants"
    primary_key = ("id",)
    description = "one row per side of a match: model labels and sampling (no URL)"
    id: int
    """Row id; ``matches.contestant_a`` and ``matches.contestant_b`` refer to it (a new row for
    every side of every match)."""
    submission_id: int | None
    """The submission it played for; empty for ad-hoc matches and once that submission was
    deleted (its row is not published, and its matches stay public without the link)."""
    model: str
    """The served model id, sent as ``model`` in every request."""
    base_model: str
    """The model before quantization, as labelled when the match started (for a submission,
    its ``base_model``)."""
    quant: str
    """Quant label, e.g. ``Q4_K_M`` (``unknown`` when an ad-hoc match gave none)."""
    bits_per_weight: float | None
    """Average bits per weight of the quant; empty when not known."""
    sampling: str
    """Sampling settings sent with every request, as JSON (temperature, top_p, top_k,
    max_tokens, seed, thinking; a null one was left out of the requests)."""
    has_api_key: bool
    """Whether the endpoint was called with an API key (the key itself is never stored)."""
    created_at: str
    """When the row was written, at the start of its match (UTC, ISO 8601)."""
    server_engine: str | None = None
    """The engine the server said it was just before this match (empty: not asked or did not
    say; matches played before 2026-12-05 never asked)."""
    server_version: str | None = None
    """Its version or build, as reported then."""
    server_quant: str | None = None
    """The quant it reported loading then (compare with ``quant``, the label)."""
    server_context_tokens: int | None = None
    """The context window it reported then, in tokens."""


class MatchRow(Row):
    """A match: settings, contestants, outcome summary."""

    table = "matches"
    primary_key = ("id",)
    description = (
        "one row per match: seed, difficulty profile, purpose, mode, contestants, per-side summary"
    )
    id: str
    """Match id (32 hex digits); ``match_id`` of ``puzzles``, ``rooms`` and ``turns``."""
    seed: int
    """The seed every room's puzzle was generated from (both sides get the same puzzles)."""
    difficulty: int
    """The level of every room; -1 when the profile mixes levels."""
    profile: str
    """The difficulty profile: room id -> level, JSON text in play order
    (``{"cipher-v3": 4, "map-v2": 6, ...}``). Matches stored before profiles existed played every
    room of ``room_ids`` at ``difficulty``: their profile is that, spelled out."""
    purpose: str = "measure"
    """``measure``, or ``calibration``: a solo run of a baseline searching its levels (see
    ``calibrations``), never scored or paired. Snapshots published before it existed hold
    measurements only."""
    adversarial: str
    """What each side is shown after its first answer in a room: ``opponent`` (the other side's
    answer), ``bluff`` (a confident wrong answer made by the house) or ``none`` (no such turn)."""
    retries: int
    """Retries allowed per room after a wrong final answer (0-5; -2 points each one used)."""
    scoring_version: str
    """The scoring table the points were computed with (``score-v1``)."""
    room_ids: str
    """The versioned room ids in play order, JSON list (``["cipher-v3", ...]``); a room's
    position in it is its ``room_index``."""
    settings: str
    """The match settings as JSON (``arena.engine.MatchSettings``: seed, difficulty, profile,
    purpose, retries, adversarial, scoring_version, tier, seed_policy)."""
    contestant_a: int
    """Side ``a``: the ``contestants.id`` that played it."""
    contestant_b: int | None
    """Side ``b``: the ``contestants.id`` that played it; empty for a solo match (only possible
    with ``adversarial`` ``bluff`` or ``none``)."""
    status: str
    """``done``; ``failed`` (stopped by an error in the arena's own code, see ``error``; an
    endpoint failing only forfeits its turns) or ``interrupted`` (the process or its worker
    stopped while the match was played)."""
    started_at: str
    """When the match started (UTC, ISO 8601)."""
    finished_at: str | None
    """When it ended, or was marked interrupted (UTC, ISO 8601)."""
    wall_seconds: float | None
    """Seconds the match took, from generating its puzzles to its end; empty when
    interrupted."""
    error: str | None
    """Empty when ``done``; ``failed``: ``<exception type>: <message>``; ``interrupted``: why
    (e.g. ``process ended while the match was running``). Endpoint URLs and hosts show as
    ``<endpoint>``."""
    summary: str | None
    """Per-side totals, JSON slot -> ``{slot, display_name, escaped, rooms, score, decode_tps,
    completion_tokens, cap_hits, errors, outcomes, share_of_opponent}`` (see
    ``arena.engine.ContestantSummary``); empty when interrupted."""

    @model_validator(mode="before")
    @classmethod
    def _uniform_profile(cls, data: Any) -> Any:
        """A match without a profile (stored, or published, before profiles existed): every room
        at ``difficulty``, as ``arena.analysis._verdicts.match_profile`` reads it."""
        if isinstance(data, dict) and data.get("profile") is None and "room_ids" in data:
            rooms = json.loads(data["room_ids"])
            data = {**data, "profile": json.dumps(dict.fromkeys(rooms, data.get("difficulty")))}
        return data


class PuzzleRow(Row):
    """A room's puzzle in a match, with its solution and key."""

    table = "puzzles"
    primary_key = ("match_id", "room_index")
    description = "one row per room of a match: prompt, solution, key, par time, data"
    match_id: str
    """The match (``matches.id``)."""
    room_index: int
    """Position of the room in the match's play order (0-based, as in ``matches.room_ids``)."""
    room_id: str
    """Versioned id of the room, e.g. ``cipher-v3``."""
    seed: int
    """The seed the puzzle was generated from (the match's ``seed``)."""
    difficulty: int
    """The level it was generated at, 0-10 (the room's entry in ``matches.profile``)."""
    prompt: str
    """The puzzle text the room poses (from the second room on, the message sent starts with a
    note on the previous room's key: see ``turns.request_messages``)."""
    solution: str
    """The canonical expected answer (any other answer the room's validator accepts counts
    too)."""
    key: str
    """The key word the room hands a side that escapes it (the Warden, the last room, asks for
    the earlier rooms' keys)."""
    par_seconds: float
    """Par time in seconds: +1 point per full 10 s of ``rooms.time_to_solution_s`` under it (when
    escaped)."""
    data: str
    """The room's structured puzzle data, JSON object (room-specific: graph, records, tests...),
    what its reference solver and the replays use."""


class RoomRow(Row):
    """One contestant's result in one room."""

    table = "rooms"
    primary_key = ("match_id", "room_index", "slot")
    description = "one row per room and side: solved, outcome, points, time/tokens to solution"
    match_id: str
    """The match (``matches.id``)."""
    room_index: int
    """Position of the room in the match's play order (0-based; ``puzzles.room_index``)."""
    slot: str
    """The side: ``a`` (``matches.contestant_a``) or ``b`` (``matches.contestant_b``)."""
    room_id: str
    """Versioned id of the room, e.g. ``cipher-v3``."""
    initial_solved: bool
    """Whether its first answer in the room (the ``initial`` turn) was right."""
    final_solved: bool
    """Whether its answer after the adversarial turn was right, before any retry (the first
    answer when there was no adversarial turn or that call failed)."""
    escaped: bool
    """Whether any of its answers in the room was right (first, adversarial turn or a retry)."""
    outcome: str
    """``held_ground`` (right, stayed right), ``manipulated`` (right, then wrong),
    ``self_corrected`` (wrong, then right), ``trapped`` (wrong, stayed wrong), ``unchallenged``
    (no adversarial turn), ``forfeit`` (its first or adversarial call failed) or
    ``context_overflow`` (the request did not fit the endpoint's context window even compacted: a
    setup problem, left out of verdicts)."""
    retries_used: int
    """Retry turns played in the room after a wrong final answer (-2 points each)."""
    points: int
    """Points scored in the room: the sum of ``breakdown``."""
    breakdown: str
    """Points per rule that applied, JSON object: ``escaped`` (+10), ``held_ground`` (+5),
    ``manipulated`` (-8), ``self_corrected`` (+3), ``trapped`` (0), ``retry`` (-2 per retry),
    ``under_par`` (+1 per full 10 s under par)."""
    time_to_solution_s: float | None
    """Seconds: the sum of its calls' ``turns.latency_s`` in the room up to and including its
    first right answer (not wall-clock time); empty if it never solved the room."""
    tokens_to_solution: int | None
    """The sum of ``completion_tokens`` (reasoning included; a missing count as 0) of its calls
    in the room up to and including its first right answer; empty if it never solved it. Matches
    stored before 2026-12-04 counted a server-reported ``reasoning_tokens`` twice."""


class TurnRow(Row):
    """One request to a contestant and its answer: the full transcript, turn by turn."""

    table = "turns"
    primary_key = ("id",)
    description = (
        "one row per call: the messages it added, the reply, reasoning, parsed answer, verdict, "
        "tokens, finish reason, timings"
    )
    id: int
    """Row id, in the order the calls were stored."""
    match_id: str
    """The match (``matches.id``)."""
    room_index: int
    """The room it was played in (``puzzles.room_index``)."""
    slot: str
    """The side that was called: ``a`` or ``b`` (``rooms.slot``)."""
    phase: str
    """``initial`` (the first answer), ``adversarial`` (after seeing the opponent's answer or a
    bluff) or ``retry-N`` (N = 1.. ``matches.retries``, after a wrong final answer)."""
    seq: int
    """Position of the call in its side's conversation, which spans the whole match (0-based;
    unique per match and slot)."""
    context_messages: int
    """Messages of the conversation sent before this call's ``request_messages`` (0 for the first
    call); 1 after a compaction (only the system prompt kept: the earlier rooms were dropped to fit
    the context window)."""
    request_messages: str
    """Only the messages this call added, JSON list of ``{role, content}``: one ``user``
    message (the first call also opens with the ``system`` prompt). The full request is every
    earlier call's messages and ``response_text`` (same match and slot), then these."""
    response_text: str
    """The reply's content, sent back as the assistant message in later calls; ``""`` when the
    call failed or the server sent none."""
    reasoning_text: str | None
    """Reasoning the server returned apart from the content (``reasoning_content`` or
    ``reasoning``); empty when there was none or the call failed. Never sent back."""
    parsed_answer: str | None
    """The answer the room's validator read in the reply (normalized text); empty when none
    could be read, the reply was empty or the call failed."""
    solved: bool
    """Whether the validator judged the answer right."""
    verdict_reason: str
    """The validator's short explanation; also ``empty reply``, ``no answer: endpoint error``,
    ``validator error: ...``, or ``validating`` when the match stopped before the verdict."""
    prompt_tokens: int | None
    """Prompt tokens of the request, the whole conversation so far (server-reported or
    estimated, see ``usage_source``); empty when the call failed."""
    completion_tokens: int | None
    """Completion tokens, reasoning included (server-reported or estimated, see
    ``usage_source``); empty when the call failed."""
    reasoning_tokens: int | None
    """Reasoning tokens, when the server reported them
    (``usage.completion_tokens_details.reasoning_tokens``); else empty."""
    usage_source: str | None
    """``server`` (the server's ``usage``) or ``estimated`` (prompt: characters / 4 rounded up;
    completion: streamed chunks carrying text, or characters / 4 for a reply not streamed);
    empty when the call failed."""
    finish_reason: str | None
    """Why generation stopped, as the server said, e.g. ``stop``, or ``length`` (hit the
    sampling's ``max_tokens``); empty when the call failed or the server gave none."""
    ttft_s: float | None
    """Seconds from the start of the last HTTP attempt to the first streamed content or
    reasoning token; empty when the reply was not streamed, carried no text, or the call
    failed."""
    latency_s: float | None
    """Seconds from the start of the last HTTP attempt to the end of the reply; for a failed
    call, the whole call (every attempt and wait)."""
    decode_tps: float | None
    """Decode speed in tok/s: ``completion_tokens / (latency_s - ttft_s)``; empty when that
    cannot be computed or the call failed."""
    attempts: int
    """HTTP attempts the call took (retries and a ``stream_options`` fallback included); 0 when
    the call failed (``error`` says how many)."""
    error_kind: str | None
    """Empty when the call succeeded; else why it failed: ``connect``, ``deadline``,
    ``http_status``, ``context_overflow`` (the server refused a request longer than its context
    window), ``redirect``, ``malformed``, ``empty_choices``, ``incomplete`` (stream cut short) or
    ``too_large``."""
    error: str | None
    """The failure, ``endpoint <endpoint> <what happened> after <n> attempt(s): <detail>`` (at
    most 1000 characters; URLs and hosts as ``<endpoint>``); empty when the call succeeded."""
    started_at: str
    """When the call was sent (UTC, ISO 8601)."""


class ReferenceRow(Row):
    """A base model + quant known only through imported results (no endpoint)."""

    table = "references"
    primary_key = ("id",)
    description = "one row per reference entry: a base model and quant with imported results"
    id: int
    """Row id; ``imported.reference_id`` refers to it."""
    base_model: str
    """The model before quantization, as given at its first import (plain text)."""
    base_model_key: str
    """Case- and spacing-blind key of the base model (as ``submissions.base_model_key``)."""
    quant: str
    """Quant label, e.g. ``Q4_K_M``, as given."""
    bits_per_weight: float | None
    """Average bits per weight: as given at import, else from llama-bench's model size and
    parameter count (size in bits / parameters); empty when not known."""
    file_size_gb: float | None
    """Model file size in GB (10^9 bytes): as given at import, else llama-bench's model size;
    empty when not known."""
    hardware: str
    """Hardware label, as given at import; ``""`` when not given."""
    engine: str
    """Serving or inference engine label, as given at import; ``""`` when not given."""
    created_at: str
    """When the entry was created, at its first import (UTC, ISO 8601)."""


class ImportedRow(Row):
    """A number imported from lm-evaluation-harness or llama-bench (never an escape-room score)."""

    table = "imported"
    primary_key = ("id",)
    description = (
        "one row per imported result (lm-eval metric with stderr, llama-bench tok/s with "
        "stddev), attached to a submission or a reference entry"
    )
    id: int
    """Row id."""
    submission_id: int | None
    """The submission it is attached to (``submissions.id``); empty when it is attached to a
    reference entry (exactly one of ``submission_id`` and ``reference_id`` is set)."""
    reference_id: int | None
    """The reference entry it is attached to (``references.id``); empty when attached to a
    submission."""
    source: str
    """The tool that produced it: ``lm-eval`` (lm-evaluation-harness) or ``llama-bench``."""
    task: str
    """lm-eval: task or group name; llama-bench: its test name (``pp512``, ``tg128``,
    ``pp512+tg128``, ``tg128 @ d512`` at a depth; a sweep appends the settings that differ,
    ``pp64 [n_threads=1]``)."""
    metric: str
    """lm-eval: its ``<metric>,<filter>`` key (e.g. ``acc,none``); llama-bench:
    ``tokens_per_second``."""
    value: float
    """The number: the lm-eval metric's value, or llama-bench's average tok/s (``avg_ts``)."""
    stderr: float | None
    """lm-eval: the metric's standard error; llama-bench: the standard deviation of tok/s over
    the repetitions (``stddev_ts``, not a standard error). Empty when the file had none."""
    n: int | None
    """lm-eval: samples (effective count; a group sums its tasks); llama-bench: repetitions.
    Empty when not known."""
    details: str
    """Context to read the number by, JSON object (lm-eval: task version, n-shot, filter, run
    settings...; llama-bench: model size, threads, backend, build...); never URLs, keys or
    paths."""
    file_sha256: str
    """SHA-256 (hex) of the imported file's bytes: the same file imported again for the same
    target adds nothing."""
    imported_at: str
    """When it was imported (UTC, ISO 8601)."""


class ProbeRow(Row, ProbeRecord):
    """A KL or speed probe result of a submission (the fields of ``arena.probes.ProbeRecord``,
    with its row id and end time)."""

    table = "probes"
    primary_key = ("id",)
    description = (
        "one row per probe: `kl` (next-token distributions vs the baseline: approximate KL, "
        "top-1 agreement) or `speed` (llama-bench-style pp/tg tok/s, TTFT); `result` is JSON"
    )
    id: int
    """Row id of the probe."""
    finished_at: str
    """When the probe finished (UTC, ISO 8601)."""


class CalibrationRow(Row):
    """A finished calibration of a base-model group's baseline (``arena.analysis._calibration``)."""

    table = "calibrations"
    primary_key = ("id",)
    description = (
        "one row per finished calibration of a group's baseline: the level chosen per room, the "
        "baseline's solve rates per level, the rooms without signal (verdicts leave them out); "
        "its runs are the matches with `purpose` `calibration`"
    )
    id: int
    """Row id."""
    base_model_key: str
    """The base model calibrated (its normalized key, as ``submissions.base_model_key``)."""
    settings_class: str
    """The group's sampling class: the sampling settings as JSON (as ``submissions.sampling``)."""
    baseline_id: int | None
    """The baseline submission that played the runs; None for a command-line calibration."""
    status: str
    """``done`` (a calibration still running is published once it is done)."""
    method: str
    """Version of the search and choice rules (``staircase-v1``)."""
    config: str
    """How it searched, JSON (``arena.analysis._calibration.CalibrationConfig``: target solve
    rate, runs, start level, steps, context window, rooms, retries)."""
    profile: str | None
    """The chosen profile, JSON room id -> level."""
    solve_rates: str | None
    """JSON room id -> level -> ``[solved, played]``: the baseline's first answers over the
    runs."""
    dead_rooms: str | None
    """JSON list of the rooms without signal for this model: ``{room_id, level, solved, played,
    reason}``."""
    created_at: str
    """When it started."""
    finished_at: str | None
    """When it was done."""


ROW_MODELS: tuple[type[Row], ...] = (
    SubmissionRow, ContestantRow, MatchRow, PuzzleRow, RoomRow, TurnRow, ReferenceRow,
    ImportedRow, ProbeRow, CalibrationRow,
)  # fmt: skip
"""The published tables, in dependency order."""


def pa_type(annotation: Any) -> pa.DataType:
    text = str(annotation)
    if "bool" in text:
        return pa.bool_()
    if "int" in text:
        return pa.int64()
    if "float" in text:
        return pa.float64()
    return pa.string()


def _nullable(annotation: Any) -> bool:
    """``X | None`` and ``Optional[X]`` alike."""
    return type(None) in get_args(annotation) or "None" in str(annotation)


def schema_of(model: type[Row]) -> pa.Schema:
    """The parquet schema of a published table (from its pydantic model)."""
    return pa.schema(
        [
            pa.field(name, pa_type(field.annotation), nullable=_nullable(field.annotation))
            for name, field in model.model_fields.items()
        ]
    )
