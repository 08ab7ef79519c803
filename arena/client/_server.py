"""What a server says about itself: its engine and version, the quant it really loaded and its
context window, asked where each engine tells (every probe optional, failures are "unknown").

- llama.cpp ``llama-server``: ``GET /props`` (``build_info``, ``model_ftype``, ``n_ctx`` or
  ``default_generation_settings.n_ctx``);
- vLLM: ``GET /version``, and ``max_model_len`` on the model in ``GET /v1/models``;
- SGLang: ``GET /get_server_info`` (``version``, ``context_length``);
- Ollama: ``GET /api/version``, then ``POST /api/show`` (``details.quantization_level``; the
  window only when the model sets ``num_ctx``: otherwise Ollama picks one the app cannot see);
- TGI: ``GET /info`` (``version``, ``max_total_tokens``, ``quantize``/``model_dtype``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict

from arena.client._chat import ChatClient
from arena.client._errors import EndpointError
from arena.client._redact import _clean_text

log = logging.getLogger(__name__)


class ServerInfo(BaseModel):
    """A server's own account of what it runs (None: it did not say)."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    engine: str | None = None
    """``llama.cpp``, ``vLLM``, ``SGLang``, ``Ollama`` or ``TGI``: the engine that answered its
    own identity route."""
    version: str | None = None
    """The engine's version or build (llama.cpp: ``b<build>-<commit>``)."""
    loaded_quant: str | None = None
    """The quant the server reports for the loaded weights, normalized to the form's labels where
    one matches (``Q4_K - Medium`` -> ``Q4_K_M``)."""
    context_tokens: int | None = None
    """The context window it serves, in tokens."""


_LLAMA_FTYPES = {
    "ALL F32": "FP32", "F32": "FP32", "F16": "FP16", "BF16": "BF16", "Q8_0": "Q8_0",
    "Q6_K": "Q6_K", "Q5_K - MEDIUM": "Q5_K_M", "Q5_K - SMALL": "Q5_K_S", "Q4_K - MEDIUM": "Q4_K_M",
    "Q4_K - SMALL": "Q4_K_S", "Q4_1": "Q4_1", "Q4_0": "Q4_0", "Q3_K - MEDIUM": "Q3_K_M",
    "Q3_K - SMALL": "Q3_K_S", "Q3_K - LARGE": "Q3_K_L", "Q2_K - MEDIUM": "Q2_K", "Q2_K": "Q2_K",
    "Q2_K - SMALL": "Q2_K_S", "MXFP4 MOE": "MXFP4",
}  # fmt: skip
"""llama.cpp's ftype names (``llama_model_ftype_name``) as the form's quant labels."""


def normalize_quant(reported: str) -> str:
    """A server's quant name in the form's spelling where one is known, else cleaned as given."""
    text = " ".join(reported.upper().replace("MOSTLY_", "").split())
    text = re.sub(r"\s*\(GUESSED\)$", "", text)
    if text in _LLAMA_FTYPES:
        return _LLAMA_FTYPES[text]
    return {"FLOAT16": "FP16", "BFLOAT16": "BF16", "FP8_E4M3": "FP8", "FLOAT32": "FP32"}.get(
        text, text.replace(" ", "_")
    )


FULL_PRECISION = frozenset({"BF16", "FP16", "F16", "F32", "FP32"})
"""Quant labels (in :func:`normalize_quant`'s spelling) of unquantized weights."""


def is_full_precision(label: str) -> bool:
    """Whether a quant label or a server-reported quant names unquantized weights."""
    return normalize_quant(label) in FULL_PRECISION


def quant_mismatch(label: str, loaded: str | None) -> bool:
    """Whether the server loaded another quant than the submission's label says (unknown, or a
    label of ``other``, is no mismatch)."""
    if not loaded or label in ("other", "unknown"):
        return False
    return normalize_quant(label) != normalize_quant(loaded)


MAX_WINDOW = 2**31
"""Windows above this are not believed (and would not fit an SQLite integer either)."""


