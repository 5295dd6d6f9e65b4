"""The desk pages in process (over ASGI): search, bulk rules, errors that keep the selection,
four eyes and going on to the next held message."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.adapters.accounts import add_user
from gateway.adapters.reviewers import reviewer_accounts, reviewers_path
from gateway.core.decision import ThreadContext
from gateway.core.model import Stamp
from gateway.core.policy import Policy
from gateway.service.review import Desk
from gateway.settings import Settings
from gateway.store.store import HeldState, Store
from gateway.web.app import create_app
from tests.support.held import hold

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def client(desk: Desk, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    add_user(reviewers_path(settings.data), "director@example.org", PASSWORD, [])
    add_user(reviewers_path(settings.data), "alice", PASSWORD, ["alice@example.org"])
    app = create_app(desk, reviewer_accounts(settings.data))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://review.test") as made:
        yield made


async def log_in(client: httpx.AsyncClient, login: str = "director@example.org") -> str:
    page = await client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    answer = await client.post("/login", data={"csrf": found.group(1), "login": login,
                                               "password": PASSWORD})
    assert answer.status_code == 303
    again = re.search(r'name="csrf" value="([^"]+)"', (await client.get("/")).text)
    assert again
    return again.group(1)


async def newcomer(store: Store, policy: Policy, subject: str = "A reply") -> str:
    thread = ThreadContext("<chain@example.org>", Stamp.CONFIDENTIAL,
                           frozenset({"alice@example.org", "bob@example.org"}))
    return await hold(store, policy, "Confidential", ("carol@example.org",), thread=thread,
                      subject=subject)


def flashes(page: httpx.Response) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<p class="flash [a-z]+" role="[a-z]+">(.*?)</p>',
                                                 page.text)]


def checked(page: httpx.Response) -> set[str]:
    return set(re.findall(r'name="ids" value="(H[0-9A-F]+)"[^>]*checked', page.text))


async def state(store: Store, hold_id: str) -> HeldState:
    record = await store.get_held(hold_id)
    assert record is not None
    return record.state


async def test_queue_shows_subjects_and_finds_by_them(client: httpx.AsyncClient, store: Store,
                                                      policy: Policy) -> None:
    await log_in(client)
    story = await hold(store, policy, subject="Amira's <story>")
    other = await newcomer(store, policy, "Budget 2027")
    page = await client.get("/")
    assert "Amira&#39;s &lt;story&gt;" in page.text and "Budget 2027" in page.text
    assert "<strong>2</strong> messages" in page.text
    assert "needs_adjustment.external</a> <span class=\"count\">1</span>" in page.text
    found = await client.get("/", params={"q": "amira"})
    assert story in found.text and other not in found.text
    found = await client.get("/", params={"q": other})
    assert other in found.text and story not in found.text
    for odd in ("%", "\x00", "a" * 5000, "<script>"):
        answer = await client.get("/", params={"q": odd, "sort": "nonsense", "page": "-3",
                                               "per": "1e9"})
        assert answer.status_code == 200 and "No held messages match." in answer.text


async def test_bulk_reject_without_a_reason_keeps_the_selection(
        client: httpx.AsyncClient, store: Store, policy: Policy) -> None:
    csrf = await log_in(client)
    first, second = await newcomer(store, policy), await newcomer(store, policy)
    answer = await client.post("/bulk", data={"csrf": csrf, "action": "reject",
                                              "ids": [first, second], "bulk_reason": "  ",
                                              "q": "reply"}, follow_redirects=True)
    assert flashes(answer) == ["Write a reason for the sender before rejecting. "
                               "Nothing was rejected."]
    assert "--reason" not in answer.text
    assert checked(answer) == {first, second}
    assert str(answer.url).endswith("/?q=reply")
    assert await state(store, first) is HeldState.HELD


async def test_bulk_release_skips_unticked_checklists_and_says_so(
        client: httpx.AsyncClient, store: Store, policy: Policy) -> None:
    csrf = await log_in(client)
    plain, unticked, ticked = (await newcomer(store, policy), await hold(store, policy),
                               await hold(store, policy))
    saved = await client.post(f"/held/{ticked}/checklist", data={
        "csrf": csrf, "adjustment": ["blur face", "change name"]}, follow_redirects=True)
    assert "Checklist saved" in saved.text
    half = await client.post(f"/held/{unticked}/checklist", data={
        "csrf": csrf, "adjustment": ["blur face"]}, follow_redirects=True)
    assert "Confirm each required adjustment was made before releasing: change name." in half.text
    answer = await client.post("/bulk", data={"csrf": csrf, "action": "release",
                                              "ids": [plain, unticked, ticked]},
                               follow_redirects=True)
    assert flashes(answer) == [
        f"Released: {plain}, {ticked}",
        f"{unticked}: Not released: its adjustments (blur face; change name) were not ticked "
        "on its own page."]
    assert checked(answer) == {unticked}
    assert [await state(store, h) for h in (plain, unticked, ticked)] == [
        HeldState.RELEASED, HeldState.HELD, HeldState.RELEASED]


async def test_four_eyes_and_the_next_message(client: httpx.AsyncClient, store: Store,
                                              policy: Policy) -> None:
    own, second, third = (await newcomer(store, policy), await newcomer(store, policy),
                          await newcomer(store, policy))
    csrf = await log_in(client, "alice")
    page = await client.get(f"/held/{own}")
    assert "another reviewer must release it (four eyes)" in page.text
    assert re.search(r'<button type="submit" class="release" disabled>Release', page.text)
    answer = await client.post(f"/held/{own}/release", data={
        "csrf": csrf, "to": "carol@example.org", "version": "1"}, follow_redirects=True)
    assert "alice sent " + own + ": another reviewer must release it (four eyes)" in answer.text
    assert await state(store, own) is HeldState.HELD
    await client.post("/logout", data={"csrf": csrf})
    csrf = await log_in(client)
    answer = await client.post(f"/held/{own}/release", data={
        "csrf": csrf, "to": "carol@example.org", "version": "1"})
    assert answer.headers["location"] == f"/held/{second}"
    answer = await client.post(f"/held/{third}/discard", data={"csrf": csrf, "version": "1"})
    assert answer.headers["location"] == f"/held/{second}"
    answer = await client.post(f"/held/{second}/reject", data={"csrf": csrf, "version": "1",
                                                               "reason": "Not to Carol."})
    assert answer.headers["location"] == "/"
    page = await client.get("/", follow_redirects=True)
    assert flashes(page) == [f"Released {own} to carol@example.org.", f"Discarded {third}.",
                             f"Rejected {second}; the sender is told."]

