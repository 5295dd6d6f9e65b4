"""The document's style sheets: their rules indexed by what a selector keys on, with what
nesting, ``@scope``, ``@import`` of a ``data:`` sheet and ``@keyframes`` make of them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

import tinycss2
from selectolax.lexbor import LexborHTMLParser
from tinycss2.ast import (
    AtRule,
    Declaration,
    Node,
    ParenthesesBlock,
    QualifiedRule,
    StringToken,
)

from gateway.core.html_css import (
    PARTIAL_INLINE,
    Decl,
    Generated,
    Rule,
    Selector,
    cascade,
    decls_of,
    element_classes,
    generated,
    hides_alone,
    parse_selector,
    serialized,
)
from gateway.core.html_data import data_text, imported, remote
from gateway.core.html_legible import PAINTING, harmless

# Pseudo-classes of a state the reader puts an element in, not its state when the mail opens,
# and Outlook.com's dark-mode markers.
_STATE = re.compile(r":(?:hover|active|focus|focus-visible|focus-within|visited|target)\b"
                    r"|\[data-ogs[cb]\]",
                    re.IGNORECASE)
FONT_FACE = "@font-face"
KEYFRAMES = "@keyframes"
REMOTE = "@import"
# Rules that apply only under a condition: they may hide, never show (``_rules``).
_CONDITIONAL = frozenset({"media", "supports", "document", "layer", "container"})
# ``@import`` of ``data:`` sheets: how deep, and how much text one sheet may bring.
MAX_IMPORTS = 4
# Nested rules: how deep they are read, and how many selectors one may stand for.
MAX_NESTING = 64
MAX_SELECTORS = 64
_BLOCK = {"skip_comments": True, "skip_whitespace": True}
Found = Rule | Generated | tuple[str, str]
_EVERYTHING_HIDDEN = Rule(Selector(None, frozenset(), frozenset()), (("display", "none", False),),
                          0, True)


def _nested(parents: list[str], text: str) -> list[str]:
    """A nested rule's selectors: ``&`` is its parent (``.a { &.b {} }`` is ``.a.b``); without
    one it is a descendant of it (``.a { .b {} }`` is ``.a .b``). Past ``MAX_SELECTORS``
    ``&`` is any element, which matches more, never less."""
    children = text.lower().split(",")
    if len(children) * len(parents) > MAX_SELECTORS:
        return [child.replace("&", "*") for child in children[:MAX_SELECTORS]] + (
            ["*"] if len(children) > MAX_SELECTORS else [])
    out = []
    for child in children:
        for parent in parents:
            out.append(child.replace("&", parent) if "&" in child else f"{parent} {child}")
    return out


def _style_rule(selectors: list[str], content: list[Node], order: int,
                conditional: bool, depth: int, state: bool = False) -> Iterator[Found]:
    """One style rule: its declarations for each selector, its generated text, and the
    rules nested in it (CSS nesting: engines that have it apply them; those that do not
    drop them, so they may hide, never show)."""
    nodes = tinycss2.parse_blocks_contents(content, **_BLOCK)
    decls = tuple(decls_of(nodes))
    for text in selectors:
        parsed = parse_selector(text)
        if parsed is not None:
            yield Rule(parsed[0], decls, order, parsed[1] or conditional,
                       state or _STATE.search(text) is not None)
    yield from generated(selectors, content, order)
    if depth >= MAX_NESTING:  # deeper than any sheet a person writes: it may hide anything
        yield _EVERYTHING_HIDDEN
        return
    for node in nodes:
        if isinstance(node, QualifiedRule):
            inner = _nested(selectors, serialized(node.prelude))
            yield from _style_rule(inner, node.content, order, True, depth + 1, state)
        elif isinstance(node, AtRule) and node.content is not None and (
                node.lower_at_keyword in _CONDITIONAL or node.lower_at_keyword == "scope"):
            # ``.a { @media print { display: none } }``: the parent's, under the condition.
            yield from _style_rule(selectors, node.content, order, True, depth + 1, state)


def _scope_root(prelude: list[Node]) -> str:
    """The root selector of ``@scope (root) to (limit)``; any element without one."""
    for token in prelude:
        if isinstance(token, ParenthesesBlock):
            return serialized(token.content).strip().lower() or "*"
    return "*"


def _scoped(root: str, text: str) -> list[str]:
    """An ``@scope`` rule's selectors: ``:scope`` and ``&`` are the root, others inside it."""
    out = []
    for child in text.lower().split(","):
        if ":scope" in child or "&" in child:
            out.append(child.replace(":scope", root).replace("&", root))
        else:
            out.append(f"{root} {child}")
    return out


