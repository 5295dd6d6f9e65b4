"""The plain-path reader gives what aiosmtpd's header parser gives, or leaves the path to it.

The reference is ``aiosmtpd.smtp.SMTP._getaddr`` itself, unchanged, on the same argument
(what follows ``FROM:`` / ``TO:``, stripped, as the protocol hands it over).
"""

from __future__ import annotations

import asyncio
import re
import string
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from gateway.core.envelope_path import drop_trailing_dot, plain_path
from gateway.smtp.handler import GatewaySMTP

# Hypothesis's caches stay out of the tree (see tests/core/conftest.py).
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "stampgate-hypothesis"))

LIMITS = (0, 64)  # aiosmtpd's local_part_limit: off (the gateway's setting), and RFC 5321's


def _protocols(limit: int) -> tuple[GatewaySMTP, SMTP]:
    loop = asyncio.new_event_loop()
    try:
        gateway, reference = GatewaySMTP(object(), loop=loop), SMTP(object(), loop=loop)
    finally:
        loop.close()
    gateway.local_part_limit = reference.local_part_limit = limit
    return gateway, reference


PROTOCOLS = {limit: _protocols(limit) for limit in LIMITS}


def outcome(read: Callable[[str], object], argument: str) -> object:
    """What a ``_getaddr`` gives for ``argument``: its result, or the kind of error it raised
    (the parser's own failures on odd input are compared too)."""
    try:
        return read(argument)
    except Exception as exc:
        return ("raised", type(exc).__name__)


ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
atoms = st.text(alphabet=ATEXT, min_size=1, max_size=12)
local_parts = st.one_of(st.lists(atoms, min_size=1, max_size=4).map(".".join),
                        st.text(alphabet=ATEXT, min_size=60, max_size=400))  # very long
labels = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,12}[A-Za-z0-9])?", fullmatch=True)
domains = st.one_of(st.lists(labels, min_size=1, max_size=4).map(".".join),
                    st.lists(st.text(alphabet="abcxyz0", min_size=63, max_size=80), min_size=1,
                             max_size=3).map(".".join))
parameters = st.lists(st.sampled_from([
    "SIZE=5000", "SIZE=0", "SIZE=99999999999", "SIZE", "BODY=8BITMIME", "BODY=7BIT",
    "BODY=9BIT", "SMTPUTF8", "SMTPUTF8=yes", "size=12", "body=8bitmime", "RET=HDRS",
    "ENVID=x", "NOTIFY=NEVER", "AUTH=<>", "FOO", "X=", "X=="]), max_size=3)
gaps = st.sampled_from(["", " ", "  ", "\t", " \t "])


@st.composite
def plain_arguments(draw: st.DrawFn) -> str:
    local = draw(local_parts.filter(lambda text: "=?" not in text))
    params = draw(parameters)
    tail = draw(gaps) + " ".join(params) if params else ""
    return f"<{local}@{draw(domains)}>{tail}"


NASTY = ['"', "\\", "<", ">", "<<", ">>", " ", "\t", "  ", "\x00", "\x01", "\x0b", "\x0c",
         "\x1f", "\x7f", "\r", "\n", "\r\n", "(", ")", "(c)", "[", "]", "[127.0.0.1]", ":", ";",
         ",", ".", "..", "@", "@@", "@relay.test:", "\u00e9", "\u0430", "\u00a0", "\u2028",
         "\u3000", "\U0001f600", "=?", "=?utf-8?q?x?=", "SIZE=1", "=1", " =1", "%", "!",
         "-", "_", "a" * 70, "\udcff"]


