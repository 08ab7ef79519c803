"""What servers say about themselves (engine, version, loaded quant, context window), asked
through the real client of scripted loopback responses shaped like each engine's."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from arena.client import ServerInfo, normalize_quant, quant_mismatch, server_info
from tests.arena.client.test_client import mock_client

LLAMA_PROPS = {
    "default_generation_settings": {"n_ctx": 4096, "params": {"temperature": 0.8}},
    "total_slots": 1,
    "model_path": "/models/smollm2-q4_1.gguf",
    "build_info": "b11434-abc1234",
    "model_ftype": "Q4_1",
}


def routes(table: dict[tuple[str, str], Any]) -> Any:
    """A handler answering ``(method, path)`` from ``table`` and 404 for anything else."""

    def handler(request: httpx.Request) -> httpx.Response:
        found = table.get((request.method, request.url.path))
        if found is None:
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(200, json=found(request) if callable(found) else found)

    return handler


async def ask(table: dict[tuple[str, str], Any], model: str = "m") -> ServerInfo:
    async with mock_client(routes(table)) as client:
        return await server_info(client, model)


async def test_llama_server_props() -> None:
    found = await ask({("GET", "/props"): LLAMA_PROPS})
    assert found == ServerInfo(
        engine="llama.cpp", version="b11434-abc1234", loaded_quant="Q4_1", context_tokens=4096
    )


async def test_vllm_version_and_max_model_len() -> None:
    models = {"data": [{"id": "other", "max_model_len": 1}, {"id": "m", "max_model_len": 32768}]}
    found = await ask({("GET", "/version"): {"version": "0.11.0"}, ("GET", "/v1/models"): models})
    assert found == ServerInfo(engine="vLLM", version="0.11.0", context_tokens=32768)


async def test_ollama_version_and_show() -> None:
    seen: list[Any] = []

    def show(request: httpx.Request) -> dict[str, Any]:
        seen.append(json.loads(request.content))
        return {"details": {"quantization_level": "Q4_K_M"}, "parameters": "stop x\nnum_ctx 8192"}

    found = await ask({("GET", "/api/version"): {"version": "0.12.3"}, ("POST", "/api/show"): show},
                      model="qwen3:4b")  # fmt: skip
    assert found == ServerInfo(
        engine="Ollama", version="0.12.3", loaded_quant="Q4_K_M", context_tokens=8192
    )
    assert seen == [{"model": "qwen3:4b"}]


async def test_ollama_without_num_ctx_has_no_known_window() -> None:
    found = await ask(
        {("GET", "/api/version"): {"version": "0.12.3"},
         ("POST", "/api/show"): {"details": {"quantization_level": "Q8_0"}, "parameters": ""}}
    )  # fmt: skip
    assert (found.engine, found.loaded_quant, found.context_tokens) == ("Ollama", "Q8_0", None)


async def test_tgi_info() -> None:
    """TGI's model_dtype is the compute dtype (torch.float16), not the weights' quant: only its
    ``quantize`` says what was loaded."""
    info = {
        "model_id": "x",
        "version": "3.3.4",
        "max_total_tokens": 8192,
        "model_dtype": "torch.float16",
    }
    found = await ask({("GET", "/info"): info})
    assert found == ServerInfo(engine="TGI", version="3.3.4", context_tokens=8192)
    assert not quant_mismatch("BF16", found.loaded_quant)
    quantized = await ask({("GET", "/info"): {**info, "quantize": "awq"}})
    assert quantized.loaded_quant == "AWQ" and not quant_mismatch("AWQ", quantized.loaded_quant)


async def test_a_hostile_servers_numbers_and_labels_are_made_harmless() -> None:
    """Absurd windows are unknown (never an overflow or a refusal at intake), labels lose control
    and bidi characters, and nothing a server answers makes the probe fail."""
    huge = {
        "default_generation_settings": {"n_ctx": 10**30},
        "build_info": "b1\u202e\u200bx\n",
        "model_ftype": "Q4_1" + "A" * 500,
    }
    found = await ask({("GET", "/props"): huge})
    assert found.context_tokens is None and found.version == "b1 x"
    assert found.loaded_quant is not None and len(found.loaded_quant) <= 120
    for params in ("num_ctx " + "9" * 5000, "num_ctx 0", "num_ctx -5", "num_ctx 4096x"):
        ollama = await ask(
            {
                ("GET", "/api/version"): {"version": "1"},
                ("POST", "/api/show"): {"parameters": params},
            }
        )
        assert ollama.engine == "Ollama" and ollama.context_tokens is None, params
    assert await ask({("GET", "/props"): {"build_info": "x", "n_ctx": 0}}) == ServerInfo(
        engine="llama.cpp", version="x"
    )


async def test_sglang_server_info() -> None:
    found = await ask({("GET", "/get_server_info"): {"version": "0.5.2", "context_length": 40960}})
    assert found == ServerInfo(engine="SGLang", version="0.5.2", context_tokens=40960)


async def test_an_unknown_server_says_nothing_and_the_probe_never_fails() -> None:
    assert await ask({}) == ServerInfo()
    odd = {("GET", "/props"): {"build_info": 7, "n_ctx": "big", "model_ftype": None}}
    assert await ask(odd) == ServerInfo(engine="llama.cpp")


@pytest.mark.parametrize(
    ("reported", "label"),
    [("Q4_K - Medium", "Q4_K_M"), ("Q2_K - Medium", "Q2_K"), ("BF16", "BF16"), ("F16", "FP16"),
     ("MOSTLY_Q8_0", "Q8_0"), ("bfloat16", "BF16"), ("Q4_K - Medium (guessed)", "Q4_K_M")],
)  # fmt: skip
def test_llama_cpp_ftype_names_read_as_form_labels(reported: str, label: str) -> None:
    assert normalize_quant(reported) == label


def test_a_label_that_is_not_what_the_server_loaded_is_flagged() -> None:
    assert quant_mismatch("Q4_K_M", "Q2_K") and not quant_mismatch("Q4_K_M", "Q4_K - Medium")
    assert not quant_mismatch("other", "Q2_K") and not quant_mismatch("Q8_0", None)
