"""The real ``llama-bench -o json`` on the SmolLM2 ladder made in the session, imported as
reference entries (the parsers are also tested on shipped files in tests/data/llama_bench)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from arena.dev._local_models import llama_binary
from arena.engine._store import Store
from arena.results._external import import_results, parse_file, read_imported
from arena.results._external_models import ReferenceSpec
from tests.integration.conftest import ARTIFACTS, Served


def bench(model: Path, out: Path) -> Path:
    """pp32 and tg16, two repetitions, one thread: small, but the real program's real output."""
    argv = [str(llama_binary("llama-bench")), "-m", str(model), "-p", "32", "-n", "16",
            "-r", "2", "-t", "1", "-o", "json"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, check=True, timeout=600)
    out.write_bytes(done.stdout)
    return out


def test_real_llama_bench_runs_are_imported(
    llama_servers: dict[str, Served], tmp_path: Path
) -> None:
    logs = Path(ARTIFACTS) / "llama-bench"
    logs.mkdir(parents=True, exist_ok=True)
    with Store(tmp_path / "arena.sqlite3") as store:
        for quant in ("Q4_1", "Q8_0", "Q2_K"):
            served = llama_servers[quant]
            parsed = parse_file("llama-bench", bench(served.server.model, logs / f"{quant}.json"))
            assert {(r.task, r.metric) for r in parsed.results} == {
                ("pp32", "tokens_per_second"), ("tg16", "tokens_per_second"),
            }  # fmt: skip
            for result in parsed.results:
                assert result.value > 0 and result.n == 2 and result.stderr is not None
            spec = ReferenceSpec(base_model="SmolLM2-135M-Instruct", quant=quant,
                                 bits_per_weight=served.bits_per_weight, hardware="CI CPU",
                                 engine="llama.cpp")  # fmt: skip
            report = import_results(store, parsed.results, source_sha256=parsed.sha256,
                                    reference=spec)  # fmt: skip
            assert len(report.stored) == 2 and not report.already_stored
            again = import_results(store, parsed.results, source_sha256=parsed.sha256,
                                   reference=spec)  # fmt: skip
            assert again.already_imported  # the same file twice is stored once
        stored = read_imported(store)
    assert len(stored) == 6
    assert {row["quant"] for row in stored} == {"Q4_1", "Q8_0", "Q2_K"}
