"""The review UI for photos, in a real browser: findings shown, sharp faces need an override."""

from __future__ import annotations

import json

from playwright.sync_api import BrowserContext, expect

from tests.support import photos as p
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess
from tests.support.review_gateway import cli, send_raw, wait_for
from tests.web.test_web import browser, context, gateway, log_in

__all__ = ["browser", "context", "gateway"]
COMMS = "press@example.org"


def test_sharp_faces_are_shown_and_released_only_with_an_override(
        context: BrowserContext, gateway: GatewayProcess, downstream: Downstream) -> None:
    data = p.mail_with([("family.jpg", p.photo("JPEG", exif_block=p.exif()))],
                       text="Needs adjustment: blur face\n\nThe visit.", to=COMMS)
    hold_id = send_raw(gateway, data, (COMMS,))
    page = context.new_page()
    log_in(page, gateway, f"/held/{hold_id}")
    expect(page.locator("ul.photos")).to_contain_text(
        "photo family.jpg: stripped location, device serial, owner name; "
        "1 face(s), 1 still sharp")
    page.get_by_label("blur face").check()
    override = page.get_by_label("Faces still look sharp: release anyway because (audit log)")
    page.get_by_role("button", name="Release", exact=True).click()
    # The browser will not send the form without the override; nothing was decided.
    assert json.loads(cli(gateway, "held", "show", hold_id, "--json").stdout)["state"] == "held"
    override.fill("the client wants to be recognised")
    page.get_by_role("button", name="Release", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Released {hold_id} to {COMMS}")
    wait_for(downstream, COMMS)
    shown = json.loads(cli(gateway, "held", "show", hold_id, "--json").stdout)
    released = next(h for h in shown["history"] if h["action"] == "released")
    assert released["actor"] == "director@example.org"
    assert released["detail"]["override"] == "the client wants to be recognised"


def test_a_forged_release_without_the_override_is_refused(
        context: BrowserContext, gateway: GatewayProcess) -> None:
    data = p.mail_with([("family.png", p.photo("PNG"))],
                       text="Needs adjustment: blur face\n\nThe visit.", to=COMMS)
    hold_id = send_raw(gateway, data, (COMMS,))
    page = context.new_page()
    log_in(page, gateway, f"/held/{hold_id}")
    page.get_by_label("blur face").check()
    page.evaluate("document.querySelector('input[name=override]').removeAttribute('required')")
    page.get_by_role("button", name="Release", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Faces still look sharp (family.png")
    expect(alert).not_to_contain_text("--override")  # the UI's words, not the CLI's
    assert json.loads(cli(gateway, "held", "show", hold_id, "--json").stdout)["state"] == "held"
