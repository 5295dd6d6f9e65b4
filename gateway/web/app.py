"""The review UI's routes: log in, list and filter, look at one held message, decide.

Every action is a POST carrying the session's CSRF token; the session cookie is HttpOnly and
SameSite=Strict. Pages carry no script at all. A held message's HTML is served sanitised
from its own route under a sandboxing CSP and shown in a sandboxed iframe.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.adapters.accounts import Accounts
from gateway.core.model import Stamp
from gateway.logs import get_logger
from gateway.service.review import Action, AlreadyDecided, ContentGone, Desk, NotFound, ReviewError
from gateway.settings import networks_of
from gateway.store.sessions import WebSessions
from gateway.store.store import HeldFilter, HeldState, now
from gateway.web import render
from gateway.web.login import FORBIDDEN, Door
from gateway.web.proxies import TrustedProxies
from gateway.web.security import (
    CONTENT_MARK,
    SecurityHeaders,
    session_secret,
)
from gateway.web.sessions import ServerSessions

log = get_logger()
HERE = Path(__file__).parent
AGES = {"": ("any age", None, None), "1h": ("less than an hour", None, dt.timedelta(hours=1)),
        "1d": ("less than a day", None, dt.timedelta(days=1)),
        "older-1d": ("more than a day", dt.timedelta(days=1), None),
        "older-7d": ("more than a week", dt.timedelta(days=7), None)}
E = TypeVar("E", HeldState, Action)


class ReviewUI(Door):
    """The routes, bound to one desk and one reviewer directory."""

    def __init__(self, desk: Desk, reviewers: Accounts, log_key: bytes) -> None:
        super().__init__(desk.settings, reviewers, log_key)
        self.desk = desk

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.queue, methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/bulk", self.bulk, methods=["POST"]),
            Route("/held/{hold_id}", self.detail, methods=["GET"]),
            Route("/held/{hold_id}/html", self.html_body, methods=["GET"]),
            Route("/held/{hold_id}/attachments/{index:int}", self.download, methods=["POST"]),
            Route("/held/{hold_id}/{action}", self.decide, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ]

    # -- the queue -----------------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        if self._reviewer(request) is None:
            return self._to_login(request)
        params = request.query_params
        state_name = params.get("state", "held")
        state = None if state_name == "all" else _enum(HeldState, state_name, HeldState.HELD)
        stamp = params.get("stamp", "")
        if stamp not in {"", "none", *(s.value for s in Stamp)}:
            stamp = ""
        reason = params.get("reason", "").strip()[:200]
        age = params.get("age", "") if params.get("age", "") in AGES else ""
        _, older, younger = AGES[age]
        at = now()
        which = HeldFilter(state=state, stamp=stamp or None, reason=reason or None,
                           created_before=at - older if older else None,
                           created_after=at - younger if younger else None)
        holds = await self.desk.find(which, limit=500)
        return self._page(request, "queue.html", {
            "holds": holds, "state": state_name if state else "all", "stamp": stamp,
            "reason": reason, "age": age, "ages": AGES, "states": [s.value for s in HeldState],
            "stamps": [(s.value, s.label) for s in Stamp], "now": at})

    async def bulk(self, request: Request) -> Response:
        reviewer, form = await self._form(request)
        if form is None:
            return PlainTextResponse(FORBIDDEN, status_code=403)
        if reviewer is None:
            return self._to_login(request)
        action = _enum(Action, str(form.get("action", "")), None)
        ids = [str(v) for v in form.getlist("ids")][:500]
        if action is None or action is Action.EXPIRE or not ids:
            self._flash(request, "error", "Choose messages and an action.")
            return RedirectResponse("/", status_code=303)
        results = await self.desk.bulk(action, ids, reviewer.login,
                                       str(form.get("reason", "")))
        done = [r.hold_id for r in results if r.decided]
        if done:
            self._flash(request, "ok", f"{_past(action)}: {', '.join(done)}")
        for result in results:
            if result.error:
                self._flash(request, "error", f"{result.hold_id}: {result.error}")
        return RedirectResponse("/", status_code=303)

    # -- one held message ----------------------------------------------------------------

    async def detail(self, request: Request) -> Response:
        reviewer = self._reviewer(request)
        if reviewer is None:
            return self._to_login(request)
        try:
            hold = await self.desk.get(request.path_params["hold_id"])
        except NotFound as exc:
            return self._page(request, "missing.html", {"error": str(exc)}, status=404)
        rendered: render.Rendered | None = None
        gone: str | None = None
        try:
            data = await self.desk.content(hold.id, reviewer.login, "headers and text body")
            rendered = await asyncio.to_thread(render.render, data)
        except ContentGone as exc:
            gone = str(exc)
        return self._page(request, "detail.html", {
            "hold": hold, "decision": hold.decision, "message": rendered, "gone": gone,
            "outbox": await self.desk.store.outbox_for(hold.id),
            "audit": await self.desk.store.audit_entries(held_id=hold.id),
            "expires": hold.created_at + dt.timedelta(days=self.desk.settings.hold_expiry_days),
            "held": hold.state is HeldState.HELD})

    async def html_body(self, request: Request) -> Response:
        reviewer = self._reviewer(request)
        if reviewer is None:
            return PlainTextResponse("Log in first.", status_code=403)
        try:
            data = await self.desk.content(request.path_params["hold_id"], reviewer.login,
                                           "html body")
        except (NotFound, ContentGone) as exc:
            return PlainTextResponse(str(exc), status_code=404)
        rendered = await asyncio.to_thread(render.render, data)
        clean = await asyncio.to_thread(render.sanitise, rendered.html or "")
        page = ('<!doctype html><meta charset="utf-8">'
                '<style>body{font-family:sans-serif;margin:.5rem}</style>' + clean)
        return Response(page, media_type="text/html; charset=utf-8",
                        headers={CONTENT_MARK: "1"})

    async def download(self, request: Request) -> Response:
        reviewer, form = await self._form(request)
        if form is None:
            return PlainTextResponse(FORBIDDEN, status_code=403)
        if reviewer is None:
            return self._to_login(request)
        hold_id, index = request.path_params["hold_id"], int(request.path_params["index"])
        try:
            data = await self.desk.content(hold_id, reviewer.login, f"attachment {index}")
        except (NotFound, ContentGone) as exc:
            return PlainTextResponse(str(exc), status_code=404)
        found = await asyncio.to_thread(render.attachment, data, index)
        if found is None:
            return PlainTextResponse("No such attachment.", status_code=404)
        name, payload = found
        return Response(payload, media_type="application/octet-stream", headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"})

    async def decide(self, request: Request) -> Response:
        reviewer, form = await self._form(request)
        if form is None:
            return PlainTextResponse(FORBIDDEN, status_code=403)
        if reviewer is None:
            return self._to_login(request)
        hold_id = str(request.path_params["hold_id"])
        action = _enum(Action, str(request.path_params["action"]), None)
        version = _int(form.get("version"))
        back = RedirectResponse(f"/held/{quote(hold_id, safe='')}", status_code=303)
        try:
            match action:
                case Action.RELEASE:
                    decided = await self.desk.release(
                        hold_id, reviewer.login, to=_strings(form.getlist("to")),
                        adjustments_done=_strings(form.getlist("adjustment")),
                        note=str(form.get("note", "")).strip() or None,
                        expected_version=version, override=str(form.get("override", "")) or None)
                    self._flash(request, "ok", f"Released {decided.hold_id} to "
                                               f"{', '.join(decided.recipients)}.")
                case Action.REJECT:
                    decided = await self.desk.reject(hold_id, reviewer.login,
                                                     str(form.get("reason", "")),
                                                     expected_version=version)
                    self._flash(request, "ok", f"Rejected {decided.hold_id}; the sender is told.")
                case Action.DISCARD:
                    decided = await self.desk.discard(
                        hold_id, reviewer.login, str(form.get("note", "")).strip() or None,
                        expected_version=version)
                    self._flash(request, "ok", f"Discarded {decided.hold_id}.")
                case Action.EXPIRE | None:
                    return PlainTextResponse("No such action.", status_code=404)
        except AlreadyDecided as exc:
            self._flash(request, "error", str(exc))
        except NotFound as exc:
            return self._page(request, "missing.html", {"error": str(exc)}, status=404)
        except ReviewError as exc:
            self._flash(request, "error", str(exc))
        return back


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


def _enum(kind: type[E], value: str, default: E | None) -> E | None:
    try:
        return kind(value)
    except ValueError:
        return default


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _strings(values: list[Any]) -> list[str]:
    return [str(v) for v in values if isinstance(v, str)]


def _past(action: Action) -> str:
    return {Action.RELEASE: "Released", Action.REJECT: "Rejected", Action.DISCARD: "Discarded",
            Action.EXPIRE: "Expired"}[action]
