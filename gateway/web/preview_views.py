"""Thumbnails of a held message's image attachments: drawn by the server, audited, never
cached, never the attachment's own bytes."""

from __future__ import annotations

import asyncio
from html import escape
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gateway.service import preview
from gateway.service.review import ContentGone, NotFound
from gateway.web import render

if TYPE_CHECKING:
    from gateway.core.photos import PhotoFinding
    from gateway.web.app import ReviewUI

UNSHOWN = "cannot be shown"
NO_STORE = {"Cache-Control": "no-store"}


def placeholder(reason: str) -> bytes:
    """A small SVG that says the image cannot be shown, and why (escaped, no script)."""
    words, lines, line = reason.split(), [], ""
    for word in words:
        if line and len(line) + len(word) > 26:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    lines = [*lines, line][:4] if line else lines[:4]
    text = "".join(f'<text x="80" y="{78 + 14 * n}" text-anchor="middle" font-size="11">'
                   f"{escape(t)}</text>" for n, t in enumerate(lines))
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="140" '
            'viewBox="0 0 160 140" role="img"><title>Image cannot be shown: '
            f'{escape(reason)}</title><rect width="160" height="140" fill="#f0f0f0" '
            'stroke="#d8d8dc"/><text x="80" y="52" text-anchor="middle" font-size="14" '
            f'font-weight="600" fill="#6b6b70">{UNSHOWN}</text><g fill="#6b6b70">{text}</g>'
            "</svg>").encode()


class PreviewViews:
    """``/held/{id}/attachments/{n}/thumbnail`` and the attachments' part of the page."""

    def __init__(self, ui: ReviewUI) -> None:
        self.ui = ui
        self.desk = ui.desk
        self.thumbnails = preview.Thumbnails()

    def max_pixels(self) -> int:
        return int(self.desk.policy().photos.limits.megapixels * 1_000_000)

    async def attachments(self, parts: list[preview.Part],
                          photos: tuple[PhotoFinding, ...]) -> dict[int, preview.Shown]:
        """What the page shows for each image attachment (the page lists every finding
        in its facts too, so none is lost when a name does not match)."""
        return await asyncio.to_thread(preview.plan, parts, photos, self.max_pixels())

    async def thumbnail(self, request: Request) -> Response:
        reviewer = self.ui._reviewer(request)
        if reviewer is None:
            return PlainTextResponse("Log in first.", status_code=403, headers=NO_STORE)
        hold_id, index = request.path_params["hold_id"], int(request.path_params["index"])
        try:
            data = await self.desk.content(hold_id, reviewer.login,
                                           f"thumbnail of attachment {index}", once=True)
        except (NotFound, ContentGone) as exc:
            return PlainTextResponse(str(exc), status_code=404, headers=NO_STORE)
        drawn = await self.thumbnails.get(hold_id.strip().upper(), index,
                                          lambda: render.attachment_parts(data),
                                          self.max_pixels())
        if drawn is None:
            return PlainTextResponse("No such image attachment.", status_code=404,
                                     headers=NO_STORE)
        if isinstance(drawn, bytes):
            return Response(drawn, media_type="image/jpeg", headers=NO_STORE)
        return Response(placeholder(drawn), media_type="image/svg+xml",
                        headers={**NO_STORE, "X-Stampgate-Thumbnail": "unavailable"})
