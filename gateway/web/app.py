"""The review UI's routes: log in, list and filter, look at one held message, decide.

Every action is a POST carrying the session's CSRF token; the session cookie is HttpOnly and
SameSite=Strict. Pages carry no inline script; the one script, the keyboard shortcuts of a
held message's page, is a file of the UI (CSP ``script-src 'self'``). A held message's HTML
is served sanitised from its own route under a sandboxing CSP and shown in a sandboxed
iframe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.adapters.accounts import Accounts
from gateway.logs import get_logger
from gateway.service.review import Desk
from gateway.settings import networks_of
from gateway.store.sessions import WebSessions
from gateway.web.desk_views import DeskViews
from gateway.web.insight_views import InsightViews
from gateway.web.login import Door
from gateway.web.preview_views import PreviewViews
from gateway.web.proxies import TrustedProxies
from gateway.web.security import (
    SecurityHeaders,
    session_secret,
)
from gateway.web.sessions import ServerSessions

log = get_logger()
HERE = Path(__file__).parent


class ReviewUI(Door):
    """The routes, bound to one desk and one reviewer directory."""

    def __init__(self, desk: Desk, reviewers: Accounts, log_key: bytes) -> None:
        super().__init__(desk.settings, reviewers, log_key)
        self.desk = desk
        self.preview = PreviewViews(self)
        self.views = DeskViews(self)
        self.insight = InsightViews(self)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.views.queue, methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/bulk", self.views.bulk, methods=["POST"]),
            Route("/insight", self.insight.page, methods=["GET"]),
            Route("/held/{hold_id}", self.views.detail, methods=["GET"]),
            Route("/held/{hold_id}/html", self.views.html_body, methods=["GET"]),
            Route("/held/{hold_id}/attachments/{index:int}", self.views.download,
                  methods=["POST"]),
            Route("/held/{hold_id}/attachments/{index:int}/thumbnail", self.preview.thumbnail,
                  methods=["GET"]),
            Route("/held/{hold_id}/checklist", self.views.checklist, methods=["POST"]),
            Route("/held/{hold_id}/{action}", self.views.decide, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ]


def create_app(desk: Desk, reviewers: Accounts,
               extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The web app on the web port: the review UI plus ``extra_routes`` (health, metrics)."""
    settings = desk.settings
    secret = session_secret(Path(settings.data))
    ui = ReviewUI(desk, reviewers, hmac.new(secret.encode(), b"login log",
                                            hashlib.sha256).digest())
    middleware = [
        Middleware(TrustedProxies, proxies=networks_of(settings.web_trusted_proxies)),
        Middleware(SecurityHeaders),
        Middleware(ServerSessions, sessions=WebSessions(desk.store.read, desk.store.write),
                   idle=dt.timedelta(minutes=settings.web_session_idle_minutes),
                   lifetime=dt.timedelta(hours=settings.web_session_hours),
                   secure=settings.web_secure_cookies
                   or settings.public_url.startswith("https://")),
    ]
    return Starlette(routes=[*extra_routes, *ui.routes()], middleware=middleware)
