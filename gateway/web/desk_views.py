"""The review UI's desk pages: the queue, bulk decisions, one held message and its content.

Errors are said in the UI's words and a refused bulk decision keeps the selection; after a
decision the reviewer goes on to the next held message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from gateway.adapters.accounts import normalise_address
from gateway.core.model import Stamp
from gateway.service.queue import PER_PAGE, SORTS, QueueQuery, next_held, queue_page
from gateway.service.review import (
    Action,
    AlreadyDecided,
    ContentGone,
    FourEyes,
    NotFound,
    ReviewError,
)
from gateway.store.store import HeldFilter, HeldState, now
from gateway.web import render
from gateway.web.login import FORBIDDEN
from gateway.web.security import CONTENT_MARK

if TYPE_CHECKING:
    from gateway.web.app import ReviewUI

AGES = {"": ("any age", None, None), "1h": ("less than an hour", None, dt.timedelta(hours=1)),
        "1d": ("less than a day", None, dt.timedelta(days=1)),
        "older-1d": ("more than a day", dt.timedelta(days=1), None),
        "older-7d": ("more than a week", dt.timedelta(days=7), None)}
QUEUE_KEYS = ("state", "stamp", "reason", "age", "q", "sort", "per")
E = TypeVar("E", HeldState, Action)
CLI_HINT = re.compile(r" ?\((?:see: )?(?:stampgate [^)]*|--[^)]*)\)")  # "(--reason TEXT)"
NO_REASON = "Write a reason for the sender before rejecting. Nothing was rejected."
NOTHING_CHOSEN = "Tick at least one message, then choose what to do with them."


class DeskViews:
    """The desk's routes, over the UI's sessions and page rendering."""

    def __init__(self, ui: ReviewUI) -> None:
        self.ui = ui
        self.desk = ui.desk
        for name in ("queue.html", "detail.html"):  # compiled now, not by the first request
            ui.templates.get_template(name)

    # -- the queue -----------------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        if self.ui._reviewer(request) is None:
            return self.ui._to_login(request)
        params = request.query_params
        state_name = params.get("state", "held")
        state = None if state_name == "all" else _enum(HeldState, state_name, HeldState.HELD)
        stamp = params.get("stamp", "")
        if stamp not in {"", "none", *(s.value for s in Stamp)}:
            stamp = ""
        reason = params.get("reason", "").strip()[:200]
        age = params.get("age", "") if params.get("age", "") in AGES else ""
        search = params.get("q", "").strip()[:200]
        sort = params.get("sort", "oldest") if params.get("sort") in SORTS else "oldest"
        per = _int(params.get("per")) or PER_PAGE[0]
        _, older, younger = AGES[age]
        at = now()
        which = HeldFilter(state=state, stamp=stamp or None, reason=reason or None,
                           created_before=at - older if older else None,
                           created_after=at - younger if younger else None)
        expiry = dt.timedelta(days=self.desk.settings.hold_expiry_days)
        page = await queue_page(self.desk.store, self.desk.sealer,
                                QueueQuery(which, search, sort, _int(params.get("page")) or 1,
                                           per), at, expiry)
        kept = {k: v for k, v in {"state": state_name if state else "all", "stamp": stamp,
                                  "reason": reason, "age": age, "q": search, "sort": sort,
                                  "per": str(per) if per != PER_PAGE[0] else ""}.items() if v}
        selected = set(request.session.pop("selected", []))
        return self.ui._page(request, "queue.html", {
            "page": page, "state": kept.get("state", "held"), "stamp": stamp,
            "reason": reason, "age": age, "q": search, "sort": sort, "per": per,
            "ages": AGES, "sorts": SORTS, "pers": PER_PAGE,
            "states": [s.value for s in HeldState], "stamps": [(s.value, s.label) for s in Stamp],
            "kept": kept, "query": urlencode(kept), "selected": selected,
            "bulk_reason": request.session.pop("bulk_reason", "")})

    async def bulk(self, request: Request) -> Response:
        reviewer, form = await self.ui._form(request)
        if form is None:
            return PlainTextResponse(FORBIDDEN, status_code=403)
        if reviewer is None:
            return self.ui._to_login(request)
        back = "/?" + urlencode({k: str(form.get(k, "")) for k in QUEUE_KEYS
                                 if str(form.get(k, ""))})
        action = _enum(Action, str(form.get("action", "")), None)
        ids = [str(v) for v in form.getlist("ids")][:500]
        reason = " ".join(str(form.get("bulk_reason", "")).split())[:2000]
        problem = (NOTHING_CHOSEN if action in (None, Action.EXPIRE) or not ids
                   else NO_REASON if action is Action.REJECT and not reason else None)
        if problem is not None:
            self.ui._flash(request, "error", problem)
            request.session["selected"] = ids
            request.session["bulk_reason"] = reason
            return RedirectResponse(back, status_code=303)
        assert action is not None
        results = await self.desk.bulk(action, ids, reviewer.login, reason)
        done = [r.hold_id for r in results if r.decided]
        if done:
            self.ui._flash(request, "ok", f"{_past(action)}: {', '.join(done)}")
        left = [r for r in results if not r.decided]
        for result in left:
            self.ui._flash(request, "error", f"{result.hold_id}: {_words(result.error or '')}")
        if left:
            request.session["selected"] = [r.hold_id for r in left]
            request.session["bulk_reason"] = reason
        return RedirectResponse(back, status_code=303)

    # -- one held message ----------------------------------------------------------------

    async def detail(self, request: Request) -> Response:
        reviewer = self.ui._reviewer(request)
        if reviewer is None:
            return self.ui._to_login(request)
        try:
            hold = await self.desk.get(request.path_params["hold_id"])
        except NotFound:
            return self._missing(request)
        rendered: render.Rendered | None = None
        gone: str | None = None
        images: dict[int, Any] = {}
        try:
            data = await self.desk.content(hold.id, reviewer.login, "headers and text body",
                                           once=True)
            rendered, parts = await asyncio.to_thread(render.render_with_parts, data)
            images = await self.ui.preview.attachments(parts, hold.decision.photos)
        except ContentGone as exc:
            gone = str(exc)
        waiting = [h.id for h in await self.desk.find(HeldFilter(), limit=5000)]
        here = waiting.index(hold.id) if hold.id in waiting else None
        ticked = (await self.desk.store.last_audit(hold.id, "checklist")) is not None
        own = self.desk.settings.review_four_eyes and (
            reviewer.owns(hold.sender) or reviewer.login == normalise_address(hold.sender))
        return self.ui._page(request, "detail.html", {
            "hold": hold, "decision": hold.decision, "message": rendered, "gone": gone,
            "outbox": await self.desk.store.outbox_for(hold.id),
            "audit": await self.desk.store.audit_entries(held_id=hold.id),
            "expires": hold.created_at + dt.timedelta(days=self.desk.settings.hold_expiry_days),
            "held": hold.state is HeldState.HELD, "ticked": ticked, "own": own,
            "images": images,
            "next_id": waiting[here + 1] if here is not None and here + 1 < len(waiting)
            else None,
            "prev_id": waiting[here - 1] if here is not None and here > 0 else None})

    async def html_body(self, request: Request) -> Response:
        reviewer = self.ui._reviewer(request)
        if reviewer is None:
            return PlainTextResponse("Log in first.", status_code=403)
        try:
            data = await self.desk.content(request.path_params["hold_id"], reviewer.login,
                                           "html body", once=True)
        except (NotFound, ContentGone) as exc:
            return PlainTextResponse(str(exc), status_code=404)
        rendered = await asyncio.to_thread(render.render, data)
        clean = await asyncio.to_thread(render.sanitise, rendered.html or "")
        page = ('<!doctype html><meta charset="utf-8">'
                '<style>body{font-family:sans-serif;margin:.5rem}</style>' + clean)
        return Response(page, media_type="text/html; charset=utf-8",
                        headers={CONTENT_MARK: "1"})

    async def download(self, request: Request) -> Response:
        reviewer, form = await self.ui._form(request)
        if form is None:
            return PlainTextResponse(FORBIDDEN, status_code=403)
        if reviewer is None:
            return self.ui._to_login(request)
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

    async def checklist(self, request: Request) -> Response:
        """The adjustments ticked on this page, kept so that a bulk release may include it."""
        reviewer, form = await self.ui._form(request)
        if form is None:
            return PlainTextResponse(FORBIDDEN, status_code=403)
        if reviewer is None:
            return self.ui._to_login(request)
        hold_id = str(request.path_params["hold_id"])
        try:
            await self.desk.confirm_checklist(hold_id, reviewer.login,
                                              _strings(form.getlist("adjustment")))
            self.ui._flash(request, "ok", "Checklist saved: a bulk release may now include "
                                          f"{hold_id}.")
        except NotFound:
            return self._missing(request)
        except ReviewError as exc:
            self.ui._flash(request, "error", _words(str(exc)))
        return RedirectResponse(f"/held/{quote(hold_id, safe='')}", status_code=303)

    async def decide(self, request: Request) -> Response:
        reviewer, form = await self.ui._form(request)
        if form is None:
            return PlainTextResponse(FORBIDDEN, status_code=403)
        if reviewer is None:
            return self.ui._to_login(request)
        hold_id = str(request.path_params["hold_id"])
        action = _enum(Action, str(request.path_params["action"]), None)
        version = _int(form.get("version"))
        here = f"/held/{quote(hold_id, safe='')}"
        note = str(form.get("note", "")).strip() or None
        try:
            match action:
                case Action.RELEASE:
                    decided = await self.desk.release(
                        hold_id, reviewer.login, to=_strings(form.getlist("to")),
                        adjustments_done=_strings(form.getlist("adjustment")), note=note,
                        expected_version=version, override=str(form.get("override", "")) or None)
                    self.ui._flash(request, "ok", f"Released {decided.hold_id} to "
                                                  f"{', '.join(decided.recipients)}.")
                case Action.REJECT:
                    decided = await self.desk.reject(hold_id, reviewer.login,
                                                     str(form.get("reason", "")),
                                                     expected_version=version)
                    self.ui._flash(request, "ok",
                                   f"Rejected {decided.hold_id}; the sender is told.")
                case Action.DISCARD:
                    decided = await self.desk.discard(hold_id, reviewer.login, note,
                                                      expected_version=version)
                    self.ui._flash(request, "ok", f"Discarded {decided.hold_id}.")
                case Action.EXPIRE | None:
                    return PlainTextResponse("No such action.", status_code=404)
        except (AlreadyDecided, FourEyes) as exc:
            self.ui._flash(request, "error", str(exc))
            return RedirectResponse(here, status_code=303)
        except NotFound:
            return self._missing(request)
        except ReviewError as exc:
            self.ui._flash(request, "error", _words(str(exc)))
            return RedirectResponse(here, status_code=303)
        following = await next_held(self.desk.store, decided.hold_id)
        target = f"/held/{quote(following, safe='')}" if following else "/"
        return RedirectResponse(target, status_code=303)

    def _missing(self, request: Request) -> Response:
        return self.ui._page(request, "missing.html", {
            "error": f"There is no held message {request.path_params['hold_id']!r}."},
            status=404)


def _words(error: str) -> str:
    """A use case's message in the UI's words: a sentence, no command-line hints."""
    text = CLI_HINT.sub("", error).replace("--adjustments-done", "the checklist")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


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

