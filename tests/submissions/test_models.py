"""The submission form and the public submission shape (``submissions/models.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from arena.engine import Sampling
from submissions.models import (
    ENGINES,
    PRESETS,
    QUANT_LABELS,
    SubmissionForm,
    SubmissionLabels,
    SubmissionPublic,
    base_model_key,
    display_text,
    error_message,
    plain_text,
    settings_class,
)

GOOD: dict[str, Any] = {
    "display_name": "Q4 on my Spark",
    "base_model": "Qwen3-30B-A3B",
    "quant": "Q4_K_M",
    "bits_per_weight": 4.85,
    "hardware": "DGX Spark",
    "engine": "llama.cpp",
    "base_url": "http://10.0.0.2:8080/v1",
    "model": "qwen3-30b-a3b-q4",
}


def form(**changes: Any) -> SubmissionForm:
    return SubmissionForm.model_validate({**GOOD, **changes})


def bad_fields(**changes: Any) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        form(**changes)
    return {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}


def test_a_complete_form_keeps_its_values_and_defaults() -> None:
    f = form()
    assert (f.quant, f.engine, f.bits_per_weight) == ("Q4_K_M", "llama.cpp", 4.85)
    assert f.api_key is None and f.is_baseline is False and f.context_tokens is None
    assert f.sampling == Sampling() and f.file_size_gb is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quant": "Q4_K_S_fancy"}, "quant"),
        ({"engine": "my-engine"}, "engine"),
        ({"bits_per_weight": 0}, "bits_per_weight"),
        ({"bits_per_weight": 33}, "bits_per_weight"),
        ({"file_size_gb": -1}, "file_size_gb"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 61}, "display_name"),
        ({"display_name": "\u200b\u202e \t"}, "display_name"),  # nothing visible
        ({"base_model": "y" * 101}, "base_model"),
        ({"base_url": ""}, "base_url"),
        ({"base_url": "h" * 2049}, "base_url"),
        ({"context_tokens": 100}, "context_tokens"),
        ({"sampling": {"temperature": 3}}, "sampling.temperature"),
        ({"sampling": {"max_tokens": 0}}, "sampling.max_tokens"),
        ({"sampling": {"nucleus": 0.9}}, "sampling.nucleus"),
        ({"owner_email": "a@b"}, "owner_email"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, Any], field: str) -> None:
    assert field in bad_fields(**changes)


def test_a_missing_field_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        SubmissionForm.model_validate({k: v for k, v in GOOD.items() if k != "model"})
    assert [e["loc"] for e in caught.value.errors()] == [("model",)]


def test_the_api_key_never_shows_in_repr_or_dumps() -> None:
    f = form(api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(f) and "sk-secret-123" not in f.model_dump_json()
    assert f.api_key is not None and f.api_key.get_secret_value() == "sk-secret-123"


def test_text_fields_are_stored_plain_and_shown_escaped() -> None:
    f = form(display_name="  <b>bold</b>\u202e\u200b   name ", hardware="RTX\t4090\n")
    assert f.display_name == "<b>bold</b> name" and f.hardware == "RTX 4090"
    assert plain_text("ｆｕｌｌ　ｗｉｄｔｈ") == "full width"
    shown = display_text("<b>*x*</b> | [l](u)")
    assert "<" not in shown and "\\*" in shown and "\\|" in shown and "\\[" in shown


def test_one_key_per_base_model_whatever_the_spelling() -> None:
    keys = {base_model_key(n) for n in ("Qwen3-4B", "qwen3 4b", "QWEN3_4B", " Qwen3--4B ")}
    assert keys == {"qwen3-4b"}
    assert base_model_key("Qwen3-8B") != base_model_key("Qwen3-4B")


def test_the_settings_class_separates_different_sampling_only() -> None:
    greedy = Sampling(temperature=0.0, max_tokens=1024)
    assert settings_class(greedy) == settings_class(Sampling(temperature=0, max_tokens=1024))
    assert settings_class(greedy) != settings_class(Sampling(temperature=0.0, max_tokens=1025))
    assert settings_class(greedy) != settings_class(Sampling(temperature=0.0, max_tokens=1024,
                                                             thinking=True))  # fmt: skip


def test_presets_are_valid_and_distinct() -> None:
    assert len({settings_class(s) for s in PRESETS.values()}) == len(PRESETS)
    for name, preset in PRESETS.items():
        assert form(sampling=preset.model_dump()).sampling == preset, name


def test_labels_cover_the_common_quants_and_engines() -> None:
    assert {"BF16", "Q8_0", "Q4_K_M", "FP8", "INT4", "NVFP4", "other"} <= set(QUANT_LABELS)
    assert {"vLLM", "llama.cpp", "Ollama", "SGLang", "TGI", "LM Studio"} <= set(ENGINES)


def test_the_public_shape_documents_every_field_and_holds_no_secret() -> None:
    for model in (SubmissionLabels, SubmissionPublic):
        assert all(f.description for f in model.model_fields.values()), model.__name__
    public = set(SubmissionPublic.model_fields)
    assert not public & {"base_url", "api_key", "api_key_encrypted", "deletion_token_hash",
                         "client_hash", "sampling"}  # fmt: skip
    assert set(SubmissionLabels.model_fields) < public


@pytest.mark.parametrize(
    "key",
    ["sk abc", "sk-ключ", "sk-a\r\nX-Evil: 1", "sk-a\x00b", "sk-a\tb", "x" * 10_001],
    ids=["space", "non-ascii", "crlf", "nul", "tab", "too-long"],
)
def test_an_api_key_no_http_header_can_carry_is_refused_with_the_reason(key: str) -> None:
    """A key the client could not send (a ValueError deep in httpx, a 500 before) is a field
    error saying why, never repeating the key."""
    with pytest.raises(ValidationError) as caught:
        form(api_key=key)
    (error,) = caught.value.errors()
    assert error["loc"] == ("api_key",)
    message = error["msg"]
    assert ("at most 4096" in message) if len(key) > 4096 else ("printable ASCII" in message)
    assert key not in message and "ключ" not in message  # shown without the input


def test_an_empty_api_key_means_none_and_a_real_one_is_kept() -> None:
    assert form(api_key="").api_key is None
    kept = form(api_key="sk-proj-AbC_123.xyz~")
    assert kept.api_key is not None and kept.api_key.get_secret_value() == "sk-proj-AbC_123.xyz~"


@pytest.mark.parametrize(
    ("field", "value"),
    [("bits_per_weight", True), ("bits_per_weight", "4.5"), ("file_size_gb", False),
     ("context_tokens", True)],
)  # fmt: skip
def test_numbers_are_numbers_not_flags_or_strings(field: str, value: object) -> None:
    assert bad_fields(**{field: value}) == {field}


@pytest.mark.parametrize(
    "sampling",
    [{"temperature": True}, {"top_p": "0.9"}, {"top_k": 10**30}, {"top_k": True},
     {"max_tokens": True}, {"seed": 2**64}],
)  # fmt: skip
def test_loose_sampling_values_are_refused(sampling: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        form(sampling={"temperature": 0.0, "max_tokens": 64, **sampling})


@pytest.mark.parametrize(("field", "limit"), [("display_name", 60), ("base_model", 100),
                                              ("hardware", 80), ("model", 200)])  # fmt: skip
@pytest.mark.parametrize("length", [301, 10_000])
def test_over_long_text_is_refused_with_its_length_and_the_limit(
    field: str, limit: int, length: int
) -> None:
    """Not pydantic's "at most N items after validation", nor the raw 2048 cap that contradicts
    the field's own limit: one message naming both numbers (whitespace is collapsed first)."""
    with pytest.raises(ValidationError) as caught:
        form(**{field: "a" * length})
    [error] = caught.value.errors()
    assert error_message(error) == f"is {length} characters long; at most {limit} are accepted"
    assert form(**{field: " " + "b " * (limit // 2) + "   "}).model_dump()[field].startswith("b")
    schema = SubmissionForm.model_json_schema()["properties"][field]
    assert (schema["maxLength"], schema["minLength"]) == (limit, 1)
