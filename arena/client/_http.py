"""HTTP plumbing of the chat client: the base URL, ``Retry-After``, refused compressed bodies
and raw body chunks."""

from __future__ import annotations

import email.utils
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from arena.client._errors import MalformedResponse


def normalize_base_url(base_url: str) -> str:
    """The OpenAI root for ``base_url``: ``/v1`` appended when the path is empty or ``/``.

    ``http://h:p``, ``http://h:p/``, ``http://h:p/v1`` and ``http://h:p/v1/`` all give
    ``http://h:p/v1``; any other path is kept (without its trailing slash).
    """
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"base_url must be an http:// or https:// URL, got scheme {scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("base_url must not carry credentials; pass api_key instead")
    if not parts.hostname:
        raise ValueError(f"base_url {base_url!r} has no host")
    if parts.query or parts.fragment:
        raise ValueError(f"base_url {base_url!r} must not have a query or a fragment")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ValueError(f"base_url {base_url!r} has an invalid port: {exc}") from None
    path = parts.path.rstrip("/") or "/v1"
    return f"{scheme}://{parts.netloc}{path}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date), or None.

    Past dates give 0; unparsable values give None.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _refuse_encoded_body(response: httpx.Response) -> None:
    """MalformedResponse if the body comes with a ``Content-Encoding`` we did not ask for.

    We ask for ``identity``; httpx would decompress anything else chunk by chunk before the
    size cap sees it (a small gzip bomb inflates to gigabytes and blocks the event loop), so
    such a body is not read at all.
    """
    encoding = response.headers.get("content-encoding", "")
    codings = [coding.strip().lower() for coding in encoding.split(",")]
    if any(coding not in ("", "identity") for coding in codings):
        status = response.status_code
        after = "" if 200 <= status < 300 else f" (with status {status})"
        raise MalformedResponse(
            f"refused a compressed body (Content-Encoding: {encoding}) we did not ask for{after}"
        )


async def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it comes off the wire: ``aiter_raw()``, never decompressed.

    A transport that hands over an already-read response (``httpx.MockTransport`` does)
    leaves nothing to stream; its content is then the one chunk.
    """
    if response.is_stream_consumed:
        yield response.content
        return
    async for chunk in response.aiter_raw():
        yield chunk
