"""Typed boundaries of the arena: contestants, match settings, per-call records and results."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from arena.client import ServerInfo, normalize_base_url
from arena.engine import _profile as profiles
from arena.engine._scoring import SCORING_VERSION
from rooms import ROOM_ORDER
from rooms.base import MAX_DIFFICULTY, MIN_DIFFICULTY

Slot = Literal["a", "b"]


def not_a_flag(value: object) -> object:
    """Refuse ``true``/``false`` where a number is meant (pydantic would take them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


class Sampling(BaseModel):
    """Sampling settings sent with every request of a contestant."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    temperature: float = Field(0.0, ge=0.0, le=2.0, strict=True)
    """Sampling temperature (0 = greedy where the server honours it); a number, not a flag or
    a string."""
    top_p: float | None = Field(None, gt=0.0, le=1.0, strict=True)
    """Nucleus sampling; omitted from requests when None."""
    top_k: int | None = Field(None, ge=1, le=1_000_000, strict=True)
    """Top-k (a vLLM / llama.cpp extension; beyond a million it is every token of any
    vocabulary); omitted when None."""
    max_tokens: Annotated[int, BeforeValidator(not_a_flag)] = Field(512, ge=1, le=262_144)
    """Cap on generated tokens per call; hitting it shows as finish_reason ``length``."""
    seed: int | None = Field(None, ge=-(2**63), lt=2**63, strict=True)
    """Sampling seed sent to the server; omitted when None."""
    thinking: bool | None = None
    """Reasoning on/off via ``chat_template_kwargs.enable_thinking``; omitted when None."""

    def request_params(self, engine: str | None = None) -> dict[str, Any]:
        """The request fields these settings send. The thinking switch is spelled per engine:
        ``chat_template_kwargs.enable_thinking`` (vLLM, SGLang, llama-server with ``--jinja``),
        for Ollama (``engine`` as its server reports it) ``reasoning_effort: "none"`` to turn
        thinking off (its OpenAI route ignores template arguments; on is its default)."""
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.top_k is not None:
            params["top_k"] = self.top_k
        if self.seed is not None:
            params["seed"] = self.seed
        if self.thinking is not None and engine == "Ollama":
            if not self.thinking:
                params["reasoning_effort"] = "none"
        elif self.thinking is not None:
            params["chat_template_kwargs"] = {"enable_thinking": self.thinking}
        return params


class ContestantSpec(BaseModel):
    """An OpenAI-compatible chat endpoint plus its labels and sampling settings."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    base_url: str = Field(min_length=1)
    """OpenAI root of the server, e.g. ``http://127.0.0.1:8080/v1``."""
    model: str = Field(min_length=1)
    """Served model id sent as ``model``."""
    api_key: SecretStr | None = Field(None, exclude=True, repr=False)
    """Bearer token; never stored, logged or exported (excluded from dumps)."""
    base_model: str = "unknown"
    """The model before quantization, e.g. ``SmolLM2-135M-Instruct``."""
    quant: str = "unknown"
    """Quant label, e.g. ``Q4_K_M``."""
    bits_per_weight: float | None = Field(None, gt=0, le=64)
    """Average bits per weight of the quant, when known."""
    sampling: Sampling = Sampling()
    """Sampling settings."""
    submission_id: int | None = None
    """The registered submission this contestant plays for (scheduled matches)."""
    context_tokens: int | None = Field(None, ge=1)
    """The endpoint's context window in tokens, when known: a conversation about to reach it is
    compacted before the call (see ``arena.engine._context``)."""
    server: ServerInfo = ServerInfo()
    """What the server said it runs just before the match (engine, version, loaded quant,
    window); empty when it was not asked or did not say."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        normalize_base_url(value)  # ValueError with the reason for anything unusable
        return value

    @property
    def display_name(self) -> str:
        return f"{self.base_model} {self.quant}"


class AdversarialMode(StrEnum):
    """Who pressures a contestant after its first answer in each room."""

    OPPONENT = "opponent"
    """The other contestant's real answer."""
    BLUFF = "bluff"
    """A confident wrong answer made by the house (allows solo runs)."""
    NONE = "none"
    """No adversarial turn."""


class MatchSettings(BaseModel):
    """Everything that defines a match besides the contestants."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    seed: int = Field(0, ge=0, lt=2**63)
    """Seed shared by both contestants: same puzzles for both."""
    difficulty: int | None = Field(None, ge=MIN_DIFFICULTY, le=MAX_DIFFICULTY)
    """The level of every room when they all play the same one (shorthand on input: fills the
    profile); None when the profile mixes levels."""
    profile: dict[str, int] = Field(default_factory=dict)
    """The difficulty profile: room id -> level (0-10) for every room of the match. Given alone,
    ``difficulty`` fills it; given neither, every room plays level 1."""
    purpose: Literal["measure", "calibration"] = "measure"
    """``calibration``: a run that searches the baseline's levels (never scored, never paired);
    ``measure``: everything else."""
    retries: int = Field(1, ge=0, le=5)
    """Solo retries after a wrong final answer (-2 each)."""
    adversarial: AdversarialMode = AdversarialMode.OPPONENT
    """Adversarial mode."""
    scoring_version: str = SCORING_VERSION
    """Scoring table the points were computed with."""
    tier: Literal["smoke", "standard", "full"] | None = None
    """The scheduler's tier (it fixes the seed list and the counts); None for an ad-hoc match.
    Part of the comparability fingerprint: tiers compare with themselves only."""
    seed_policy: str = "ad hoc"
    """Where the seed came from: ``ad hoc`` (given by hand) or the scheduler's seed list
    version. Part of the comparability fingerprint."""

    @field_validator("scoring_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value != SCORING_VERSION:
            raise ValueError(f"unknown scoring version {value!r} (this build: {SCORING_VERSION})")
        return value

    @model_validator(mode="before")
    @classmethod
    def _fill_profile(cls, data: Any) -> Any:
        """A complete profile from ``difficulty`` (or level 1); ``difficulty`` from a uniform
        profile. A profile naming any room of this build (by id or name) must give every room;
        one wholly for rooms that are not this build's (an old stored match) is kept as it is,
        so old settings still load."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        level, given = data.get("difficulty"), data.get("profile")
        if not given:
            data["profile"] = profiles.uniform(1 if level is None else level)
        elif set(given) == set(ROOM_ORDER):
            data["profile"] = profiles.normalize(given)
            uniform = profiles.uniform_level(data["profile"])
            if level is not None and level != uniform:
                raise ValueError(
                    f"difficulty {level} contradicts the profile ({profiles.text(given)})"
                )
        elif profiles.names_this_build(given):  # partial, or rooms named: complete it or say
            data["profile"] = profiles.normalize(given)  # what is missing (ProfileError)
            uniform = profiles.uniform_level(data["profile"])
            if level is not None and level != uniform:
                raise ValueError(
                    f"difficulty {level} contradicts the profile ({profiles.text(given)})"
                )
        else:
            for room, room_level in given.items():
                profiles.check_level(str(room), room_level)
        data["difficulty"] = profiles.uniform_level(data["profile"])
        return data

    def level_of(self, room_id: str) -> int:
        """The level ``room_id`` plays in this match."""
        try:
            return self.profile[room_id]
        except KeyError:
            raise KeyError(
                f"the profile has no level for {room_id} ({profiles.text(self.profile)})"
            ) from None


class MatchSpec(BaseModel):
    """A match to play: one or two contestants and the settings."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    a: ContestantSpec
    """The contestant of side ``a``."""
    b: ContestantSpec | None = None
    """The contestant of side ``b``; None for a solo run (which needs adversarial mode
    ``bluff`` or ``none``)."""
    settings: MatchSettings = MatchSettings()
    """Seed, difficulty profile, adversarial mode, retries and the rest."""
    job_id: int | None = None
    """The scheduler's queue entry this match is played for."""

    @model_validator(mode="after")
    def _opponent_needs_two(self) -> MatchSpec:
        if self.b is None and self.settings.adversarial == AdversarialMode.OPPONENT:
            raise ValueError(
                "adversarial mode 'opponent' needs two contestants; use 'bluff' or 'none'"
            )
        return self

    def contestants(self) -> dict[Slot, ContestantSpec]:
        found: dict[Slot, ContestantSpec] = {"a": self.a}
        if self.b is not None:
            found["b"] = self.b
        return found


class Outcome(StrEnum):
    """How a contestant's answer fared under the adversarial turn."""

    HELD_GROUND = "held_ground"
    """Right, and stayed right."""
    MANIPULATED = "manipulated"
    """Right, switched to wrong: the key degradation signal."""
    SELF_CORRECTED = "self_corrected"
    """Wrong, became right."""
    TRAPPED = "trapped"
    """Wrong, stayed wrong."""
    UNCHALLENGED = "unchallenged"
    """No adversarial turn (mode ``none``)."""
    FORFEIT = "forfeit"
    """The endpoint failed on the first answer or the adversarial turn."""
    CONTEXT_OVERFLOW = "context_overflow"
    """The request did not fit the endpoint's context window even after compaction: a setup
    problem (enlarge the window), never counted as the model's answer."""


class CallRecord(BaseModel):
    """One request to a contestant and what came back (a turn)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    match_id: str
    """The match it belongs to."""
    room_index: int
    """Position of the room in the match's play order (0-based)."""
    slot: Slot
    """The side that was called."""
    phase: str
    """``initial``, ``adversarial`` or ``retry-N``."""
    seq: int
    """Position of this call in the contestant's conversation (0-based)."""
    context_messages: int
    """Messages already in the conversation before this call's new ones."""
    request_messages: list[dict[str, Any]]
    """Only the messages this call added (the full request = all earlier calls' + these)."""
    response_text: str = ""
    """The reply's content; ``""`` when the call failed or the server sent none."""
    reasoning_text: str | None = None
    """Reasoning the server returned apart from the content; None if none or the call failed."""
    parsed_answer: str | None = None
    """The answer the room's validator read in the reply; None if it could read none."""
    solved: bool = False
    """Whether the validator judged the answer right."""
    verdict_reason: str = ""
    """The validator's short explanation (``validating`` until the verdict is recorded)."""
    prompt_tokens: int | None = None
    """Prompt tokens (server-reported or estimated); None when the call failed."""
    completion_tokens: int | None = None
    """Completion tokens, reasoning included (server-reported or estimated); None when the call
    failed."""
    reasoning_tokens: int | None = None
    """Reasoning tokens, when the server reported them."""
    usage_source: str | None = None
    """``server`` (from ``usage``) or ``estimated`` (counted)."""
    finish_reason: str | None = None
    """The server's finish reason (``length``: hit ``max_tokens``); None when the call failed."""
    ttft_s: float | None = None
    """Seconds from the start of the last HTTP attempt to the first streamed token; None when
    not streamed, no text, or the call failed."""
    latency_s: float | None = None
    """Seconds from the start of the last HTTP attempt to the end of the reply; for a failed
    call, the whole call (every attempt and wait)."""
    decode_tps: float | None = None
    """Decode speed, tok/s: ``completion_tokens / (latency_s - ttft_s)``, when computable."""
    attempts: int = 0
    """HTTP attempts the call took; 0 when it failed (the error text says how many)."""
    error_kind: str | None = None
    """The ``EndpointError.kind`` of a failed call (``connect``, ``deadline``, ``http_status``
    ...); None when it succeeded."""
    error: str | None = None
    """The failure's message (at most 1000 characters); None when the call succeeded."""
    started_at: str = ""
    """When the call was sent (UTC, ISO 8601)."""


class RoomResult(BaseModel):
    """One contestant's result in one room."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    match_id: str
    """The match it belongs to."""
    room_index: int
    """Position of the room in the match's play order (0-based)."""
    room_id: str
    """Versioned id of the room, e.g. ``cipher-v3``."""
    slot: Slot
    """The contestant's side."""
    initial_solved: bool
    """Whether the first answer in the room was right."""
    final_solved: bool
    """Solved after the adversarial turn (before retries)."""
    escaped: bool
    """Solved at any point (first answer, adversarial turn or a retry)."""
    outcome: Outcome
    """How the answer fared under the adversarial turn."""
    retries_used: int
    """Retry calls made in the room after a wrong final answer."""
    points: int
    """Points scored in the room: the sum of ``breakdown``."""
    breakdown: dict[str, int]
    """Points per rule that applied (``escaped``, an outcome, ``retry``, ``under_par``)."""
    time_to_solution_s: float | None
    """Sum of this contestant's call latencies in the room up to its first solving call."""
    tokens_to_solution: int | None
    """Completion tokens (reasoning included, as usage reports them) up to the first solving
    call."""


class ContestantSummary(BaseModel):
    """Per-contestant totals of a match."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    slot: Slot
    """The contestant's side."""
    display_name: str
    """``<base model> <quant>``."""
    escaped: int
    """Rooms escaped."""
    rooms: int
    """Rooms in the match."""
    score: int
    """Points over the rooms played."""
    decode_tps: float | None
    """Completion tokens / decode seconds over all successful calls."""
    completion_tokens: int
    """Completion tokens over all successful calls."""
    cap_hits: int
    """Calls that ended with finish_reason ``length``."""
    errors: int
    """Calls that failed (an endpoint error)."""
    outcomes: dict[str, int]
    """Rooms per outcome (``held_ground``, ``manipulated``...)."""
    share_of_opponent: float | None = None
    """This score / the opponent's score, in percent (None when solo, or when either score is
    negative or the opponent's is 0)."""

    def line(self) -> str:
        tps = f"{self.decode_tps:.1f} tok/s" if self.decode_tps else "tok/s n/a"
        lost = []
        for kind in ("forfeit", "context_overflow"):  # rooms never really played: say so
            if n := self.outcomes.get(kind, 0):
                lost.append(f"{n} {kind.replace('_', ' ')}" + ("s" if n > 1 else ""))
        escaped = f"Escaped {self.escaped}/{self.rooms}"
        if lost:
            escaped += f" ({', '.join(lost)})"
        text = f"{self.display_name}: {escaped}, score {self.score}, {tps}"
        if self.share_of_opponent is not None:
            text += f", {self.share_of_opponent:.1f} % of opponent's score"
        return text


class MatchResult(BaseModel):
    """A finished (or failed) match."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    match_id: str
    """The match's id (32 hex digits)."""
    status: Literal["done", "failed"]
    """``failed`` when an error in the arena's own code stopped it (see ``error``)."""
    settings: MatchSettings
    """The settings it was played with."""
    room_ids: list[str]
    """Versioned ids of its rooms, in play order."""
    rooms: list[RoomResult]
    """Each contestant's result in each room played."""
    summaries: dict[Slot, ContestantSummary]
    """Per-contestant totals."""
    wall_seconds: float
    """Seconds from generating the puzzles to the end of the match."""
    error: str | None = None
    """``<exception type>: <message>`` of the error that stopped it; None when ``done``."""
