"""Tier-0 KL probe: how far a candidate quant's next-token distributions drift from its baseline's.

A fixed set of probe texts (``kl_texts_v1.json``, :data:`PROBE_VERSION`) is sent to both
endpoints through ``/v1/completions`` with ``echo: true, logprobs: k`` (vLLM's
``prompt_logprobs: k`` where that is what the server offers; see
:meth:`arena.client.ChatClient.prompt_logprobs`); a server that gives logprobs for generated
tokens only (llama.cpp's ``llama-server`` ignores ``echo``) is teacher-forced: one generated token
after every prefix of the text, sent as token ids (:func:`arena.client.forced_logprobs`). The
result records which way each side took (``collection``). Each endpoint reports, at every
position of every text, its top-k next-token candidates as ``{token text: logprob}``. At each
position the baseline's distribution ``P`` and the candidate's ``Q`` are compared: an
approximate ``KL(P || Q)`` in nats (and the reverse, ``KL(Q || P)``), plus whether their most
likely tokens agree (top-1 agreement).

Positions
    Position 0 of each text is excluded (nothing precedes it, so there is no distribution);
    so is every position where either side sent no distribution. ``max_tokens`` is 1, so the
    echo may end with one generated token: it is dropped by the collector (a position is kept
    while its ``text_offset`` is below the prompt's length and its index below
    ``usage.prompt_tokens``), because the two quants may generate different tokens there.
    llama-cpp-python, for a model without BOS (SmolLM2), reports each position's distribution
    one position late (entry ``i`` holds the distribution that predicts token ``i + 1``); since
    both sides of a llama.cpp-vs-llama.cpp comparison are shifted alike, both still describe
    the same context and are compared as reported. Only when one side is detected as shifted
    and the other not (see :func:`detect_alignment`) is the shifted side moved back by one.

Tokenization
    Both sides must report the same token strings for a text. Two mismatches are tolerated, and
    said so in ``notes``: one side having one extra leading token (a BOS the other does not
    echo); and the two lists agreeing on a common start that covers at least 90 % of the
    longer one, after which one list ends or both differ in the shorter one's last token only
    (an end cut by ``text_offset``, or an echoed generated token a server gave no
    ``text_offset`` or ``usage`` to recognize it by); only the common start is compared.
    Anything else makes the whole probe "unavailable: tokenizations differ".

The KL approximation (a lower bound)
    Outcomes are token strings as the servers report them. Per position, with ``S_P`` and
    ``S_Q`` the token sets each side reported, ``t_P = 1 - sum(P over S_P)`` and
    ``t_Q = 1 - sum(Q over S_Q)`` their tail masses (at least :data:`TAIL_FLOOR`, the known
    values scaled down if rounding made them sum past ``1 - TAIL_FLOOR``), the vocabulary is
    split into: one bucket per token in ``I = S_P ∩ S_Q`` (both probabilities known); the bucket
    ``A = S_P \\ S_Q`` (``P(A)`` known, ``Q(A)`` unknown); ``B = S_Q \\ S_P`` (``Q(B)`` known,
    ``P(B)`` unknown); and the rest ``T``, with ``P(T) = t_P - P(B)`` and
    ``Q(T) = t_Q - Q(A)``. What is known bounds the unknowns: a token outside one side's top-k
    has at most that side's k-th largest probability (when it reported at least k tokens), and
    all of them together at most its tail, so
    ``0 <= Q(A) <= min(|A| * Q_k, t_Q)`` and ``0 <= P(B) <= min(|B| * P_k, t_P)``.
    The reported value is the **minimum**, over those two unknowns, of the KL divergence between
    the two bucketed distributions. Merging outcomes into buckets never increases a KL divergence
    (log-sum inequality), so for every feasible value of the unknowns the bucketed KL is
    ``<=`` the true ``KL(P || Q)`` over token strings, and so is its minimum: the probe
    reports a **lower bound** on the true KL (up to the :data:`TAIL_FLOOR` adjustment, which
    can add ~1e-6 nats when a side reports its whole vocabulary). It is exactly 0 when both
    sides report the same distribution, and always ``>= 0`` (a KL divergence between two
    proper distributions; the result is clamped at 0 against rounding). It is tight when the
    top-k sets hold most of the mass and mostly overlap, and it stays informative when they
    are disjoint (e.g. for top-2 sets ``{a: .6, b: .3}`` vs ``{c: .6, d: .3}`` it is
    ``0.8 ln 9 = 1.76`` nats, where comparing only the shared tokens would give nothing). The
    bucketed KL is convex in the two unknowns, so its minimum over the box lies at the
    interior stationary point (``A``, ``B`` and ``T`` at one common P/Q ratio), on one of the
    two upper faces, or at the upper corner (on a lower face it goes to infinity);
    :func:`position_kl` evaluates those few closed-form candidates and keeps the smallest.

Caveats: token strings are what the servers decoded (llama-cpp-python drops partial UTF-8
bytes, so different tokens can share a string, and it then keeps only one of their values):
the bound holds for the distributions as reported, both sides are treated alike, and on
non-Latin text it is looser. Everything is in nats.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Literal

from arena.client import (
    ChatClient,
    EndpointError,
    LogprobsStyle,
    LogprobsUnavailable,
    PromptLogprobs,
    forced_logprobs,
)
from arena.probes._kl_models import (
    PROBE_VERSION,
    EndpointLogprobs,
    KlResult,
    KlUnavailable,
    KlUnavailableCause,
    ProbeText,
    TextKl,
    TextLogprobs,
)
from arena.settings import SchedulerSettings

PROBE_TEXTS_FILE = "kl_texts_v1.json"
"""The shipped probe texts (package data of ``arena.probes``)."""
DEFAULT_TOP_K = 10
"""Top-k requested from each endpoint (vLLM's default ``max_logprobs`` is 20)."""
TAIL_FLOOR = 1e-6
"""Smallest tail mass assumed outside a reported top-k (float32 logprobs cannot resolve less)."""
MIN_ALIGNMENT_POSITIONS = 50
"""Positions needed before :func:`detect_alignment` calls an endpoint's alignment."""
PREFIX_TOLERANCE = 0.9
"""Token lists that differ only at their ends are compared on their common start if it covers
this share of the longer one."""

Alignment = Literal["current", "next", "unknown"]


# --------------------------------------------------------------------------------------------
# Probe texts


@functools.cache
def _shipped_texts() -> tuple[ProbeText, ...]:
    raw = json.loads(resources.files(__package__).joinpath(PROBE_TEXTS_FILE).read_text("utf-8"))
    if raw.get("version") != PROBE_VERSION:
        raise ValueError(f"{PROBE_TEXTS_FILE} is version {raw.get('version')!r}")
    texts = tuple(ProbeText.model_validate(item) for item in raw["texts"])
    if len({text.id for text in texts}) != len(texts):
        raise ValueError(f"{PROBE_TEXTS_FILE} repeats a text id")
    return texts


def load_probe_texts() -> list[ProbeText]:
    """The shipped probe texts of :data:`PROBE_VERSION`."""
    return list(_shipped_texts())


# --------------------------------------------------------------------------------------------
# Per-position comparison


def top1(distribution: Mapping[str, float]) -> str:
    """The most likely token (ties: the smallest string, so both sides break them alike)."""
    return min(distribution.items(), key=lambda item: (-item[1], item[0]))[0]


def _xlogx_over(p: float, q: float) -> float:
    """``p ln(p / q)``: 0 for ``p <= 0``, infinite for ``q <= 0 < p``."""
    if p <= 0.0:
        return 0.0
    if q <= 0.0:
        return math.inf
    return p * math.log(p / q)


def _probabilities(logprobs: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """Probabilities of the reported tokens and the tail mass (see the module docstring).

    A logprob so low that its probability underflows to 0 counts as not reported (tail).
    """
    probs = {token: math.exp(min(logprob, 0.0)) for token, logprob in logprobs.items()}
    probs = {token: p for token, p in probs.items() if p > 0.0}
    total = sum(probs.values())
    if total > 1.0 - TAIL_FLOOR:
        scale = (1.0 - TAIL_FLOOR) / total
        probs = {token: p * scale for token, p in probs.items()}
        return probs, TAIL_FLOOR
    return probs, 1.0 - total


def _kth_largest(probs: Mapping[str, float], k: int) -> float:
    """The k-th largest reported probability, or 1 (no cap) if fewer than k were reported."""
    if len(probs) < k:
        return 1.0
    return sorted(probs.values(), reverse=True)[k - 1]


def position_kl(baseline: Mapping[str, float], candidate: Mapping[str, float], top_k: int) -> float:
    """Lower bound of ``KL(baseline || candidate)`` at one position, in nats (>= 0).

    Both arguments map token text -> logprob for a reported top-``top_k`` (more entries are
    fine). See the module docstring for the buckets and the bounds on the unknown masses.
    """
    p, t_p = _probabilities(baseline)
    q, t_q = _probabilities(candidate)
    shared = p.keys() & q.keys()
    known = sum(_xlogx_over(p[token], q[token]) for token in shared)
    a = sum(p[token] for token in p.keys() - shared)  # P(A); Q(A) unknown
    b = sum(q[token] for token in q.keys() - shared)  # Q(B); P(B) unknown
    alpha_max = min((len(p) - len(shared)) * _kth_largest(q, top_k), t_q)
    beta_max = min((len(q) - len(shared)) * _kth_largest(p, top_k), t_p)

    def bucketed(alpha: float, beta: float) -> float:
        rest = _xlogx_over(t_p - beta, t_q - alpha)
        return known + _xlogx_over(a, alpha) + _xlogx_over(beta, b) + rest

    candidates = [(alpha_max, beta_max)]
    ratio = (a + t_p) / (b + t_q)  # all of A, B and T at one P/Q ratio: the free optimum
    if a / ratio <= alpha_max and b * ratio <= beta_max:
        candidates.append((a / ratio, b * ratio))
    if b + t_q - alpha_max > 0:  # Q(A) at its cap, P(B) free
        beta = b * t_p / (b + t_q - alpha_max)
        candidates.append((alpha_max, min(beta, beta_max)))
    if a + t_p - beta_max > 0:  # P(B) at its cap, Q(A) free
        alpha = a * t_q / (a + t_p - beta_max)
        candidates.append((min(alpha, alpha_max), beta_max))
    value = min(bucketed(alpha, beta) for alpha, beta in candidates)
    if not math.isfinite(value):  # cannot happen with tails >= TAIL_FLOOR; the coarser bound
        value = known + _xlogx_over(a + t_p, b + t_q)
    return max(0.0, value)


# --------------------------------------------------------------------------------------------
# Aligning two endpoints' reports


def detect_alignment(texts: Sequence[TextLogprobs]) -> Alignment:
    """Whether an endpoint's entry ``i`` predicts token ``i`` (``current``, as OpenAI and vLLM
    report) or token ``i + 1`` (``next``: llama-cpp-python for models without BOS).

    Counts, over all texts, how often an entry's most likely token is the token at its own
    position versus the one after it; calls it when one count is over twice the other and at
    least a tenth of the (at least :data:`MIN_ALIGNMENT_POSITIONS`) positions, else
    ``unknown`` (a model that predicts badly either way).
    """
    same = following = total = 0
    for text in texts:
        for i in range(1, len(text.tokens) - 1):
            top = text.top_logprobs[i]
            if not top:
                continue
            best = top1(top)
            same += best == text.tokens[i]
            following += best == text.tokens[i + 1]
            total += 1
    if total < MIN_ALIGNMENT_POSITIONS:
        return "unknown"
    if following > 2 * same and following >= total / 10:
        return "next"
    if same > 2 * following and same >= total / 10:
        return "current"
    return "unknown"


def _shift_back(text: TextLogprobs) -> TextLogprobs:
    """Entry ``i`` moved to position ``i + 1`` (the last one, past the prompt, dropped)."""
    tops = [None, *text.top_logprobs[:-1]] if text.top_logprobs else []
    return text.model_copy(update={"top_logprobs": tops})


def _same_token(left: str | None, right: str | None) -> bool:
    return left is None or right is None or left == right


def _first_difference(left: Sequence[str | None], right: Sequence[str | None]) -> int:
    for i, (x, y) in enumerate(zip(left, right, strict=False)):
        if not _same_token(x, y):
            return i
    return min(len(left), len(right))


def _align_tokens(base: TextLogprobs, cand: TextLogprobs) -> tuple[int, int, int, str | None] | str:
    """``(baseline start, candidate start, length, note)`` of the positions to compare, or the
    reason why the tokenizations differ."""
    bt, ct = base.tokens, cand.tokens
    if len(bt) == len(ct) and _first_difference(bt, ct) == len(bt):
        return 0, 0, len(bt), None
    for lead, longer, shorter in (("baseline", bt, ct), ("candidate", ct, bt)):
        if len(longer) == len(shorter) + 1 and _first_difference(longer[1:], shorter) == len(
            shorter
        ):
            start = (1, 0) if lead == "baseline" else (0, 1)
            note = f"{base.text_id}: dropped the {lead}'s extra leading token {longer[0]!r} (BOS)"
            return *start, len(shorter), note
    common = _first_difference(bt, ct)
    shortest, longest = min(len(bt), len(ct)), max(len(bt), len(ct))
    if common >= shortest - 1 and common >= PREFIX_TOLERANCE * longest:
        note = f"{base.text_id}: compared the first {common} of {longest} tokens"
        return 0, 0, common, note
    at_b = bt[common] if common < len(bt) else "(end)"
    at_c = ct[common] if common < len(ct) else "(end)"
    return (
        f"probe unavailable: tokenizations differ (text {base.text_id!r}, position {common}: "
        f"baseline {at_b!r} vs candidate {at_c!r})"
    )


def _percentile(ordered: Sequence[float], share: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) of sorted values."""
    position = share * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _unavailable(
    probe_version: str, reason: str, cause: KlUnavailableCause, *, retryable: bool = False
) -> KlUnavailable:
    return KlUnavailable(
        probe_version=probe_version, reason=reason, cause=cause, retryable=retryable
    )


def compare(baseline: EndpointLogprobs, candidate: EndpointLogprobs) -> KlResult | KlUnavailable:
    """Compare a candidate's reported distributions with its baseline's (pure).

    Unavailable when the probe versions, top-k or text sets differ, when a text is tokenized
    differently, or when no position could be compared.
    """
    version = baseline.probe_version
    if candidate.probe_version != version or candidate.top_k != baseline.top_k:
        return _unavailable(
            version,
            f"probe unavailable: baseline ran {version} top-{baseline.top_k}, candidate ran "
            f"{candidate.probe_version} top-{candidate.top_k}",
            "incomparable",
        )
    cand_texts = {text.text_id: text for text in candidate.texts}
    missing = [text.text_id for text in baseline.texts if text.text_id not in cand_texts]
    if missing or len(cand_texts) != len(baseline.texts):
        return _unavailable(
            version, "probe unavailable: the two sides ran different text sets", "incomparable"
        )
    notes: list[str] = []
    base_texts = list(baseline.texts)
    cand_list = [cand_texts[text.text_id] for text in base_texts]
    base_align, cand_align = detect_alignment(base_texts), detect_alignment(cand_list)
    if {base_align, cand_align} == {"current", "next"}:
        late = "baseline" if base_align == "next" else "candidate"
        notes.append(f"the {late} reports each distribution one position late; realigned")
        if late == "baseline":
            base_texts = [_shift_back(text) for text in base_texts]
        else:
            cand_list = [_shift_back(text) for text in cand_list]
    elif "unknown" in {base_align, cand_align} and base_align != cand_align:
        notes.append(
            f"alignment baseline={base_align}, candidate={cand_align}: compared as reported"
        )

    all_kl: list[float] = []
    reverse: list[float] = []
    agreements = 0
    per_text: list[TextKl] = []
    for base, cand in zip(base_texts, cand_list, strict=True):
        aligned = _align_tokens(base, cand)
        if isinstance(aligned, str):
            return _unavailable(version, aligned, "tokenization")
        b_start, c_start, length, note = aligned
        if note:
            notes.append(note)
        kls: list[float] = []
        agree = 0
        for offset in range(length):
            b_top = base.top_logprobs[b_start + offset]
            c_top = cand.top_logprobs[c_start + offset]
            if not b_top or not c_top:
                continue
            kls.append(position_kl(b_top, c_top, baseline.top_k))
            reverse.append(position_kl(c_top, b_top, baseline.top_k))
            agree += top1(b_top) == top1(c_top)
        if kls:
            per_text.append(
                TextKl(
                    text_id=base.text_id,
                    n_positions=len(kls),
                    mean_kl=statistics.fmean(kls),
                    max_kl=max(kls),
                    top1_agreement=agree / len(kls),
                )
            )
        all_kl += kls
        agreements += agree
    if not all_kl:
        return _unavailable(version, "probe unavailable: no position to compare", "no_logprobs")
    ordered = sorted(all_kl)
    return KlResult(
        probe_version=version,
        top_k=baseline.top_k,
        n_positions=len(all_kl),
        mean_kl=statistics.fmean(all_kl),
        median_kl=statistics.median(ordered),
        p90_kl=_percentile(ordered, 0.90),
        p99_kl=_percentile(ordered, 0.99),
        max_kl=ordered[-1],
        top1_agreement=agreements / len(all_kl),
        mean_reverse_kl=statistics.fmean(reverse),
        collection=(
            baseline.style
            if baseline.style == candidate.style
            else f"baseline {baseline.style}, candidate {candidate.style}"
        ),
        per_text=per_text,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# Collecting and running


async def collect_logprobs(
    client: ChatClient,
    model: str,
    texts: Sequence[ProbeText] | None = None,
    *,
    top_k: int = DEFAULT_TOP_K,
) -> EndpointLogprobs:
    """Ask one endpoint for the probe texts' prompt logprobs, one text after the other.

    The style that worked for the first text (``echo`` or ``prompt_logprobs``) is used for
    the rest. Raises what :meth:`ChatClient.prompt_logprobs` raises (``LogprobsUnavailable``
    when the server offers none).
    """
    shipped = load_probe_texts()
    chosen = shipped if texts is None else list(texts)
    version = PROBE_VERSION if chosen == shipped else "custom"
    style: LogprobsStyle | None = None
    collected: list[TextLogprobs] = []
    for text in chosen:
        got = await _text_logprobs(client, model, text.text, top_k, style)
        style = got.style
        collected.append(
            TextLogprobs(text_id=text.id, tokens=got.tokens, top_logprobs=got.top_logprobs)
        )
    if style is None:
        raise ValueError("no probe texts")
    return EndpointLogprobs(
        probe_version=version, top_k=top_k, model=model, style=style, texts=collected
    )


async def _text_logprobs(
    client: ChatClient, model: str, text: str, top_k: int, style: LogprobsStyle | None
) -> PromptLogprobs:
    """One text's prompt logprobs: in one request (``echo``, vLLM's ``prompt_logprobs``) where
    the server offers them, else by teacher forcing; ``style`` pins the way found before."""
    if style == "teacher_forcing":
        return await forced_logprobs(client, model, text, top_k)
    try:
        return await client.prompt_logprobs(model, text, top_k, style=style)
    except LogprobsUnavailable as first:
        if style is not None:
            raise
        try:
            return await forced_logprobs(client, model, text, top_k)
        except LogprobsUnavailable as second:
            raise LogprobsUnavailable(
                f"{first.detail}; teacher forcing: {second.detail}", endpoint=first.endpoint
            ) from None


async def _collect_side(
    side: str,
    client: ChatClient,
    model: str,
    texts: Sequence[ProbeText] | None,
    top_k: int,
    version: str,
) -> EndpointLogprobs | KlUnavailable:
    try:
        return await collect_logprobs(client, model, texts, top_k=top_k)
    except LogprobsUnavailable as err:
        return _unavailable(version, f"probe unavailable: {side} {err}", "no_logprobs")
    except EndpointError as err:
        return _unavailable(
            version, f"probe unavailable: {side} {err}", "endpoint_error", retryable=err.retryable
        )


async def run_kl_probe(
    candidate_client: ChatClient,
    candidate_model: str,
    baseline_client: ChatClient,
    baseline_model: str,
    *,
    texts: Sequence[ProbeText] | None = None,
    top_k: int = DEFAULT_TOP_K,
) -> KlResult | KlUnavailable:
    """Run the KL probe of a candidate against its baseline (both endpoints at once).

    Never raises for endpoint trouble: a server without prompt logprobs, a failed call or a
    tokenization mismatch gives a :class:`KlUnavailable` saying why (the first side to fail
    stops the other).
    """
    version = PROBE_VERSION if texts is None or list(texts) == load_probe_texts() else "custom"
    tasks = [
        asyncio.create_task(
            _collect_side("baseline", baseline_client, baseline_model, texts, top_k, version)
        ),
        asyncio.create_task(
            _collect_side("candidate", candidate_client, candidate_model, texts, top_k, version)
        ),
    ]
    try:
        for next_done in asyncio.as_completed(tasks):
            outcome = await next_done
            if isinstance(outcome, KlUnavailable):
                return outcome
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    baseline, candidate = (task.result() for task in tasks)
    assert isinstance(baseline, EndpointLogprobs) and isinstance(candidate, EndpointLogprobs)
    return compare(baseline, candidate)


def is_collapsed(result: dict[str, Any], settings: SchedulerSettings) -> bool:
    """A KL probe result (its JSON) that says the candidate no longer resembles its baseline:
    mean KL above ``collapse_kl`` or top-1 agreement below ``collapse_top1``."""
    mean_kl = result.get("mean_kl")
    top1 = result.get("top1_agreement")
    return (mean_kl is not None and mean_kl > settings.collapse_kl) or (
        top1 is not None and top1 < settings.collapse_top1
    )
