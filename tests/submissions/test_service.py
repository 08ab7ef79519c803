"""Submitting an endpoint against real loopback null servers: accepted only after the guard and
the probe; duplicates, rate limit, key policy; owners pause and delete with their token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from arena.client import ClientLimits
from arena.dev.nullserver import NullServer, NullServerConfig
from arena.engine._models import Sampling
from arena.engine._store import Store
from submissions.keystore import KeyStore
from submissions.models import SubmissionForm, base_model_key, display_text
from submissions.service import SubmissionRefused, SubmissionService

FAST = ClientLimits(deadline_s=5, max_retries=0)


@pytest.fixture
def server() -> Iterator[NullServer]:
    with NullServer(NullServerConfig(reply="ready", model="smol-q4")) as s:
        yield s


def loopback_resolver() -> Any:
    async def resolve(host: str, _port: int) -> list[str]:
        assert host == "endpoint.test"
        return ["127.0.0.1"]

    return resolve


def service(store: Store, *, secret: bool = True, **kwargs: Any) -> SubmissionService:
    keys = KeyStore(Fernet.generate_key().decode() if secret else None)
    kwargs.setdefault("allow_private", True)
    return SubmissionService(store, keys, probe_limits=FAST, **kwargs)


def form(url: str, **changes: Any) -> SubmissionForm:
    fields: dict[str, Any] = {
        "display_name": "Smol Q4",
        "base_model": "SmolLM2-135M",
        "quant": "Q4_0",
        "bits_per_weight": 4.5,
        "hardware": "CPU 2 cores",
        "engine": "llama.cpp",
        "base_url": url,
        "model": "smol-q4",
    }
    fields.update(changes)
    return SubmissionForm(**fields)


async def test_accepted_after_the_probe_through_the_pinned_address(
    store: Store, server: NullServer
) -> None:
    svc = service(store, resolver=loopback_resolver())
    url = server.base_url.replace("127.0.0.1", "endpoint.test")
    receipt = await svc.submit(form(url), client_id="203.0.113.9")
    assert receipt.probe.models == ["smol-q4"]
    assert receipt.probe.completion_tokens >= 1 and receipt.probe.latency_s > 0
    assert len(receipt.deletion_token) >= 24
    saved = svc.get(receipt.submission_id)
    assert saved is not None and saved["status"] == "active" and saved["has_api_key"] == 0
    assert saved["base_model_key"] == "smollm2-135m"
    assert "base_url" not in saved and "deletion_token_hash" not in saved
    assert server.requests  # the probe really went through


async def test_private_address_refused_by_default_and_nothing_stored(
    store: Store, server: NullServer
) -> None:
    svc = service(store, allow_private=False)
    with pytest.raises(SubmissionRefused, match=r"endpoint URL refused: .*loopback"):
        await svc.submit(form(server.base_url), client_id="c")
    assert store.query("SELECT COUNT(*) AS n FROM submissions")[0]["n"] == 0
    assert not server.requests


async def test_probe_failures_are_clear_and_store_nothing(store: Store, server: NullServer) -> None:
    svc = service(store)
    with pytest.raises(SubmissionRefused, match=r"does not serve model 'other'.*smol-q4"):
        await svc.submit(form(server.base_url, model="other"), client_id="c")
    dead = server.base_url.rsplit(":", 1)[0] + ":9/v1"
    with pytest.raises(SubmissionRefused, match="health probe failed"):
        await svc.submit(form(dead), client_id="c")
    assert store.query("SELECT COUNT(*) AS n FROM submissions")[0]["n"] == 0


async def test_duplicates_are_refused_until_deleted(store: Store, server: NullServer) -> None:
    svc = service(store)
    first = await svc.submit(form(server.base_url), client_id="c")
    with pytest.raises(SubmissionRefused, match="already registered"):
        await svc.submit(form(server.base_url, display_name="again"), client_id="c")
    other = form(server.base_url, sampling=Sampling(temperature=0.7))
    assert (await svc.submit(other, client_id="c")).submission_id != first.submission_id
    svc.set_status(first.submission_id, first.deletion_token, "deleted")
    assert (await svc.submit(form(server.base_url), client_id="c")).submission_id


async def test_rate_limit_counts_failed_attempts_too(store: Store) -> None:
    clock = [1000.0]
    svc = service(store, rate_limit=3, rate_window_s=60, clock=lambda: clock[0])
    for _ in range(3):
        with pytest.raises(SubmissionRefused, match="endpoint URL refused"):
            await svc.submit(form("http://0.0.0.0:1/v1"), client_id="10.1.1.1")
    with pytest.raises(SubmissionRefused, match="too many submissions"):
        await svc.submit(form("http://0.0.0.0:1/v1"), client_id="10.1.1.1")
    with pytest.raises(SubmissionRefused, match="endpoint URL refused"):  # another client
        await svc.submit(form("http://0.0.0.0:1/v1"), client_id="10.1.1.2")
    clock[0] += 61
    with pytest.raises(SubmissionRefused, match="endpoint URL refused"):  # window passed
        await svc.submit(form("http://0.0.0.0:1/v1"), client_id="10.1.1.1")
    stored = store.query("SELECT client_hash FROM submission_attempts")
    assert stored and all("10.1.1" not in row["client_hash"] for row in stored)


async def test_api_key_is_encrypted_and_refused_without_a_secret(
    store: Store, server: NullServer, tmp_path: Path
) -> None:
    canary = f"sk-CANARY-{uuid.uuid4()}"
    without = service(store, secret=False)
    with pytest.raises(SubmissionRefused, match="cannot accept API keys"):
        await without.submit(form(server.base_url, api_key=SecretStr(canary)), client_id="c")
    svc = service(store)
    receipt = await svc.submit(form(server.base_url, api_key=SecretStr(canary)), client_id="c")
    saved = svc.get(receipt.submission_id)
    assert saved is not None and saved["has_api_key"] == 1
    assert canary not in str(saved)
    store.close()
    for file in store.path.parent.iterdir():
        assert canary.encode() not in file.read_bytes()


async def test_owner_pauses_resumes_and_deletes_with_the_token(
    store: Store, server: NullServer
) -> None:
    svc = service(store)
    receipt = await svc.submit(form(server.base_url, api_key=SecretStr("sk-x")), client_id="c")
    with pytest.raises(SubmissionRefused, match="wrong token"):
        svc.set_status(receipt.submission_id, "guess", "paused")
    svc.set_status(receipt.submission_id, receipt.deletion_token, "paused")
    assert svc.get(receipt.submission_id)["status"] == "paused"  # type: ignore[index]
    svc.set_status(receipt.submission_id, receipt.deletion_token, "active")
    svc.set_status(receipt.submission_id, receipt.deletion_token, "deleted")
    saved = svc.get(receipt.submission_id)
    assert saved is not None and saved["status"] == "deleted" and saved["has_api_key"] == 0
    with pytest.raises(SubmissionRefused, match="was deleted"):
        svc.set_status(receipt.submission_id, receipt.deletion_token, "active")


def test_form_validation_gives_a_message_per_bad_field() -> None:
    with pytest.raises(ValidationError) as caught:
        SubmissionForm(
            display_name="\u202e\u200b", base_model="", quant="Q9_X", bits_per_weight=0,
            hardware="x", engine="vllm", base_url="http://x/v1", model="m", extra=1,
        )  # type: ignore[call-arg]  # fmt: skip
    fields = {err["loc"][0] for err in caught.value.errors()}
    assert fields >= {"display_name", "base_model", "quant", "bits_per_weight", "engine", "extra"}


def test_names_are_plain_text_and_base_models_compare_blind() -> None:
    f = form("http://x/v1", display_name="Evil\u202egnp.exe <script>x</script>\x07")
    assert f.display_name == "Evilgnp.exe <script>x</script>"
    assert "<script>" not in display_text(f.display_name)
    assert base_model_key("Qwen3-4B") == base_model_key("qwen3_4b") == base_model_key(" QWEN3 4B ")


async def test_a_second_baseline_for_the_same_group_is_refused(store: Store) -> None:
    """One baseline per base model and sampling class: a second claim is refused (even while the
    first is paused), a baseline with other sampling settings or another base model is not, and
    once the first is deleted a new one may register."""
    servers = [NullServer(NullServerConfig(reply="ready", model=f"m{i}")) for i in range(4)]
    for s in servers:
        s.start()
    try:
        svc = service(store)
        first = await svc.submit(form(servers[0].base_url, model="m0", is_baseline=True), "a")
        second = form(servers[1].base_url, model="m1", base_model="smollm2 135m", quant="BF16",
                      is_baseline=True)  # fmt: skip
        with pytest.raises(SubmissionRefused, match="already has a full-precision baseline") as e:
            await svc.submit(second, "b")
        assert e.value.kind == "duplicate" and f"#{first.submission_id}" in e.value.reason
        svc.set_status(first.submission_id, first.deletion_token, "paused")
        with pytest.raises(SubmissionRefused, match="already has"):
            await svc.submit(second, "b")
        other = form(servers[2].base_url, model="m2", is_baseline=True,
                     sampling=Sampling(temperature=0.7))  # fmt: skip
        assert (await svc.submit(other, "c")).submission_id  # another sampling class
        elsewhere = form(servers[3].base_url, model="m3", base_model="Qwen3-4B", is_baseline=True)
        assert (await svc.submit(elsewhere, "d")).submission_id
        assert (await svc.submit(form(servers[1].base_url, model="m1"), "b")).submission_id
        svc.set_status(first.submission_id, first.deletion_token, "deleted")
        again = form(servers[0].base_url, model="m0", is_baseline=True)  # the same group
        assert (await svc.submit(again, "e")).submission_id
    finally:
        for s in servers:
            s.stop()


def llama_props(n_ctx: int, ftype: str = "Q4_0") -> dict[str, Any]:
    """What llama-server's ``GET /props`` says (the fields the app reads)."""
    return {"default_generation_settings": {"n_ctx": n_ctx}, "build_info": "b11434-abc",
            "model_ftype": ftype}  # fmt: skip


