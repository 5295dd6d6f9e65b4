"""The text of an HTML body as readers see it: the visible rendering and its hidden candidates."""

from __future__ import annotations

from dataclasses import replace

from selectolax.lexbor import LexborHTMLParser, LexborNode

from gateway.core.bidi import PDF, RLO
from gateway.core.html_cascade import element_style
from gateway.core.html_data import carried_text
from gateway.core.html_depth import PREFIX, bounded_depth
from gateway.core.html_elements import MOVED, NEVER, NO_TEXT_INPUTS
from gateway.core.html_forms import (
    choice,
    collapses,
    leads,
    outside_viewport,
    shadow_hosts,
    shadow_roots,
)
from gateway.core.html_frame import Frame, hide
from gateway.core.html_lines import ALT_CLOSE, ALT_OPEN, CELL, MARKERS, Lines, finish
from gateway.core.html_outlook import conditional_bodies, outlook_view
from gateway.core.html_sheet import StyleSheet
from gateway.core.html_style import Computed, Display, Style

_BLOCKS = (Display.BLOCK, Display.PARAGRAPH)
_CACHE_SIZE = 4096


class _Render:
    """One pass over a document, writing every sink at once."""

    def __init__(self, sheet: StyleSheet, outlook: bool, renamed: bool,
                 reverse: bool = False, strict: bool = False) -> None:
        self.sheet = sheet
        self.outlook = outlook
        self.renamed = renamed
        # Lay the children of a reversed flex box out in the order they are drawn; whether
        # the document has one.
        self.reverse = reverse
        self.reverses = False
        # Whether it has a right-to-left row: drawn mirrored, read in order by its readers.
        self.mirrors = False
        # ``strict``: text some client may not draw (unsure) is hidden; whether there is any.
        self.strict = strict
        self.unsure = False
        self.covers = False  # a box drawn over the page: any text may be under it
        self.pull = False  # the box just closed pulls the next one up over it
        self.hosts: frozenset[int] = frozenset()
        self.visible = Lines()
        self.everything = Lines()
        self.hidden: list[Lines] = []
        self.cache: dict[tuple[str, tuple[tuple[str, str | None], ...], Style, bool],
                         Computed] = {}

    def run(self, root: LexborNode) -> None:
        top = Frame(Style(), True, True, None, 0, False)
        # An explicit stack, not recursion: nesting depth is the sender's to choose.
        todo: list[tuple[LexborNode, Frame]
                   | tuple[None, tuple[Frame, Computed, str, str]]] = [(root, top)]
        while todo:
            item = todo.pop()
            if item[0] is None:
                frame, computed, after, closing = item[1]
                self._sheet_drawn(after, frame)
                self._drawn(closing, frame)
                self._close(frame, computed)
                continue
            node, parent = item
            tag = node.tag or ""
            if self.renamed and tag.startswith(PREFIX):
                tag = tag[len(PREFIX):]
            if tag == "-text":
                self._text(node.text_content or "", parent)
            elif not tag.startswith("-") and tag not in NEVER:
                entered = self._open(node, tag, parent)
                if entered is not None:
                    frame, computed = entered
                    after = closing = ""
                    if self.sheet.generated:
                        style = computed.style
                        before, after = self.sheet.drawn(tag, node.attributes, style.quotes,
                                                         dict(style.custom))
                        self._sheet_drawn(before, frame)
                    if computed.marker:  # a list-style string is the item's marker
                        self._sheet_drawn(computed.marker + " ", frame)
                    if tag == "q" and frame.style.quotes is not None:
                        self._sheet_drawn(frame.style.quotes[0], frame)
                        after += frame.style.quotes[1]
                    if computed.reversed:  # drawn reversed: bidi.py reads it so
                        self._drawn(RLO, frame)
                        closing = PDF
                    todo.append((None, (frame, computed, after, closing)))
                    children = list(node.iter(include_text=True))
                    if frame.reverses or frame.mirrors:
                        self.reverses = self.reverses or frame.reverses
                        self.mirrors = self.mirrors or frame.mirrors
                        if self.reverse:
                            children.reverse()
                    todo.extend((child, frame) for child in reversed(children))

    def _sinks(self, frame: Frame) -> list[Lines]:
        sinks = [self.everything, *frame.moved]
        if frame.hidden is not None:
            sinks.append(frame.hidden)
        if frame.flow:
            sinks.append(self.visible)
        return sinks

    def _text(self, data: str, frame: Frame) -> None:
        if frame.closed_details:
            frame = hide(frame, self.hidden)
        data = MARKERS.sub("", data)
        shows = frame.flow and frame.shown and self._shows(frame.style)
        if not shows and frame.hidden is None and data.strip():
            frame = hide(frame, self.hidden)
        for sink in (self.everything, frame.hidden, self.visible if shows else None):
            if sink is not None:
                sink.text(data, frame.quote, frame.style.pre)
        for sink in frame.moved:
            sink.text(data, frame.quote, frame.style.pre)

    def _shows(self, style: Style) -> bool:
        if style.colour_unsure or style.background_unsure:
            self.unsure = True
            if self.strict:
                return False
        return style.text_shows()

    def _open(self, node: LexborNode, tag: str, parent: Frame
              ) -> tuple[Frame, Computed] | None:
        attrs = node.attributes
        if tag == "thead" and leads(node):
            tag = "tbody"  # a header group first in its table is drawn where it stands
        computed = self._computed(tag, tuple(attrs.items()), parent.style, parent.closed_details)
        if self.pull or (self.hosts and node.mem_id in self.hosts) or (tag == "table" and collapses(
                node, lambda col: self._computed("col", tuple(col.attributes.items()),
                                                 Style(), False).style.visible)):
            # drawn over the box before it; its children replaced by a shadow root, or a
            # column of it collapsed: maybe not drawn
            computed = replace(computed, shifted=computed.shifted or self.pull,
                               unsure=True)
            self.pull = False
        if tag == "text" and outside_viewport(node):
            computed = replace(computed, box_hidden=True)  # clipped by its <svg>
        if parent.choice is not None and tag == "option" and parent.choice != node.mem_id:
            computed = replace(computed, display=Display.NONE)  # a drop-down shows one
        unsure = parent.unsure or computed.unsure or computed.shifted
        self.unsure = self.unsure or unsure
        # Drawn elsewhere than the source has it: read alone, not where it stands.
        flow = (parent.flow and computed.display is not Display.NONE
                and not computed.moved)
        shown = parent.shown and not computed.box_hidden and not (self.strict and unsure)
        if computed.covers and parent.flow and shown and computed.display is not Display.NONE:
            self.covers = True
        hidden = parent.hidden
        if hidden is None and not (flow and shown and self._shows(computed.style)):
            hidden = Lines()
            self.hidden.append(hidden)
        moved = parent.moved
        if computed.moved or computed.shifted or parent.reverses or tag in MOVED:
            sink = Lines()
            self.hidden.append(sink)
            moved = (*moved, sink)
        if (parent.row_items or computed.beside) and computed.display in _BLOCKS:
            computed = replace(computed, display=Display.CELL)  # beside its siblings
        # A row of a right-to-left table or flex box draws its first cell on the right.
        mirrors = computed.style.rtl and (computed.display is Display.ROW or computed.row_items)
        frame = Frame(computed.style, flow, shown, hidden,
                      parent.quote + (tag == "blockquote"),
                      tag == "details" and "open" not in attrs, moved,
                      computed.row_items, computed.reverses, mirrors, unsure,
                      choice(node) if tag == "select" else parent.choice)
        if tag == "br":
            for sink in self._sinks(frame):
                sink.newline(frame.quote)
            return None
        if tag == "input":
            kind = (attrs.get("type") or "text").strip().lower()
            value = attrs.get("value") or ""
            if kind == "password" and value:  # drawn as discs
                self._drawn(value, hide(frame, self.hidden))
            elif kind not in NO_TEXT_INPUTS:
                self._drawn(value or attrs.get("placeholder") or "", frame)
            elif kind in ("checkbox", "radio"):  # a box, ticked or not ("☐ Cleared ...")
                self._drawn("\u2611 " if "checked" in attrs else "\u2610 ", frame)
            elif kind == "image":  # a picture button: its alt text while the picture is blocked
                self._drawn(attrs.get("alt") or "", frame)
            return None
        if tag == "option" and attrs.get("label"):  # drawn instead of the option's text
            self._drawn(attrs.get("label") or "", frame)
        if tag == "textarea" and attrs.get("placeholder") and not node.text(deep=True).strip():
            self._drawn(attrs.get("placeholder") or "", frame)  # drawn while it is empty
        carried = carried_text(tag, attrs) or computed.pictures
        if carried:  # a picture's or frame's text: clients that block them do not draw it
            self.unsure = True
            self._drawn(carried, hide(frame, self.hidden) if self.strict else frame)
        if tag == "iframe":
            return None
        if tag == "img":
            alt = MARKERS.sub("", attrs.get("alt") or "").strip()
            if alt:
                visible = frame.flow and frame.shown
                for target in (self.everything, frame.hidden,
                               self.visible if visible else None):
                    if target is not None:
                        target.text(ALT_OPEN + alt + ALT_CLOSE, frame.quote, False)
            return None
        self._edge(frame, computed, opening=True)
        if tag == "optgroup" and parent.choice is None:
            self._drawn(attrs.get("label") or "", frame)
            for sink in self._sinks(frame):
                sink.breaks(1)
        return frame, computed

    def _computed(self, tag: str, items: tuple[tuple[str, str | None], ...], parent: Style,
                  closed_details: bool) -> Computed:
        # Mail repeats the same few styles on every element: compute each combination once.
        key = (tag, items, parent, closed_details)
        cached = self.cache.get(key)
        if cached is None:
            cached = element_style(self.sheet, self.outlook, tag, dict(items), parent,
                                   closed_details)
            if len(self.cache) < _CACHE_SIZE:
                self.cache[key] = cached
        return cached

    def _close(self, frame: Frame, computed: Computed) -> None:
        self._edge(frame, computed, opening=False)
        self.pull = self.pull or computed.pulls_next

    def _drawn(self, text: str, frame: Frame) -> None:
        """Text drawn that is no text node (a field's value, generated content, a bidi
        control): read like the element's own; a line break in it (``"\\A"``) breaks the
        line."""
        if not text:
            return
        for number, line in enumerate(text.replace("\r\n", "\n").split("\n")):
            if number:
                for sink in self._sinks(frame):
                    sink.newline(frame.quote)
            if line:
                self._text(line, frame)

    def _sheet_drawn(self, text: str, frame: Frame) -> None:
        """Text a style sheet draws: Outlook's engine draws none of it, and a webmail that
        drops the style sheet neither; read for stricter stamps, not as shown."""
        if text:
            self._drawn(text, hide(frame, self.hidden))

    def _edge(self, frame: Frame, computed: Computed, *, opening: bool) -> None:
        display = computed.display
        for sink in self._sinks(frame):
            if display is Display.PARAGRAPH:
                sink.breaks(2)
            elif display in (Display.BLOCK, Display.ROW):
                sink.breaks(1)
            elif display is Display.CELL and opening:
                sink.text(CELL, frame.quote, False)


