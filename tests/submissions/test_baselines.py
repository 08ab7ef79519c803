"""Baseline authority: a squatted baseline decides no verdict; the operator confirms and demotes;
the evidence against a claim; claims at intake under each policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.analysis import baseline_evidence, kl_contradictions, leaderboard_rows
from arena.analysis._leaderboard import NOTE_DISPUTED
from arena.board import build_snapshot
from arena.dev.nullserver import NullServer, NullServerConfig
from arena.engine import Store, now
from arena.engine import _migrations as migrations_module
from arena.engine._migrations import MIGRATIONS, migrate
from arena.engine._store import connect
from submissions.baselines import claims, decide
from submissions.service import SubmissionRefused
from tests.arena.analysis.test_leaderboard import add_submission, play
from tests.submissions.test_service import form, service


def rows_of(store: Store) -> dict[int, object]:
    return {r.submission_id: r for r in leaderboard_rows(store)}


def reviews(store: Store, submission_id: int) -> list[tuple[str, str]]:
    found = store.query(
        "SELECT action, actor FROM baseline_reviews WHERE submission_id = ? ORDER BY id",
        (submission_id,),
    )
    return [(r["action"], r["actor"]) for r in found]


async def test_a_squatted_baseline_decides_no_verdict(store: Store) -> None:
    """The red-team case: a bogus "BF16" registered first for a base model. Alone it judges
    nothing for good (its verdicts are provisional); once the real baseline claims the group it
    judges nothing at all (disputed); the operator confirms the real one, the squatter is demoted
    and judged as the candidate it is, and every verdict is final against the real baseline."""
    squat = add_submission(store, "Squat", "Llama", "BF16", 16.0, baseline=True, review="pending")
    cand = add_submission(store, "Q4", "Llama", "Q4_K_M", 4.8)
    for seed in (1, 2, 3):  # the "baseline" is really a broken 2-bit quant
        await play(store, seed, squat, "TTTTHH", cand, "HHHHHH", {})

    alone = rows_of(store)
    verdict = alone[cand].verdict  # type: ignore[attr-defined]
    assert verdict is not None and verdict.provisional
    assert verdict.label.startswith("provisional · ")
    assert alone[cand].baseline_standing == "provisional"  # type: ignore[attr-defined]
    assert alone[squat].retention_note == "baseline (provisional)"  # type: ignore[attr-defined]
    evidence = baseline_evidence(store, squat)
    assert evidence is not None and [b.submission_id for b in evidence.beaten_by] == [cand]
    assert evidence.beaten_by[0].candidate_only == 12 and evidence.beaten_by[0].p_value < 0.001

    real = add_submission(store, "Real", "Llama", "BF16", 16.0, baseline=True, review="pending")
    for seed in (4, 5, 6):
        await play(store, seed, real, "HHHHHH", squat, "TTTTHH", {})
        await play(store, seed, real, "HHHHHH", cand, "HHHHHT", {})
    disputed = rows_of(store)
    for sid in (cand, real):
        row = disputed[sid]
        assert row.verdict is None and row.baseline_standing == "disputed"  # type: ignore[attr-defined]
    assert disputed[cand].retention_note == NOTE_DISPUTED  # type: ignore[attr-defined]
    snapshot = build_snapshot(store)
    for sid in (squat, cand, real):
        report = snapshot.report(sid)
        assert report is not None and report.verdict is None
        assert report.baseline_standing == "disputed"

    decide(store, real, "confirm", "operator (token)", "the squatter's server serves Q2_K")
    settled = rows_of(store)
    assert settled[real].is_baseline and settled[real].baseline_standing == "confirmed"  # type: ignore[attr-defined]
    assert not settled[squat].is_baseline and settled[squat].baseline_review == "demoted"  # type: ignore[attr-defined]
    for sid in (cand, squat):
        found = settled[sid].verdict  # type: ignore[attr-defined]
        assert found is not None and not found.provisional
    assert settled[squat].verdict.kind == "degraded"  # type: ignore[attr-defined]
    snapshot = build_snapshot(store)
    judged = [snapshot.report(sid) for sid in (squat, cand, real)]
    assert {r.baseline_id for r in judged if r is not None and r.verdict is not None} == {real}
    assert reviews(store, squat)[-1] == ("demote", "operator (token)")
    assert reviews(store, real)[-1] == ("confirm", "operator (token)")


async def test_demoting_the_baseline_recomputes_every_verdict(store: Store) -> None:
    base = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True)
    cand = add_submission(store, "C", "Smol", "Q2_K", 2.6)
    for seed in (1, 2):
        await play(store, seed, base, "HHHHHH", cand, "TTTHHH", {})
    assert rows_of(store)[cand].verdict is not None  # type: ignore[attr-defined]
    before = store.query("SELECT version FROM board_versions WHERE base_model_key = 'smol'")
    decide(store, base, "demote", "operator (hf:root)", "not full precision")
    after = store.query("SELECT version FROM board_versions WHERE base_model_key = 'smol'")
    assert after[0]["version"] > before[0]["version"]  # the board recomputes this base model
    rows = rows_of(store)
    assert rows[cand].verdict is None and rows[cand].baseline_standing is None  # type: ignore[attr-defined]
    assert rows[base].baseline_review == "demoted" and not rows[base].is_baseline  # type: ignore[attr-defined]
    decide(store, base, "confirm", "operator (hf:root)", "checked again")  # and back
    assert rows_of(store)[cand].verdict is not None  # type: ignore[attr-defined]
    assert [a for a, _ in reviews(store, base)] == ["demote", "confirm"]


def test_operator_decisions_refuse_what_cannot_be(store: Store) -> None:
    cand = add_submission(store, "C", "Smol", "Q4_0", 4.5)
    gone = add_submission(store, "G", "Smol", "BF16", 16.0, baseline=True, status="deleted")
    for missing in (10**6, 2**63, gone):
        with pytest.raises(SubmissionRefused) as exc:
            decide(store, missing, "confirm", "operator (token)", "")
        assert exc.value.kind == "not_found"
    with pytest.raises(SubmissionRefused, match="not a baseline claim") as exc:
        decide(store, cand, "demote", "operator (token)", "")
    assert exc.value.kind == "bad_request"
    decide(store, cand, "confirm", "operator (token)", "the only BF16 we know")  # any member
    [claim] = claims(store)
    assert claim.submission_id == cand and claim.review == "confirmed" and claim.acting
    assert claim.standing == "confirmed" and claim.history[-1].note == "the only BF16 we know"


def add_kl(store: Store, submission: int, baseline: int, mean_kl: float) -> None:
    stamp = now()
    store.write(
        lambda db: db.execute(
            "INSERT INTO probes (submission_id, kind, baseline_id, probe_version, status, result, "
            "started_at, finished_at) VALUES (?, 'kl', ?, 'kl-v1', 'done', ?, ?, ?)",
            (submission, baseline, json.dumps({"mean_kl": mean_kl}), stamp, stamp),
        )
    )


def test_the_evidence_names_kl_that_contradicts_the_bits_and_a_quantized_server(
    store: Store,
) -> None:
    claim = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True, review="pending")
    store.write(lambda db: db.execute(
        "UPDATE submissions SET server_quant = 'Q4_K - Medium' WHERE id = ?", (claim,)
    ))  # fmt: skip
    q8 = add_submission(store, "Q8", "Smol", "Q8_0", 8.5)
    q4 = add_submission(store, "Q4", "Smol", "Q4_K_M", 4.8)
    f16 = add_submission(store, "F16", "Smol", "F16", 16.0)
    add_kl(store, q8, claim, 0.30)  # farther than the 4-bit one: the claim is no BF16
    add_kl(store, q4, claim, 0.02)
    add_kl(store, f16, claim, 0.25)
    evidence = baseline_evidence(store, claim)
    assert evidence is not None and evidence.server_quantized
    assert any("Q4_K_M" in f and "not full precision" in f for f in evidence.flags)
    text = " ".join(evidence.kl_contradictions)
    assert f"#{q8} (Q8_0, 8.5 bpw) is farther" in text and f"#{f16} (F16, full precision)" in text
    assert len(evidence.flags) == 1 + len(evidence.kl_contradictions)
    honest = [{"id": 1, "quant": "Q8_0", "bits_per_weight": 8.5},
              {"id": 2, "quant": "Q4_K_M", "bits_per_weight": 4.8}]  # fmt: skip
    assert kl_contradictions(honest, {1: 0.004, 2: 0.03}) == []
    assert kl_contradictions(honest, {1: 0.004, 2: 0.005}) == []  # both near zero: noise


async def test_claims_at_intake_follow_the_policy(store: Store) -> None:
    """``confirm``: a claim waits (pending); a second one is taken (the group is disputed);
    none is taken while a confirmed one is live. ``trust`` keeps one claim per group."""
    servers = [NullServer(NullServerConfig(reply="ready", model=f"m{i}")) for i in range(4)]
    for s in servers:
        s.start()
    try:
        svc = service(store, baseline_policy="confirm")
        first = await svc.submit(
            form(servers[0].base_url, model="m0", is_baseline=True), "a", owner="alice"
        )
        assert first.baseline_review == "pending"
        assert reviews(store, first.submission_id) == [("claim", "submitter (hf-id:alice)")]
        second = await svc.submit(form(servers[1].base_url, model="m1", is_baseline=True), "b")
        assert second.baseline_review == "pending"
        assert {c.standing for c in claims(store)} == {"disputed"}
        decide(store, second.submission_id, "confirm", "operator (token)", "")
        with pytest.raises(SubmissionRefused, match="ask the operator") as exc:
            await svc.submit(form(servers[2].base_url, model="m2", is_baseline=True), "c")
        assert exc.value.kind == "duplicate" and f"#{second.submission_id}" in exc.value.reason
        assert (
            await svc.submit(form(servers[2].base_url, model="m2"), "c")
        ).baseline_review is None
        trusting = service(store, baseline_policy="trust")
        elsewhere = form(servers[3].base_url, model="m3", base_model="Qwen3-4B", is_baseline=True)
        assert (await trusting.submit(elsewhere, "d")).baseline_review == "confirmed"
        with pytest.raises(ValueError, match="unknown baseline policy"):
            service(store, baseline_policy="anyone")  # type: ignore[arg-type]
    finally:
        for s in servers:
            s.stop()


async def test_a_logged_in_owner_acts_without_the_token_and_only_on_their_own(
    store: Store,
) -> None:
    servers = [NullServer(NullServerConfig(reply="ready", model=f"m{i}")) for i in range(5)]
    for s in servers:
        s.start()
    try:
        svc = service(store, rate_limit=2)
        mine = await svc.submit(form(servers[0].base_url, model="m0"), "10.0.0.1", owner="alice")
        theirs = await svc.submit(form(servers[1].base_url, model="m1"), "10.0.0.1")
        svc.set_status(mine.submission_id, "", "paused", owner="alice")
        assert svc.get(mine.submission_id)["status"] == "paused"  # type: ignore[index]
        for sid, who in ((mine.submission_id, "mallory"), (theirs.submission_id, "alice")):
            with pytest.raises(SubmissionRefused) as exc:
                svc.set_status(sid, "", "paused", owner=who)
            assert exc.value.kind == "forbidden"
        svc.set_status(mine.submission_id, mine.deletion_token, "active")  # the token still works
        # the rate limit counts per user when logged in, whatever the address
        await svc.submit(form(servers[2].base_url, model="m2"), "10.0.0.2", owner="alice")
        with pytest.raises(SubmissionRefused) as exc:
            await svc.submit(form(servers[3].base_url, model="m3"), "10.9.9.9", owner="alice")
        assert exc.value.kind == "rate_limited"
        assert (await svc.submit(form(servers[3].base_url, model="m3"), "10.9.9.9")).submission_id
        # and per address too: more accounts do not buy an address more attempts
        await svc.submit(form(servers[4].base_url, model="m4"), "10.9.9.9", owner="bob")
        with pytest.raises(SubmissionRefused) as exc:
            await svc.submit(form(servers[4].base_url, model="m4"), "10.9.9.9", owner="carol")
        assert exc.value.kind == "rate_limited"
        svc.set_status(mine.submission_id, "", "deleted", owner="alice")  # forgets its owner
        [row] = store.query("SELECT owner FROM submissions WHERE id = ?", (mine.submission_id,))
        assert row["owner"] is None
    finally:
        for s in servers:
            s.stop()


def test_claims_made_before_baseline_authority_stay_the_baselines(tmp_path: Path) -> None:
    """``m010``: a database whose groups already had baselines keeps them (the lowest id of a
    group confirmed, as it was the one used), and updates of the review column move the
    board."""
    path = tmp_path / "old.sqlite3"
    db = connect(path)
    try:
        migrations_module.MIGRATIONS = MIGRATIONS[:9]  # a database made before m010
        assert migrate(db)[-1] == "m009_board_versions"
        stamp = now()
        for port, is_baseline in ((9001, 1), (9000, 0), (9002, 1)):  # two baselines in a group
            db.execute(
                "INSERT INTO submissions (display_name, base_model, base_model_key, quant, "
                "bits_per_weight, hardware, engine, base_url, model, sampling, settings_class, "
                "is_baseline, status, deletion_token_hash, client_hash, probe, created_at, "
                "updated_at) VALUES ('x', 'Smol', 'smol', 'BF16', 16, '', 'llama.cpp', ?, 'm', "
                "'{}', 'greedy', ?, 'active', 'h', 'c', '{}', ?, ?)",
                (f"http://127.0.0.1:{port}/v1", is_baseline, stamp, stamp),
            )
        db.commit()
    finally:
        migrations_module.MIGRATIONS = MIGRATIONS
        db.close()
    with Store(path) as store:  # opening migrates
        rows = store.query("SELECT is_baseline, baseline_review FROM submissions ORDER BY id")
        assert [(r["is_baseline"], r["baseline_review"]) for r in rows] == [
            (1, "confirmed"),  # the lowest id was the baseline
            (0, None),
            (0, "demoted"),  # the second one was never used: now it says so
        ]
        assert reviews(store, 3) == [("demote", "migration m010")]
        assert {c.standing for c in claims(store)} == {"confirmed"}
        [claim] = store.query("SELECT id FROM submissions WHERE is_baseline = 1")
        before = store.query("SELECT version FROM board_versions WHERE base_model_key = 'smol'")
        decide(store, claim["id"], "demote", "operator (token)", "")
        after = store.query("SELECT version FROM board_versions WHERE base_model_key = 'smol'")
        assert after[0]["version"] > before[0]["version"]


def test_claims_come_back_from_the_published_dataset_as_they_were(
    store: Store, tmp_path: Path
) -> None:
    """A Space without storage restores from the dataset: a disputed group must not come back
    with a confirmed baseline (nor its claims vanish from the operator's list)."""
    from arena.results._dataset import export, restore

    first = add_submission(store, "A", "Smol", "BF16", 16.0, baseline=True, review="pending")
    add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True, review="pending")
    add_submission(store, "C", "Smol", "Q4_0", 4.5)
    export(store, tmp_path / "slice")
    with Store(tmp_path / "restored.sqlite3") as again:
        restore(again, tmp_path / "slice")
        listed = [(c.submission_id, c.review) for c in claims(again)]
        assert listed[0] == (first, "pending") and len(listed) == 2
        assert {c.standing for c in claims(again)} == {"disputed"}
        assert all(r.verdict is None for r in leaderboard_rows(again))
