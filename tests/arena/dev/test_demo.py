"""The demo's labels (``arena/dev/_demo.py``): a re-quantized file says what it really is."""

from __future__ import annotations

from pathlib import Path

from arena.dev._demo import SMOLLM2_PARAMS, DemoEntry, demo_name
from submissions.models import SubmissionForm


def test_a_requantized_demo_model_is_labelled_with_its_origin_and_real_bits(
    tmp_path: Path,
) -> None:
    q2k = tmp_path / "q2k.gguf"
    q2k.write_bytes(b"\0" * round(5.25 * SMOLLM2_PARAMS / 8))  # what llama.cpp's "Q2_K" weighs
    name = demo_name(DemoEntry("Q2_K", "smollm2-135m-q2_k", False, q2k))
    assert name == "SmolLM2-135M Q2_K (demo, re-quantized from Q4_1, 5.25 bpw)"
    shipped = demo_name(DemoEntry("Q4_1", "smollm2-135m-q4_1", True, q2k))
    assert shipped == "SmolLM2-135M Q4_1 (demo, as shipped)"
    for label in (name, shipped):  # fits the form's 60 characters
        form = SubmissionForm(display_name=label, base_model="SmolLM2", quant="Q2_K",
                              bits_per_weight=5.25, hardware="cpu", engine="llama.cpp",
                              base_url="http://127.0.0.1:1/v1", model="m")  # fmt: skip
        assert form.display_name == label
