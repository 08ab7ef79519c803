"""The KL probe's boundary models: the probe texts, what an endpoint reported for them, and the
result (or why there is none)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.client import LogprobsStyle

PROBE_VERSION = "kl-v1"
"""Version of the probe: the text set and the method. A changed text is a new version."""
KL_METHOD = "top-k bucketed lower bound of KL(baseline || candidate), nats"
"""What ``KlResult.mean_kl`` and friends measure (recorded with every result)."""


class ProbeText(BaseModel):
    """One probe text."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    id: str = Field(min_length=1)
    """Stable identifier, unique within the probe set."""
    kind: str = ""
    """What sort of text it is (prose, code, arithmetic...), for reading results."""
    text: str = Field(min_length=1)
    """The text itself, sent as the prompt as is."""


class TextLogprobs(BaseModel):
    """What one endpoint reported for one probe text."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    text_id: str
    """The :class:`ProbeText` id."""
    tokens: list[str | None]
    """The prompt's tokens as text (None where the server did not say)."""
    top_logprobs: list[dict[str, float] | None]
    """Per position, token text -> logprob (nats, <= 0); None where there is none."""

    @model_validator(mode="after")
    def _one_per_token(self) -> TextLogprobs:
        if len(self.tokens) != len(self.top_logprobs):
            raise ValueError("tokens and top_logprobs must have the same length")
        return self


class EndpointLogprobs(BaseModel):
    """The probe texts' logprobs as collected from one endpoint."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    probe_version: str
    """:data:`PROBE_VERSION` for the shipped text set, ``"custom"`` for any other."""
    top_k: int = Field(ge=1)
    """The top-k asked for."""
    model: str
    """The model name sent to the endpoint."""
    style: LogprobsStyle
    """How the logprobs were asked for (``echo`` or ``prompt_logprobs``)."""
    texts: list[TextLogprobs]
    """One entry per probe text, in probe order."""

    @model_validator(mode="after")
    def _unique_ids(self) -> EndpointLogprobs:
        ids = [text.text_id for text in self.texts]
        if len(set(ids)) != len(ids):
            raise ValueError("text ids must be unique")
        return self


class TextKl(BaseModel):
    """The comparison of one probe text."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    text_id: str
    n_positions: int
    """Positions compared (both sides had a distribution)."""
    mean_kl: float
    max_kl: float
    top1_agreement: float
    """Share of positions where both sides' most likely token is the same."""


class KlResult(BaseModel):
    """A finished KL probe: candidate vs baseline."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    status: Literal["done"] = "done"
    probe_version: str
    method: str = KL_METHOD
    """What the KL numbers are (see the module docstring)."""
    top_k: int
    n_positions: int
    """Positions compared over all texts."""
    mean_kl: float
    """Mean over all positions (nats)."""
    median_kl: float
    p90_kl: float
    p99_kl: float
    """Percentiles over all positions (linear interpolation between closest ranks)."""
    max_kl: float
    top1_agreement: float
    """Share of positions where both sides' most likely token is the same (0..1)."""
    mean_reverse_kl: float | None = None
    """Mean over all positions of the same bound for ``KL(candidate || baseline)`` (nats): large
    where the candidate puts mass the baseline would not (None in results stored before it)."""
    collection: str | None = None
    """How the distributions were obtained: ``echo``, ``prompt_logprobs`` or ``teacher_forcing``
    (one generated token per prefix), or each side's way when they differ."""
    per_text: list[TextKl]
    notes: list[str] = Field(default_factory=list)
    """How the two sides were aligned, when that took more than comparing them as reported."""


KlUnavailableCause = Literal["no_logprobs", "endpoint_error", "tokenization", "incomparable"]


class KlUnavailable(BaseModel):
    """The probe could not be run; ``reason`` says why (it never reads as a KL of 0)."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    status: Literal["unavailable"] = "unavailable"
    probe_version: str
    reason: str
    """Starts with ``probe unavailable:``; API keys are scrubbed (it quotes endpoint errors)."""
    cause: KlUnavailableCause
    """``no_logprobs``: a server offers no prompt logprobs; ``endpoint_error``: a call failed
    otherwise; ``tokenization``: the two sides tokenize the texts differently;
    ``incomparable``: different probe versions, top-k or text sets."""
    retryable: bool = False
    """Whether running the probe again later might succeed (transient endpoint errors)."""


KlOutcome = Annotated[KlResult | KlUnavailable, Field(discriminator="status")]
"""Either form, as stored (discriminated by ``status``)."""
