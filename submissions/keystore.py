"""API keys at rest: encrypted with Fernet under a secret from the environment, never shown back.

The operator sets ``QER_SECRET_KEY`` (a Fernet key: ``python -m submissions.keystore`` prints a new
one). Without it the app still runs, but refuses to accept API keys, saying why: storing them in
plain text is never an option. Decryption happens only where a match is about to call the
endpoint; the ciphertext is what the database holds.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from arena.settings import current

SECRET_ENV = "QER_SECRET_KEY"  # noqa: S105 - the name of the variable, not a secret


class KeyStoreError(RuntimeError):
    """Keys cannot be stored or read: no secret configured, or a wrong/rotated one."""


class KeyStore:
    """Encrypts and decrypts endpoint API keys with one Fernet key."""

    def __init__(self, secret: str | None) -> None:
        self._fernet: Fernet | None = None
        if secret:
            try:
                self._fernet = Fernet(secret.encode())
            except (ValueError, TypeError) as exc:
                raise KeyStoreError(
                    f"{SECRET_ENV} is not a valid Fernet key (32 url-safe base64-encoded bytes); "
                    "make one with: python -m submissions.keystore"
                ) from exc

    @classmethod
    def from_env(cls) -> KeyStore:
        """The key store of ``QER_SECRET_KEY`` (read through ``arena.settings``)."""
        secret = current().intake.secret_key
        return cls(secret.get_secret_value() if secret is not None else None)

    @property
    def enabled(self) -> bool:
        """Whether API keys can be accepted."""
        return self._fernet is not None

    def _require(self) -> Fernet:
        if self._fernet is None:
            raise KeyStoreError(
                "this server cannot accept API keys: its operator has not set "
                f"{SECRET_ENV}, and keys are never stored unencrypted"
            )
        return self._fernet

    def encrypt(self, key: SecretStr) -> bytes:
        """The ciphertext to store (fresh IV each time: equal keys give different bytes)."""
        return self._require().encrypt(key.get_secret_value().encode())

    def decrypt(self, token: bytes) -> SecretStr:
        try:
            return SecretStr(self._require().decrypt(token).decode())
        except InvalidToken:
            raise KeyStoreError(
                f"a stored API key cannot be decrypted with the current {SECRET_ENV} "
                "(was it rotated?); the owner must enter the key again"
            ) from None


if __name__ == "__main__":
    print(Fernet.generate_key().decode())