def _positive_int(value: Any) -> int | None:
    """A window as the server put it, when it is a plausible one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_WINDOW:
        return value
    return None


def _text(value: Any) -> str | None:
    """A server-reported label as plain text: no control or format characters (bidi overrides,
    zero-width joiners), whitespace collapsed, at most 120 characters; None when nothing is left."""
    if not isinstance(value, str):
        return None
    kept = "".join(
        ch if unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp") else " "
        for ch in _clean_text(value)
    )
    return " ".join(kept.split())[:120] or None


IDENTITY_TIMEOUT_S = 10.0
"""How long one identity route may take (a server without it answers 404 at once)."""


async def _get(client: ChatClient, method: str, path: str, **kw: Any) -> dict[str, Any] | None:
    try:
        return await asyncio.wait_for(client.server_json(method, path, **kw), IDENTITY_TIMEOUT_S)
    except (EndpointError, TimeoutError):
        return None


def from_llama_props(props: dict[str, Any]) -> ServerInfo:
    settings = props.get("default_generation_settings")
    n_ctx = props.get("n_ctx")
    if n_ctx is None and isinstance(settings, dict):
        n_ctx = settings.get("n_ctx")
    ftype = _text(props.get("model_ftype"))
    return ServerInfo(
        engine="llama.cpp",
        version=_text(props.get("build_info")),
        loaded_quant=normalize_quant(ftype) if ftype else None,
        context_tokens=_positive_int(n_ctx),
    )


def from_tgi_info(info: dict[str, Any]) -> ServerInfo:
    quant = _text(info.get("quantize"))  # model_dtype is the compute dtype, not the weights
    return ServerInfo(
        engine="TGI",
        version=_text(info.get("version")),
        loaded_quant=normalize_quant(quant) if quant else None,
        context_tokens=_positive_int(info.get("max_total_tokens")),
    )


def from_ollama_show(version: dict[str, Any], show: dict[str, Any] | None) -> ServerInfo:
    details = (show or {}).get("details")
    level = _text(details.get("quantization_level")) if isinstance(details, dict) else None
    params = (show or {}).get("parameters")
    found = (
        re.search(r"^num_ctx[ \t]+([0-9]{1,10})[ \t]*$", params, re.MULTILINE)
        if isinstance(params, str)
        else None
    )
    return ServerInfo(
        engine="Ollama",
        version=_text(version.get("version")),
        loaded_quant=normalize_quant(level) if level else None,
        context_tokens=_positive_int(int(found.group(1))) if found else None,
    )


def _model_window(models: dict[str, Any] | None, model: str) -> int | None:
    data = (models or {}).get("data")
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and item.get("id") == model:
            return _positive_int(item.get("max_model_len"))
    return None


async def server_info(client: ChatClient, model: str) -> ServerInfo:
    """Ask the server who it is (see the module); an unknown or odd server gives an empty
    ServerInfo: this never fails."""
    try:
        return await _ask_identity(client, model)
    except (EndpointError, ValueError, TypeError, AttributeError) as exc:
        log.warning("server identity of %s unreadable: %s", client.base_url, type(exc).__name__)
        return ServerInfo()


async def _ask_identity(client: ChatClient, model: str) -> ServerInfo:
    props = await _get(client, "GET", "/props")
    if props is not None and ("build_info" in props or "default_generation_settings" in props):
        return from_llama_props(props)
    info = await _get(client, "GET", "/info")
    if info is not None and "max_total_tokens" in info:
        return from_tgi_info(info)
    sglang = await _get(client, "GET", "/get_server_info")
    if sglang is not None and "version" in sglang:
        return ServerInfo(
            engine="SGLang",
            version=_text(sglang.get("version")),
            context_tokens=_positive_int(sglang.get("context_length")),
        )
    ollama = await _get(client, "GET", "/api/version")
    if ollama is not None and "version" in ollama:
        return from_ollama_show(
            ollama, await _get(client, "POST", "/api/show", body={"model": model})
        )
    vllm = await _get(client, "GET", "/version")
    if vllm is not None and "version" in vllm:
        models = await _get(client, "GET", "/models", root=False)
        return ServerInfo(
            engine="vLLM",
            version=_text(vllm.get("version")),
            context_tokens=_model_window(models, model),
        )
    return ServerInfo()
