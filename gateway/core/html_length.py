"""CSS math functions of lengths: ``calc()``, ``min()``, ``max()`` and ``clamp()`` with
``+ - * /`` and parentheses, evaluated to pixels (``html_paint.px``). An expression it cannot
evaluate is None: the caller reads it as unknown, never as a length."""

from __future__ import annotations

import re
from collections.abc import Callable

# One length or number (with its unit), an operator, a parenthesis, a comma or a function.
_TOKEN = re.compile(r"\s*(?:([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)([a-z%]*)|([a-z-]+)\(|"
                     r"([-+*/(),]))")
_FUNCTIONS = frozenset({"calc", "min", "max", "clamp"})
_MAX_TOKENS = 200
_MAX_DEPTH = 16

# A value: pixels, or a plain number (``unit`` False).
_Value = tuple[float, bool]


def evaluate(text: str, convert: Callable[[float, str], float | None]) -> float | None:
    """The pixels of a math expression (``convert``: a number and its unit to pixels)."""
    tokens: list[tuple[str, str | float]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or len(tokens) > _MAX_TOKENS:
            return None if text[position:].strip() else _finish(tokens)
        position = match.end()
        number, unit, function, symbol = match.groups()
        if number is not None:
            if unit:
                pixels = convert(float(number), unit)
                if pixels is None:
                    return None
                tokens.append(("px", pixels))
            else:
                tokens.append(("n", float(number)))
        elif function is not None:
            if function not in _FUNCTIONS:
                return None
            tokens.append(("f", function))
        else:
            tokens.append(("s", symbol))
    return _finish(tokens)


def _finish(tokens: list[tuple[str, str | float]]) -> float | None:
    parser = _Parser(tokens)
    try:
        value = parser.sum(0)
    except (ValueError, IndexError, ZeroDivisionError):
        return None
    if parser.at < len(tokens) or (not value[1] and value[0] != 0):
        return None
    return value[0]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str | float]]) -> None:
        self.tokens = tokens
        self.at = 0

    def _take(self) -> tuple[str, str | float]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _peek(self) -> tuple[str, str | float] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def sum(self, depth: int) -> _Value:
        value = self.product(depth)
        while self._peek() in (("s", "+"), ("s", "-")):
            sign = -1.0 if self._take()[1] == "-" else 1.0
            other = self.product(depth)
            value = (value[0] + sign * other[0], value[1] or other[1])
        return value

    def product(self, depth: int) -> _Value:
        value = self.atom(depth)
        while self._peek() in (("s", "*"), ("s", "/")):
            divide = self._take()[1] == "/"
            other = self.atom(depth)
            if divide:
                if other[1]:
                    raise ValueError("a length divided by a length")
                value = (value[0] / other[0], value[1])
            else:
                if value[1] and other[1]:
                    raise ValueError("a length times a length")
                value = (value[0] * other[0], value[1] or other[1])
        return value

    def atom(self, depth: int) -> _Value:
        if depth > _MAX_DEPTH:
            raise ValueError("too deep")
        kind, content = self._take()
        if kind == "px":
            return float(content), True
        if kind == "n":
            return float(content), False
        if kind == "s" and content == "(":
            value = self.sum(depth + 1)
            self._close()
            return value
        if kind == "s" and content == "-":
            value = self.atom(depth + 1)
            return -value[0], value[1]
        if kind != "f":
            raise ValueError("unexpected")
        arguments = [self.sum(depth + 1)]
        while self._peek() == ("s", ","):
            self._take()
            arguments.append(self.sum(depth + 1))
        self._close()
        numbers = [value for value, _ in arguments]
        unit = any(is_length for _, is_length in arguments)
        if content == "calc" and len(arguments) == 1:
            return arguments[0]
        if content == "min":
            return min(numbers), unit
        if content == "max":
            return max(numbers), unit
        if content == "clamp" and len(arguments) == 3:
            return max(numbers[0], min(numbers[1], numbers[2])), unit
        raise ValueError("arguments")

    def _close(self) -> None:
        if self._take() != ("s", ")"):
            raise ValueError("unclosed")
