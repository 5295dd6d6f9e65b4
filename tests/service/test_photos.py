"""The photo scan as the submit use case runs it: who triggers it, strip or hold, time bound."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

from gateway.core.photos import MetadataKind, PhotoLimits, PhotoPolicy
from gateway.core.policy import Policy
from gateway.core.recipients import Recipient, parse_recipient
from gateway.service.photos import inspect, may_carry_images
from tests.support import photos as p

GPS_MAIL = p.mail_with([("a.jpg", p.photo("JPEG", exif_block=p.exif())),
                        ("b.jpg", p.photo("JPEG", exif_block=p.exif()))])


def images(data: bytes) -> list[bytes]:
    message = message_from_bytes(data, policy=default)
    return [part.get_payload(decode=True) for part in message.walk()
            if part.get_content_maintype() == "image"]


def to(*addresses: str) -> list[Recipient]:
    return [parse_recipient(a, "+") for a in addresses]


def with_photos(policy: Policy, photos: PhotoPolicy) -> Policy:
    return policy.model_copy(update={"photos": photos})


async def test_colleagues_only_is_not_scanned(policy: Policy) -> None:
    scanned = await inspect(GPS_MAIL, policy, to("bob@example.org", "director@example.org"))
    assert scanned.findings == () and scanned.data == GPS_MAIL


async def test_one_outside_recipient_strips_for_the_whole_message(policy: Policy) -> None:
    scanned = await inspect(GPS_MAIL, policy, to("bob@example.org", "x@outside.test"))
    assert [f.stripped for f in scanned.findings] == [True, True]
    assert scanned.data != GPS_MAIL
    assert b"SN-0042" in b"".join(images(GPS_MAIL))
    assert b"SN-0042" not in b"".join(images(scanned.data))


async def test_hold_leaves_the_photo_as_it_came(policy: Policy) -> None:
    photos = PhotoPolicy.model_validate(
        {"metadata": {"external": "hold", "groups": {"communications": "hold"}}})
    scanned = await inspect(GPS_MAIL, with_photos(policy, photos), to("press@example.org"))
    assert scanned.data == GPS_MAIL
    assert all(f.metadata == frozenset(MetadataKind) and not f.stripped
               for f in scanned.findings)


async def test_over_time_every_photo_left_is_unread(policy: Policy) -> None:
    photos = PhotoPolicy(limits=PhotoLimits(seconds=0.001))
    scanned = await inspect(GPS_MAIL, with_photos(policy, photos), to("x@outside.test"))
    assert scanned.findings
    assert all("took longer than 0.001 s" in f.problem for f in scanned.findings[1:])


def test_only_a_single_text_part_skips_the_scan() -> None:
    assert not may_carry_images(b"Subject: x\r\n\r\nhello")
    assert not may_carry_images(b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello")
    assert may_carry_images(GPS_MAIL)
    assert may_carry_images(b"Content-Type: image/jpeg\r\n\r\n")
    # Two Content-Type fields: clients may pick either, so it is scanned.
    assert may_carry_images(b"Content-Type: text/plain\r\nContent-Type: multipart/mixed; "
                            b"boundary=x\r\n\r\n")
