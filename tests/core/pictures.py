"""Chromium as the oracle of what a page draws: pictures of its first lines, compared."""

from __future__ import annotations

import io

from PIL import Image, ImageChops
from playwright.sync_api import Page


def picture(page: Page, markup: str, height: int = 60, wait_ms: int = 0) -> Image.Image:
    """The first ``height`` pixels of the page (a new document each time: ``set_content``
    keeps the last one's ``<body link>`` colour); ``wait_ms`` for a frame or an animation."""
    page.goto("about:blank")
    page.set_content(markup)
    if wait_ms:
        page.wait_for_timeout(wait_ms)
    clip = {"x": 0, "y": 0, "width": 800, "height": height}
    return Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")


def changed(first: Image.Image, second: Image.Image) -> int:
    """How many pixels differ between two pictures, more than anti-aliasing makes them."""
    red, green, blue = ImageChops.difference(first, second).split()
    lighter = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return sum(lighter.histogram()[32:])


def difference(page: Page, markup: str, words: str, other: str, wait_ms: int = 0) -> int:
    """How many pixels change when ``words`` in the page are other letters: a few hundred
    where they are not drawn, some 1,500 where a line of them is."""
    page.set_viewport_size({"width": 800, "height": 300})
    return changed(picture(page, markup, wait_ms=wait_ms),
                   picture(page, markup.replace(words, other), wait_ms=wait_ms))
