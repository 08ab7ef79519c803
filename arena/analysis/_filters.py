"""Filtering leaderboard rows: the coarse quant families and the row filters of the UI and API."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from arena.analysis._leaderboard import LeaderboardRow
from submissions.models import base_model_key

QUANT_FAMILIES: Final[tuple[str, ...]] = (
    "16-bit",
    "8-bit",
    "6-bit",
    "5-bit",
    "4-bit",
    "3-bit",
    "2-bit",
    "other",
)
"""Coarse groups of quant labels, from the largest to the smallest (see :func:`quant_family`)."""
_FAMILY_OF: Final[dict[str, str]] = {
    "BF16": "16-bit",
    "FP16": "16-bit",
    "F16": "16-bit",
    "Q8_0": "8-bit",
    "FP8": "8-bit",
    "INT8": "8-bit",
    "Q6_K": "6-bit",
    "Q5_K_M": "5-bit",
    "Q4_K_M": "4-bit",
    "Q4_1": "4-bit",
    "Q4_0": "4-bit",
    "INT4": "4-bit",
    "AWQ": "4-bit",
    "GPTQ": "4-bit",
    "MXFP4": "4-bit",
    "NVFP4": "4-bit",
    "Q3_K_M": "3-bit",
    "Q2_K": "2-bit",
}
_BITS_IN_LABEL = re.compile(r"^(?:I?Q|INT|FP|BF|F|MXFP|NVFP)(\d+)(?:$|_)")


def quant_family(label: str) -> str:
    """The coarse group of a quant label (one of :data:`QUANT_FAMILIES`): the known labels by
    table, others by the bit count in their name (``Q5_K_S`` -> ``5-bit``), else ``other``."""
    upper = label.strip().upper()
    if upper in _FAMILY_OF:
        return _FAMILY_OF[upper]
    found = _BITS_IN_LABEL.match(upper)
    family = f"{found.group(1)}-bit" if found else "other"
    return family if family in QUANT_FAMILIES else "other"


def _key_of(name: str) -> str:
    try:
        return base_model_key(name)
    except ValueError:  # nothing visible in it
        return ""


def filter_rows(
    rows: Sequence[LeaderboardRow],
    base_model: str | None = None,
    quant_family: str | None = None,
    hardware: str | None = None,
    engine: str | None = None,
    search: str | None = None,
) -> list[LeaderboardRow]:
    """The rows matching every given filter (None or blank: no filter). ``base_model`` matches
    case- and spacing-blind (by base-model key), ``hardware`` and ``engine`` case-blind,
    ``quant_family`` by :func:`quant_family`; ``search`` is a case-blind substring of the display
    name, base model, quant, hardware or engine."""
    found = list(rows)
    if base_model and base_model.strip():
        key = _key_of(base_model)
        found = [r for r in found if r.base_model_key == key]
    if quant_family and quant_family.strip():
        wanted = quant_family.strip()
        found = [r for r in found if _family(r.quant) == wanted]
    if hardware and hardware.strip():
        wanted = hardware.strip().casefold()
        found = [r for r in found if r.hardware.casefold() == wanted]
    if engine and engine.strip():
        wanted = engine.strip().casefold()
        found = [r for r in found if r.engine.casefold() == wanted]
    if search and search.strip():
        needle = search.strip().casefold()
        found = [
            r
            for r in found
            if any(
                needle in text.casefold()
                for text in (r.display_name, r.base_model, r.quant, r.hardware, r.engine)
            )
        ]
    return found


_family = quant_family  # ``filter_rows`` has an argument of the same name


__all__ = ["QUANT_FAMILIES", "filter_rows", "quant_family"]
