"""Security for the review UI: response headers, the web key, CSRF tokens."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.service.datadir import SESSION_KEY_FILE

SESSION_COOKIE = "stampgate_review"
# Pages: nothing remote, no inline script (only the UI's own files), never framed.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
               "form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'")
# A held message's HTML: its own sandbox (no scripts, opaque origin), inline images only,
# framed only by the review page.
CONTENT_POLICY = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                  "form-action 'none'; base-uri 'none'; frame-ancestors 'self'")
CONTENT_MARK = "x-stampgate-content"  # a response header the middleware turns into CONTENT_POLICY


class SecurityHeaders:
    """Adds the security headers to every response (ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                content = CONTENT_MARK in headers
                if content:
                    del headers[CONTENT_MARK]
                headers["Content-Security-Policy"] = CONTENT_POLICY if content else PAGE_POLICY
                headers["X-Frame-Options"] = "SAMEORIGIN" if content else "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def session_secret(data_dir: Path) -> str:
    """The review UI's own key (the digests of unknown logins in the log), made once and kept."""
    path = data_dir / SESSION_KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
    return secret


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, submitted: object) -> bool:
    """The form carries this session's token, and a browser that names an origin names ours."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not isinstance(submitted, str):
        return False
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        return False
    # Under ``Referrer-Policy: no-referrer`` browsers send ``Origin: null`` with our own
    # forms, so only a named foreign origin is refused here; the token is the check.
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"
