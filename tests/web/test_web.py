"""The review UI in a real browser (Debian's chromium driven by Playwright) over a real gateway."""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support.downstream import Downstream, free_port
from tests.support.gateway import GatewayProcess
from tests.support.review_gateway import (
    PASSWORD,
    SUBJECT,
    add_reviewer,
    cli,
    review_gateway,
    send_held,
    send_raw,
    wait_for,
)

PARTNER = "partner@outside.test"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class Site(http.server.ThreadingHTTPServer):
    """A loopback HTTP server that records every request and serves ``page`` at ``/page``."""

    def __init__(self, page: str = "") -> None:
        self.hits: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if page and self.path == "/page":
                    body = page.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                site.hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                return

        super().__init__(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    process = review_gateway(tmp_path_factory.mktemp("review-web"), downstream).start()
    add_reviewer(process)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context()
    yield made
    made.close()


def base(gateway: GatewayProcess) -> str:
    return f"http://127.0.0.1:{gateway.web_port}"


def log_in(page: Page, gateway: GatewayProcess, target: str = "/") -> None:
    page.goto(base(gateway) + target)
    page.get_by_label("Login").fill("director@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def state_of(gateway: GatewayProcess, hold_id: str) -> str:
    shown = cli(gateway, "held", "show", hold_id, "--json")
    return str(json.loads(shown.stdout)["state"])


def test_rejected_login(context: BrowserContext, gateway: GatewayProcess) -> None:
    page = context.new_page()
    page.goto(base(gateway) + "/")
    expect(page).to_have_url(base(gateway) + "/login?next=%2F")
    page.get_by_label("Login").fill("director@example.org")
    page.get_by_label("Password").fill("not the password at all")
    with page.expect_response(lambda r: r.url.endswith("/login")) as answer:
        page.get_by_role("button", name="Log in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_contain_text("Wrong login or password")
    page.goto(base(gateway) + "/")
    expect(page).to_have_url(base(gateway) + "/login?next=%2F")


def test_log_in_tick_adjustments_release(context: BrowserContext, gateway: GatewayProcess,
                                         downstream: Downstream) -> None:
    hold_id = send_held(gateway)
    page = context.new_page()
    log_in(page, gateway)
    expect(page.get_by_role("heading", name="Held messages")).to_be_visible()
    page.get_by_role("link", name=hold_id).click()
    expect(page.get_by_role("heading", name=f"Held message {hold_id}")).to_be_visible()
    expect(page.locator("pre.body")).to_contain_text("Amira crossed the border in March.")
    expect(page.locator("dl")).to_contain_text("needs_adjustment.external")
    expect(page.locator(".decide")).to_contain_text("the stamp says 2")
    release = page.get_by_role("button", name="Release", exact=True)
    release.click()  # unticked: the browser refuses to submit (and the server would too)
    expect(page).to_have_url(base(gateway) + f"/held/{hold_id}")
    assert state_of(gateway, hold_id) == "held"
    page.get_by_label("blur face").check()
    page.get_by_label("change name").check()
    release.click()
    expect(page.get_by_role("status")).to_contain_text(f"Released {hold_id} to {PARTNER}")
    [delivered] = wait_for(downstream, PARTNER)
    assert b"Amira crossed the border in March." in delivered.data
    assert state_of(gateway, hold_id) == "released"
    expect(page).to_have_url(base(gateway) + "/")  # nothing else is held: back to the queue
    page.goto(base(gateway) + f"/held/{hold_id}")
    expect(page.locator(".history")).to_contain_text("release-delivered")

    headers = page.request.get(base(gateway) + f"/held/{hold_id}").headers
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "http" not in policy
    assert headers["referrer-policy"] == "no-referrer"
    [cookie] = context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_release_to_a_subset_and_a_second_decision(context: BrowserContext,
                                                   gateway: GatewayProcess,
                                                   downstream: Downstream) -> None:
    hold_id = send_held(gateway, recipients=("bob@example.org", "press@example.org", PARTNER))
    page = context.new_page()
    log_in(page, gateway, f"/held/{hold_id}")
    stale = context.new_page()
    stale.goto(base(gateway) + f"/held/{hold_id}")
    page.get_by_label("press@example.org", exact=True).uncheck()
    page.get_by_label("blur face").check()
    page.get_by_label("change name").check()
    page.get_by_role("button", name="Release", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Released {hold_id} to {PARTNER}")
    stale.get_by_label("Reason, sent to the sender").fill("No.")
    stale.get_by_role("button", name="Reject").click()
    expect(stale.get_by_role("alert")).to_contain_text(
        f"{hold_id} was already decided: released by director@example.org")
    [delivered] = wait_for(downstream, PARTNER)
    assert delivered.recipients == [PARTNER]
    assert not downstream.delivered_to("press@example.org")


def test_forged_posts_fail(context: BrowserContext, gateway: GatewayProcess) -> None:
    hold_id = send_held(gateway)
    page = context.new_page()
    log_in(page, gateway)
    for form in ({"version": "1"}, {"version": "1", "csrf": "guessed"}, {"csrf": ""}):
        answer = page.request.post(base(gateway) + f"/held/{hold_id}/discard", form=form)
        assert answer.status == 403, form
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    assert token
    foreign = page.request.post(base(gateway) + f"/held/{hold_id}/discard",
                                form={"csrf": token}, headers={"Origin": "http://evil.test"})
    assert foreign.status == 403
    # A page on another site posting a form to the UI, even with a leaked token: refused
    # (its origin is foreign, and the SameSite=Strict cookie does not go with it).
    attacker = Site(f'<form method="post" action="{base(gateway)}/held/{hold_id}/discard">'
                    f'<input name="csrf" value="{token}"><button>go</button></form>')
    try:
        page.goto(attacker.url.replace("127.0.0.1", "localhost") + "/page")
        with page.expect_response(lambda r: "/discard" in r.url) as answer_info:
            page.get_by_role("button", name="go").click()
        assert answer_info.value.status == 403
    finally:
        attacker.close()
    assert state_of(gateway, hold_id) == "held"
    logged_out = context.browser.new_context() if context.browser else None
    assert logged_out is not None
    try:
        assert logged_out.request.post(base(gateway) + "/bulk",
                                       form={"action": "discard", "ids": hold_id}).status == 403
    finally:
        logged_out.close()
    assert state_of(gateway, hold_id) == "held"


HTML_MESSAGE = """From: alice@example.org\r
To: partner@outside.test\r
Subject: {subject}\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary="mixed"\r
\r
--mixed\r
Content-Type: multipart/alternative; boundary="alt"\r
\r
--alt\r
Content-Type: text/plain; charset=utf-8\r
\r
Needs adjustment: blur face\r
Hello from the text part.\r
--alt\r
Content-Type: text/html; charset=utf-8\r
\r
<html><head><title>inner</title><link rel="stylesheet" href="{watch}/css">\r
<meta http-equiv="refresh" content="0;url={watch}/refresh"><base href="{watch}/"></head>\r
<body><p>Needs adjustment: blur face</p><p id="hello">Hello from the HTML part.</p>\r
<script>document.title = "pwned"; parent.document.title = "pwned";\r
fetch("{watch}/script");</script>\r
<img src="{watch}/image.png" alt="remote">\r
<img src="x" onerror="fetch('{watch}/onerror')">\r
<div style="background: url({watch}/style)">styled</div>\r
<iframe src="{watch}/frame"></iframe><a href="{watch}/link">a link</a>\r
</body></html>\r
--alt--\r
--mixed\r
Content-Type: application/pdf; name="statement.pdf"\r
Content-Disposition: attachment; filename="statement.pdf"\r
Content-Transfer-Encoding: base64\r
\r
JVBERi0xLjQKJcOkw7zDtsOf\r
--mixed--\r
"""


def test_html_runs_nothing_and_loads_nothing(context: BrowserContext, gateway: GatewayProcess,
                                            tmp_path: Path) -> None:
    watcher = Site()
    try:
        data = HTML_MESSAGE.format(subject=SUBJECT, watch=watcher.url).encode()
        hold_id = send_raw(gateway, data)
        page = context.new_page()
        log_in(page, gateway, f"/held/{hold_id}")
        expect(page.get_by_role("heading", name=f"Held message {hold_id}")).to_be_visible()
        title = f"{hold_id} · stampgate review"
        assert page.title() == title
        frame_element = page.locator("iframe.html")
        expect(frame_element).to_be_visible()
        frame = frame_element.content_frame
        expect(frame.get_by_text("Hello from the HTML part.")).to_be_visible()
        page.wait_for_timeout(1000)
        assert page.title() == title and "pwned" not in page.title()
        assert frame.locator("script").count() == 0
        assert watcher.hits == []
        html = page.request.get(base(gateway) + f"/held/{hold_id}/html")
        assert html.headers["content-security-policy"].startswith("sandbox;")
        assert b"<script" not in html.body() and watcher.url.encode() not in html.body()

        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download").click()
        download = download_info.value
        assert download.suggested_filename == "statement.pdf"
        saved = tmp_path / "statement.pdf"
        download.save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF-1.4")
        audit = json.loads(cli(gateway, "audit", "--json", "--held", hold_id).stdout)
        views = [a["detail"]["what"] for a in audit if a["action"] == "view"]
        # the page and its frame once an hour (this test's own look at the frame's address
        # is the same look), every download
        assert sorted(views) == ["attachment 3", "headers and text body", "html body"]
        page.reload()
        with page.expect_download():
            page.get_by_role("button", name="Download").click()
        audit = json.loads(cli(gateway, "audit", "--json", "--held", hold_id).stdout)
        views = [a["detail"]["what"] for a in audit if a["action"] == "view"]
        assert sorted(views) == ["attachment 3", "attachment 3", "headers and text body",
                                 "html body"]
        assert watcher.hits == []
    finally:
        watcher.close()


def test_filters_and_bulk_reject(context: BrowserContext, gateway: GatewayProcess,
                                 downstream: Downstream) -> None:
    first = send_held(gateway, recipients=(PARTNER,))
    second = send_held(gateway, recipients=("press@example.org",))
    page = context.new_page()
    log_in(page, gateway)
    page.get_by_label("Reason contains").fill("communications")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name=second)).to_be_visible()
    expect(page.get_by_role("link", name=first)).to_have_count(0)
    page.get_by_label("Stamp").select_option("confidential")
    page.get_by_label("Reason contains").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No held messages match.")).to_be_visible()
    page.goto(base(gateway) + "/?state=held&age=1h")
    page.get_by_label(f"select {first}").check()
    page.get_by_label(f"select {second}").check()
    page.get_by_label("Reason for the sender").fill("Please send these to the right people.")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status")).to_contain_text("Rejected: ")
    assert state_of(gateway, first) == "rejected" and state_of(gateway, second) == "rejected"
    notices = wait_for(downstream, "alice@example.org", 2, purpose="sender-rejected")
    assert all(b"Please send these to the right people." in n.data for n in notices)


def test_disabled_reviewer_is_logged_out(browser: Browser, gateway: GatewayProcess) -> None:
    add_reviewer(gateway, "legal-lead@example.org")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base(gateway) + "/")
        page.get_by_label("Login").fill("legal-lead@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Held messages")).to_be_visible()
        assert cli(gateway, "reviewers", "disable", "legal-lead@example.org").returncode == 0
        page.reload()
        expect(page.get_by_role("heading", name="Log in to review held messages")).to_be_visible()
    finally:
        context.close()


