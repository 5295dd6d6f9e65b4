"""Optional HMAC over the gateway's verdict so a downstream system can trust ``X-Stamp``.

The gateway writes ``X-Stampgate-Signature: v=1; q=QUEUE_ID; s=STAMP; mac=BASE64`` where
``mac`` is HMAC-SHA256 with ``stamp_signing_key`` over the queue id, the stamp it wrote in
``X-Stamp`` and the Message-ID. Incoming copies of both headers are stripped (rewrite.py), so
a sender cannot bring their own.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from gateway.core.headers import HeaderBlock, read_header_block

SIGNATURE_HEADER = "X-Stampgate-Signature"
STAMP_HEADER = "X-Stamp"
_VERSION = "1"
_FIELD = re.compile(r"\s*([a-z]+)\s*=\s*([^;\s]*)\s*")
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MSGID = re.compile(r"<[^<>\s]{1,998}>")


class SignatureInvalid(Exception):
    """The message's stamp signature is missing, malformed or does not verify."""


@functools.lru_cache(maxsize=8)
def resolve_key(value: str) -> bytes:
    """The ``stamp_signing_key`` setting: the secret itself, or ``file:PATH`` to read it."""
    if value.startswith("file:"):
        secret = Path(value[5:]).read_bytes().strip()
    else:
        secret = value.encode("utf-8")
    if len(secret) < 16:
        raise ValueError("must be at least 16 characters (make one with: stampgate keygen)")
    return secret


def _mac(key: bytes, queue_id: str, stamp: str, message_id: str) -> str:
    text = "\0".join(("stampgate-stamp-v1", queue_id, stamp, normal_message_id(message_id)))
    digest = hmac.new(key, text.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def normal_message_id(value: str) -> str:
    """The ``<id>`` token of a Message-ID field, as the message reader takes it."""
    match = _MSGID.search(value)
    return match.group(0) if match else " ".join(value.split())


def signature_field(key: bytes, queue_id: str, stamp: str, message_id: str) -> tuple[str, str]:
    """The header (name, value) the gateway adds next to its ``X-Stamp``."""
    if not _SAFE.match(queue_id) or not _SAFE.match(stamp):
        raise ValueError("queue id and stamp must be short tokens")
    mac = _mac(key, queue_id, stamp, message_id)
    return SIGNATURE_HEADER, f"v={_VERSION}; q={queue_id}; s={stamp}; mac={mac}"


@dataclass(frozen=True, slots=True)
class VerifiedStamp:
    """A signature that verified: what the gateway decided about this message."""

    queue_id: str
    stamp: str
    message_id: str


def verify(message: bytes, key: bytes) -> VerifiedStamp:
    """Check the message's signature against its ``X-Stamp`` and Message-ID, or raise."""
    headers = read_header_block(message)
    signature = _only(headers, SIGNATURE_HEADER)
    stamp = _only(headers, STAMP_HEADER).strip()
    message_id = _only(headers, "Message-ID").strip()
    fields: dict[str, str] = {}
    for part in signature.split(";"):
        match = _FIELD.fullmatch(part)
        if match is not None:
            fields[match.group(1)] = match.group(2)
    if fields.get("v") != _VERSION or not {"q", "s", "mac"} <= fields.keys():
        raise SignatureInvalid(f"{SIGNATURE_HEADER} is malformed")
    if fields["s"] != stamp:
        raise SignatureInvalid(f"{STAMP_HEADER} ({stamp!r}) is not the signed stamp "
                               f"({fields['s']!r})")
    try:
        given = base64.b64decode(fields["mac"], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} is malformed") from None
    expected = base64.b64decode(_mac(key, fields["q"], stamp, message_id))
    if not hmac.compare_digest(given, expected):
        raise SignatureInvalid("the signature does not match (altered headers or another key)")
    return VerifiedStamp(fields["q"], stamp, message_id)


def _only(headers: HeaderBlock, name: str) -> str:
    values = headers.get_all(name)
    if len(values) != 1:
        found = "no" if not values else f"{len(values)}"
        raise SignatureInvalid(f"{found} {name} header(s); exactly one is needed")
    return " ".join(str(values[0]).split())
