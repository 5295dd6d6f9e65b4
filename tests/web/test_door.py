"""The review UI's door, in process over ASGI: the login brake, proxies, sessions, log lines."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from gateway.adapters.accounts import add_user
from gateway.adapters.reviewers import reviewer_accounts, reviewers_path
from gateway.service.review import Desk
from gateway.settings import Settings
from gateway.store.store import Store
from gateway.web.app import create_app
from gateway.web.security import SESSION_COOKIE

PASSWORD = "correct horse battery staple"
DIRECTOR, LEAD = "director@example.org", "legal-lead@example.org"
Client = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_client(desk: Desk, settings: Settings, store: Store
                      ) -> AsyncIterator[Client]:
    """An HTTP client on the UI built with these settings changed."""
    add_user(reviewers_path(settings.data), DIRECTOR, PASSWORD, [])
    add_user(reviewers_path(settings.data), LEAD, PASSWORD, [])
    made: list[httpx.AsyncClient] = []

    async def make(client: tuple[str, int] = ("192.0.2.10", 4000),
                   **changes: Any) -> httpx.AsyncClient:
        changed = Settings.model_validate({**settings.model_dump(), **changes})
        app = create_app(Desk(store, changed, desk.policy, desk.sealer, desk.threads),
                         reviewer_accounts(settings.data))
        transport = httpx.ASGITransport(app=app, client=client)
        made.append(httpx.AsyncClient(transport=transport, base_url="http://review.test"))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


async def token(client: httpx.AsyncClient, path: str = "/login") -> str:
    page = await client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def attempt(client: httpx.AsyncClient, login: str, password: str,
                  headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post("/login", headers=headers, data={
        "csrf": await token(client), "login": login, "password": password})


async def test_failures_brake_that_account_only(make_client: Client) -> None:
    office = await make_client(web_login_failures_per_account=3)
    for _ in range(3):
        assert (await attempt(office, DIRECTOR, "wrong password")).status_code == 401
    refused = await attempt(office, DIRECTOR, PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins for this account" in refused.text
    colleague = await make_client(web_login_failures_per_account=3)  # behind the same NAT
    assert (await attempt(colleague, LEAD, PASSWORD)).status_code == 303


async def test_an_address_spraying_accounts_is_braked(make_client: Client) -> None:
    client = await make_client(web_login_failures_per_address=4)
    for number in range(4):
        assert (await attempt(client, f"guess{number}@example.org", "x")).status_code == 401
    refused = await attempt(client, LEAD, PASSWORD)
    assert refused.status_code == 429 and "from your address" in refused.text


async def test_forwarding_headers_ignored_unless_from_a_proxy(make_client: Client) -> None:
    client = await make_client(web_login_failures_per_address=3)
    for number in range(3):
        forged = {"X-Forwarded-For": f"203.0.113.{number}", "Forwarded": f"for=203.0.113.{number}"}
        await attempt(client, f"guess{number}@example.org", "x", headers=forged)
    refused = await attempt(client, LEAD, PASSWORD, headers={"X-Forwarded-For": "203.0.113.99"})
    assert refused.status_code == 429


async def test_a_trusted_proxy_names_the_client(make_client: Client) -> None:
    proxy = await make_client(("10.0.0.2", 4000), web_trusted_proxies=["10.0.0.0/24"],
                              web_login_failures_per_address=3)
    first = {"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}  # the left part is the client's
    for number in range(3):
        await attempt(proxy, f"guess{number}@example.org", "x", headers=first)
    assert (await attempt(proxy, LEAD, PASSWORD, headers=first)).status_code == 429
    other = {"X-Forwarded-For": "198.51.100.2"}
    with capture_logs() as logs:
        assert (await attempt(proxy, LEAD, PASSWORD, headers=other)).status_code == 303
    assert [e["peer"] for e in logs if e["event"] == "web-login"] == ["198.51.100.2"]


async def test_failed_logins_never_log_what_was_typed(make_client: Client) -> None:
    client = await make_client()
    with capture_logs() as logs:
        await attempt(client, PASSWORD, PASSWORD)  # the password typed in the login box
        await attempt(client, PASSWORD, PASSWORD)
        await attempt(client, DIRECTOR.upper(), "wrong password")
    failed = [e for e in logs if e["event"] == "web-login-failed"]
    assert PASSWORD not in repr(logs) and PASSWORD.lower() not in repr(logs)
    assert [e["login"] for e in failed] == ["unknown account", "unknown account", DIRECTOR]
    digests = {e["login_digest"] for e in failed[:2]}
    assert len(digests) == 1 and len(digests.pop()) == 12


def cookie_header(answer: httpx.Response) -> str:
    [value] = [v for v in answer.headers.get_list("set-cookie")
               if v.startswith(SESSION_COOKIE + "=")]
    return value


async def log_in(client: httpx.AsyncClient) -> httpx.Response:
    answer = await attempt(client, DIRECTOR, PASSWORD)
    assert answer.status_code == 303, answer.text
    return answer


async def test_a_login_gets_a_new_session_id_kept_as_a_digest(make_client: Client,
                                                             store: Store) -> None:
    client = await make_client()
    await token(client)
    before = client.cookies[SESSION_COOKIE]
    answer = await log_in(client)
    after = client.cookies[SESSION_COOKIE]
    assert after != before
    flags = cookie_header(answer)
    assert "HttpOnly" in flags and "SameSite=Strict" in flags and "Secure" not in flags
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute("SELECT id_hash, login, data FROM web_sessions").fetchall()
    [(id_hash, login, data)] = rows
    assert login == DIRECTOR and after not in id_hash and after not in data


async def test_cookie_is_secure_behind_https(make_client: Client) -> None:
    client = await make_client(public_url="https://review.example.org")
    client.base_url = httpx.URL("https://review.example.org")
    answer = await log_in(client)
    flags = cookie_header(answer)
    assert "Secure" in flags and "HttpOnly" in flags and "SameSite=Strict" in flags


async def test_logout_revokes_a_copied_cookie(make_client: Client) -> None:
    client = await make_client()
    await log_in(client)
    copied = client.cookies[SESSION_COOKIE]
    csrf = await token(client, "/")
    assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
    thief = await make_client()
    thief.cookies.set(SESSION_COOKIE, copied)
    answer = await thief.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


async def test_idle_sessions_expire(make_client: Client) -> None:
    client = await make_client(web_session_idle_minutes=2 / 60)
    await log_in(client)
    assert (await client.get("/")).status_code == 200
    await asyncio.sleep(2.5)
    assert (await client.get("/")).status_code == 303


async def test_sessions_end_after_their_lifetime_even_in_use(make_client: Client) -> None:
    client = await make_client(web_session_hours=8 / 3600, web_session_idle_minutes=1)
    before = time.monotonic()
    await log_in(client)
    logged_in = time.monotonic()
    while time.monotonic() < before + 2:  # in use, well inside its lifetime
        assert (await client.get("/")).status_code == 200
        await asyncio.sleep(0.2)
    await asyncio.sleep(max(0.0, logged_in + 8.5 - time.monotonic()))
    assert (await client.get("/")).status_code == 303


@pytest.mark.parametrize("cookie", ["", "x", "y" * 5000, "a;b", "\u00e9" * 30,
                                    "0" * 43])
async def test_odd_session_cookies_are_no_session(make_client: Client, cookie: str) -> None:
    client = await make_client()
    answer = await client.get("/", headers={"Cookie": f"{SESSION_COOKIE}={cookie}".encode()})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
