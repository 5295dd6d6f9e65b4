"""Bad input to the review UI's routes (in process, over ASGI): each gets a clear refusal."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.adapters.accounts import add_user
from gateway.adapters.reviewers import reviewer_accounts, reviewers_path
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
    app = create_app(desk, reviewer_accounts(settings.data))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://review.test") as made:
        yield made


async def token(client: httpx.AsyncClient, path: str = "/login") -> str:
    page = await client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def log_in(client: httpx.AsyncClient) -> str:
    answer = await client.post("/login", data={
        "csrf": await token(client), "login": "Director@Example.org", "password": PASSWORD})
    assert answer.status_code == 303
    return await token(client, "/")


@pytest.mark.parametrize(("login", "password", "status"), [
    ("director@example.org", "wrong password here", 401),
    ("nobody@example.org", PASSWORD, 401),
    ("", "", 401),
    ("x" * 100_000, "y" * 100_000, 401),
    ("director@example.org\r\nSet-Cookie: a=b", PASSWORD, 401),
])
async def test_bad_logins(client: httpx.AsyncClient, login: str, password: str,
                          status: int) -> None:
    answer = await client.post("/login", data={"csrf": await token(client), "login": login,
                                               "password": password})
    assert answer.status_code == status
    assert "Wrong login or password" in answer.text
    assert "set-cookie: a=b" not in str(answer.headers).lower()


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/x", "/\\evil.test",
                                    "javascript:alert(1)"])
async def test_no_open_redirect_after_login(client: httpx.AsyncClient, target: str) -> None:
    answer = await client.post("/login", data={"csrf": await token(client), "next": target,
                                               "login": "director@example.org",
                                               "password": PASSWORD})
    assert answer.status_code == 303 and answer.headers["location"] == "/"


@pytest.mark.parametrize("path", ["/", "/held/HNOSUCH", "/?state=held"])
async def test_pages_need_a_login(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


async def test_html_route_needs_a_login(client: httpx.AsyncClient, store: Store,
                                        policy: Policy) -> None:
    hold_id = await hold(store, policy)
    assert (await client.get(f"/held/{hold_id}/html")).status_code == 403


@pytest.mark.parametrize("query", ["state=bogus", "stamp=%3Cscript%3E", "age=forever",
                                   "reason=%25%25_%5C", "reason=" + "x" * 5000,
                                   "state=all&stamp=none"])
async def test_odd_filters_are_harmless(client: httpx.AsyncClient, query: str) -> None:
    await log_in(client)
    answer = await client.get(f"/?{query}")
    assert answer.status_code == 200 and "<script>" not in answer.text


@pytest.mark.parametrize(("method", "path", "status"), [
    ("get", "/held/HNOSUCH", 404),
    ("get", "/held/..%2F..%2Fetc%2Fpasswd", 404),
    ("get", "/held/HNOSUCH/html", 404),
    ("post", "/held/HNOSUCH/release", 404),
    ("post", "/held/{id}/explode", 404),
    ("post", "/held/{id}/expire", 404),
    ("post", "/held/{id}/attachments/99", 404),
    ("get", "/held/{id}/attachments/1", 405),
])
async def test_odd_paths(client: httpx.AsyncClient, store: Store, policy: Policy,
                         method: str, path: str, status: int) -> None:
    csrf = await log_in(client)
    hold_id = await hold(store, policy)
    url = path.format(id=hold_id)
    answer = await (client.get(url) if method == "get"
                    else client.post(url, data={"csrf": csrf}))
    assert answer.status_code == status
    record = await store.get_held(hold_id)
    assert record is not None and record.state is HeldState.HELD


@pytest.mark.parametrize("form", [
    {"action": "release"},
    {"action": "launch", "ids": "H1"},
    {"action": "expire", "ids": "{id}"},
    {"ids": "{id}"},
])
async def test_odd_bulk_requests(client: httpx.AsyncClient, store: Store, policy: Policy,
                                 form: dict[str, str]) -> None:
    csrf = await log_in(client)
    hold_id = await hold(store, policy)
    data = {k: v.format(id=hold_id) for k, v in form.items()}
    answer = await client.post("/bulk", data={**data, "csrf": csrf}, follow_redirects=True)
    assert "Tick at least one message, then choose what to do with them." in answer.text
    record = await store.get_held(hold_id)
    assert record is not None and record.state is HeldState.HELD


@pytest.mark.parametrize(("form", "message"), [
    ({"to": "eve@evil.test", "adjustment": ["blur face", "change name"]},
     "is not a held recipient"),
    ({"to": "partner@outside.test", "adjustment": "blur face"}, "change name"),
    ({"adjustment": ["blur face", "change name"]}, "at least one recipient"),
    ({"to": "partner@outside.test", "adjustment": ["blur face", "change name"],
      "version": "7"}, "already decided"),
])
async def test_refused_releases_say_why(client: httpx.AsyncClient, store: Store,
                                        policy: Policy, form: dict[str, object],
                                        message: str) -> None:
    csrf = await log_in(client)
    hold_id = await hold(store, policy)
    answer = await client.post(f"/held/{hold_id}/release", data={**form, "csrf": csrf},
                               follow_redirects=True)
    assert answer.status_code == 200 and message in answer.text
    record = await store.get_held(hold_id)
    assert record is not None and record.state is HeldState.HELD


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    csrf = await log_in(client)
    assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
    assert (await client.get("/")).status_code == 303