def _rules(nodes: Iterable[Node], order: int, conditional: bool = False,
           depth: int = 0, imports: int = 0, state: bool = False) -> Iterator[Found]:
    if depth >= MAX_NESTING:
        yield _EVERYTHING_HIDDEN
        return
    for node in nodes:
        keyword = node.lower_at_keyword if isinstance(node, AtRule) else ""
        if isinstance(node, AtRule) and keyword == "import" and imports < MAX_IMPORTS:
            # A sheet the message carries in a ``data:`` URL: clients that load it apply it.
            url = imported(node.prelude)
            if remote(url):
                yield REMOTE, url
            css = data_text(url)
            if css:
                inner = tinycss2.parse_stylesheet(css, **_BLOCK)
                yield from _rules(inner, order, True, depth + 1, imports + 1, state)
        if not isinstance(node, AtRule | QualifiedRule) or (
                isinstance(node, AtRule) and node.content is None):
            continue
        if keyword == "counter-style":
            # A list style's marker text: its prefix, symbols and suffix, as ``(name, text)``.
            name = serialized(node.prelude).strip().lower()
            words = [token.value for token in node.content if isinstance(token, StringToken)]
            if name and words:
                yield name, " ".join(words)
        elif keyword == "font-face":
            # A font the message carries (``data:``): its letters draw what it says.
            face = dict(cascade(decls_of(tinycss2.parse_blocks_contents(node.content))))
            if "data:" in face.get("src", ""):
                yield FONT_FACE, face.get("font-family", "").strip(" '\"")
        elif keyword in ("keyframes", "-webkit-keyframes"):
            # An animation may leave its element in any state its frames give (``forwards``).
            frames = tinycss2.parse_rule_list(node.content, **_BLOCK)
            if any(isinstance(frame, QualifiedRule) and any(
                    isinstance(d, Declaration) for d in tinycss2.parse_blocks_contents(
                        frame.content, **_BLOCK)) for frame in frames):
                yield KEYFRAMES, serialized(node.prelude).strip(" '\"").lower()
        elif keyword in _CONDITIONAL:
            # Mail clients differ in the media they claim: a conditional rule may hide (the
            # text then is a candidate), but what it shows may not be shown (print, a
            # width no screen has, a feature no browser supports, a layer that loses).
            inner = tinycss2.parse_rule_list(node.content, **_BLOCK)
            # Dark mode is a state the reader puts the client in (its canvas turns dark too).
            dark = "prefers-color-scheme" in serialized(node.prelude).lower()
            yield from _rules(inner, order, True, depth + 1, imports, state or dark)
        elif keyword == "scope":
            # Rules for a part of the document: in engines that have ``@scope``; may hide.
            root = _scope_root(node.prelude)
            for inner in tinycss2.parse_blocks_contents(node.content, **_BLOCK):
                if isinstance(inner, QualifiedRule):
                    order += 1
                    selectors = _scoped(root, serialized(inner.prelude))
                    yield from _style_rule(selectors, inner.content, order, True, depth + 1,
                                           state)
        elif isinstance(node, QualifiedRule):
            order += 1
            selectors = serialized(node.prelude).split(",")
            yield from _style_rule(selectors, node.content, order, conditional, depth, state)


