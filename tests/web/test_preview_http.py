"""Thumbnails over ASGI: every bound (pixels, count, a bomb, a cut file), the refusals, and
the audit entry of each look."""

from __future__ import annotations

import io
import re
import time
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from gateway.adapters.accounts import add_user
from gateway.adapters.reviewers import reviewer_accounts, reviewers_path
from gateway.core.decision import decide
from gateway.core.message import read_message
from gateway.core.model import Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.core.stamps import read_stamps
from gateway.service.preview import MAX_THUMBNAILS
from gateway.service.review import Desk
from gateway.settings import Settings
from gateway.store.store import Store, new_held
from gateway.web.app import create_app
from tests.support import documents
from tests.support import photos as p
from tests.web.test_desk_pages import PASSWORD, log_in

PARTNER = "partner@outside.test"
ADJUST = "Needs adjustment: blur face\n\nThe visit."


@pytest.fixture
async def client(desk: Desk, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    add_user(reviewers_path(settings.data), "director@example.org", PASSWORD, [])
    app = create_app(desk, reviewer_accounts(settings.data))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://review.test") as made:
        yield made


async def hold_mail(store: Store, policy: Policy, data: bytes) -> str:
    """Hold ``data`` for the partner as the gateway would (the decision of its own text)."""
    decision = decide(policy, read_stamps(read_message(data), policy.vocabulary),
                      "bob@example.org", [parse_recipient(PARTNER)])
    assert decision.addresses(Verdict.HOLD) == (PARTNER,), decision.to_dict()
    record = new_held(queue_id="Q1", sender="bob@example.org", recipients=[PARTNER],
                      held=[PARTNER], decision=decision, size=len(data), message_id=None)
    return await store.hold(record, data)


def bomb_png(side: int = 12_000) -> bytes:
    """A PNG of ``side`` x ``side`` grey pixels that is a few hundred kilobytes on the wire."""
    row = b"\x00" + b"\x00" * side
    pixels = zlib.compress(row * side, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def thumbnails(page: str) -> list[str]:
    return re.findall(r'src="(/held/[^"]+/thumbnail)"', page)


def placeholders(page: str) -> list[str]:
    return re.findall(r'<div class="thumb none"[^>]*>cannot be shown<br>\((.*?)\)</div>', page)


async def test_bounds_give_placeholders_that_say_why(client: httpx.AsyncClient, store: Store,
                                                    policy: Policy) -> None:
    bomb, big = bomb_png(12_000), bomb_png(8_000)  # over Pillow's bomb guard; over 40 MP
    assert len(bomb) < 1_000_000
    small = p.photo("PNG", pixels=p.cat()[:64, :64])
    images = [("bomb.png", bomb), ("big.png", big),
              *((f"small-{n}.png", small) for n in range(MAX_THUMBNAILS - 1))]
    hold_id = await hold_mail(store, policy, p.mail_with(images, text=ADJUST,
                                                         content_type="image/png"))
    await log_in(client)
    started = time.process_time()
    page = (await client.get(f"/held/{hold_id}")).text
    assert time.process_time() - started < 5  # the bomb's pixels were never decoded
    assert placeholders(page) == [
        "too large to decode safely", "8000 x 8000 pixels, over the limit of 40 megapixels",
        f"not shown: more than {MAX_THUMBNAILS} images in one message"]
    assert len(thumbnails(page)) == MAX_THUMBNAILS - 2
    big_index = int(re.findall(r'/attachments/(\d+)"', page)[1])
    refused = await client.get(f"/held/{hold_id}/attachments/{big_index}/thumbnail")
    assert refused.status_code == 200 and refused.headers["content-type"].startswith(
        "image/svg+xml")
    assert b"over the limit of 40 megapixels" in refused.content
    shown = await client.get(thumbnails(page)[0])
    assert shown.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(shown.content)).size == (64, 64)  # never enlarged


async def test_refusals_and_one_audit_entry_an_hour(client: httpx.AsyncClient, store: Store,
                                                   policy: Policy) -> None:
    photo = p.photo("JPEG", exif_block=p.exif())
    hold_id = await hold_mail(store, policy, p.mail_with([("family.jpg", photo)], text=ADJUST))
    path = f"/held/{hold_id}/attachments/2/thumbnail"
    anonymous = await client.get(path)
    assert anonymous.status_code == 403 and anonymous.headers["cache-control"] == "no-store"
    await log_in(client)
    page = (await client.get(f"/held/{hold_id}")).text
    assert thumbnails(page) == [path]
    for _ in range(3):
        answer = await client.get(path)
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert Image.open(io.BytesIO(answer.content)).getexif() == {}
    assert (await client.get(f"/held/{hold_id}/attachments/1/thumbnail")).status_code == 404
    assert (await client.get(f"/held/{hold_id}/attachments/9/thumbnail")).status_code == 404
    assert (await client.get("/held/HNOSUCH/attachments/2/thumbnail")).status_code == 404
    views = [e["detail"]["what"] for e in await store.audit_entries(held_id=hold_id)
             if e["action"] == "view"]
    assert views.count("thumbnail of attachment 2") == 1
    assert "headers and text body" in views


async def test_the_page_names_the_documents_a_stamp_was_read_from(
        client: httpx.AsyncClient, store: Store, policy: Policy) -> None:
    data = documents.mail("Cleared for publication\n\nHi",
                          [("story.docx", documents.docx(["Needs adjustment: change name"]))],
                          to=PARTNER)
    hold_id = await hold_mail(store, policy, data)
    await log_in(client)
    page = (await client.get(f"/held/{hold_id}")).text
    assert re.search(r"<dt>Read from</dt><dd><ul class=\"sources\"><li>Needs adjustment: "
                     r"story\.docx, first line</li></ul></dd>", page)
    assert not thumbnails(page) and not placeholders(page)  # a document is no image