def _render(html: str, *, outlook: bool, reverse: bool = False,
            full: bool = False) -> tuple[list[str], bool, bool, bool, bool]:
    """Raw renderings of one view of the document: visible, everything, each hidden block;
    whether it has a reversed flex box, and a right-to-left row (``reverse``: laid out as
    drawn from the left); whether it has unsure text, and then last, the visible text
    without it (a second rendering a reader sees; empty under a covering box); whether an
    approximated or conditional rule may paint (``full``: applied as if it matched)."""
    bounded, renamed = bounded_depth(html)
    tree = LexborHTMLParser(bounded)
    root = tree.root
    if root is None:
        return [], False, False, False, False
    sheet = StyleSheet.of(tree, full)
    render = _Render(sheet, outlook, renamed, reverse)
    render.hosts = shadow_hosts(tree, bounded)
    render.run(root)
    texts = [render.visible.raw(), render.everything.raw(),
             *(sink.raw() for sink in render.hidden if sink)]
    if render.covers:  # what the box covers is not known: a reader may see none of it
        return [*texts, ""], render.reverses, render.mirrors, True, sheet.paints
    if render.unsure:  # also as a client that draws none of the unsure text shows it
        strict = _Render(sheet, outlook, renamed, reverse, strict=True)
        strict.hosts = render.hosts
        strict.run(root)
        return ([*texts, strict.visible.raw()], render.reverses, render.mirrors, True,
                sheet.paints)
    return texts, render.reverses, render.mirrors, False, sheet.paints


