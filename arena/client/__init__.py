"""Talk to an OpenAI-compatible endpoint: the chat client, its errors, key redaction, streamed
replies and logprobs."""

from __future__ import annotations

from arena.client._chat import ChatClient
from arena.client._errors import ContextOverflow, EndpointError, HTTPStatusError
from arena.client._forcing import forced_logprobs
from arena.client._http import normalize_base_url
from arena.client._limits import ClientLimits
from arena.client._logprobs import LogprobsStyle, LogprobsUnavailable, PromptLogprobs
from arena.client._reply import ChatResult, estimate_tokens, prompt_chars
from arena.client._server import (
    FULL_PRECISION,
    ServerInfo,
    is_full_precision,
    normalize_quant,
    quant_mismatch,
    server_info,
)

__all__ = [
    "FULL_PRECISION",
    "ChatClient",
    "ChatResult",
    "ClientLimits",
    "ContextOverflow",
    "EndpointError",
    "HTTPStatusError",
    "LogprobsStyle",
    "LogprobsUnavailable",
    "PromptLogprobs",
    "ServerInfo",
    "estimate_tokens",
    "forced_logprobs",
    "is_full_precision",
    "normalize_base_url",
    "normalize_quant",
    "prompt_chars",
    "quant_mismatch",
    "server_info",
]
