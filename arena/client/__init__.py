"""Talk to an OpenAI-compatible endpoint: the chat client, its errors, key redaction, streamed
replies and logprobs."""

from __future__ import annotations

from arena.client._chat import ChatClient
from arena.client._errors import EndpointError, HTTPStatusError
from arena.client._http import normalize_base_url
from arena.client._limits import ClientLimits
from arena.client._logprobs import LogprobsStyle, LogprobsUnavailable
from arena.client._reply import ChatResult

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
