"""Hugging Face login on a Space, in a real browser, against a stand-in OpenID provider.

``python app.py`` runs as on a Space with ``hf_oauth: true`` (``SPACE_ID``, ``OAUTH_CLIENT_ID``
...), its login going to :mod:`tests.oauth_standin` on 127.0.0.1 through Gradio's own OAuth
routes (authlib, the signed ID token, the session cookie). Logged in as alice, the owner pauses
her own submission without a token and cannot pause bob's; as an operator (``QER_ADMINS``) she
confirms bob's baseline claim in the Operator tab. Screenshots in test-artifacts/screenshots.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arena.engine import Store
from tests.arena.analysis.test_leaderboard import add_submission
from tests.integration.conftest import ARTIFACTS, AppProcess
from tests.integration.test_app_e2e import SHOTS, loopback_page, open_tab
from tests.oauth_standin import OAuthStandIn

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@pytest.fixture(scope="module")
def provider() -> Iterator[OAuthStandIn]:
    standin = OAuthStandIn(user="alice").start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def space(provider: OAuthStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data = tmp_path_factory.mktemp("space-data")
    store = Store(data / "arena.sqlite3")
    alice = add_submission(store, "Alice Q4", "Smol", "Q4_0", 4.5)
    bob = add_submission(store, "Bob BF16", "Smol", "BF16", 16.0, baseline=True, review="pending")
    # owners are the accounts' stable ids (the stand-in's "sub"), not their usernames
    store.write(lambda db: db.executemany(
        "UPDATE submissions SET owner = ? WHERE id = ?", [("id-alice", alice), ("id-bob", bob)]
    ))  # fmt: skip
    store.close()
    log = ARTIFACTS / "app-login.log"
    log.unlink(missing_ok=True)
    app = AppProcess(data, log, QER_ADMINS="Alice", QER_DATA_DIR=str(data),
                     **provider.space_env())  # fmt: skip
    app.args = ["--no-scheduler"]  # nothing plays: the statuses are the owners' alone
    app.start()
    yield app, alice, bob
    app.stop()


def status_of(app: AppProcess, submission_id: int) -> tuple[str, str | None]:
    with sqlite3.connect(app.data_dir / "arena.sqlite3") as db:
        row = db.execute(
            "SELECT status, baseline_review FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
    return row[0], row[1]


def test_a_logged_in_owner_pauses_their_own_submission_and_not_anothers(
    space: Any, provider: OAuthStandIn
) -> None:
    app, alice, bob = space
    expect = playwright.expect
    with loopback_page(app.url) as page:
        page.get_by_role("button", name="Sign in with Hugging Face").click()
        expect(page.get_by_role("button", name="Logout (alice)")).to_be_visible()
        assert provider.logins == ["alice"]

        open_tab(page, "Submit")
        page.get_by_text("Manage my submission").click()
        number = page.get_by_label("Submission #").first
        result = page.locator("#submit-tab-manage-result")
        number.fill(str(alice))
        page.get_by_role("button", name="Apply").first.click()
        expect(result).to_contain_text(f"Submission #{alice} is now paused")
        assert status_of(app, alice)[0] == "paused"
        number.fill(str(bob))
        page.get_by_role("button", name="Apply").first.click()
        expect(result).to_contain_text("unknown submission or wrong token")
        page.screenshot(path=str(SHOTS / "login-owner.png"), full_page=True)
        assert status_of(app, bob)[0] == "active"

        open_tab(page, "Operator")  # alice is in QER_ADMINS: no token needed
        page.get_by_role("button", name="Show baseline claims").click()
        claims = page.locator("#operator-claims")
        expect(claims).to_contain_text("Bob BF16")
        expect(claims).to_contain_text("pending")
        tab = page.locator("#operator-tab")
        tab.get_by_label("Submission #").fill(str(bob))
        tab.get_by_label("Why (kept in the claim's history)").fill("BF16 per the server")
        tab.get_by_role("button", name="Apply").click()
        expect(page.locator("#operator-result")).to_contain_text(f"Submission #{bob} is confirmed")
        expect(claims).to_contain_text("confirmed")
        page.screenshot(path=str(SHOTS / "login-operator.png"), full_page=True)
        assert status_of(app, bob) == ("active", "confirmed")
    with sqlite3.connect(app.data_dir / "arena.sqlite3") as db:
        actor = db.execute(
            "SELECT actor FROM baseline_reviews WHERE submission_id = ? AND action = 'confirm'",
            (bob,),
        ).fetchone()
    assert actor == ("operator (hf:alice)",)
    assert "Traceback" not in Path(app.log_path).read_text()
