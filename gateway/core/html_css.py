"""CSS declarations of one element: inline styles and simple `<style>` rules, cascaded."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import tinycss2
from tinycss2.ast import (
    AtRule,
    Declaration,
    FunctionBlock,
    IdentToken,
    Node,
    QualifiedRule,
    StringToken,
)

# A declaration: property (lowercase), value (lowercase, whitespace collapsed), important.
Decl = tuple[str, str, bool]

_WS = re.compile(r"\s+")
# Class and id names: ASCII letters, digits, ``_`` and ``-``, any other character (``é``),
# and an escaped one (``.md\:hidden``) as ``name_key`` spells it.
_COMPOUND = re.compile(r"^(\*|[a-z][a-z0-9-]*)?((?:[.#][_a-z0-9\u0080-\uffff-]+)*)$")
_PART = re.compile(r"[.#][_a-z0-9\u0080-\uffff-]+")
_ESCAPED = re.compile(r"\\([^0-9a-f\n])")
_PUNCTUATION = re.compile(r"[\x21-\x2c\x2e\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7e]")
# ``:is(x)`` and its kin with one compound: the compound itself.
_IS = re.compile(r":(?:is|where|matches|-webkit-any|-moz-any)\(([^(),]*)\)")
# Pseudo-classes, attribute selectors and combinators are not matched exactly; the rightmost
# compound still applies its hiding declarations, so hiding is never missed (see Rule.partial).
_PSEUDO = re.compile(r"::?[a-z-]+(?:\([^()]*\))?|\[[^\]]*\]")
_COMBINATOR = re.compile(r"\s*[>+~]\s*|\s+")
# Pseudo-elements whose ``content`` a browser draws as text: at the start of the element
# (``::before``, a list item's ``::marker``) or at its end (``::after``).
_GENERATED = re.compile(r"::?(before|after|marker)\s*$")
STRINGS = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_ZERO = re.compile(r"^[+-]?0*\.?0*(?:px|pt|em|rem|ex|ch|vw|vh|%|cm|mm|in|pc)?$")
_QUOTES = {"open-quote": "0", "close-quote": "1"}
FONT_FACE = "@font-face"
# The property under which ``matching`` passes on an approximated rule's inline display.
PARTIAL_INLINE = "-stampgate-partial-inline"


def declarations(style: str) -> list[Decl]:
    """The declarations of a `style` attribute, in source order."""
    return list(_declarations(style))


@lru_cache(maxsize=4096)
def _declarations(style: str) -> tuple[Decl, ...]:
    tokens = tinycss2.parse_blocks_contents(style, skip_comments=True, skip_whitespace=True)
    return tuple(_decls(tokens))


def _decls(tokens: Iterable[Node]) -> Iterator[Decl]:
    for token in tokens:
        if isinstance(token, Declaration):
            value = _WS.sub(" ", _serialized(token.value, TOO_DEEP)).strip().lower()
            yield token.lower_name, value, token.important


# A value nested deeper than tinycss2 serializes (``calc(`` x 5000): unsure, as html_shift says.
TOO_DEEP = "nested(?)"


def _serialized(nodes: Iterable[Node], too_deep: str = "") -> str:
    try:
        return str(tinycss2.serialize(nodes))
    except RecursionError:
        return too_deep


@dataclass(frozen=True, slots=True)
class Selector:
    """A compound selector: optional tag, classes and ids, with its specificity."""

    tag: str | None
    classes: frozenset[str]
    ids: frozenset[str]

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (len(self.ids), len(self.classes), 0 if self.tag is None else 1)

    def matches(self, tag: str, classes: frozenset[str], element_id: str | None) -> bool:
        if self.tag is not None and self.tag != tag:
            return False
        if not self.classes <= classes:
            return False
        return not self.ids or (len(self.ids) == 1 and element_id in self.ids)


@dataclass(frozen=True, slots=True)
class Rule:
    """One selector of a style rule with its declarations; `partial` when only approximated."""

    selector: Selector
    decls: tuple[Decl, ...]
    order: int
    partial: bool


@dataclass(frozen=True, slots=True)
class Generated:
    """Text a style rule's ``content`` draws before or after the elements it selects: its
    strings, ``attr(name)`` as ``("attr", name)``, ``var(--name)`` as ``("var", name)`` and
    ``open-quote``/``close-quote`` as ``("quote", "0" or "1")``."""

    selector: Selector
    after: bool
    parts: tuple[str | tuple[str, str], ...]
    order: int

    def text(self, attrs: Mapping[str, str | None], quotes: tuple[str, str] | None = None,
             custom: Mapping[str, str] | None = None) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part[0] == "attr":
                out.append(attrs.get(part[1]) or "")
            elif part[0] == "quote":
                out.append(quotes[int(part[1])] if quotes else "")
            else:  # a custom property's strings
                out += (double or single for double, single in
                        STRINGS.findall((custom or {}).get(part[1], "")))
        return "".join(out)


def _content(tokens: Iterable[Node]) -> tuple[str | tuple[str, str], ...] | None:
    """The text parts of the last ``content`` declaration, or None without one."""
    found: tuple[str | tuple[str, str], ...] | None = None
    for token in tinycss2.parse_blocks_contents(tokens, skip_comments=True,
                                                skip_whitespace=True):
        if isinstance(token, Declaration) and token.lower_name == "content":
            parts: list[str | tuple[str, str]] = []
            for item in token.value:
                if isinstance(item, StringToken):
                    parts.append(item.value)
                elif isinstance(item, FunctionBlock) and item.lower_name in ("attr", "var"):
                    names = [a.lower_value for a in item.arguments if isinstance(a, IdentToken)]
                    if names:
                        parts.append((item.lower_name, names[0]))
                elif isinstance(item, IdentToken) and item.lower_value in _QUOTES:
                    parts.append(("quote", _QUOTES[item.lower_value]))
            found = tuple(parts)
    return found


def _generated(node: QualifiedRule, order: int) -> Iterator[Generated]:
    """The ``::before`` and ``::after`` text of one rule (matched, like hiding, on the
    rightmost compound of its selector: text that may be drawn is read)."""
    selectors = _serialized(node.prelude).lower().split(",")
    if not any(_GENERATED.search(text) for text in selectors):
        return
    parts = _content(node.content)
    if not parts:
        return
    for text in selectors:
        where = _GENERATED.search(text)
        parsed = _selector(text) if where is not None else None
        if where is not None and parsed is not None:
            yield Generated(parsed[0], where.group(1) == "after", parts, order)


def name_key(name: str) -> str:
    """A class or id name as selectors and elements are matched by (ASCII punctuation in a
    private character, so ``md:hidden`` is no pseudo-class)."""
    return _PUNCTUATION.sub(lambda match: chr(0xE000 + ord(match.group(0))), name)


def element_classes(attrs: Mapping[str, str | None]) -> frozenset[str]:
    """An element's class names, as ``name_key`` spells them."""
    names = (attrs.get("class") or "").lower()
    if _PUNCTUATION.search(names) is not None:
        names = name_key(names.replace("\t", " "))
    return frozenset(names.split())


