"""A stored submission made ready to play: read and decrypt it, guard its URL again (DNS may have
changed since intake) and check that its endpoint still serves the model."""

from __future__ import annotations

import asyncio
import json

from pydantic import SecretStr

from arena.client import ChatClient, ClientLimits, EndpointError
from arena.engine import ContestantSpec, Store
from submissions.keystore import KeyStore, KeyStoreError
from submissions.ssrf import Resolver, URLRefused, check_url, pinned_transport

PRECHECK_TIMEOUT_S = 15.0
"""How long ``GET /v1/models`` may take before a match."""


class Unplayable(RuntimeError):
    """A submission that cannot play now; ``reason`` is shown with it."""

    def __init__(self, reason: str, *, at_fault: bool, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.at_fault = at_fault
        """The submission's own endpoint or key is the cause (it counts as its failure)."""
        self.permanent = permanent
        """Retrying cannot help (the submission is paused, deleted or its key unreadable)."""


def load_contestant(store: Store, keystore: KeyStore, submission_id: int) -> ContestantSpec:
    """An active submission as a match plays it, its API key decrypted."""
    rows = store.query("SELECT * FROM submissions WHERE id = ?", (submission_id,))
    if not rows or rows[0]["status"] != "active":
        state = rows[0]["status"] if rows else "missing"
        raise Unplayable(f"submission #{submission_id} is {state}", at_fault=False, permanent=True)
    row = rows[0]
    key: SecretStr | None = None
    if row["api_key_encrypted"] is not None:
        try:
            key = keystore.decrypt(row["api_key_encrypted"])
        except KeyStoreError as exc:
            raise Unplayable(
                f"submission #{submission_id}: {exc}", at_fault=True, permanent=True
            ) from None
    return ContestantSpec(
        base_url=row["base_url"],
        model=row["model"],
        api_key=key,
        base_model=row["base_model"],
        quant=row["quant"],
        bits_per_weight=row["bits_per_weight"],
        sampling=json.loads(row["sampling"]),
        submission_id=submission_id,
        context_tokens=row["context_tokens"],
    )


async def connect(
    contestant: ContestantSpec,
    *,
    resolver: Resolver,
    allow_private: bool,
    deadline_s: float,
) -> ChatClient:
    """A client pinned to the address the SSRF guard validates now."""
    label = f"submission #{contestant.submission_id}"
    try:
        target = await check_url(
            contestant.base_url, resolver=resolver, allow_private=allow_private
        )
    except URLRefused as exc:
        raise Unplayable(f"{label}: endpoint URL refused: {exc.reason}", at_fault=True) from None
    key = contestant.api_key.get_secret_value() if contestant.api_key else None
    return ChatClient(
        target.url,
        api_key=key,
        limits=ClientLimits(deadline_s=deadline_s),
        transport=pinned_transport(target),
    )


async def check_alive(
    client: ChatClient, contestant: ContestantSpec, timeout_s: float = PRECHECK_TIMEOUT_S
) -> None:
    """``GET /v1/models`` before a match, so a dead endpoint costs no match (and its opponent no
    time)."""
    label = f"submission #{contestant.submission_id}"
    try:
        models = await asyncio.wait_for(client.list_models(), timeout_s)
    except (EndpointError, TimeoutError) as exc:
        reason = str(exc) or "no answer in time"
        raise Unplayable(
            f"{label}: endpoint unreachable before the match: {reason}", at_fault=True
        ) from None
    if contestant.model not in models:
        raise Unplayable(
            f"{label}: the endpoint no longer serves {contestant.model!r}", at_fault=True
        )
