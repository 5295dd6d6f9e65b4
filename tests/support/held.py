"""Helpers for the review tests: a real store with messages held by the real decision."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.adapters import crypto
from gateway.core.decision import ThreadContext, decide
from gateway.core.message import read_message
from gateway.core.model import Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.stamps import read_stamps
from gateway.policyfiles.load import load_policy
from gateway.settings import Settings
from gateway.store.store import Store
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
               thread: ThreadContext | None = None, sealed: bool = False) -> str:
    """Decide a real message and hold it the way the SMTP edge does; returns the hold id.

    ``sealed``: store the body sealed with the configured master key (``crypto.configure``).
    """
    data = message(f"{first_line}\n\nA client's story.\n", sender=sender,
                   to=", ".join(recipients), message_id=message_id)
    parsed = [parse_recipient(r) for r in recipients]
    decision = decide(policy, read_stamps(read_message(data), policy.vocabulary), sender,
                      parsed, thread)
    held = [r.address for r in decision.recipients if r.verdict is Verdict.HOLD]
    assert held, decision.to_dict()
    return await store.hold(queue_id="Q1", sender=sender, recipients=list(recipients),
                            held=held, decision=decision,
                            content=crypto.seal(data) if sealed else data,
                            message_id=message_id or "<generated@stampgate.localdomain>")
