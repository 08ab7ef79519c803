"""Talk to an OpenAI-compatible endpoint: the chat client, its errors, key redaction, streamed
replies and logprobs."""

from __future__ import annotations

from arena.client._chat import (
    ChatClient,
    ChatResult,
    ClientLimits,
    EndpointError,
    HTTPStatusError,
    LogprobsStyle,
    LogprobsUnavailable,
    normalize_base_url,
)

__all__ = [
    "ChatClient",
    "ChatResult",
    "ClientLimits",
    "EndpointError",
    "HTTPStatusError",
    "LogprobsStyle",
    "LogprobsUnavailable",
    "normalize_base_url",
]