def test_log_out_ends_the_session_for_every_copy_of_the_cookie(browser: Browser,
                                                              gateway: GatewayProcess) -> None:
    reviewer, thief = browser.new_context(), browser.new_context()
    try:
        page = reviewer.new_page()
        log_in(page, gateway)
        expect(page.get_by_role("heading", name="Held messages")).to_be_visible()
        thief.add_cookies(reviewer.cookies())
        stolen = thief.new_page()
        stolen.goto(base(gateway) + "/")
        expect(stolen.get_by_role("heading", name="Held messages")).to_be_visible()
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Log in to review held messages")).to_be_visible()
        stolen.reload()
        expect(stolen.get_by_role("heading", name="Log in to review held messages")).to_be_visible()
    finally:
        reviewer.close()
        thief.close()


OUTPUT = Path(os.environ.get("STAMPGATE_TEST_OUTPUT", Path(__file__).parents[1] / "output"))


@pytest.mark.parametrize(("width", "cards"), [(390, True), (1280, False)])
def test_queue_fits_phone_and_desktop(browser: Browser, gateway: GatewayProcess,
                                      width: int, cards: bool) -> None:
    """No sideways scrolling at either width: a table on a desktop, cards on a phone."""
    subject = f"Story for the {width} px check of a long subject line that must wrap"
    hold_id = send_held(gateway, recipients=(PARTNER, "press@example.org"), subject=subject)
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        log_in(page, gateway)
        row = page.locator("tr.hold", has_text=hold_id)
        expect(row.locator("td.subject")).to_have_text(subject)
        page.wait_for_load_state("load")  # the style sheet applied
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        header = page.locator("table.queue thead").bounding_box()
        assert header is not None and (header["x"] + header["width"] <= 0) is cards  # off-screen
        assert row.evaluate("r => getComputedStyle(r).display") == (
            "block" if cards else "table-row")
        box = row.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"queue-{width}.png"), full_page=True)
        page.get_by_role("link", name=hold_id).click()
        expect(page.get_by_role("heading", name=f"Held message {hold_id}")).to_be_visible()
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(OUTPUT / f"detail-{width}.png"), full_page=True)
    finally:
        context.close()