async def test_a_context_window_too_small_for_the_rooms_is_refused_with_what_they_need(
    store: Store,
) -> None:
    """Stated or reported by the server, a window the rooms cannot fit is refused at intake with
    the number of tokens they need; nothing is stored."""
    from arena.engine import context_needed, profiles

    needed = context_needed(profiles.uniform(0), Sampling().max_tokens)
    assert 2048 < needed < 4096  # llama-server's -c 2048 is too small, -c 4096 is enough
    with NullServer(NullServerConfig(reply="ready", model="smol-q4", props=llama_props(2048))) as s:
        svc = service(store)
        with pytest.raises(SubmissionRefused, match=f"need at least {needed} tokens") as caught:
            await svc.submit(form(s.base_url), "a")
        assert caught.value.kind == "bad_request" and "reported by llama.cpp" in caught.value.reason
        with pytest.raises(SubmissionRefused, match="2000 tokens, stated"):
            await svc.submit(form(s.base_url, context_tokens=2000), "a")
        assert store.query("SELECT COUNT(*) AS n FROM submissions")[0]["n"] == 0
        harder = service(store, levels=profiles.uniform(3))
        with pytest.raises(SubmissionRefused, match="too small"):
            await harder.submit(form(s.base_url, context_tokens=8192), "a")


