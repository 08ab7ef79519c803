"""The UI's actions without gradio: the operator's checks (``arena/views/_actions.py``)."""

from __future__ import annotations

import pytest

from arena.engine import Store
from arena.views._actions import (
    NOT_OPERATOR,
    Services,
    is_operator,
    operator_action,
    operator_actor,
    operator_claims,
)
from submissions.keystore import KeyStore
from submissions.service import SubmissionService
from tests.arena.analysis.test_leaderboard import add_submission


def test_operators_are_the_allowlisted_users_and_the_token_holder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QER_ADMINS", "Alice, carol")
    monkeypatch.setenv("QER_ADMIN_TOKEN", "op-token")
    assert is_operator("alice", None) and is_operator("CAROL", "")  # usernames ignore case
    assert is_operator(None, " op-token ") and is_operator("mallory", "op-token")
    for user, token in (("mallory", None), (None, "op-tokeN"), (None, ""), ("", "wrong")):
        assert not is_operator(user, token)
    assert operator_actor("alice") == "operator (hf:alice)"
    assert operator_actor("mallory") == "operator (token)"
    monkeypatch.delenv("QER_ADMIN_TOKEN")
    assert not is_operator(None, "")  # no token configured: an empty one is no key


def test_a_stranger_sees_no_claim_and_changes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QER_ADMIN_TOKEN", "op-token")
    claim = add_submission(store, "B", "Smol", "BF16", 16.0, baseline=True, review="pending")
    services = Services(store, SubmissionService(store, KeyStore(None)))
    frame, said = operator_claims(services, "mallory", "nope")
    assert frame.empty and said == NOT_OPERATOR
    assert operator_action(services, "mallory", "nope", claim, "confirm", "") == NOT_OPERATOR
    assert "enter the submission number" in operator_action(
        services, None, "op-token", "x", "confirm", ""
    )
    long_note = operator_action(services, None, "op-token", claim, "confirm", "n" * 501)
    assert long_note.startswith("**Not done:**") and "500" in long_note
    frame, said = operator_claims(services, None, "op-token")
    assert list(frame["claim"]) == ["pending"] and said == "1 claim(s), 1 pending."
    done = operator_action(services, None, "op-token", claim, "confirm", "checked")
    assert done.startswith(f"Submission #{claim} is confirmed")
    assert list(operator_claims(services, None, "op-token")[0]["claim"]) == ["confirmed"]
