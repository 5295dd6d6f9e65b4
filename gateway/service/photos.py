"""Photos on their way to communications or outside: scanned off the event loop, in time.

Only a message with a recipient the photo policy guards is scanned (inside the organisation
none of it applies). The scan runs in a thread, since Pillow and OpenCV release the
interpreter lock while they decode and detect; a scan over the policy's seconds fails
closed: every photo of the message counts as unread, so it is held for those recipients.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.adapters.images.scan import Scan, scan
from gateway.core.photos import PhotoAction, PhotoFinding, kinds_text
from gateway.core.photos import stripped_header as stripped_header
from gateway.core.policy import Policy
from gateway.core.recipients import Recipient
from gateway.logs import get_logger
from gateway.store.store import Store

log = get_logger()

# A message whose top-level type is text (or not given) is one text part: no client shows an
# image in it, so it skips the MIME parse (the common case, and the benchmark's).
_TOP_TEXT = re.compile(rb"(?im)^content-type:[ \t]*(?:\r?\n[ \t]+)?text/")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def may_carry_images(data: bytes) -> bool:
    """False only for a message that is a single text part (one Content-Type, of text, or
    none at all)."""
    end = _HEADER_END.search(data)
    head = data[:end.start()] if end else data
    fields = len(re.findall(rb"(?im)^content-type[ \t]*:", head))
    if fields == 0:
        return False
    return fields > 1 or _TOP_TEXT.search(head) is None


@dataclass(frozen=True, slots=True)
class Audience:
    """What the photo policy asks for this message's recipients."""

    guarded: bool  # someone outside, or in a group that gets only what may go outside
    strip: bool  # someone whose policy strips metadata


def audience(policy: Policy, recipients: Sequence[Recipient]) -> Audience:
    photos = policy.photos
    guards = set(policy.organisation.register_guards) | photos.guarded_groups()
    guarded = strip_any = False
    for recipient in recipients:
        groups = policy.groups_of(recipient.key, recipient.domain)
        outside = not policy.is_organisation(recipient.domain)
        if not outside and not guards & groups:
            continue
        guarded = True
        action = photos.metadata_action(groups, outside) or PhotoAction.STRIP
        strip_any = strip_any or action is PhotoAction.STRIP
    return Audience(guarded, strip_any)


async def inspect(data: bytes, policy: Policy, recipients: Sequence[Recipient]) -> Scan:
    """The photos of one message for these recipients; the bytes to send on."""
    wanted = audience(policy, recipients)
    if not wanted.guarded or not may_carry_images(data):
        return Scan((), data)
    limits = policy.photos.limits
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(scan, data, limits, wanted.strip, True), limits.seconds + 1)
    except TimeoutError:
        late = PhotoFinding("(all images)", "",
                            problem=f"reading images took longer than {limits.seconds:g} s")
        return Scan((late,), data)
    except Exception as exc:  # the message could not be taken apart: fail closed, log why
        log.exception("photo-scan-error")
        return Scan((PhotoFinding("(all images)", "", problem=f"images could not be read "
                                                              f"({type(exc).__name__})"),), data)


async def record_stripped(store: Store, queue_id: str, message_id: str, hold_id: str | None,
                          stripped: Sequence[PhotoFinding]) -> None:
    """The audit entry for a rewritten message: which kinds of field left which format.
    A failure is logged, not raised: the message itself was already delivered or held."""
    detail = {"queue_id": queue_id, "message_id": message_id,
              "photos": [{"format": f.format, "stripped": kinds_text(f.metadata)}
                         for f in stripped]}
    try:
        await store.audit("stampgate", "photo-metadata-stripped", hold_id, detail)
    except Exception:
        log.exception("store-error", queue_id=queue_id, during="photo audit")
