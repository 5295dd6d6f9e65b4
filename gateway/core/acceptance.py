"""Idempotent acceptance: the key that tells a client's retry from a new message.

A client's queue sends a message again when it did not hear the gateway's answer. The
retry carries the same Message-ID, envelope and body (trace fields a relay adds on its way
may differ, so the header block as a whole is not part of the key unless the message has
no Message-ID). The key is a digest: it says nothing about the message itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.core.headers import HeaderBlock

# What the key is made of: a version, so that a change of recipe never matches old keys.
KEY_VERSION = "accept-1"


@dataclass(frozen=True, slots=True)
class AcceptanceKey:
    """The digest that identifies one message for idempotent acceptance."""

    digest: str
    message_id: str | None

    @property
    def generated_message_id_local(self) -> str:
        """The local part of the Message-ID the gateway adds when the message has none:
        derived from the key, so a retry gets the same one."""
        return f"sg.{self.digest[:32]}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def message_id_of(block: HeaderBlock) -> str | None:
    """The first Message-ID field's value, white space removed; None when absent or empty."""
    values = block.get_all("message-id")
    if not values:
        return None
    value = "".join(values[0].split())
    return value or None


def acceptance_key(block: HeaderBlock, data: bytes, sender: str,
                   recipients: Sequence[str]) -> AcceptanceKey:
    """The key of one submitted message: (Message-ID or, when it has none, a digest of its
    header block, sender, recipients, body digest).

    Addresses compare case-insensitively and recipients as a set: a retry that lists the
    same recipients in another order is the same message; another recipient is not.
    """
    message_id = message_id_of(block)
    # Without a Message-ID the whole message is the identity: the header block's digest here
    # and the body's below, which is one pass over a large body instead of two.
    identity = (message_id if message_id is not None
                else "head-sha256:" + _sha256(data[:block.body_start]))
    parts = [
        KEY_VERSION,
        identity,
        sender.strip().lower(),
        sorted({r.strip().lower() for r in recipients}),
        _sha256(data[block.body_start:]),
    ]
    canonical = json.dumps(parts, ensure_ascii=True, separators=(",", ":"))
    return AcceptanceKey(_sha256(canonical.encode("ascii")), message_id)
