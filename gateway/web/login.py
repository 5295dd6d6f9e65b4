"""The review UI's door: logging in and out, the current reviewer, pages and flashes.

Failed logins are braked per account and per client address (``throttle.py``). The login
field is never logged as typed (a password typed in the wrong box would land in the log):
an existing account is named, anything else is ``unknown account`` with a short keyed digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from gateway.adapters.accounts import Account, Accounts, AccountsError
from gateway.logs import get_logger
from gateway.settings import Settings
from gateway.web.security import csrf_ok, csrf_token
from gateway.web.sessions import end_session, start_session
from gateway.web.throttle import Blocked, LoginThrottle

log = get_logger()
HERE = Path(__file__).parent
FORBIDDEN = ("This form is out of date or did not come from this site. "
             "Reload the page and try again.")
UNKNOWN = "unknown account"
TOO_MANY = {
    Blocked.ACCOUNT: "Too many failed logins for this account; wait a while and try again.",
    Blocked.ADDRESS: "Too many failed logins from your address; wait a while and try again.",
}


def address_key(host: str) -> str:
    """The throttle's key for a client: its IPv4 address, or its IPv6 /64 (one site)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class Door:
    """Log in and out; the reviewer behind a request; rendering pages with the session."""

    def __init__(self, settings: Settings, reviewers: Accounts, log_key: bytes) -> None:
        self.reviewers = reviewers
        self.throttle = LoginThrottle(settings.web_login_failures_per_account,
                                      settings.web_login_failures_per_address)
        self.log_key = log_key
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))

    def digest(self, login: str) -> str:
        """A short keyed digest of what was typed: repeats can be told apart, not read."""
        return hmac.new(self.log_key, login.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()[:12]

    def _shown_login(self, login: str) -> dict[str, str]:
        """How a typed login may appear in a log line."""
        try:
            known = self.reviewers.get(login) is not None
        except AccountsError:
            known = False
        if known:
            return {"login": login}
        return {"login": UNKNOWN, "login_digest": self.digest(login)}

    def _reviewer(self, request: Request) -> Account | None:
        login = request.session.get("login")
        if not isinstance(login, str):
            return None
        try:
            account = self.reviewers.get(login)
        except AccountsError as exc:
            log.error("reviewers-unavailable", error=str(exc))
            return None
        if account is None or account.disabled:
            end_session(request)
            return None
        return account

    def _page(self, request: Request, name: str, context: dict[str, Any],
              status: int = 200) -> Response:
        flashes = request.session.pop("flash", [])
        base = {"csrf": csrf_token(request), "reviewer": self._reviewer(request),
                "flashes": flashes}
        return self.templates.TemplateResponse(request, name, {**base, **context},
                                               status_code=status)

    @staticmethod
    def _flash(request: Request, kind: str, text: str) -> None:
        request.session.setdefault("flash", []).append([kind, text])

    def _to_login(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    async def _form(self, request: Request) -> tuple[Account | None, FormData | None]:
        """The reviewer and the form of a POST, or ``None`` for a forged or expired one."""
        form = await request.form()
        if not csrf_ok(request, form.get("csrf")):
            log.warning("web-csrf-refused", path=request.url.path,
                        peer=request.client.host if request.client else None)
            return None, None
        return self._reviewer(request), form

    async def login_page(self, request: Request) -> Response:
        if self._reviewer(request) is not None:
            return RedirectResponse("/", status_code=303)
        return self._page(request, "login.html", {"next": safe_next(request.query_params)})

    async def login(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get("csrf")):
            return PlainTextResponse(FORBIDDEN, status_code=403)
        peer = request.client.host if request.client else "unknown"
        login = str(form.get("login", ""))[:200].strip().lower()
        password = str(form.get("password", ""))[:1000]
        target = safe_next(form)
        account_key, address = self.digest(login), address_key(peer)
        blocked = self.throttle.blocked(account_key, address)
        if blocked is not None:
            log.warning("web-login-blocked", peer=peer, by=blocked.value,
                        **self._shown_login(login))
            return self._page(request, "login.html", {
                "next": target, "error": TOO_MANY[blocked]}, status=429)
        try:
            account = await asyncio.to_thread(self.reviewers.verify, login, password)
        except AccountsError as exc:
            log.error("reviewers-unavailable", error=str(exc))
            account = None
        if account is None:
            self.throttle.failed(account_key, address)
            log.warning("web-login-failed", peer=peer, **self._shown_login(login))
            return self._page(request, "login.html", {
                "next": target, "error": "Wrong login or password, or the account is disabled.",
                "login": login}, status=401)
        start_session(request, account.login)
        log.info("web-login", login=account.login, peer=peer)
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get("csrf")):
            return PlainTextResponse(FORBIDDEN, status_code=403)
        login = request.session.get("login")
        end_session(request)
        if isinstance(login, str):
            log.info("web-logout", login=login,
                     peer=request.client.host if request.client else None)
        return RedirectResponse("/login", status_code=303)


def safe_next(values: Any) -> str:
    """Where to go after logging in: a path on this site only."""
    target = str(values.get("next", "") or "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
