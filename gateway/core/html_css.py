"""CSS declarations and selectors: an element's inline style, a rule's selector reduced to
its rightmost compound, and the cascade (``html_sheet.py`` reads the style sheets)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import tinycss2
from tinycss2.ast import Declaration, FunctionBlock, IdentToken, Node, StringToken, URLToken

from gateway.core.html_data import svg_text

# A declaration: property (lowercase), value (lowercase, whitespace collapsed), important.
Decl = tuple[str, str, bool]

_WS = re.compile(r"\s+")
# Class and id names: ASCII letters, digits, ``_`` and ``-``, any other character (``é``),
# and an escaped one (``.md\:hidden``) as ``name_key`` spells it.
_COMPOUND = re.compile(r"^(\*|[a-z][a-z0-9-]*)?((?:[.#%][_a-z0-9\u0080-\uffff-]+)*)$")
_PART = re.compile(r"[.#%][_a-z0-9\u0080-\uffff-]+")
# An attribute selector: ``[class~=x]`` is ``.x``, ``[id=x]`` is ``#x``, any other the
# presence of its attribute (written ``%name`` in a compound; its value is not compared).
_ATTRIBUTE = re.compile(r"\[\s*([_a-z][_a-z0-9-]*)\s*(?:([~|^$*]?=)\s*(\"[^\"]*\"|'[^']*'|[^\]\s]*)"
                        r"\s*[is]?\s*)?\]")
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
STRINGS = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_ZERO = re.compile(r"^[+-]?0*\.?0*(?:px|pt|em|rem|ex|ch|vw|vh|%|cm|mm|in|pc)?$")
# The property under which ``matching`` passes on an approximated rule's inline display.
PARTIAL_INLINE = "-stampgate-partial-inline"


def declarations(style: str) -> list[Decl]:
    """The declarations of a `style` attribute, in source order."""
    return list(_declarations(style))


@lru_cache(maxsize=4096)
def _declarations(style: str) -> tuple[Decl, ...]:
    tokens = tinycss2.parse_blocks_contents(style, skip_comments=True, skip_whitespace=True)
    return tuple(decls_of(tokens))


def decls_of(tokens: Iterable[Node]) -> Iterator[Decl]:
    for token in tokens:
        if isinstance(token, Declaration):
            value = _WS.sub(" ", serialized(token.value, TOO_DEEP)).strip().lower()
            yield token.lower_name, value, token.important


# A value nested deeper than tinycss2 serializes (``calc(`` x 5000): unsure, as html_shift says.
TOO_DEEP = "nested(?)"


def serialized(nodes: Iterable[Node], too_deep: str = "") -> str:
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
    attrs: frozenset[str] = frozenset()

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (len(self.ids), len(self.classes) + len(self.attrs), 0 if self.tag is None else 1)

    def matches(self, tag: str, classes: frozenset[str], element_id: str | None,
                names: frozenset[str] = frozenset()) -> bool:
        """Whether an element matches (``names``: the names of its attributes)."""
        if self.tag is not None and self.tag != tag:
            return False
        if not self.classes <= classes or not self.attrs <= names:
            return False
        return not self.ids or (len(self.ids) == 1 and element_id in self.ids)


@dataclass(frozen=True, slots=True)
class Rule:
    """One selector of a style rule with its declarations; `partial` when only approximated."""

    selector: Selector
    decls: tuple[Decl, ...]
    order: int
    partial: bool
    # Matched only in a state the reader puts it in (``:hover``, ``:focus``, ``:visited``).
    state: bool = False


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


def parse_selector(text: str) -> tuple[Selector, bool] | None:
    """The (rightmost) compound of a selector, and whether it was approximated."""
    text = _IS.sub(r"\1", text.strip().lower()).replace(":root", "html")  # the root: html
    if "\\" in text:
        text = _ESCAPED.sub(lambda match: name_key(match.group(1)), text)
    approximated = False
    if "[" in text:
        compared: list[bool] = []
        text = _ATTRIBUTE.sub(lambda match: _attribute(match, compared), text)
        approximated = any(compared)
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
        attrs=frozenset(p[1:] for p in parts if p[0] == "%"),
    )
    return selector, approximated or stripped != text or len(compounds) > 1


def _attribute(match: re.Match[str], compared: list[bool]) -> str:
    """An attribute selector as a part of its compound; ``compared`` learns whether a value
    the compound does not check was given."""
    name, operator, value = match.group(1), match.group(2), (match.group(3) or "").strip("'\"")
    if operator is not None and (not value or value != value.strip() or " " in value):
        compared.append(True)
        return "%" + name
    if name == "class" and operator in ("~=", "="):
        return "." + name_key(value)
    if name == "id" and operator == "=":
        return "#" + name_key(value)
    compared.append(operator is not None)
    return "%" + name


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


# Pseudo-elements whose ``content`` a browser draws as text: at the start of the element
# (``::before``, a list item's ``::marker``) or at its end (``::after``).
_GENERATED = re.compile(r"::?(before|after|marker)\s*$")
_QUOTES = {"open-quote": "0", "close-quote": "1"}


def _content(tokens: Iterable[Node]) -> tuple[str | tuple[str, str], ...] | None:
    """The text parts of the last ``content`` declaration, or None without one."""
    found: tuple[str | tuple[str, str], ...] | None = None
    for token in tinycss2.parse_blocks_contents(tokens, skip_comments=True, skip_whitespace=True):
        if isinstance(token, Declaration) and token.lower_name == "content":
            parts: list[str | tuple[str, str]] = []
            for item in token.value:
                if isinstance(item, StringToken):
                    parts.append(item.value)
                elif isinstance(item, FunctionBlock) and item.lower_name in ("attr", "var"):
                    names = [a.lower_value for a in item.arguments if isinstance(a, IdentToken)]
                    if names:
                        parts.append((item.lower_name, names[0]))
                elif isinstance(item, URLToken):  # a picture: an SVG draws its text
                    parts.append(svg_text(item.value))
                elif isinstance(item, FunctionBlock) and item.lower_name == "url":
                    parts += (svg_text(a.value) for a in item.arguments
                              if isinstance(a, StringToken))
                elif isinstance(item, IdentToken) and item.lower_value in _QUOTES:
                    parts.append(("quote", _QUOTES[item.lower_value]))
            found = tuple(parts)
    return found


def generated(selectors: list[str], content: list[Node], order: int) -> Iterator[Generated]:
    """The ``::before`` and ``::after`` text of one rule (matched, like hiding, on the
    rightmost compound of its selector: text that may be drawn is read)."""
    if not any(_GENERATED.search(text) for text in selectors):
        return
    parts = _content(content)
    if not parts:
        return
    for text in selectors:
        where = _GENERATED.search(text)
        parsed = parse_selector(text) if where is not None else None
        if where is not None and parsed is not None:
            yield Generated(parsed[0], where.group(1) == "after", parts, order)