def test_search_and_keys(context: BrowserContext, gateway: GatewayProcess) -> None:
    found = send_held(gateway, subject="Hana's asylum interview")
    other = send_held(gateway, subject="Quarterly figures")
    page = context.new_page()
    log_in(page, gateway)
    page.get_by_label("Search").fill("asylum INTERVIEW")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name=found)).to_be_visible()
    expect(page.get_by_role("link", name=other)).to_have_count(0)
    page.get_by_label("Search").fill(other)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr.hold")).to_have_count(1)
    page.goto(base(gateway) + f"/held/{found}")
    expect(page.locator(".keys")).to_contain_text("j next")
    page.keyboard.press("j")
    expect(page.get_by_role("heading", name=f"Held message {other}")).to_be_visible()
    page.wait_for_load_state("load")  # the shortcuts' script has run
    page.keyboard.press("k")
    expect(page.get_by_role("heading", name=f"Held message {found}")).to_be_visible()
    page.wait_for_load_state("load")
    page.keyboard.press("x")
    expect(page.get_by_label("Reason, sent to the sender")).to_be_focused()
    page.keyboard.type("jkrx typed here stays text")
    expect(page.get_by_role("heading", name=f"Held message {found}")).to_be_visible()
    page.get_by_label("Reason, sent to the sender").fill("")
    page.get_by_label("blur face").check()
    page.get_by_label("change name").check()
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("r")
    expect(page.get_by_role("status")).to_contain_text(f"Released {found} to {PARTNER}")
