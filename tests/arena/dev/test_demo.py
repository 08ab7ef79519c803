"""The demo (``arena/dev/_demo.py``): a re-quantized file says what it really is, and the demo's
schedule reaches a verdict early."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from arena.dev._demo import DEMO_SCHEDULE, SMOLLM2_PARAMS, DemoEntry, demo_name, demo_schedule
from arena.schedule._jobs import Job
from arena.schedule._planner import (
    Entrant,
    QueueView,
    draining,
    endpoint_of,
    plan_next,
    probe_job,
)
from arena.settings import SchedulerSettings, scheduler_from_env
from arena.tiers import tier
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


def test_the_demo_schedule_pairs_first_answers_early_and_yields_to_the_environment() -> None:
    """``--demo``: after the probes, the baseline's and the Q2_K's solo runs on the group's
    seeds come first, and both can play at once on their own servers (two cores, two
    servers); whatever the environment set stays as set."""
    chosen = demo_schedule(scheduler_from_env({}))
    assert chosen.retries == 0 and chosen.max_concurrent >= 2 and chosen.difficulty == 0
    assert tier(chosen.tier).solo_seeds >= 8  # the validity run decided after 6 seeds
    env = {"QER_TIER": "standard", "QER_MAX_CONCURRENT_MATCHES": "1", "QER_DIFFICULTY": "calibrate"}
    kept = demo_schedule(scheduler_from_env(env))
    assert (kept.tier, kept.max_concurrent, kept.difficulty) == ("standard", 1, "calibrate")
    assert kept.calibration_runs == 12
    assert set(DEMO_SCHEDULE) <= set(SchedulerSettings.model_fields)  # no silent extra
    secret = demo_schedule(scheduler_from_env({"QER_SEED_SECRET": "s3"})).seed_secret
    assert secret is not None and secret.get_secret_value() == "s3"

    members = [Entrant(1, "smollm2", "s", True, "http://127.0.0.1:8001"),
               Entrant(2, "smollm2", "s", False, "http://127.0.0.1:8002")]  # fmt: skip
    rows = [probe_job("speed", 1), probe_job("speed", 2), probe_job("kl", 2, 1)]
    queue: list[dict[str, str]] = [
        {"dedupe_key": r.key, "payload": json.dumps(r.payload), "status": "done"} for r in rows
    ]
    for _ in range(2):  # what the pairing job queues next, one job at a time
        (job,) = plan_next(members, QueueView.of(queue, chosen), chosen, secret=b"s")
        queue.append({"dedupe_key": job.key, "payload": json.dumps(job.payload),
                      "status": "queued"})  # fmt: skip
    payloads = [json.loads(row["payload"]) for row in queue[3:]]
    assert [(p["kind"], p["a"], p["seed"]) for p in payloads] == [
        ("solo", 1, payloads[0]["seed"]),
        ("solo", 2, payloads[0]["seed"]),
    ]  # same seed: paired first answers
    urls = {m.id: endpoint_of(m.endpoint) for m in members}
    eligible = draining(urls=urls, busy=Counter({urls[1]: 1}), limit=chosen.per_endpoint_limit)
    second = Job(id=5, dedupe_key=queue[4]["dedupe_key"], payload=payloads[1], status="queued",
                 attempts=0, max_attempts=3, lease_owner=None, lease_expires_at=None,
                 match_id=None, last_error=None)  # fmt: skip
    assert eligible(second)  # starts while the baseline's solo run plays
