"""The review UI's door over real HTTP to a real gateway: brakes, revoked cookies, clean logs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess
from tests.support.review_gateway import PASSWORD, add_reviewer, review_gateway

DIRECTOR, LEAD = "director@example.org", "legal-lead@example.org"
SECRET_TYPED = "tr0ub4dor&3-typed-in-the-login-box"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    process = review_gateway(tmp_path_factory.mktemp("door"), downstream,
                             web_login_failures_per_account=3).start()
    add_reviewer(process, DIRECTOR)
    add_reviewer(process, LEAD)
    yield process
    process.stop()


def client(gateway: GatewayProcess) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{gateway.web_port}", timeout=20)


def attempt(http: httpx.Client, login: str, password: str,
            headers: dict[str, str] | None = None) -> httpx.Response:
    page = http.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return http.post("/login", headers=headers, data={"csrf": found.group(1), "login": login,
                                                      "password": password})


def test_a_second_reviewer_behind_the_same_address_still_logs_in(
        gateway: GatewayProcess) -> None:
    with client(gateway) as first:
        for _ in range(3):
            assert attempt(first, DIRECTOR, "not the password").status_code == 401
        assert attempt(first, DIRECTOR, PASSWORD).status_code == 429
    with client(gateway) as second:
        assert attempt(second, LEAD, PASSWORD).status_code == 303
        assert second.get("/").status_code == 200


def test_a_copied_cookie_stops_working_at_logout(gateway: GatewayProcess) -> None:
    with client(gateway) as reviewer, client(gateway) as thief:
        assert attempt(reviewer, LEAD, PASSWORD).status_code == 303
        page = reviewer.get("/")
        assert page.status_code == 200
        thief.cookies.update(reviewer.cookies)
        assert thief.get("/").status_code == 200  # the copy works while the session lives
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        assert reviewer.post("/logout", data={"csrf": csrf.group(1)}).status_code == 303
        answer = thief.get("/")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_password_in_the_login_box_is_not_logged(gateway: GatewayProcess) -> None:
    with client(gateway) as http:
        assert attempt(http, SECRET_TYPED, SECRET_TYPED).status_code == 401
    log = gateway.log()
    assert "web-login-failed" in log
    assert SECRET_TYPED not in log and SECRET_TYPED.lower() not in log
    failed = [e for e in gateway.log_events("web-login-failed")
              if e.get("login") == "unknown account"]
    assert failed and all(len(e["login_digest"]) == 12 for e in failed)


def test_rotating_x_forwarded_for_does_not_escape_the_brake(tmp_path: Path,
                                                            downstream: Downstream) -> None:
    process = review_gateway(tmp_path, downstream, web_login_failures_per_address=3).start()
    try:
        add_reviewer(process, LEAD)
        with client(process) as http:
            for number in range(3):
                forged = {"X-Forwarded-For": f"203.0.113.{number}"}
                answer = attempt(http, f"guess{number}@example.org", "x", headers=forged)
                assert answer.status_code == 401
            answer = attempt(http, LEAD, PASSWORD, headers={"X-Forwarded-For": "203.0.113.77"})
            assert answer.status_code == 429, answer.text
        peers = {e.get("peer") for e in process.log_events("web-login-failed")}
        assert peers == {"127.0.0.1"}
    finally:
        process.stop()
