"""What of another tool's output may be stored: no addresses, no API keys, no directory paths."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from arena.engine import clean_text

_URLISH = re.compile(
    r"""(
        [a-z][a-z0-9+.\-]*://              # a scheme: http://, https://, ws://, file://
      | \bwww\.
      | \blocalhost\b
      | \b\d{1,3}(?:\.\d{1,3}){3}\b        # an IPv4 address
      | \[[0-9a-f:]*:[0-9a-f:]*\]          # a bracketed IPv6 address
      | (?:^|[\s@/])[\w.\-]+\.[a-z]{2,}:\d{1,5}\b   # host.tld:port
      | (?:^|[\s@/])[\w.\-]+:\d{2,5}(?:/|$)         # host:port/...
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_SECRETISH = re.compile(r"\b(?:sk|hf)[_\-][A-Za-z0-9_\-]{16,}|\bbearer\s", re.IGNORECASE)


def looks_like_url(text: str) -> bool:
    """True for anything that could be a network address (scheme, host:port, IP address)."""
    return bool(_URLISH.search(text))


def looks_secret(text: str) -> bool:
    """True for an address or an API-key-shaped token: such text is never stored."""
    return looks_like_url(text) or bool(_SECRETISH.search(text))


def file_name_only(text: str) -> str:
    """The last part of a POSIX or Windows path (``/models/x.gguf`` -> ``x.gguf``)."""
    return PureWindowsPath(PurePosixPath(text).name).name


def scrub(value: Any) -> Any:
    """Details made storable: strings cleaned, URL-like strings dropped (recursively); ``None``
    for a value that must go."""
    if isinstance(value, str):
        cleaned = clean_text(value)
        return None if looks_secret(cleaned) else cleaned
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            if not isinstance(key, str) or looks_secret(key):
                continue
            item = scrub(item)
            if item is not None:
                kept[clean_text(key)] = item
        return kept
    if isinstance(value, list | tuple):
        return [item for item in (scrub(v) for v in value) if item is not None]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float):
        return value
    return None


def finite_number(value: Any) -> float | None:
    """A finite number (not a bool), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
