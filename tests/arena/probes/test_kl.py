"""The KL probe: the bound on hand-computed distributions, alignment, and the collector against
httpx.MockTransport servers speaking llama-cpp-python's, vLLM's echo and vLLM's prompt_logprobs
formats.

Every mock client points at 127.0.0.1 (port 9), so a request that bypassed the mock could not
leave the machine.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from arena.client import ChatClient, ClientLimits, LogprobsUnavailable
from arena.client._errors import MalformedResponse
from arena.client._logprobs import PromptLogprobs
from arena.probes._kl import (
    DEFAULT_TOP_K,
    TAIL_FLOOR,
    collect_logprobs,
    compare,
    detect_alignment,
    load_probe_texts,
    position_kl,
    run_kl_probe,
    top1,
)
from arena.probes._kl_models import (
    KL_METHOD,
    PROBE_VERSION,
    EndpointLogprobs,
    KlOutcome,
    KlResult,
    KlUnavailable,
    ProbeText,
    TextLogprobs,
)

MOCK_BASE = "http://127.0.0.1:9/v1"
FAST = ClientLimits(deadline_s=10, max_retries=1, backoff_base_s=0.001, retry_after_cap_s=0.01)
CANARY = "sk-canary-0b7e4c2a9d1f4e6a8c3b5d7f9e1a2c4d"
LN = math.log


def lp(**probs: float) -> dict[str, float]:
    """``{token: logprob}`` from probabilities."""
    return {token: LN(p) for token, p in probs.items()}


# ------------------------------------------------------------------------------ the bound


def test_same_top_k_sets_give_the_bucketed_kl() -> None:
    # I = {x, y}; tails 0.2 and 0.2: 0.5 ln(.5/.4) + 0.3 ln(.3/.4) + 0.2 ln(.2/.2)
    expected = 0.5 * LN(0.5 / 0.4) + 0.3 * LN(0.3 / 0.4)
    assert position_kl(lp(x=0.5, y=0.3), lp(x=0.4, y=0.4), 2) == pytest.approx(expected)
    assert expected == pytest.approx(0.025268, abs=1e-6)


def test_tail_mass_is_its_own_bucket() -> None:
    # baseline top-1 {x: .9} (tail .1), candidate top-1 {x: .5} (tail .5)
    expected = 0.9 * LN(0.9 / 0.5) + 0.1 * LN(0.1 / 0.5)
    assert position_kl(lp(x=0.9), lp(x=0.5), 1) == pytest.approx(expected)
    assert expected == pytest.approx(0.368064, abs=1e-6)


def test_disjoint_top_k_sets_are_not_zero() -> None:
    # Q(A) <= min(2 * 0.3, tail .1) = .1, P(B) <= .1; the minimum sits at that corner:
    # .9 ln(.9/.1) + .1 ln(.1/.9) + 0 * ln(0/0) = 0.8 ln 9
    got = position_kl(lp(a=0.6, b=0.3), lp(c=0.6, d=0.3), 2)
    assert got == pytest.approx(0.8 * LN(9))
    assert got == pytest.approx(1.757780, abs=1e-6)


def test_partial_overlap_hand_computed() -> None:
    # I = {x}; A = {y} (P .3), B = {z} (Q .3); tails .2 each; caps min(1 * .3, .2) = .2
    # corner (Q(A), P(B)) = (.2, .2): .3 ln(.3/.2) + .2 ln(.2/.3) = .1 ln 1.5
    got = position_kl(lp(x=0.5, y=0.3), lp(x=0.5, z=0.3), 2)
    assert got == pytest.approx(0.1 * LN(1.5))


def test_k_th_value_caps_the_unknown_mass() -> None:
    # Candidate top-2 {x: .5, z: .05}: y (baseline's) is outside it, so Q(y) <= .05 even
    # though the candidate's tail is .45. Without the cap the bound would be 0.
    # Q(A) = Q(y) at its cap .05, P(B) = P(z) free: B and T merge (P .1, Q .45)
    capped = position_kl(lp(x=0.5, y=0.4), lp(x=0.5, z=0.05), 2)
    assert capped == pytest.approx(0.4 * LN(0.4 / 0.05) + 0.1 * LN(0.1 / 0.45))
    # fewer than k entries reported: no k-th value, only the tails cap the unknowns, and
    # Q(y) = .4, P(z) = .05 fit them: every bucket has P/Q = 1
    assert position_kl(lp(x=0.5, y=0.4), lp(x=0.5, z=0.05), 3) == pytest.approx(0.0, abs=1e-12)


def test_identical_distributions_give_exactly_zero() -> None:
    dist = lp(a=0.41, b=0.22, c=0.13, d=0.05)
    assert position_kl(dist, dict(dist), 4) == 0.0
    assert position_kl(dist, dict(dist), 10) == 0.0
    peaked = {"a": -1e-9, "b": -25.0}  # rounding: sums past 1 - TAIL_FLOOR
    assert position_kl(peaked, dict(peaked), 2) == 0.0


def test_underflowing_logprobs_stay_finite() -> None:
    got = position_kl({"a": -0.1, "b": -3.0}, {"a": -1000.0, "b": -0.05}, 2)
    assert math.isfinite(got) and got > 1.0
    assert position_kl({"a": -1e9}, {"a": -1e9}, 1) == 0.0


def test_kl_is_never_negative_on_arbitrary_reports() -> None:
    rng = random.Random(7)
    tokens = [f"t{i}" for i in range(8)]
    for _ in range(2000):
        k = rng.randint(1, 5)
        left = {t: -rng.expovariate(0.5) for t in rng.sample(tokens, rng.randint(1, 6))}
        right = {t: -rng.expovariate(0.5) for t in rng.sample(tokens, rng.randint(1, 6))}
        value = position_kl(left, right, k)
        assert math.isfinite(value)
        assert value >= 0.0


def report(dist: dict[str, float], k: int, rng: random.Random) -> dict[str, float]:
    """A server's top-k report of a full distribution (sometimes one extra token, as
    llama-cpp-python adds the echoed token)."""
    ranked = sorted(dist, key=dist.__getitem__, reverse=True)
    shown = ranked[:k]
    if rng.random() < 0.5 and len(ranked) > k:
        shown.append(rng.choice(ranked[k:]))
    return {token: LN(dist[token]) for token in shown}


def brute_force_bound(p_rep: dict[str, float], q_rep: dict[str, float], k: int) -> float:
    """The same bucketed bound, minimized over a grid instead of in closed form."""
    p = {t: math.exp(v) for t, v in p_rep.items()}
    q = {t: math.exp(v) for t, v in q_rep.items()}
    t_p, t_q = max(1 - sum(p.values()), TAIL_FLOOR), max(1 - sum(q.values()), TAIL_FLOOR)
    shared = p.keys() & q.keys()
    only_p, only_q = p.keys() - shared, q.keys() - shared
    kth_q = sorted(q.values(), reverse=True)[k - 1] if len(q) >= k else 1.0
    kth_p = sorted(p.values(), reverse=True)[k - 1] if len(p) >= k else 1.0
    alpha_max, beta_max = min(len(only_p) * kth_q, t_q), min(len(only_q) * kth_p, t_p)
    a, b = sum(p[t] for t in only_p), sum(q[t] for t in only_q)

    def term(x: float, y: float) -> float:
        return 0.0 if x <= 0 else (math.inf if y <= 0 else x * LN(x / y))

    fixed = sum(term(p[t], q[t]) for t in shared)
    steps = 150
    best = math.inf
    for i, j in itertools.product(range(steps + 1), repeat=2):
        alpha, beta = alpha_max * i / steps, beta_max * j / steps
        value = fixed + term(a, alpha) + term(beta, b) + term(t_p - beta, t_q - alpha)
        best = min(best, value)
    return best


def random_pair(rng: random.Random, size: int) -> tuple[dict[str, float], dict[str, float]]:
    """A full distribution and a perturbed copy of it over ``size`` tokens."""
    weights = [rng.expovariate(1.0) ** 2 for _ in range(size)]
    noisy = [w * math.exp(rng.gauss(0, 0.8)) for w in weights]
    p = {f"t{i}": w / sum(weights) for i, w in enumerate(weights)}
    q = {f"t{i}": w / sum(noisy) for i, w in enumerate(noisy)}
    return p, q


def test_the_bound_is_below_the_true_kl_and_is_the_minimum() -> None:
    rng = random.Random(2026)
    for case in range(60):
        p, q = random_pair(rng, rng.randint(4, 14))
        k = rng.randint(1, 5)
        true_kl = sum(p[t] * LN(p[t] / q[t]) for t in p)
        p_rep, q_rep = report(p, k, rng), report(q, k, rng)
        bound = position_kl(p_rep, q_rep, k)
        assert bound <= true_kl + 1e-5, case  # (TAIL_FLOOR: full-vocabulary reports)
        if case < 20:  # the grid search is slow-ish; a sample is enough
            grid = brute_force_bound(p_rep, q_rep, k)
            assert bound <= grid + 1e-6, case  # (1e-6: TAIL_FLOOR rescaling)
            assert bound == pytest.approx(grid, abs=2e-3), case


def test_full_vocabulary_reports_give_the_exact_kl() -> None:
    p = {"a": 0.5, "b": 0.3, "c": 0.2}
    q = {"a": 0.2, "b": 0.3, "c": 0.5}
    exact = sum(p[t] * LN(p[t] / q[t]) for t in p)
    got = position_kl({t: LN(v) for t, v in p.items()}, {t: LN(v) for t, v in q.items()}, 3)
    assert got == pytest.approx(exact, abs=1e-5)


def test_top1_breaks_ties_alike() -> None:
    assert top1({"b": -0.5, "a": -0.5, "c": -2.0}) == "a"
    assert top1({"z": -0.1, "a": -0.5}) == "z"


# ------------------------------------------------------------------------------ compare


def endpoint(*texts: TextLogprobs, version: str = PROBE_VERSION, k: int = 2) -> EndpointLogprobs:
    return EndpointLogprobs(
        probe_version=version, top_k=k, model="m", style="echo", texts=list(texts)
    )


def text(
    tokens: list[str | None], tops: list[dict[str, float] | None], text_id: str = "t1"
) -> TextLogprobs:
    return TextLogprobs(text_id=text_id, tokens=tokens, top_logprobs=tops)


def test_compare_identical_gives_zero_and_full_agreement() -> None:
    base = endpoint(
        text(["A", " b", " c"], [None, lp(x=0.5, y=0.3), lp(c=0.7, d=0.1)]),
        text(["Q", " r"], [None, lp(r=0.9, s=0.05)], text_id="t2"),
    )
    result = compare(base, base)
    assert isinstance(result, KlResult)
    assert result.status == "done"
    assert result.n_positions == 3
    assert result.mean_kl == result.median_kl == result.p99_kl == result.max_kl == 0.0
    assert result.top1_agreement == 1.0
    assert [t.text_id for t in result.per_text] == ["t1", "t2"]
    assert result.method == KL_METHOD
    assert result.notes == []


def test_compare_aggregates_hand_computed_positions() -> None:
    base = endpoint(text(["A", " b", " c"], [None, lp(x=0.5, y=0.3), lp(x=0.9)]))
    cand = endpoint(text(["A", " b", " c"], [None, lp(x=0.4, y=0.4), lp(z=0.6, x=0.3)]))
    first = 0.5 * LN(0.5 / 0.4) + 0.3 * LN(0.3 / 0.4)
    second = position_kl(lp(x=0.9), lp(z=0.6, x=0.3), 2)
    result = compare(base, cand)
    assert isinstance(result, KlResult)
    assert result.n_positions == 2
    assert result.mean_kl == pytest.approx((first + second) / 2)
    assert result.median_kl == pytest.approx((first + second) / 2)
    assert result.p90_kl == pytest.approx(first + 0.9 * (second - first))
    assert result.max_kl == pytest.approx(second)
    assert result.top1_agreement == 0.5  # x vs x agree; x vs z do not
    assert result.per_text[0].top1_agreement == 0.5


def test_positions_without_a_distribution_are_skipped_never_zero() -> None:
    base = endpoint(text(["A", " b", " c"], [None, None, lp(x=0.9)]))
    cand = endpoint(text(["A", " b", " c"], [None, lp(x=0.5), lp(x=0.5)]))
    result = compare(base, cand)
    assert isinstance(result, KlResult)
    assert result.n_positions == 1
    nothing = endpoint(text(["A", " b"], [None, None]))
    empty = compare(nothing, nothing)
    assert isinstance(empty, KlUnavailable)
    assert empty.reason.startswith("probe unavailable")


def test_tokenization_mismatch_is_unavailable() -> None:
    base = endpoint(text(["The", " cat", " sat"], [None, lp(a=0.5), lp(b=0.5)]))
    cand = endpoint(text(["The", " ca", "t", " sat"], [None, lp(a=0.5), lp(b=0.5), lp(c=0.5)]))
    result = compare(base, cand)
    assert isinstance(result, KlUnavailable)
    assert result.status == "unavailable"
    assert result.cause == "tokenization"
    assert "tokenizations differ" in result.reason
    assert "' cat'" in result.reason and "' ca'" in result.reason


def test_an_extra_leading_bos_is_dropped_and_noted() -> None:
    base = endpoint(text(["<s>", "The", " cat"], [None, lp(t=0.2), lp(a=0.5)]))
    cand = endpoint(text(["The", " cat"], [None, lp(a=0.5)]))
    result = compare(base, cand)
    assert isinstance(result, KlResult)
    assert result.n_positions == 1  # " cat": the candidate has nothing at its position 0
    assert any("BOS" in note for note in result.notes)


def test_a_nearly_complete_prefix_is_compared_and_noted() -> None:
    tokens = [f"w{i}" for i in range(20)]
    tops: list[dict[str, float] | None] = [None] + [lp(x=0.5)] * 19
    base = endpoint(text(tokens, tops))
    cand = endpoint(text(tokens[:19], tops[:19]))
    result = compare(base, cand)
    assert isinstance(result, KlResult)
    assert result.n_positions == 18
    assert any("first 19 of 20" in note for note in result.notes)
    short = endpoint(text(tokens[:10], tops[:10]))
    assert isinstance(compare(base, short), KlUnavailable)


def test_a_different_last_token_is_left_out_and_noted() -> None:
    # e.g. an echoed generated token that the server gave no text_offset or usage for
    tokens = [f"w{i}" for i in range(20)]
    tops: list[dict[str, float] | None] = [None] + [lp(x=0.5)] * 19
    base = endpoint(text([*tokens, " yes"], [*tops, lp(x=0.5)]))
    cand = endpoint(text([*tokens, " no"], [*tops, lp(y=0.5)]))
    result = compare(base, cand)
    assert isinstance(result, KlResult)
    assert result.n_positions == 19 and result.mean_kl == 0.0
    assert any("first 20 of 21" in note for note in result.notes)
    early = endpoint(text([*tokens[:5], "zz", *tokens[6:], " yes"], [*tops, lp(x=0.5)]))
    assert isinstance(compare(base, early), KlUnavailable)


def test_unknown_tokens_match_anything() -> None:
    base = endpoint(text([None, " b"], [None, lp(x=0.5)]))
    cand = endpoint(text(["A", " b"], [None, lp(x=0.5)]))
    assert isinstance(compare(base, cand), KlResult)


def test_different_versions_top_k_or_text_sets_are_incomparable() -> None:
    one = text(["A", " b"], [None, lp(x=0.5)])
    for other in (
        endpoint(one, version="custom"),
        endpoint(one, k=3),
        endpoint(one, text(["A"], [None], text_id="t2")),
        endpoint(text(["A", " b"], [None, lp(x=0.5)], text_id="other")),
    ):
        result = compare(endpoint(one), other)
        assert isinstance(result, KlUnavailable)
        assert result.cause == "incomparable"


def test_boundary_models_validate() -> None:
    with pytest.raises(ValidationError):
        TextLogprobs(text_id="t", tokens=["a", "b"], top_logprobs=[None])
    with pytest.raises(ValidationError):
        endpoint(text(["a"], [None]), text(["a"], [None]))  # same id twice
    done = compare(
        endpoint(text(["a", "b"], [None, lp(b=0.5)])), endpoint(text(["a", "b"], [None, lp(b=0.5)]))
    )
    adapter: TypeAdapter[Any] = TypeAdapter(KlOutcome)
    assert adapter.validate_json(done.model_dump_json()) == done
    gone = KlUnavailable(
        probe_version=PROBE_VERSION, reason="probe unavailable: x", cause="no_logprobs"
    )
    assert adapter.validate_json(gone.model_dump_json()) == gone


# ------------------------------------------------------------------------------ alignment


def synthetic(n_texts: int, length: int, *, late: bool, seed: int = 1) -> list[TextLogprobs]:
    """Texts whose distribution at each position puts most mass on the token it predicts:
    its own token (``late=False``, OpenAI/vLLM) or the next one (llama-cpp-python without BOS)."""
    rng = random.Random(seed)
    texts = []
    for t in range(n_texts):
        tokens = [f" w{rng.randint(0, 40)}" for _ in range(length)]
        ps = [0.5 + 0.4 * rng.random() for _ in range(length)]

        def predicting(
            target: int, tokens: list[str] = tokens, ps: list[float] = ps
        ) -> dict[str, float]:
            if target >= length:  # past the prompt: what predicts the generated token
                return lp(**{" end": 0.6, " other": 0.2})
            p = ps[target]
            return {tokens[target]: LN(p), f" alt{target}": LN((1 - p) / 2)}

        tops = [None] + [predicting(i + 1 if late else i) for i in range(1, length)]
        texts.append(text(list(tokens), tops, text_id=f"s{t}"))
    return texts


def test_detect_alignment() -> None:
    assert detect_alignment(synthetic(3, 30, late=False)) == "current"
    assert detect_alignment(synthetic(3, 30, late=True)) == "next"
    assert detect_alignment(synthetic(1, 10, late=True)) == "unknown"  # too few positions


def test_a_late_side_is_realigned_against_a_correct_one() -> None:
    correct = endpoint(*synthetic(3, 30, late=False), k=DEFAULT_TOP_K)
    late = endpoint(*synthetic(3, 30, late=True), k=DEFAULT_TOP_K)
    result = compare(correct, late)
    assert isinstance(result, KlResult)
    assert any("one position late" in note for note in result.notes)
    assert result.mean_kl == pytest.approx(0.0, abs=1e-12)
    assert result.top1_agreement == 1.0
    # both late: compared as reported (same contexts on both sides)
    both = compare(late, late)
    assert isinstance(both, KlResult)
    assert both.notes == [] and both.mean_kl == 0.0


# ------------------------------------------------------------------------------ probe texts


def test_shipped_probe_texts() -> None:
    texts = load_probe_texts()
    assert 8 <= len(texts) <= 12
    assert len({t.id for t in texts}) == len(texts)
    kinds = {t.kind for t in texts}
    assert {"prose", "code", "arithmetic", "list", "dialogue", "non-english"} <= kinds
    for probe in texts:
        assert 150 <= len(probe.text) <= 1200, probe.id
    assert any(re.search(r"[^\x00-\x7f]", t.text) for t in texts)
    assert load_probe_texts() == texts  # cached, and a fresh list each time
    assert load_probe_texts() is not texts


# ------------------------------------------------------------------------------ mock servers


def words(prompt: str) -> list[str]:
    """The mock tokenizer: words with their leading whitespace (trailing whitespace kept)."""
    return re.findall(r"\s*\S+|\s+", prompt)


class MockLM:
    """A fake completions server with a made-up "model": at position i it predicts token i
    with probability ``confidence`` (lowered by ``drift`` at every third position)."""

    def __init__(
        self,
        fmt: str = "llama",
        *,
        drift: float = 0.0,
        reject_echo: bool = False,
        reject_all: bool = False,
        bos: bool = False,
        tokenize: Callable[[str], list[str]] = words,
    ) -> None:
        self.fmt = fmt
        self.drift = drift
        self.reject_echo = reject_echo
        self.reject_all = reject_all
        self.bos = bos
        self.tokenize = tokenize
        self.requests: list[dict[str, Any]] = []

    def distribution(self, tokens: list[str], i: int) -> dict[str, float]:
        p = 0.7 - (self.drift if i % 3 == 0 else 0.0)
        return {tokens[i]: LN(p), f" <alt{i % 5}>": LN(0.15), " <other>": LN(0.05)}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "127.0.0.1"
        if request.url.path == "/tokenize":  # servers with echo have no llama-server tokenizer
            return httpx.Response(404, json={"detail": "Not Found"})
        assert request.url.path == "/v1/completions"
        body = json.loads(request.content)
        self.requests.append(body)
        if self.reject_all or (self.reject_echo and body.get("echo")):
            auth = request.headers.get("authorization", "")
            return httpx.Response(400, json={"error": f"logprobs not supported ({auth})"})
        prompt = body["prompt"]
        tokens = (["<s>"] if self.bos else []) + self.tokenize(prompt)
        if "prompt_logprobs" in body:
            return httpx.Response(200, json=self.vllm_prompt_logprobs(tokens))
        return httpx.Response(200, json=self.echo(tokens, prompt))

    def usage(self, tokens: list[str]) -> dict[str, int]:
        return {"prompt_tokens": len(tokens), "completion_tokens": 1}

    def echo(self, tokens: list[str], prompt: str) -> dict[str, Any]:
        shown = [*tokens, " gen"]  # vLLM: the generated token is echoed too
        tops: list[Any] = [None] + [self.distribution(shown, i) for i in range(1, len(shown))]
        offsets = list(itertools.accumulate((len(t) for t in shown[:-1]), initial=0))
        if self.bos:
            offsets = [0] + [o - 3 for o in offsets[1:]]
        logprobs = {
            "tokens": shown,
            "token_logprobs": [None] + [top[t] for top, t in zip(tops[1:], shown[1:], strict=True)],
            "top_logprobs": tops,
            "text_offset": offsets,
        }
        choice = {"text": prompt + " gen", "index": 0, "logprobs": logprobs}
        return {"object": "text_completion", "choices": [choice], "usage": self.usage(tokens)}

    def vllm_prompt_logprobs(self, tokens: list[str]) -> dict[str, Any]:
        entries: list[Any] = [None]
        for i in range(1, len(tokens)):
            dist = self.distribution(tokens, i)
            ranked = sorted(dist, key=dist.__getitem__, reverse=True)
            entry = {
                str(1000 + i): {"logprob": dist[tokens[i]], "rank": 1, "decoded_token": tokens[i]}
            }
            for rank, token in enumerate(ranked, start=1):
                if token != tokens[i]:
                    entry[str(rank)] = {
                        "logprob": dist[token],
                        "rank": rank,
                        "decoded_token": token,
                    }
            entries.append(entry)
        choice = {"text": " gen", "index": 0, "logprobs": None, "prompt_logprobs": entries}
        return {"object": "text_completion", "choices": [choice], "usage": self.usage(tokens)}


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> ChatClient:
    return ChatClient(MOCK_BASE, limits=FAST, transport=httpx.MockTransport(handler), **kw)


PROMPT = "The quick brown fox jumps over the lazy dog.\n"


async def test_echo_request_and_openai_legacy_format() -> None:
    server = MockLM()
    async with mock_client(server) as client:
        got = await client.prompt_logprobs("m", PROMPT, 3)
    assert server.requests == [
        {
            "model": "m",
            "prompt": PROMPT,
            "max_tokens": 1,
            "temperature": 0,
            "echo": True,
            "logprobs": 3,
        }
    ]
    assert isinstance(got, PromptLogprobs)
    assert got.style == "echo"
    assert "".join(t or "" for t in got.tokens) == PROMPT  # the generated " gen" is dropped
    assert got.top_logprobs[0] is None
    assert got.top_logprobs[1] == pytest.approx(server.distribution(words(PROMPT), 1))
    assert len(got.top_logprobs) == len(got.tokens)


async def test_usage_prompt_tokens_cut_the_echo_without_offsets() -> None:
    def no_offsets(request: httpx.Request) -> httpx.Response:
        body = MockLM().echo(words(PROMPT), PROMPT)
        del body["choices"][0]["logprobs"]["text_offset"]
        return httpx.Response(200, json=body)

    async with mock_client(no_offsets) as client:
        got = await client.prompt_logprobs("m", PROMPT, 3)
    assert got.tokens == words(PROMPT)


async def test_vllm_prompt_logprobs_fallback_and_style_is_kept() -> None:
    server = MockLM(reject_echo=True)
    texts = [ProbeText(id="a", text=PROMPT), ProbeText(id="b", text="One two three four.")]
    async with mock_client(server) as client:
        got = await collect_logprobs(client, "m", texts, top_k=4)
    assert got.style == "prompt_logprobs"
    assert got.probe_version == "custom"
    # text a: echo (400), then prompt_logprobs; text b: prompt_logprobs at once
    assert [("echo" in r, "prompt_logprobs" in r) for r in server.requests] == [
        (True, False),
        (False, True),
        (False, True),
    ]
    assert server.requests[1]["prompt_logprobs"] == 4
    first = got.texts[0]
    assert first.tokens[0] is None  # vLLM does not say what position 0 was
    assert first.tokens[1:] == words(PROMPT)[1:]
    assert first.top_logprobs[2] == pytest.approx(server.distribution(words(PROMPT), 2))


async def test_vllm_and_llama_formats_compare_as_equal() -> None:
    texts = [ProbeText(id="a", text=PROMPT)]
    async with mock_client(MockLM()) as echo, mock_client(MockLM(reject_echo=True)) as vllm:
        result = await run_kl_probe(vllm, "m", echo, "m", texts=texts, top_k=3)
    assert isinstance(result, KlResult)
    assert result.mean_kl == 0.0 and result.top1_agreement == 1.0
    assert result.n_positions == len(words(PROMPT)) - 1


async def test_vllm_echo_with_bos_against_llama_without_it() -> None:
    texts = [ProbeText(id="a", text=PROMPT)]
    async with mock_client(MockLM(bos=True)) as vllm, mock_client(MockLM()) as llama:
        result = await run_kl_probe(vllm, "m", llama, "m", texts=texts, top_k=3)
    assert isinstance(result, KlResult), result
    assert any("BOS" in note for note in result.notes)


async def test_run_kl_probe_on_the_shipped_texts() -> None:
    base, cand = MockLM(), MockLM(drift=0.3)
    async with mock_client(cand) as candidate, mock_client(base) as baseline:
        same = await run_kl_probe(baseline, "m", baseline, "m")
        drifted = await run_kl_probe(candidate, "m", baseline, "m")
    assert isinstance(same, KlResult) and isinstance(drifted, KlResult)
    assert same.probe_version == drifted.probe_version == PROBE_VERSION
    assert same.top_k == DEFAULT_TOP_K
    assert same.mean_kl == 0.0 and same.top1_agreement == 1.0
    assert len(same.per_text) == len(load_probe_texts())
    # every third position: P = (.7, .15, .05 | tail .1) vs Q = (.4, .15, .05 | tail .4)
    one = 0.7 * LN(0.7 / 0.4) + 0.1 * LN(0.1 / 0.4)
    assert drifted.max_kl == pytest.approx(one)
    assert 0.2 * one < drifted.mean_kl < 0.5 * one
    assert drifted.median_kl == 0.0
    assert drifted.top1_agreement == 1.0  # still the most likely token


async def test_tokenizer_mismatch_between_endpoints_is_unavailable() -> None:
    def chars(prompt: str) -> list[str]:
        return list(prompt)

    texts = [ProbeText(id="a", text=PROMPT)]
    async with mock_client(MockLM()) as words_side, mock_client(MockLM(tokenize=chars)) as other:
        result = await run_kl_probe(other, "m", words_side, "m", texts=texts)
    assert isinstance(result, KlUnavailable)
    assert result.cause == "tokenization"
    assert result.reason.startswith("probe unavailable: tokenizations differ")


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"error": {"message": "logprobs not supported"}}),
        httpx.Response(404, text="Not Found"),
        httpx.Response(501, text="Not Implemented"),
        httpx.Response(200, json={"choices": [{"text": " hi", "index": 0, "logprobs": None}]}),
        httpx.Response(200, json={"choices": [{"text": " hi", "index": 0}]}),
        httpx.Response(200, json={"choices": []}),
    ],
    ids=["400", "404", "501", "null-logprobs", "no-logprobs", "no-choices"],
)
async def test_server_without_logprobs_is_unavailable(answer: httpx.Response) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    texts = [ProbeText(id="a", text=PROMPT)]
    async with mock_client(handler) as client, mock_client(MockLM()) as baseline:
        with pytest.raises(LogprobsUnavailable) as caught:
            await client.prompt_logprobs("m", PROMPT, 5)
        result = await run_kl_probe(client, "m", baseline, "m", texts=texts)
    assert caught.value.kind == "no_logprobs"
    assert "echo:" in str(caught.value) and "prompt_logprobs:" in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert len(calls) == 5  # two styles per call, then /tokenize for teacher forcing; no retry
    assert calls[-1].url.path == "/tokenize"
    assert isinstance(result, KlUnavailable)
    assert result.cause == "no_logprobs" and not result.retryable
    assert result.reason.startswith("probe unavailable: candidate endpoint http://127.0.0.1:9/v1")
    assert "offers no prompt logprobs" in result.reason


async def test_echo_ignored_is_unavailable() -> None:
    """A server that ignores ``echo`` reports the generated token only (offset = prompt end)."""

    def handler(request: httpx.Request) -> httpx.Response:
        logprobs = {
            "tokens": [" gen"],
            "token_logprobs": [-0.1],
            "top_logprobs": [{" gen": -0.1}],
            "text_offset": [len(PROMPT)],
        }
        choice = {"text": " gen", "index": 0, "logprobs": logprobs}
        return httpx.Response(200, json={"choices": [choice]})

    async with mock_client(handler) as client:
        with pytest.raises(LogprobsUnavailable, match="not echoed"):
            await client.prompt_logprobs("m", PROMPT, 5)


async def test_api_key_never_appears_in_the_reason() -> None:
    server = MockLM(reject_all=True)  # its 400 body echoes the Authorization header
    texts = [ProbeText(id="a", text=PROMPT)]
    async with (
        mock_client(server, api_key=CANARY) as candidate,
        mock_client(MockLM(), api_key=CANARY) as baseline,
    ):
        result = await run_kl_probe(candidate, "m", baseline, "m", texts=texts)
    assert isinstance(result, KlUnavailable)
    assert "[REDACTED]" in result.reason
    dumped = result.model_dump_json()
    assert CANARY not in dumped
    assert CANARY[:12] not in dumped and CANARY[-12:] not in dumped


async def test_server_errors_are_retried_then_unavailable_and_retryable() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, text="overloaded")

    texts = [ProbeText(id="a", text=PROMPT)]
    async with mock_client(handler) as candidate, mock_client(MockLM()) as baseline:
        result = await run_kl_probe(candidate, "m", baseline, "m", texts=texts)
    assert isinstance(result, KlUnavailable)
    assert result.cause == "endpoint_error" and result.retryable
    assert "answered 503" in result.reason
    assert calls == 2  # max_retries=1, and a 503 is no reason to try prompt_logprobs


async def test_malformed_logprobs_are_an_endpoint_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        logprobs = {
            "tokens": ["The", " cat"],
            "top_logprobs": [None, {" cat": "very likely"}],
            "text_offset": [0, 3],
        }
        return httpx.Response(200, json={"choices": [{"text": "x", "logprobs": logprobs}]})

    async with mock_client(handler) as client:
        with pytest.raises(MalformedResponse, match="not a number"):
            await client.prompt_logprobs("m", "The cat", 5)


async def test_logprob_values_are_cleaned() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raw = (
            '{"choices": [{"logprobs": {"tokens": ["The", " cat", " sat"], '
            '"text_offset": [0, 3, 7], "top_logprobs": [null, '
            '{" cat": -Infinity, " dog": 0.0000001, " \\ud800": -1.0}, {}]}}]}'
        )
        return httpx.Response(
            200, content=raw.encode(), headers={"content-type": "application/json"}
        )

    async with mock_client(handler) as client:
        got = await client.prompt_logprobs("m", "The cat sat", 5)
    assert got.top_logprobs[1] == {" dog": 0.0, " ?": -1.0}  # -inf dropped, > 0 clamped
    assert got.top_logprobs[2] is None  # {} is no distribution


async def test_bad_top_k_is_a_value_error() -> None:
    async with mock_client(MockLM()) as client:
        with pytest.raises(ValueError, match="top_k"):
            await client.prompt_logprobs("m", PROMPT, 0)


class LlamaServerLM(MockLM):
    """Like llama-server: ``echo`` ignored (logprobs of the generated token only, in the newer
    ``content`` form), a ``/tokenize`` with pieces, and token-id prompts: the KL probe must
    teacher-force it."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.pieces: list[str] = []
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        body = json.loads(request.content)
        if request.url.path == "/tokenize":
            self.pieces = (["<s>"] if self.bos else []) + self.tokenize(body["content"])
            tokens = [{"id": 100 + i, "piece": p} for i, p in enumerate(self.pieces)]
            return httpx.Response(200, json={"tokens": tokens})
        assert request.url.path == "/v1/completions"
        prompt = body["prompt"]
        if isinstance(prompt, str):  # echo ignored: only the generated token
            return httpx.Response(200, json=self.generated(" gen", {" gen": LN(0.9)}))
        i = len(prompt)
        assert prompt == [100 + j for j in range(i)] and body["max_tokens"] == 1
        dist = self.distribution(self.pieces, i)
        return httpx.Response(200, json=self.generated(max(dist, key=dist.__getitem__), dist))

    @staticmethod
    def generated(token: str, dist: dict[str, float]) -> dict[str, Any]:
        top = [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in dist.items()]
        content = [{"token": token, "logprob": dist[token], "top_logprobs": top}]
        choice = {"text": token, "index": 0, "logprobs": {"content": content}}
        return {"choices": [choice], "usage": {"prompt_tokens": 9, "completion_tokens": 1}}


