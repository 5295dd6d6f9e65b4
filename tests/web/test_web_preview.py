"""Thumbnails of held image attachments and the insight dashboard, in a real browser at a
phone's and a desktop's width, over a real gateway."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import re
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from gateway.store.store import Store, now
from tests.support import insight_seed as seeded
from tests.support import photos as p
from tests.support.downstream import Downstream
from tests.support.gateway import EXAMPLE_POLICIES, GatewayProcess
from tests.support.review_gateway import add_reviewer, cli, review_gateway, send_raw
from tests.web.test_web import OUTPUT, base, browser, log_in

__all__ = ["browser"]
PARTNER = "partner@outside.test"
WIDTHS = [390, 1280]
# A photo policy that holds identifying metadata for outside recipients: the held message
# keeps the photo exactly as sent, GPS and all, so the thumbnail is the only thing between
# the reviewer's browser and those fields.
HOLD_METADATA = """description = "Hold photos that say where they were taken."
[metadata]
external = "hold"
[faces]
external = "allow"
"""


def start(workdir: Path, downstream: Downstream, photos: str | None = None) -> GatewayProcess:
    policies = workdir / "policies"
    if photos is not None:
        shutil.copytree(EXAMPLE_POLICIES, policies)
        (policies / "photos.toml").write_text(photos)
    process = review_gateway(workdir, downstream).start()
    add_reviewer(process)
    return process


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    process = start(tmp_path_factory.mktemp("preview"), downstream, HOLD_METADATA)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def seeded_gateway(tmp_path_factory: pytest.TempPathFactory,
                   downstream: Downstream) -> Iterator[GatewayProcess]:
    process = start(tmp_path_factory.mktemp("insight"), downstream)

    async def fill() -> None:
        store = await Store.open(process.data)
        try:
            await seeded.seed(store, now())
        finally:
            await store.close()

    # Playwright's sync API runs an event loop in this thread: seed from another one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, fill()).result(timeout=60)
    yield process
    process.stop()


def watch_csp(page: Page) -> list[str]:
    """Every CSP violation the page reports, from the console and from the DOM event."""
    seen: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def no_exif(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0
    assert not {"exif", "icc_profile", "xmp", "comment", "photoshop"} & set(image.info)
    assert b"Exif\x00\x00" not in jpeg and b"http://ns.adobe.com/xap" not in jpeg
    return image


@pytest.mark.parametrize("width", WIDTHS)
def test_held_photo_is_shown_as_a_clean_thumbnail(browser: Browser, gateway: GatewayProcess,
                                                  width: int) -> None:
    original = p.photo("JPEG", exif_block=p.exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # GPS, as sent
    data = p.mail_with([("family.jpg", original), ("broken.jpg", b"not an image at all")],
                       subject=f"Visit photos {width}")
    hold_id = send_raw(gateway, data, (PARTNER,))
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        problems = watch_csp(page)
        log_in(page, gateway, f"/held/{hold_id}")
        expect(page.get_by_role("heading", name=f"Held message {hold_id}")).to_be_visible()
        thumb = page.get_by_alt_text("thumbnail of family.jpg")
        expect(thumb).to_be_visible()
        thumb.scroll_into_view_if_needed()  # drawn when it comes into view (lazy)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=thumb.element_handle(), timeout=10_000)
        item = page.locator("ul.attachments > li", has=thumb)
        expect(item.locator("ul.findings")).to_have_text(
            "photo family.jpg: carries location, device serial, owner name; "
            "1 face(s), 1 still sharp")
        broken = page.locator("ul.attachments > li", has_text="broken.jpg")
        expect(broken.get_by_role("img", name="broken.jpg: cannot be shown")).to_contain_text(
            "cannot be shown")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"preview-{width}.png"), full_page=True)

        source = thumb.get_attribute("src")
        assert source is not None and source.endswith("/thumbnail")
        answer = page.request.get(base(gateway) + source)
        assert answer.status == 200
        assert answer.headers["content-type"] == "image/jpeg"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        body = answer.body()
        assert body != original and original not in body
        shown = no_exif(body)
        assert max(shown.size) <= 320
        assert problems == []

        stranger = browser.new_context()
        try:
            refused = stranger.request.get(base(gateway) + source, max_redirects=0)
            assert refused.status == 403
            assert not refused.body().startswith(b"\xff\xd8")
        finally:
            stranger.close()
        audit = json.loads(cli(gateway, "audit", "--json", "--held", hold_id).stdout)
        views = [a["detail"]["what"] for a in audit if a["action"] == "view"]
        index = source.split("/")[-2]
        assert f"thumbnail of attachment {index}" in views
    finally:
        context.close()


def test_an_image_that_fails_to_decode_gets_the_placeholder(browser: Browser,
                                                          gateway: GatewayProcess) -> None:
    whole = p.photo("JPEG", exif_block=p.exif(gps=True, serial=False, owner=False))
    cut = whole[:len(whole) // 2]  # its header reads; its pixels stop halfway
    hold_id = send_raw(gateway, p.mail_with([("cut.jpg", cut)], subject="Cut photo"),
                       (PARTNER,))
    context = browser.new_context()
    try:
        page = context.new_page()
        log_in(page, gateway, f"/held/{hold_id}")
        thumb = page.get_by_alt_text("thumbnail of cut.jpg")
        expect(thumb).to_be_visible()
        answer = page.request.get(base(gateway) + (thumb.get_attribute("src") or ""))
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("image/svg+xml")
        assert answer.headers["x-stampgate-thumbnail"] == "unavailable"
        assert b"cannot be shown" in answer.body() and b"<script" not in answer.body()
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_dashboard_shows_the_seeded_figures(browser: Browser, seeded_gateway: GatewayProcess,
                                            width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        problems = watch_csp(page)
        log_in(page, seeded_gateway)
        page.get_by_role("link", name="Insight").click()
        expect(page.get_by_role("heading", name="Insight: the last 30 days")).to_be_visible()
        page.wait_for_load_state("load")
        expect(page.locator("#held-total")).to_have_text(str(seeded.HELD_TOTAL))
        expect(page.locator("#median")).to_have_text(seeded.MEDIAN)
        expect(page.locator("#expiring-total")).to_have_text(str(seeded.EXPIRING))
        stamps = page.locator("table.by-stamp")
        labels = stamps.locator("thead th").all_inner_texts()[1:-1]
        totals = stamps.locator("tfoot td").all_inner_texts()
        assert dict(zip(labels, map(int, totals[:-1]), strict=True)) == seeded.BY_STAMP
        assert int(totals[-1]) == seeded.HELD_TOTAL
        rules = {row.locator("th").inner_text(): int(row.locator("td").inner_text())
                 for row in page.locator("table.top-rules tbody tr").all()}
        assert rules == seeded.TOP_RULES
        expiring = page.locator("table.expiring tbody tr")
        expect(expiring).to_have_count(seeded.EXPIRING)
        for name in ("Held per day by stamp, last 30 days", "Held per day by rule, last 30 days",
                     "Rules that held most, last 30 days"):
            expect(page.get_by_role("img", name=name)).to_be_visible()  # its <title>
        bars = page.locator("svg#by-stamp rect")
        assert bars.count() == 7  # a segment per stamp and day with holds
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.locator("script").count() == 0
        assert problems == []
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"insight-{width}.png"), full_page=True)
    finally:
        context.close()


def test_metrics_carry_the_same_figures(seeded_gateway: GatewayProcess) -> None:
    with urllib.request.urlopen(base(seeded_gateway) + "/metrics", timeout=10) as answer:
        text = answer.read().decode()

    def value(name: str) -> float:
        found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        assert found, name
        return float(found.group(1))

    assert value('stampgate_held_30d{stamp="needs_adjustment"}') == 6
    assert value('stampgate_held_30d{stamp="none"}') == 1
    assert value(f'stampgate_held_30d_by_rule{{rule="{seeded.EXT}"}}') == 5
    assert value("stampgate_decisions_30d") == seeded.DECIDED
    assert value("stampgate_decision_median_seconds") == 7 * 3600
    assert value("stampgate_held_expiring_soon") == seeded.EXPIRING
    assert value('stampgate_held_today{stamp="confidential"}') == 1
    assert value('stampgate_held_today_by_rule{rule="unstamped.external"}') == 1
    assert f'stampgate_held_today_by_rule{{rule="{seeded.EXT}"}}' not in text