def candidates(html: str) -> tuple[tuple[str, bool], ...]:
    """Candidate texts with whether each is the rendering a reader sees (``shown``).

    Of the visible text of the document (and of Outlook's view of it) the one shown is read
    with each table cell apart, as a reader reads columns, and with images shown; it is a
    candidate even when empty. Its other variants (cells joined as ``innerText`` joins them,
    images' alt text) and the texts that show hidden text are read for stricter stamps."""
    main, reverses, mirrors, unsure, paints = _render(html, outlook=False)
    views = _views(main, unsure, True)
    if paints:  # as a client every approximated or conditional rule fits (a phone, say)
        full = _render(html, outlook=False, full=True)
        views += _views(full[0], full[3], True)
    if reverses or mirrors:  # its children as drawn from the left, last first; a reader
        # of a right-to-left row reads it in order, so that view alone clears nothing
        reverse = _render(html, outlook=False, reverse=True)
        views += _views(reverse[0], reverse[3], reverses)
    outlook = outlook_view(html)
    if outlook is not None:
        drawn = _render(outlook, outlook=True)
        views += _views(drawn[0], drawn[3], True)
    for body in (*conditional_bodies(html), *shadow_roots(html)):  # a fragment alone
        views.append((_render(body, outlook=True)[0][:1], False))
    found: dict[str, bool] = {}
    for view, whole in views:
        for index, raw in enumerate(view):
            texts = [finish(raw, cells_apart=False, alt_shown=False),
                     finish(raw, cells_apart=True, alt_shown=False)]
            if index == 0:  # images blocked, as mail clients do by default; cells glued
                texts += [finish(raw, cells_apart=False, alt_shown=True),
                          finish(raw, cells_apart=True, alt_shown=True)]
                if CELL in raw:
                    texts.append(finish(raw, cells_apart=False, alt_shown=False, glued=True))
            for number, text in enumerate(texts):
                shown = whole and index == 0 and number == 1
                if shown or text.strip():
                    found[text] = found.get(text, False) or shown
    return tuple(found.items()) or (("", True),)


def _views(texts: list[str], unsure: bool, whole: bool) -> list[tuple[list[str], bool]]:
    """One rendering's texts as views; with unsure text, also the visible text without it."""
    if not unsure:
        return [(texts, whole)]
    return [(texts[:-1], whole), (texts[-1:], whole)]


def renderings(html: str) -> tuple[str, ...]:
    """Candidate texts, the one a browser shows first, then those that show hidden text."""
    return tuple(text for text, _ in candidates(html) if text.strip()) or ("",)


def visible_text(html: str) -> str:
    """The visible text, each table cell on its own line as a reader reads the columns."""
    raw = _render(html, outlook=False)[0]
    return finish(raw[0], cells_apart=True, alt_shown=False) if raw else ""