async def test_teacher_forcing_where_echo_is_ignored_matches_echo() -> None:
    """llama-server gives logprobs for generated tokens only: one token per prefix gives the same
    distributions as an echo would, so the same KL; the method is recorded."""
    texts = [ProbeText(id="a", text=PROMPT), ProbeText(id="b", text="One two three four five.")]
    async with mock_client(MockLM(drift=0.3)) as c_echo, mock_client(MockLM()) as b_echo:
        echoed = await run_kl_probe(c_echo, "m", b_echo, "m", texts=texts)
    forced_c, forced_b = LlamaServerLM(drift=0.3), LlamaServerLM()
    async with mock_client(forced_c) as cand, mock_client(forced_b) as base:
        forced = await run_kl_probe(cand, "m", base, "m", texts=texts)
    async with mock_client(LlamaServerLM(drift=0.3)) as cand, mock_client(MockLM()) as base:
        mixed = await run_kl_probe(cand, "m", base, "m", texts=texts)
    assert isinstance(echoed, KlResult) and isinstance(forced, KlResult)
    assert isinstance(mixed, KlResult)
    assert forced.collection == "teacher_forcing" and echoed.collection == "echo"
    assert mixed.collection == "baseline echo, candidate teacher_forcing"
    for found in (forced, mixed):
        assert found.n_positions == echoed.n_positions
        assert found.mean_kl == pytest.approx(echoed.mean_kl, rel=1e-5) and found.mean_kl > 0.01
        assert found.mean_reverse_kl == pytest.approx(echoed.mean_reverse_kl, rel=1e-5)
        assert found.p99_kl == pytest.approx(echoed.p99_kl, rel=1e-5)
    assert forced_c.paths.count("/tokenize") == len(texts)
    positions = sum(len(words(t.text)) - 1 for t in texts)
    assert (
        forced_c.paths.count("/v1/completions") == 2 + positions
    )  # echo, vLLM style, then one per position


async def test_teacher_forcing_without_token_pieces_is_unavailable() -> None:
    class NoPieces(LlamaServerLM):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/tokenize":
                return httpx.Response(200, json={"tokens": [1, 2, 3], "count": 3})
            return super().__call__(request)

    async with mock_client(NoPieces()) as cand, mock_client(MockLM()) as base:
        found = await run_kl_probe(cand, "m", base, "m", texts=[ProbeText(id="a", text=PROMPT)])
    assert isinstance(found, KlUnavailable) and found.cause == "no_logprobs"
    assert "teacher forcing: its /tokenize answer gives no token texts" in found.reason


def test_reverse_kl_is_the_other_direction() -> None:
    base, cand = lp(a=0.9, b=0.1), lp(a=0.5, b=0.5)
    forward = 0.9 * LN(0.9 / 0.5) + 0.1 * LN(0.1 / 0.5)
    backward = 0.5 * LN(0.5 / 0.9) + 0.5 * LN(0.5 / 0.1)
    assert position_kl(base, cand, 2) == pytest.approx(forward, rel=1e-5)  # TAIL_FLOOR
    assert position_kl(cand, base, 2) == pytest.approx(backward, rel=1e-5)
    assert backward > forward
