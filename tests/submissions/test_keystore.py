"""API keys at rest: encrypted, refused without a configured secret, never in plain bytes."""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from submissions.keystore import SECRET_ENV, KeyStore, KeyStoreError

ROOT = Path(__file__).resolve().parents[2]


def test_round_trip_and_no_plain_or_encoded_key_in_the_ciphertext() -> None:
    store = KeyStore(Fernet.generate_key().decode())
    canary = f"sk-CANARY-{uuid.uuid4()}"
    token = store.encrypt(SecretStr(canary))
    assert store.decrypt(token).get_secret_value() == canary
    for form in (
        canary.encode(),
        base64.b64encode(canary.encode()),
        canary.encode().hex().encode(),
    ):
        assert form not in token
    assert store.encrypt(SecretStr(canary)) != token  # a fresh IV every time


def test_without_a_secret_keys_are_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    store = KeyStore.from_env()
    assert not store.enabled
    with pytest.raises(KeyStoreError, match=f"has not set {SECRET_ENV}"):
        store.encrypt(SecretStr("sk-x"))


def test_a_bad_or_rotated_secret_is_a_clear_error() -> None:
    with pytest.raises(KeyStoreError, match="not a valid Fernet key"):
        KeyStore("not-a-key")
    token = KeyStore(Fernet.generate_key().decode()).encrypt(SecretStr("sk-x"))
    with pytest.raises(KeyStoreError, match="rotated"):
        KeyStore(Fernet.generate_key().decode()).decrypt(token)


def test_the_module_prints_a_usable_new_secret() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "submissions.keystore"], cwd=ROOT, capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    assert KeyStore(done.stdout.strip()).enabled
