"""The submission form at the boundary: every field validated, every text field made plain."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from arena.engine import Sampling, not_a_flag

Quant = Literal[
    "BF16", "FP16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_1", "Q4_0", "Q3_K_M", "Q2_K",
    "FP8", "INT8", "INT4", "AWQ", "GPTQ", "MXFP4", "NVFP4", "other",
]  # fmt: skip
Engine = Literal["vLLM", "llama.cpp", "Ollama", "TGI", "SGLang", "LM Studio", "other"]
QUANT_LABELS: tuple[str, ...] = get_args(Quant)
ENGINES: tuple[str, ...] = get_args(Engine)

_SPACES = re.compile(r"\s+")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def plain_text(value: str) -> str:
    """Text safe to store and show: NFKC, no control or format characters (bidi overrides,
    zero-width joiners, isolates), whitespace collapsed. Markup is neutralized at display time
    by :func:`display_text`."""
    value = _SPACES.sub(" ", unicodedata.normalize("NFKC", value))  # a tab still parts words
    kept = "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs"))
    cleaned = _SPACES.sub(" ", kept).strip()
    if not cleaned:
        raise ValueError("must contain visible text")
    return cleaned


def html_text(value: object) -> str:
    """Any text for HTML (a stored plain text, a model's reply, a label): escaped, quotes
    included, so it renders as itself."""
    return html.escape(str(value), quote=True)


def display_text(value: str) -> str:
    """A stored plain text, escaped for HTML and Markdown so it renders as itself."""
    return _MARKDOWN.sub(r"\\\1", html_text(value))


MAX_API_KEY = 4096
"""The longest API key accepted (real keys are tens to a few hundred characters)."""


def api_key_text(value: object) -> object:
    """An API key as an HTTP header can carry it (``Authorization: Bearer <key>``): printable
    ASCII without spaces, at most :data:`MAX_API_KEY` characters; empty means none. The
    messages never repeat the key."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be text")
    if len(value) > MAX_API_KEY:
        raise ValueError(f"is {len(value)} characters long; at most {MAX_API_KEY} are accepted")
    if any(not 33 <= ord(ch) <= 126 for ch in value):
        raise ValueError(
            "may only contain printable ASCII characters without spaces or line breaks (it is "
            "sent in an HTTP header)"
        )
    return value


def base_model_key(name: str) -> str:
    """One key per base model: "Qwen3-4B", "qwen3-4b" and "Qwen3 4B" are the same model."""
    return re.sub(r"[\s_\-]+", "-", plain_text(name).casefold())


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message for people: ours without pydantic's ``Value error, ``."""
    return str(error["msg"]).removeprefix("Value error, ")


RAW_TEXT_CAP = 2048
"""Longer input is refused before it is cleaned (whatever the field's own limit)."""


def too_long(length: int, limit: int) -> str:
    """The one message for text over its limit."""
    return f"is {length} characters long; at most {limit} are accepted"


def plain(limit: int, *, optional: bool = False) -> Any:
    """A plain-text field (:func:`plain_text`) of at most ``limit`` characters once cleaned,
    saying so for longer input (``is 300 characters long; at most 60 are accepted``, not
    pydantic's "items after validation"); ``optional``: blank input is ``""``."""

    def raw(value: object) -> object:
        if isinstance(value, str) and len(value) > RAW_TEXT_CAP:
            raise ValueError(too_long(len(value), limit))
        return value

    def cleaned(value: str) -> str:
        text = plain_text(value) if value.strip() or not optional else ""
        if len(text) > limit:
            raise ValueError(too_long(len(text), limit))
        return text

    schema = {"maxLength": limit} | ({} if optional else {"minLength": 1})
    return Annotated[
        str, BeforeValidator(raw), AfterValidator(cleaned), Field(json_schema_extra=schema)
    ]


class SubmissionForm(BaseModel):
    """What a user submits to register an endpoint."""

    model_config = ConfigDict(extra="forbid", str_max_length=2048, use_attribute_docstrings=True)

    display_name: plain(60)
    """Shown on the leaderboard; plain text."""
    base_model: plain(100)
    """The model before quantization, e.g. ``Qwen3-4B`` (compared case- and spacing-blind)."""
    quant: Quant
    """Quant label."""
    bits_per_weight: float = Field(gt=0, le=32, strict=True)
    """Average bits per weight (a number: ``true`` or ``"4.5"`` is refused)."""
    file_size_gb: float | None = Field(None, gt=0, le=4096, strict=True)
    """Model file size in GB, when known."""
    hardware: plain(80)
    """Free text, e.g. "RTX 4090", "DGX Spark", "CPU 8 GB"."""
    engine: Engine
    """Serving engine."""
    base_url: str = Field(min_length=1, max_length=2048)
    """OpenAI-compatible base URL (checked by the SSRF guard at submission)."""
    model: plain(200)
    """Served model id."""
    api_key: Annotated[SecretStr | None, BeforeValidator(api_key_text)] = Field(None, repr=False)
    """Optional bearer token (printable ASCII, no spaces, at most 4096 characters): encrypted at
    rest, never shown back."""
    sampling: Sampling = Sampling()
    """Sampling settings (presets exist for well-known families)."""
    is_baseline: bool = False
    """This is the full-precision baseline for its base model."""
    context_tokens: Annotated[int | None, BeforeValidator(not_a_flag)] = Field(
        None, ge=512, le=10_000_000
    )
    """The context window the server runs with, in tokens (llama-server ``-c``, vLLM
    ``--max-model-len``, Ollama ``num_ctx``); calibration never picks a level whose prompt would
    not fit it. Unknown: 8192 is assumed."""


