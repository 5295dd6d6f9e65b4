"""The fields the gateway adds at the top of what it relays: Received, X-Stamp and the rest."""

from __future__ import annotations

import email.utils

from gateway.adapters import signing
from gateway.core.decision import Decision
from gateway.service import photos
from gateway.service.outcome import Incoming
from gateway.settings import Settings


def trace_fields(settings: Settings, incoming: Incoming, queue_id: str, decision: Decision,
                 message_id: str, add_message_id: bool) -> list[tuple[str, str]]:
    """The fields the gateway adds to what it relays: Received, X-Stamp and the rest."""
    helo = (incoming.helo or "unknown").replace("\r", "").replace("\n", "")[:100]
    received = (f"from {helo} ([{incoming.peer}])\r\n\tby {settings.hostname} "
                f"(stampgate) with ESMTP id {queue_id};\r\n\t"
                f"{email.utils.formatdate(localtime=False)}")
    stamp = decision.stamp.value if decision.stamp else "none"
    trace = [("Received", received), ("X-Stamp", stamp)]
    if add_message_id:
        trace.append(("Message-ID", message_id))
    stripped = photos.stripped_header(decision.photos)
    if stripped:
        trace.append(("X-Stampgate-Photos", stripped))
    if settings.stamp_signing_key is not None:
        trace.append(signing.signature_field(
            signing.resolve_key(settings.stamp_signing_key.get_secret_value()),
            queue_id, stamp, message_id))
    return trace
