"""The message as a milter sees it, made into bytes; the relay's rewriting made into edits.

Postfix passes each header field as a name and a value (with ``SMFIP_HDR_LEADSPC`` the value
keeps the space after the colon; folded lines are joined by a bare LF) and the body in chunks
with CRLF line endings. The submit use case reads the same bytes the relay would read.
"""

from __future__ import annotations

from collections.abc import Sequence

from kilter.protocol.core import EditMessage
from kilter.protocol.messages import ChangeHeader, InsertHeader, ReplaceBody

from gateway.core.headers import read_header_block
from gateway.core.owned import owned as owned


def crlf(value: bytes) -> bytes:
    return value.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def assemble(headers: Sequence[tuple[str, bytes]], body: bytes) -> bytes:
    """The message's bytes: every field as ``Name:value``, a blank line, the body."""
    fields = b"".join(name.encode("ascii", "replace") + b":" + crlf(value) + b"\r\n"
                      for name, value in headers)
    return fields + b"\r\n" + body


def header_edits(headers: Sequence[tuple[str, bytes]], data: bytes,
                 relayed: bytes | None) -> list[EditMessage]:
    """The edits that make the MTA's copy the one the relay would send.

    The client's copies of the gateway's own fields are deleted (a change to an empty value,
    last occurrence first so the indexes stay valid); the fields the relay prepends
    (``Received``, ``X-Stamp``, the signature, a missing ``Message-ID``, a partner's labels)
    are inserted at the top, in the relay's order. A Subject the relay tagged for a partner
    (``[TLP:...]``) is changed.
    """
    relayed_fields = read_header_block(relayed).fields if relayed is not None else ()
    edits: list[EditMessage] = []
    seen: dict[str, int] = {}
    removals: list[ChangeHeader] = []
    subjects: list[tuple[int, str, bytes]] = []
    for name, value in headers:
        key = name.strip().lower()
        seen[key] = seen.get(key, 0) + 1
        if owned(name):
            removals.append(ChangeHeader(seen[key], name, b""))
        elif key == "subject":
            subjects.append((seen[key], name, value))
    edits.extend(reversed(removals))
    if relayed is None:
        return edits
    kept = sum(1 for line in read_header_block(data).fields if not owned(line.name))
    prepended = relayed_fields[:len(relayed_fields) - kept]
    for index, line in enumerate(prepended):
        field, value = _milter_field(line.raw)
        edits.append(InsertHeader(index, field, value))
    tagged = [line for line in relayed_fields[len(prepended):] if line.name.lower() == "subject"]
    for (occurrence, name, original), line in zip(subjects, tagged, strict=False):
        if _words(original) != _words(line.raw.partition(b":")[2]):
            edits.append(ChangeHeader(occurrence, name, _milter_field(line.raw)[1]))
    return edits


def _milter_field(raw: bytes) -> tuple[str, bytes]:
    """A relayed field as a milter edit carries it: the name, the value with bare LF folds."""
    field, _, value = raw.partition(b":")
    return field.decode("ascii", "replace"), value.removesuffix(b"\r\n").replace(b"\r\n", b"\n")


def _words(value: bytes) -> list[bytes]:
    return value.split()


BODY_CHUNK = 65535  # the most one milter packet carries


def body_edits(data: bytes, relayed: bytes | None) -> list[EditMessage]:
    """The body replacement that makes the MTA's copy the relay's, when the relay changed the
    body (a photo rewritten without its metadata); none when the body is the client's."""
    if relayed is None:
        return []
    body = _body(relayed)
    if body == _body(data):
        return []
    return [ReplaceBody(body[i:i + BODY_CHUNK]) for i in range(0, len(body), BODY_CHUNK)]


def _body(data: bytes) -> bytes:
    """What follows the empty line that ends the header block."""
    rest = data[read_header_block(data).end:]
    return rest[2:] if rest.startswith(b"\r\n") else rest[1:] if rest.startswith(b"\n") else rest