def _selector(text: str) -> tuple[Selector, bool] | None:
    """The (rightmost) compound of a selector, and whether it was approximated."""
    text = _IS.sub(r"\1", text.strip().lower()).replace(":root", "html")  # the root: html
    if "\\" in text:
        text = _ESCAPED.sub(lambda match: name_key(match.group(1)), text)
    stripped = _PSEUDO.sub("", text)
    compounds = [part for part in _COMBINATOR.split(stripped) if part]
    if not compounds:
        return None
    match = _COMPOUND.match(compounds[-1])
    if match is None:
        return None
    tag = match.group(1)
    parts = _PART.findall(match.group(2))
    selector = Selector(
        tag=None if tag in (None, "*") else tag,
        classes=frozenset(p[1:] for p in parts if p[0] == "."),
        ids=frozenset(p[1:] for p in parts if p[0] == "#"),
    )
    return selector, stripped != text or len(compounds) > 1


def _rules(nodes: Iterable[Node], order: int,
           conditional: bool = False) -> Iterator[Rule | Generated | tuple[str, str]]:
    for node in nodes:
        if isinstance(node, AtRule) and node.content is not None and (
                node.lower_at_keyword == "counter-style"):
            # A list style's marker text: its prefix, symbols and suffix, as ``(name, text)``.
            name = _serialized(node.prelude).strip().lower()
            words = [token.value for token in node.content if isinstance(token, StringToken)]
            if name and words:
                yield name, " ".join(words)
            continue
        if isinstance(node, AtRule) and node.content is not None and (
                node.lower_at_keyword == "font-face"):
            # A font the message carries (``data:``): its letters draw what it says.
            face = dict(cascade(_decls(tinycss2.parse_blocks_contents(node.content))))
            if "data:" in face.get("src", ""):
                yield FONT_FACE, face.get("font-family", "").strip(" '\"")
            continue
        if isinstance(node, AtRule) and node.content is not None and node.lower_at_keyword in (
                "media", "supports", "document", "layer", "container"):
            # Mail clients differ in the media they claim: a conditional rule may hide (the
            # text then is a candidate), but what it shows may not be shown (print, a
            # width no screen has, a feature no browser supports, a layer that loses).
            inner = tinycss2.parse_rule_list(node.content, skip_comments=True,
                                             skip_whitespace=True)
            yield from _rules(inner, order, conditional=True)
        elif isinstance(node, QualifiedRule):
            order += 1
            decls = tuple(_decls(tinycss2.parse_blocks_contents(
                node.content, skip_comments=True, skip_whitespace=True)))
            for text in _serialized(node.prelude).split(","):
                parsed = _selector(text)
                if parsed is not None:
                    yield Rule(parsed[0], decls, order, parsed[1] or conditional)
            yield from _generated(node, order)


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
    count: int = 0

    def add(self, css: str, conditional: bool = False) -> None:
        """The rules of one style sheet; a ``conditional`` one (``<style media="print">``)
        may only hide."""
        nodes = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
        for rule in _rules(nodes, self.count, conditional):
            if isinstance(rule, tuple):
                if rule[0] == FONT_FACE:
                    self.fonts.add(rule[1])
                else:
                    self.counters[rule[0]] = rule[1]
                continue
            self.count = max(self.count, rule.order)
            if isinstance(rule, Generated):
                self.generated.append(rule)
                continue
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
        return self.count > 0 or bool(self.counters) or bool(self.fonts)

    def matching(self, tag: str, classes: frozenset[str], element_id: str | None) -> list[Decl]:
        """Declarations of the matching rules, in cascade order (specificity, then source)."""
        found: list[Rule] = list(self.universal)
        found += self.by_tag.get(tag, ())
        for name in classes:
            found += self.by_class.get(name, ())
        if element_id is not None:
            found += self.by_id.get(element_id, ())
        hits = [r for r in found if r.selector.matches(tag, classes, element_id)]
        hits.sort(key=lambda r: (r.selector.specificity, r.order))
        decls: list[Decl] = []
        for rule in hits:
            if not rule.partial:
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
        best: dict[bool, Generated] = {}
        for rule in self.generated:
            if rule.selector.matches(tag, classes, element_id):
                held = best.get(rule.after)
                if held is None or (rule.selector.specificity, rule.order) >= (
                        held.selector.specificity, held.order):
                    best[rule.after] = rule
        return tuple(best[after].text(attrs, quotes, custom) if after in best else ""  # type: ignore[return-value]
                     for after in (False, True))


def hides_alone(prop: str, value: str) -> bool:
    """A declaration that hides its element whatever else applies."""
    if prop == "display":
        return value == "none"
    if prop == "visibility":
        return value in ("hidden", "collapse")
    if prop in ("opacity", "font-size", "max-height", "max-width", "line-height"):
        return is_zero(value)
    return prop == "mso-hide" and value == "all"


def is_zero(value: str) -> bool:
    """A length or number that is zero (`0`, `0px`, `.0em`, `0 !important` stripped)."""
    return bool(value) and _ZERO.match(value) is not None


def cascade(decls: Iterable[Decl]) -> Mapping[str, str]:
    """The winning value of each property: later wins, `!important` wins over normal."""
    normal: dict[str, str] = {}
    important: dict[str, str] = {}
    for prop, value, is_important in decls:
        (important if is_important else normal)[prop] = value
    normal.update(important)
    return normal
