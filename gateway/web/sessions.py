"""Server-side sessions for the review UI: a random id in the cookie, the session in the store.

A logged-in session is a row of the store (``store/sessions.py``): logging out deletes it, so
a copied cookie stops working; it also ends after ``web_session_idle_minutes`` without use
and ``web_session_hours`` after the login. Before the login a session carries only the login
form's CSRF token and flashes, and is kept in memory (bounded), so that visitors who never
log in write nothing to disk. Logging in always starts a new id (no session fixation).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logs import get_logger
from gateway.store.records import StoreError, now
from gateway.store.sessions import Cutoffs, WebSessions
from gateway.web.security import SESSION_COOKIE

log = get_logger()
STATE = "stampgate.session"
ANONYMOUS_MAX = 10_000  # sessions before a login, kept in memory; the oldest go first
TOUCH = dt.timedelta(seconds=60)  # at most one write per session per minute for its last use
STORE_TROUBLE = (StoreError, sqlite3.Error, OSError)


@dataclass(slots=True)
class _State:
    token: str | None  # the id the browser sent
    stored: bool  # a store row backs it: a logged-in session
    original: str  # the data as loaded, to see whether it changed
    last_seen: dt.datetime | None = None
    login: str | None = None  # set by ``start_session``: a new id for this reviewer
    ended: bool = False


def start_session(request: Request, login: str) -> None:
    """Log ``login`` in: a fresh session (new id, new CSRF token) replaces the current one."""
    request.session.clear()
    request.session["login"] = login
    state: _State = request.scope[STATE]
    state.login = login


def end_session(request: HTTPConnection) -> None:
    """Log out: the session's row is deleted and its cookie expired."""
    request.session.clear()
    state: _State = request.scope[STATE]
    state.ended = True
    state.login = None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _cookie_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name != b"cookie":
            continue
        text: str = value.decode("latin-1")
        for part in text.split(";"):
            key, _, token = part.strip().partition("=")
            if key == SESSION_COOKIE and 20 <= len(token) <= 100:
                return token
    return None


class ServerSessions:
    """ASGI middleware: loads ``request.session`` and saves it when the response starts."""

    def __init__(self, app: ASGIApp, sessions: WebSessions, *, idle: dt.timedelta,
                 lifetime: dt.timedelta, secure: bool,
                 clock: Callable[[], dt.datetime] = now) -> None:
        self.app = app
        self.sessions = sessions
        self.idle = idle
        self.lifetime = lifetime
        self.secure = secure
        self.clock = clock
        self.touch = min(TOUCH, idle / 4)
        self.anonymous: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def _cutoffs(self, at: dt.datetime) -> Cutoffs:
        return Cutoffs(idle=at - self.idle, born=at - self.lifetime)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state, data = await self._load(_cookie_token(scope))
        scope["session"] = data
        scope[STATE] = state

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = await self._save(scope["session"], state)
                if cookie is not None:
                    MutableHeaders(scope=message).append("Set-Cookie", cookie)
            await send(message)

        await self.app(scope, receive, sending)

    async def _load(self, token: str | None) -> tuple[_State, dict[str, Any]]:
        if token is None:
            return _State(None, False, "{}"), {}
        if token in self.anonymous:
            self.anonymous.move_to_end(token)
            data = self.anonymous[token]
            return _State(token, False, json.dumps(data, sort_keys=True)), data
        try:
            found = await self.sessions.find(_digest(token), self._cutoffs(self.clock()))
        except STORE_TROUBLE as exc:
            log.error("web-session-store-error", during="look-up", error=type(exc).__name__)
            found = None
        if found is None:  # unknown, expired or ended: the browser gets a fresh one if needed
            return _State(token, False, "{}"), {}
        data = found.data
        return _State(token, True, json.dumps(data, sort_keys=True), found.last_seen), data

    def _cookie(self, token: str, max_age: int | None) -> str:
        parts = [f"{SESSION_COOKIE}={token}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    async def _save(self, data: dict[str, Any], state: _State) -> str | None:
        """Write what changed; the ``Set-Cookie`` value to send, if any."""
        at = self.clock()
        try:
            if state.login is not None:
                return await self._logged_in(data, state, state.login, at)
            if state.stored:
                return await self._stored(data, state, at)
        except STORE_TROUBLE as exc:
            log.error("web-session-store-error", during="save", error=type(exc).__name__)
            return None
        return self._anonymous(data, state)

    async def _logged_in(self, data: dict[str, Any], state: _State, login: str,
                         at: dt.datetime) -> str:
        token = secrets.token_urlsafe(32)
        await self.sessions.start(_digest(token), login, data, at, self._cutoffs(at))
        if state.token is not None:
            self.anonymous.pop(state.token, None)
            if state.stored:
                await self.sessions.end(_digest(state.token))
        return self._cookie(token, int(self.lifetime.total_seconds()))

    async def _stored(self, data: dict[str, Any], state: _State, at: dt.datetime) -> str | None:
        assert state.token is not None
        if state.ended or "login" not in data:
            await self.sessions.end(_digest(state.token))
            return self._cookie("", 0)
        changed = json.dumps(data, sort_keys=True) != state.original
        stale = state.last_seen is None or at.replace(tzinfo=None) - state.last_seen >= self.touch
        if (changed or stale) and not await self.sessions.save(_digest(state.token), data, at):
            return self._cookie("", 0)  # ended meanwhile (logged out in another tab)
        return None

    def _anonymous(self, data: dict[str, Any], state: _State) -> str | None:
        data.pop("login", None)  # only ``start_session`` logs anyone in
        if not data:
            if state.token is not None:
                self.anonymous.pop(state.token, None)
                return self._cookie("", 0) if state.ended or state.original != "{}" else None
            return None
        token, cookie = state.token, None
        if token is None or token not in self.anonymous:
            token = secrets.token_urlsafe(32)
            cookie = self._cookie(token, None)
        self.anonymous[token] = data
        self.anonymous.move_to_end(token)
        while len(self.anonymous) > ANONYMOUS_MAX:
            self.anonymous.popitem(last=False)
        return cookie
