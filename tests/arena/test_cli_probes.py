"""``python -m arena probe kl|speed`` against real loopback servers (the KL numbers themselves are
checked on real llama.cpp servers in tests/integration/test_kl_probe.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.cli import main
from arena.cli_probes import kl_lines
from arena.dev.nullserver import NullServer, NullServerConfig
from arena.probes import KlResult


def test_probe_speed_prints_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "speed.json"
    with NullServer(NullServerConfig(reply="word " * 200, model="smol")) as server:
        code = main(["probe", "speed", "--a", server.base_url, "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "tg:" in printed and "tok/s" in printed
    found = json.loads(out.read_text())
    assert found["status"] == "done" and found["model"] == "smol" and found["tg_tps_mean"] > 0


def test_probe_kl_on_a_server_without_logprobs_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kl.json"
    with NullServer(NullServerConfig(model="a")) as a, NullServer(NullServerConfig(model="b")) as b:
        code = main(
            ["probe", "kl", "--baseline", a.base_url, "--candidate", b.base_url, "--json", str(out)]
        )
    printed = capsys.readouterr().out
    assert code == 1 and printed.startswith("probe unavailable:")
    assert "teacher forcing" in printed
    assert json.loads(out.read_text())["status"] == "unavailable"


def test_bad_arguments_are_refused_before_any_call() -> None:
    with pytest.raises(SystemExit, match="--reps must be at least 5"):
        main(["probe", "speed", "--a", "http://127.0.0.1:9/v1", "--a-model", "m", "--reps", "2"])
    with pytest.raises(SystemExit, match="--top-k must be at least 1"):
        main(
            [
                "probe",
                "kl",
                "--baseline",
                "http://127.0.0.1:9/v1",
                "--candidate",
                "http://127.0.0.1:9/v1",
                "--top-k",
                "0",
            ]
        )
    with pytest.raises(SystemExit, match="environment variable NO_SUCH_KEY_VAR"):
        main(["probe", "speed", "--a", "http://127.0.0.1:9/v1", "--a-key-env", "NO_SUCH_KEY_VAR"])


def test_kl_lines_name_the_method_and_the_tail() -> None:
    result = KlResult(
        probe_version="kl-v1",
        top_k=10,
        n_positions=100,
        mean_kl=0.05,
        median_kl=0.01,
        p90_kl=0.1,
        p99_kl=0.9,
        max_kl=2.0,
        top1_agreement=0.9,
        mean_reverse_kl=0.07,
        collection="teacher_forcing",
        per_text=[],
    )
    text = "\n".join(kl_lines(result))
    assert "0.05000" in text and "0.07000" in text and "0.90000" in text
    assert "teacher_forcing" in text and "90.00 %" in text