@dataclass
class StyleSheet:
    """Rules of the document's `<style>` elements, indexed by what their selector keys on."""

    by_id: dict[str, list[Rule]] = field(default_factory=dict)
    by_class: dict[str, list[Rule]] = field(default_factory=dict)
    by_tag: dict[str, list[Rule]] = field(default_factory=dict)
    universal: list[Rule] = field(default_factory=list)
    generated: list[Generated] = field(default_factory=list)
    counters: dict[str, str] = field(default_factory=dict)
    fonts: set[str] = field(default_factory=set)
    keyframes: set[str] = field(default_factory=set)
    remote: bool = False
    # Some approximated or conditional rule may paint (``paints``); ``full``: apply such
    # rules as if they matched exactly (a client whose media and selectors they fit).
    paints: bool = False
    full: bool = False
    count: int = 0

    def add(self, css: str, conditional: bool = False) -> None:
        """The rules of one style sheet; a ``conditional`` one (``<style media="print">``)
        may only hide."""
        nodes = tinycss2.parse_stylesheet(css, **_BLOCK)
        for rule in _rules(nodes, self.count, conditional):
            if isinstance(rule, tuple):
                if rule[0] == FONT_FACE:
                    self.fonts.add(rule[1])
                elif rule[0] == KEYFRAMES:
                    self.keyframes.add(rule[1])
                elif rule[0] == REMOTE:
                    self.remote = True
                else:
                    self.counters[rule[0]] = rule[1]
                continue
            self.count = max(self.count, rule.order)
            if isinstance(rule, Generated):
                self.generated.append(rule)
                continue
            if rule.partial and not rule.state and not self.paints:
                self.paints = any(d[0] in PAINTING and not hides_alone(d[0], d[1])
                                  and not harmless(d[0], d[1]) for d in rule.decls)
            selector = rule.selector
            if selector.ids:
                self.by_id.setdefault(min(selector.ids), []).append(rule)
            elif selector.classes:
                self.by_class.setdefault(min(selector.classes), []).append(rule)
            elif selector.tag is not None:
                self.by_tag.setdefault(selector.tag, []).append(rule)
            else:
                self.universal.append(rule)

    def __bool__(self) -> bool:
        return self.count > 0 or self.remote or bool(
            self.universal or self.counters or self.fonts or self.keyframes)

    def animated(self, values: Mapping[str, str]) -> bool:
        """Whether an element runs one of the sheet's animations (its paint then depends on
        when a reader looks: unsure)."""
        named = values.get("animation-name", "") + " " + values.get("animation", "")
        return any(word.strip("'\"") in self.keyframes
                   for word in named.replace(",", " ").split())

    def matching(self, tag: str, classes: frozenset[str], element_id: str | None,
                 names: frozenset[str] = frozenset()) -> list[Decl]:
        """Declarations of the matching rules, in cascade order (specificity, then source);
        ``names``: the element's attribute names."""
        found: list[Rule] = list(self.universal)
        found += self.by_tag.get(tag, ())
        for name in classes:
            found += self.by_class.get(name, ())
        if element_id is not None:
            found += self.by_id.get(element_id, ())
        hits = [r for r in found if r.selector.matches(tag, classes, element_id, names)]
        hits.sort(key=lambda r: (r.selector.specificity, r.order))
        decls: list[Decl] = []
        for rule in hits:
            if not rule.partial or (self.full and not rule.state):
                decls += rule.decls
                continue
            decls += (d for d in rule.decls if hides_alone(d[0], d[1]))
            # A rule that may make the element inline: read beside its neighbours too.
            decls += ((PARTIAL_INLINE, d[1], False) for d in rule.decls
                      if d[0] == "display" and d[1].startswith(("inline", "contents")))
        return decls

    def drawn(self, tag: str, attrs: Mapping[str, str | None],
              quotes: tuple[str, str] | None = None,
              custom: Mapping[str, str] | None = None) -> tuple[str, str]:
        """The text drawn before and after an element by the rules that select it (the most
        specific, then the last, of each), with the element's ``quotes`` and custom
        properties."""
        if not self.generated:
            return "", ""
        classes = element_classes(attrs)
        element_id = (attrs.get("id") or "").lower() or None
        names = frozenset(attrs)
        best: dict[bool, Generated] = {}
        for rule in self.generated:
            if rule.selector.matches(tag, classes, element_id, names):
                held = best.get(rule.after)
                if held is None or (rule.selector.specificity, rule.order) >= (
                        held.selector.specificity, held.order):
                    best[rule.after] = rule
        return tuple(best[after].text(attrs, quotes, custom) if after in best else ""  # type: ignore[return-value]
                     for after in (False, True))

    @classmethod
    def of(cls, tree: LexborHTMLParser, full: bool = False) -> StyleSheet:
        """The sheet of a document: its ``<style>`` elements (of no other type; a ``media``
        but all or screen makes one conditional) and linked sheets (``data:`` ones read,
        conditional; another makes ``remote``). The renderings of one document share it."""
        sources: list[tuple[str, bool]] = []
        fetched = False
        for element in tree.css("style"):
            kind = (element.attributes.get("type") or "text/css").strip().lower()
            media = (element.attributes.get("media") or "all").strip().lower()
            if kind in ("text/css", ""):
                sources.append((element.text(deep=True), media not in ("all", "screen")))
        for element in tree.css("link"):
            attrs = element.attributes
            if "stylesheet" in (attrs.get("rel") or "").lower().split():
                css = data_text(attrs.get("href") or "")
                if css:
                    sources.append((css, True))
                fetched = fetched or remote(attrs.get("href") or "")
        sheet = _built(tuple(sources), fetched)
        return replace(sheet, full=True) if full else sheet


@lru_cache(maxsize=2)
def _built(sources: tuple[tuple[str, bool], ...], fetched: bool) -> StyleSheet:
    sheet = StyleSheet(remote=fetched)
    for css, conditional in sources:
        sheet.add(css, conditional)
    return sheet
