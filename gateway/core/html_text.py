"""The visible text of an HTML body, line by line, as a reader would see it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "math"})
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})
# "font-size:0" hides text, "font-size:0.9em" does not: the value must be zero.
_HIDING_STYLE = re.compile(
    r"(?:^|;)(?:display:none|visibility:hidden|"
    r"(?:font-size|opacity):(?:0+\.?0*|\.0+)(?:px|pt|em|rem|%)?(?:!important)?(?:;|$))"
)


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0
        self.stack: list[tuple[str, bool]] = []
        self.quote_depth = 0
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        hides = tag in _HIDDEN or _hides(attrs)
        if tag == "blockquote":
            self.quote_depth += 1
        if tag in _BLOCK:
            self._break()
        if tag == "pre":
            self.pre_depth += 1
        if tag in _VOID:
            return
        self.stack.append((tag, hides))
        if hides:
            self.hidden_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self._break()

    def _break(self) -> None:
        self.parts.append("\n" + "> " * self.quote_depth)

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote" and self.quote_depth:
            self.quote_depth -= 1
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
        if tag in _BLOCK:
            self._break()
        # Close up to the matching open tag; HTML in mail is often not well formed.
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                for _, hides in self.stack[index:]:
                    if hides:
                        self.hidden_depth -= 1
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if self.hidden_depth:
            return
        if self.pre_depth:
            data = data.replace("\n", "\n" + "> " * self.quote_depth)
        else:
            data = " ".join(data.split()) if data.strip() else " "
        self.parts.append(data)


def _hides(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name == "hidden":
            return True
        if name == "style" and value:
            style = "".join(value.split()).lower()
            if _HIDING_STYLE.search(style):
                return True
    return False


def visible_text(html: str) -> str:
    """Visible text with block elements as line breaks; hidden elements dropped."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(lines)