class SubmissionLabels(BaseModel):
    """What a submission says about itself that anyone may see: its labels and state (never
    where the endpoint lives, its key, its token or who registered it). The published dataset,
    the REST API and the leaderboard rows all use these fields, declared once here."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    display_name: str
    """Name chosen by the submitter (plain text; escape it for HTML or Markdown)."""
    base_model: str
    """The model before quantization, as the submitter spelled it (plain text)."""
    base_model_key: str
    """Case- and spacing-blind key of the base model: submissions are grouped on it."""
    quant: str
    """Quant label, e.g. ``Q4_K_M``."""
    bits_per_weight: float
    """Average bits per weight."""
    file_size_gb: float | None
    """Model file size in GB, when given."""
    hardware: str
    """Hardware the endpoint runs on (plain text)."""
    engine: str
    """Serving engine."""
    is_baseline: bool
    """A live claim to be the full-precision baseline of its base model and sampling settings
    (a demoted claim is not)."""
    baseline_review: Literal["pending", "confirmed", "demoted"] | None = None
    """Its baseline claim: ``pending`` (waits for the operator), ``confirmed`` or ``demoted``
    (the operator refused it: judged as a candidate); None: it never claimed (or, in a dataset
    of format v1, a baseline accepted before claims were reviewed)."""
    status: str
    """``active``, ``paused`` or (never shown) ``deleted``."""
    server_engine: str | None = None
    """The engine the server says it is (``llama.cpp``, ``vLLM``, ``SGLang``, ``Ollama``,
    ``TGI``), asked at submission; empty when it did not say."""
    server_version: str | None = None
    """The engine's version or build as the server reports it (llama.cpp: ``b<build>-<commit>``)."""
    server_quant: str | None = None
    """The quant the server reports it loaded (llama.cpp ``model_ftype``, Ollama
    ``quantization_level``, TGI ``quantize``), in the form's spelling where one matches."""
    server_context_tokens: int | None = None
    """The context window the server reports, in tokens."""


class SubmissionPublic(SubmissionLabels):
    """A registered endpoint as anyone may see it."""

    id: int
    """The submission's id."""
    model: str
    """The served model id."""
    context_tokens: int | None = None
    """The context window (tokens) the submitter says the endpoint serves; None when not
    stated. Calibration never plays a level whose prompt would not fit."""
    created_at: str
    """When it was registered (ISO 8601, UTC)."""


PRESETS: dict[str, Sampling] = {
    "Qwen3 (thinking)": Sampling(
        temperature=0.6, top_p=0.95, top_k=20, max_tokens=8192, thinking=True
    ),
    "Qwen3 (no thinking)": Sampling(
        temperature=0.7, top_p=0.8, top_k=20, max_tokens=2048, thinking=False
    ),
    "DeepSeek-R1 distills (thinking)": Sampling(temperature=0.6, top_p=0.95, max_tokens=8192),
    "gpt-oss (thinking)": Sampling(temperature=1.0, top_p=1.0, max_tokens=8192),
    "Llama 3.x Instruct": Sampling(temperature=0.6, top_p=0.9, max_tokens=2048),
    "Gemma 3": Sampling(temperature=1.0, top_p=0.95, top_k=64, max_tokens=2048),
    "Greedy (any model)": Sampling(temperature=0.0, max_tokens=1024),
}
"""Sampling presets for well-known families (the model cards' recommended settings)."""


def settings_class(sampling: Sampling) -> str:
    """The comparability class of a sampling setup: only equal classes are paired in matches."""
    return sampling.model_dump_json()


__all__ = [
    "ENGINES",
    "PRESETS",
    "QUANT_LABELS",
    "SubmissionForm",
    "SubmissionLabels",
    "SubmissionPublic",
    "base_model_key",
    "display_text",
    "plain_text",
    "settings_class",
]