@st.composite
def adversarial_arguments(draw: st.DrawFn) -> str:
    """A plain argument with pieces inserted, removed or replaced (or none), or odd text."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.lists(st.sampled_from([*ATEXT, *NASTY]), max_size=30).map("".join)
                    | st.text(max_size=40))
    text = draw(plain_arguments())
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(NASTY))
        kind = draw(st.sampled_from(["insert", "remove", "replace"]))
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "remove":
            text = text[:at] + text[at + draw(st.integers(1, 3)):]
        else:
            text = text[:at] + piece + text[at + 1:]
    return text


@settings(max_examples=400, deadline=None, database=None)
@given(argument=plain_arguments())
def test_plain_paths_take_the_fast_path_with_the_parsers_answer(argument: str) -> None:
    assert plain_path(argument) is not None, argument
    for limit, (gateway, reference) in PROTOCOLS.items():
        expected = outcome(reference._getaddr, argument)
        fast = plain_path(argument, limit)
        assert fast is None or fast == expected, (argument, limit)
        assert outcome(gateway._getaddr, argument) == expected, (argument, limit)


OUTCOMES: Counter[str] = Counter()


@settings(max_examples=1500, deadline=None, database=None)
@given(argument=adversarial_arguments())
def test_odd_paths_get_the_parsers_answer_or_are_left_to_it(argument: str) -> None:
    for limit, (gateway, reference) in PROTOCOLS.items():
        expected = outcome(reference._getaddr, argument)
        fast = plain_path(argument, limit)
        if fast is not None:
            assert fast == expected, (argument, limit)
        OUTCOMES["fast" if fast is not None else "declined"] += 1
        got = outcome(gateway._getaddr, argument)
        if got != expected:
            # The gateway's two refusals of its own (553 malformed address): where the parser
            # broke, and where it read an encoded word ("=?...?=") in the local part.
            assert got == (None, None), (argument, limit)
            assert expected[0] == "raised" or "=?" in argument, (argument, limit)  # type: ignore[index]
            OUTCOMES["refused by the gateway"] += 1


# The rewrite smtp_RCPT made of every argument before it was skipped when there is no dot
# that could end a domain.
TRAILING_DOT = re.compile(r"(@[^\s<>@]+?)\.+(?=>|\s|$)")


@settings(max_examples=1000, deadline=None, database=None)
@given(argument=st.one_of(adversarial_arguments(), plain_arguments().map(lambda a: "TO:" + a),
                          plain_arguments().map(lambda a: "TO:" + a.replace(">", ".>", 1)),
                          st.lists(st.sampled_from(["@", ".", "..", ">", "<", " ", "\n", "\x0b",
                                                    "\u2028", "a", "b."]),
                                   max_size=12).map("".join)))
def test_the_trailing_dot_rewrite_is_unchanged(argument: str) -> None:
    expected = TRAILING_DOT.sub(r"\1", argument, count=1)
    assert drop_trailing_dot(argument) == expected
    OUTCOMES["rewritten" if expected != argument else "kept"] += 1


def test_the_differential_test_saw_both_answers() -> None:
    """Both branches of the properties above were exercised often (they run first in file
    order; run alone, this test runs them)."""
    if not OUTCOMES["fast"]:
        test_odd_paths_get_the_parsers_answer_or_are_left_to_it()
    if not OUTCOMES["kept"]:
        test_the_trailing_dot_rewrite_is_unchanged()
    assert OUTCOMES["fast"] >= 200 and OUTCOMES["declined"] >= 200, OUTCOMES
    assert OUTCOMES["rewritten"] >= 20 and OUTCOMES["kept"] >= 200, OUTCOMES


DECLINED = [
    "<>", "<> SIZE=10", "alice@example.org", '<"alice smith"@example.org>', "<al\\ice@example.org>",
    "<alice@example.org> (comment) SIZE=10", "<alice@example.org.>", "<a@b..c>",
    "<<alice@example.org>>", "<alice@example.org>>", "<=?utf-8?q?bob?=@example.org>",
    "<alice@[127.0.0.1]>", "<@relay.test:alice@example.org>", "<alice@example.org",
    "< alice@example.org>", "<alice @example.org>", "<alic\u00e9@example.org>",
    "<alice@ex\u0430mple.org>", "<alice@example.org> \x0bSIZE=1", "<alice@example.org>\x00",
    "<.alice@example.org>", "<alice.@example.org>", "<a..b@example.org>", "<alice@-example.org>",
    "<alice@example-.org>", "<alice@exa_mple.org>", "<alice@example.org>\r\n",
]


def test_only_the_plain_form_is_read_fast() -> None:
    assert plain_path("<Alice.Smith+tag@Example.ORG>\tSIZE=100 BODY=8BITMIME") == (
        "Alice.Smith+tag@Example.ORG", "SIZE=100 BODY=8BITMIME")
    assert plain_path("<alice@example.org>SIZE=10") == ("alice@example.org", "SIZE=10")
    assert plain_path("<" + "a" * 65 + "@example.org>", 64) is None
    assert [a for a in DECLINED if plain_path(a) is not None] == []
    gateway, reference = PROTOCOLS[0]
    for argument in DECLINED:
        if "=?" in argument:  # decoded by the parser, refused by the gateway
            assert outcome(reference._getaddr, argument) == ("bob@example.org", "")
            assert outcome(gateway._getaddr, argument) == (None, None)
        else:
            assert outcome(gateway._getaddr, argument) == outcome(reference._getaddr, argument)


def test_a_path_the_parser_breaks_on_or_decodes_is_malformed() -> None:
    gateway, reference = PROTOCOLS[0]
    for argument in ("<", "<alice@", "<a@"):
        assert outcome(reference._getaddr, argument)[0] == "raised"  # type: ignore[index]
        assert gateway._getaddr(argument) == (None, None)
    for argument in ("<=?utf-8?q?alice?=@example.org>", "<=?utf-8?b?YWxpY2U=?=@example.org>",
                     "=?utf-8?q?alice?=@example.org SIZE=10"):
        assert reference._getaddr(argument)[0] == "alice@example.org"
        assert gateway._getaddr(argument) == (None, None)
    # Written that way, not decoded: taken as it is.
    assert gateway._getaddr("<a=?b@example.org>") == ("a=?b@example.org", "")
