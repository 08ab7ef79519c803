"""The push code, for real, against a stand-in Hub on loopback that records commit calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import huggingface_hub.constants
import pytest

from arena.analysis._leaderboard import leaderboard_rows
from arena.engine._store import Store
from arena.results._dataset import ROW_MODELS, fingerprint
from arena.results._publish import Publisher, PublishError, restore_from_hub
from arena.settings import PublishSettings, publish_from_env
from tests.arena.analysis.test_leaderboard import add_submission, play
from tests.hub_standin import HubStandIn

TOKEN = "hf_stand_in_token"  # noqa: S105 - only ever sent to the loopback stand-in


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubStandIn]:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    standin = HubStandIn().start()
    yield standin
    standin.stop()
    assert standin.unhandled == []


@pytest.fixture
async def arena(tmp_path: Path) -> AsyncIterator[Store]:
    with Store(tmp_path / "arena.sqlite3") as store:
        base = add_submission(store, "Smol BF16", "Smol-135M", "BF16", 16.0, baseline=True)
        cand = add_submission(store, "Smol Q4", "Smol-135M", "Q4_K_M", 4.8)
        store.ids = (base, cand)  # type: ignore[attr-defined]
        yield store


def publisher(store: Store, hub: HubStandIn, folder: Path, **settings: object) -> Publisher:
    config = PublishSettings(repo_id=hub.repo_id, token=TOKEN, endpoint=hub.url,
                             backoff_s=0, **settings)  # type: ignore[arg-type]  # fmt: skip
    return Publisher(store, config, folder, sleep=lambda _: None)


async def test_a_batch_of_matches_is_one_commit_and_no_change_is_none(
    arena: Store, hub: HubStandIn, tmp_path: Path
) -> None:
    base, cand = arena.ids  # type: ignore[attr-defined]
    for seed in (1, 2, 3):
        await play(arena, seed, base, "HHHHHH", cand, "hMSTRH", {})
    pub = publisher(arena, hub, tmp_path / "mirror")
    first = pub.publish_once()
    assert first is not None and hub.commit_calls == 1 and len(hub.commits) == 1
    tables = [m.table for m in ROW_MODELS]
    assert set(hub.commits[0].paths) == {
        "README.md",
        *(f"data/{t}/{t}-00000.parquet" for t in tables),
    }
    assert pub.publish_once() is None  # same bytes: no commit at all
    assert hub.commit_calls == 1
    await play(arena, 4, cand, "HHHHHH", base, "HHHHHH", {})
    assert pub.publish_once() is not None and len(hub.commits) == 2
    changed = set(hub.commits[1].paths)
    assert "data/submissions/submissions-00000.parquet" not in changed  # unchanged files stay
    assert "data/turns/turns-00000.parquet" in changed


@pytest.mark.parametrize("status", [412, 429, 503])
async def test_a_refused_commit_is_retried_into_exactly_one(
    arena: Store, hub: HubStandIn, tmp_path: Path, status: int
) -> None:
    base, cand = arena.ids  # type: ignore[attr-defined]
    await play(arena, 1, base, "HHHHHH", cand, "hMSTRH", {})
    hub.faults.extend([status, status])
    assert publisher(arena, hub, tmp_path / "m").publish_once() is not None
    assert hub.commit_calls == 3 and len(hub.commits) == 1


async def test_a_concurrent_writer_is_not_overwritten(
    arena: Store, hub: HubStandIn, tmp_path: Path
) -> None:
    """Another writer commits between our read of the head and our commit: ours is refused
    (412, stale parent), then re-read and committed on top; their file survives."""
    base, cand = arena.ids  # type: ignore[attr-defined]
    await play(arena, 1, base, "HHHHHH", cand, "hMSTRH", {})
    pub = publisher(arena, hub, tmp_path / "m")
    real_info = pub.api.repo_info
    calls = {"n": 0}

    def racing_info(*args: object, **kwargs: object) -> object:
        info = real_info(*args, **kwargs)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] == 1:  # the other writer lands right after we read the head
            with hub.lock:
                hub.files["other.txt"] = b"theirs"
                hub.head = "f" * 40
        return info

    pub.api.repo_info = racing_info  # type: ignore[method-assign]
    assert pub.publish_once() is not None
    assert hub.commit_calls == 2 and len(hub.commits) == 1
    assert hub.commits[0].parent == "f" * 40 and hub.files["other.txt"] == b"theirs"


async def test_a_lost_answer_after_a_real_commit_is_not_committed_twice(
    arena: Store, hub: HubStandIn, tmp_path: Path
) -> None:
    base, cand = arena.ids  # type: ignore[attr-defined]
    await play(arena, 1, base, "HHHHHH", cand, "hMSTRH", {})
    hub.faults.append("drop")  # the commit is applied, the connection dies before the answer
    result = publisher(arena, hub, tmp_path / "m").publish_once()
    assert result is None  # the retry found the Hub already up to date
    assert hub.commit_calls == 1 and len(hub.commits) == 1


async def test_giving_up_after_the_last_attempt(
    arena: Store, hub: HubStandIn, tmp_path: Path
) -> None:
    base, cand = arena.ids  # type: ignore[attr-defined]
    await play(arena, 1, base, "HHHHHH", cand, "hMSTRH", {})
    hub.faults.extend([503] * 3)
    pub = publisher(arena, hub, tmp_path / "m", max_attempts=3)
    with pytest.raises(PublishError, match="HTTP 503"):
        pub.publish_once()
    assert hub.commits == [] and pub.last_error is not None and TOKEN not in pub.last_error
    assert "HTTP 503" in pub.status()


async def test_restore_from_the_hub_into_an_empty_database(
    arena: Store, hub: HubStandIn, tmp_path: Path
) -> None:
    base, cand = arena.ids  # type: ignore[attr-defined]
    for seed in (1, 2):
        await play(arena, seed, base, "HHHHHH", cand, "hMSTRH", {})
    pub = publisher(arena, hub, tmp_path / "mirror")
    pub.publish_once()
    with Store(tmp_path / "fresh.sqlite3") as fresh:
        restored = restore_from_hub(fresh, pub.settings, tmp_path / "download")
        assert restored is not None and restored["matches"] == 2
        assert fingerprint(tmp_path / "download" / "data") == fingerprint(
            tmp_path / "mirror" / "data"
        )
        fields = {"status", "status_reason"}
        got = [r.model_dump(exclude=fields) for r in leaderboard_rows(fresh)]
        assert got == [r.model_dump(exclude=fields) for r in leaderboard_rows(arena)]
        assert restore_from_hub(fresh, pub.settings, tmp_path / "again") is None  # not empty


def test_settings_from_env() -> None:
    assert publish_from_env({}) is None
    assert publish_from_env({"HF_TOKEN": "x"}) is None
    settings = publish_from_env(
        {"HF_TOKEN": "hf_x", "QER_RESULTS_REPO": "me/results", "QER_PUBLISH_INTERVAL_S": "60"}
    )
    assert settings is not None and settings.interval_s == 60 and "hf_x" not in repr(settings)
    with pytest.raises(ValueError, match="QER_RESULTS_REPO"):
        publish_from_env({"HF_TOKEN": "x", "QER_RESULTS_REPO": "no slash"})


async def test_stopping_pushes_what_changed_since_the_last_push(
    arena: Store, hub: HubStandIn, tmp_path: Path
) -> None:
    base, cand = arena.ids  # type: ignore[attr-defined]
    pub = publisher(arena, hub, tmp_path / "m", interval_s=3600)
    pub.start()
    await play(arena, 1, base, "HHHHHH", cand, "hMSTRH", {})
    pub.stop()
    assert len(hub.commits) == 1  # no interval passed: the push happened on stop