async def test_the_server_identity_is_stored_and_a_wrong_quant_label_flagged(store: Store) -> None:
    from arena.analysis._leaderboard import leaderboard_rows

    props = llama_props(8192, "Q2_K - Medium")
    with NullServer(NullServerConfig(reply="ready", model="smol-q4", props=props)) as s:
        receipt = await service(store).submit(form(s.base_url, quant="Q4_0"), "a")
    assert receipt.probe.server.loaded_quant == "Q2_K"
    stored = service(store).get(receipt.submission_id)
    assert stored is not None
    assert (stored["server_engine"], stored["server_version"]) == ("llama.cpp", "b11434-abc")
    assert (stored["server_quant"], stored["server_context_tokens"]) == ("Q2_K", 8192)
    [row] = leaderboard_rows(store)
    assert row.quant_mismatch and row.server_quant == "Q2_K" and row.quant == "Q4_0"


async def test_a_stated_window_cannot_exceed_what_the_server_serves(store: Store) -> None:
    """Stating 32768 on a -c 2048 server: the smaller one counts."""
    config = NullServerConfig(reply="ready", model="smol-q4", props=llama_props(2048))
    with NullServer(config) as s, pytest.raises(SubmissionRefused, match=r"2048 tokens, reported"):
        await service(store).submit(form(s.base_url, context_tokens=32768), "a")


def test_intake_checks_the_levels_the_scheduler_plays() -> None:
    from arena.engine import profiles
    from submissions.service import levels_for

    assert levels_for("calibrate") == profiles.uniform(0)
    assert levels_for(3) == profiles.uniform(3)
