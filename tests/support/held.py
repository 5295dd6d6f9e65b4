"""Helpers for the review tests: a real store with messages held by the real decision."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.adapters.crypto import BodySealer, Sealed
from gateway.core.decision import ThreadContext, decide
from gateway.core.message import read_message
from gateway.core.model import Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.stamps import read_stamps
from gateway.policyfiles.load import load_policy
from gateway.service.review import Desk
from gateway.settings import Settings, held_sealer
from gateway.store.store import Store, new_held
from gateway.store.threads import ThreadMemory
from tests.support.gateway import EXAMPLE_POLICIES, message

ADJUST = "Needs adjustment in 2 ways: blur face, change name"


def example_policy() -> Policy:
    return load_policy(EXAMPLE_POLICIES)


def settings_for(data: Path, **values: object) -> Settings:
    base: dict[str, object] = {"data": data, "policies": EXAMPLE_POLICIES,
                               "downstream": "smtp://127.0.0.1:1",
                               "outbox_retry_seconds": 0.05, "outbox_retry_max_seconds": 0.2,
                               "outbox_poll_seconds": 0.05}
    return Settings.model_validate({**base, **values})


async def hold(store: Store, policy: Policy, first_line: str = ADJUST,
               recipients: Sequence[str] = ("partner@outside.test",),
               sender: str = "alice@example.org", message_id: str | None = None,
               thread: ThreadContext | None = None, sealer: BodySealer | None = None,
               subject: str = "Case update") -> str:
    """Decide a real message and hold it the way ``service.submit`` does; returns the hold id.

    ``sealer``: store the body sealed by it.
    """
    data = message(f"{first_line}\n\nA client's story.\n", sender=sender, subject=subject,
                   to=", ".join(recipients), message_id=message_id, unique=False)
    parsed = [parse_recipient(r) for r in recipients]
    decision = decide(policy, read_stamps(read_message(data), policy.vocabulary), sender,
                      parsed, thread)
    held = [r.address for r in decision.recipients if r.verdict is Verdict.HOLD]
    assert held, decision.to_dict()
    sealed = (sealer.seal(data, subject.encode()) if sealer is not None
              else Sealed(data, subject.encode(), None))
    record = new_held(queue_id="Q1", sender=sender, recipients=list(recipients), held=held,
                      decision=decision, size=len(sealed.body),
                      message_id=message_id or "<generated@stampgate.localdomain>",
                      subject=sealed.subject)
    key = sealed.key
    return await store.hold(record, sealed.body,
                            key=(key.key_id, key.wrapped) if key is not None else None)


def desk_for(store: Store, settings: Settings, policy: Policy,
             sealer: BodySealer | None = None) -> Desk:
    """The desk a process builds over ``store`` (no master key unless ``sealer`` is given)."""
    return Desk(store, settings, lambda: policy, sealer or held_sealer(settings),
                ThreadMemory(store.path, store.write))
