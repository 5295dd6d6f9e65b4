"""The common MAIL FROM / RCPT TO path, read without the general address parser.

aiosmtpd reads the path of every MAIL and RCPT command with the RFC 5322 header parser of
``email._header_value_parser`` (``SMTP._getaddr``): correct for every form, but it builds a
token tree and costs some 100 µs a command. Almost every client sends the plain form,
``<local@domain>`` and perhaps ESMTP parameters; ``plain_path`` recognises exactly that form
with one regular expression and gives what ``_getaddr`` gives for it. Anything else (quoted
or encoded local parts, source routes, address literals, non-ASCII, comments, odd spacing,
a trailing dot, no angle brackets, the null path ``<>``) is declined (``None``) and left to
the general parser, so its answers stay what they were.

``drop_trailing_dot`` is the RCPT argument's rewrite of a fully qualified domain
(``press@example.org.``), done only when the argument has a dot where one could end.
"""

from __future__ import annotations

import re

# RFC 5321/5322 atext, ASCII only: none of the parser's specials ()<>@,:;.\"[] nor space.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# A host name label (letters, digits, hyphens inside).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# After ``>``: nothing, or spaces/tabs (which the parser skips) before a parameter keyword.
_PLAIN = re.compile(
    rf"<(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>{_LABEL}(?:\.{_LABEL})*)>"
    r"[ \t]*(?=[A-Za-z0-9]|\Z)")
# A fully qualified domain's trailing dot (press@example.org.), and the cheap test for a
# dot where one could end: most arguments have none, and the rewrite costs ten times more.
_TRAILING_DOT = re.compile(r"(@[^\s<>@]+?)\.+(?=>|\s|$)")
_DOT_AT_END = re.compile(r"\.(?=>|\s|$)")


def plain_path(argument: str, local_part_limit: int = 0) -> tuple[str, str] | None:
    """``(address, parameters)`` of a plain ``<local@domain> [params]`` path, or ``None``.

    ``argument`` is what follows ``FROM:`` / ``TO:``, stripped. The parameters are returned
    as the text after the path, untouched, as ``SMTP._getaddr`` returns them. ``None`` means
    "not the plain form" (or a local part over ``local_part_limit``, when it is set): the
    caller then asks the general parser.
    """
    match = _PLAIN.match(argument)
    if match is None:
        return None
    local = match["local"]
    # "=?charset?q?...?=" at the start of the local part is an RFC 2047 encoded word to the
    # header parser, which decodes it.
    if "=?" in local or (local_part_limit and len(local) > local_part_limit):
        return None
    return f"{local}@{match['domain']}", argument[match.end():]


def drop_trailing_dot(argument: str) -> str:
    """``TO:<press@example.org.>`` as ``TO:<press@example.org>``: the same domain."""
    if _DOT_AT_END.search(argument) is None:
        return argument
    return _TRAILING_DOT.sub(r"\1", argument, count=1)
