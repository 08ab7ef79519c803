"""What the speed probe sends: its version, the fixed pp and tg prompts (llama-bench's pp512 /
tg128), per-run nonces and the request fields it never lets sampling settings override."""

from __future__ import annotations

import random
from typing import Any

PROBE_VERSION = "speed-v1"
"""Changes whenever prompts, parameters or formulas change (results of two versions differ)."""
MIN_REPS = 5
"""Fewest measured repetitions per phase."""
PP_MAX_TOKENS = 1
TG_MAX_TOKENS = 128
AGREEMENT_TOLERANCE = 0.03
"""Client and server tg tok/s agree when their relative difference is at most this."""
FORCE_LENGTH_REJECT_STATUSES = frozenset({400, 422})
"""Statuses with which a server may refuse the ``ignore_eos``/``min_tokens`` fields it lacks."""
FORBIDDEN_PARAMS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "ignore_eos",
        "min_tokens",
    }
)

# --------------------------------------------------------------------------------------------
# Prompts

_SUBJECTS = (
    "The old lighthouse keeper", "A quiet librarian", "The river pilot", "Our village baker",
    "The night watchman", "A travelling clockmaker", "The harbour master", "A young botanist",
)  # fmt: skip
_VERBS = ("repaired", "counted", "painted", "catalogued", "carried", "measured", "polished")
_OBJECTS = (
    "seven brass lanterns", "a crate of winter apples", "the faded sea charts",
    "twelve wooden barrels", "a box of copper keys", "the broken church bell",
    "three leather maps", "a basket of river stones",
)  # fmt: skip
_PLACES = (
    "before the storm arrived", "while the tide was low", "in the cold morning light",
    "after the market closed", "beside the northern gate", "under the stone bridge",
    "during the long festival", "near the empty mill",
)  # fmt: skip
_PP_SENTENCES = 32  # about 512 prompt tokens with SmolLM2's tokenizer and chat template


def _synthetic_text(sentences: int = _PP_SENTENCES, seed: int = 512) -> str:
    """Deterministic plain English prose: the same text on every machine and every run."""
    rng = random.Random(seed)
    return " ".join(
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
        f"{rng.choice(_PLACES)}."
        for _ in range(sentences)
    )


PP_TEXT = _synthetic_text()
"""The fixed body of the pp prompt."""
TG_REQUEST = (
    "Write a long, detailed story about a lighthouse keeper during a winter storm. Describe "
    "every room of the lighthouse, the sea, the ships and the keeper's thoughts. Do not stop "
    "early."
)
"""The fixed body of the tg prompt."""


def nonce(salt: str, index: int) -> str:
    """The short, fixed-width tag that starts repetition ``index``'s prompt (``[run p1234-07]``
    for salt ``p1234``, index 7)."""
    return f"[run {salt}-{index:02d}]"


def pp_messages(tag: str) -> list[dict[str, Any]]:
    """The pp prompt: ``tag`` first, then the fixed ~512-token text and a one-line question."""
    content = (
        f"{tag} Read these notes.\n\n{PP_TEXT}\n\nIn one short sentence, what are the notes about?"
    )
    return [{"role": "user", "content": content}]


def tg_messages(tag: str) -> list[dict[str, Any]]:
    """The tg prompt: ``tag`` first, then a short request for a long story."""
    return [{"role": "user", "content": f"{tag} {TG_REQUEST}"}]
