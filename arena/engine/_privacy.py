"""What must never be shown, in one place: endpoint URLs and hosts (scrubbed from any text that
is shown or published), puzzle secrets while a match is running (redacted), and which stopped
matches are still sealed (a scheduled match still plays their seed)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from arena.client import normalize_base_url

REDACTED = "[hidden]"
"""Replaces a room's key or solution in call texts while the match is running."""
ENDPOINT = "<endpoint>"
"""Replaces an endpoint URL or host in error texts."""

SEALED_SQL = (
    "(m.status != 'running' AND EXISTS (SELECT 1 FROM job_queue j "
    "WHERE j.status IN ('queued', 'running') AND json_extract(j.payload, '$.seed') = m.seed))"
)
"""A stopped match whose seed a scheduled match still has to play (the other order of its
round, or its own re-run after a crash): its secrets stay hidden until that is over, or that
match's puzzles and answers would be public while it is played."""


def secret_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive pattern matching any of ``secrets`` as a whole word (where a secret
    starts or ends with a word character), longest first; None when there is nothing to hide."""
    words = sorted({s.strip() for s in secrets if s and s.strip()}, key=len, reverse=True)
    parts = []
    for word in words:
        left = r"(?<!\w)" if re.match(r"\w", word[0]) else ""
        right = r"(?!\w)" if re.match(r"\w", word[-1]) else ""
        parts.append(left + re.escape(word) + right)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def redact(text: str | None, pattern: re.Pattern[str] | None) -> str | None:
    """``text`` with every match of ``pattern`` replaced by ``REDACTED``."""
    if text is None or pattern is None:
        return text
    return pattern.sub(REDACTED, text)


_URL = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s'\"<>`]+", re.IGNORECASE)


def endpoint_hosts(base_urls: Iterable[str]) -> list[str]:
    """Strings that would name these endpoints: the URLs as given and normalized, their
    ``host:port`` and their host."""
    found: set[str] = set()
    for url in base_urls:
        if not url:
            continue
        found.add(url.strip())
        try:
            found.add(normalize_base_url(url))
            parts = urlsplit(url.strip())
            found.add(parts.netloc)
            found.add(parts.hostname or "")
        except ValueError:
            continue
    return sorted((h for h in found if h), key=len, reverse=True)


def scrub_endpoints(text: str | None, hosts: Iterable[str]) -> str | None:
    """``text`` with every URL and every one of ``hosts`` replaced by ``ENDPOINT``."""
    if text is None:
        return None
    text = _URL.sub(ENDPOINT, text)
    for host in hosts:
        text = re.sub(rf"(?<![\w.]){re.escape(host)}(?![\w])", ENDPOINT, text, flags=re.IGNORECASE)
    return text
