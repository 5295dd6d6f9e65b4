"""The photos of one message: found by their bytes, read, stripped where asked, faces judged.

Every part whose decoded bytes start like an image counts, whatever its Content-Type says.
Everything is bounded: the number of images, the pixels of each, the seconds for all of them;
what is over a bound becomes a finding with a problem (held for communications and outside).
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email import message_from_bytes
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32

from gateway.adapters.images.archive import is_zip, members
from gateway.adapters.images.metadata import (
    ImageProblem,
    grey,
    open_photo,
    sniff,
    strip,
    video_location,
    written_as,
)
from gateway.core.photos import MetadataKind, PhotoFinding, PhotoLimits

_SIGNED = ("multipart/signed", "application/pkcs7-mime", "application/x-pkcs7-mime",
           "multipart/encrypted")
_POLICY = compat32.clone(linesep="\r\n")


@dataclass(frozen=True, slots=True)
class Scan:
    """The findings, and the message to send on (``data`` rewritten when a photo was
    stripped; the same bytes otherwise)."""

    findings: tuple[PhotoFinding, ...]
    data: bytes

    @property
    def stripped(self) -> tuple[PhotoFinding, ...]:
        return tuple(f for f in self.findings if f.stripped)


def scan(data: bytes, limits: PhotoLimits, strip_metadata: bool, faces: bool) -> Scan:
    """Read every photo of ``data``; rewrite those with identifying metadata when
    ``strip_metadata`` (never in a signed or encrypted message); count faces when ``faces``."""
    started = time.perf_counter()
    message = message_from_bytes(data, policy=_POLICY)
    signed = any(p.get_content_type() in _SIGNED for p in message.walk())
    findings: list[PhotoFinding] = []
    changed = False
    for number, (part, payload, kind, member) in enumerate(_images(message), start=1):
        name = _name(part, number) + (f"/{member}" if member else "")
        if member is not None and payload is None:
            findings.append(PhotoFinding(name, "", problem=f"inside an archive: {kind}"))
            continue
        if number > limits.images:
            findings.append(PhotoFinding(name, kind, problem=f"more than {limits.images} "
                                                             "images in one message: not read"))
            continue
        if time.perf_counter() - started > limits.seconds:
            findings.append(PhotoFinding(name, kind, problem=f"reading images took longer "
                                                             f"than {limits.seconds:g} s"))
            continue
        assert payload is not None
        try:
            finding, rewritten = _photo(name, kind, payload, limits, faces,
                                        strip_metadata and not signed and member is None)
        except Exception as exc:  # a decoder or detector bug fails closed for this photo
            finding, rewritten = PhotoFinding(name, kind, problem=f"cannot be read "
                                                                  f"({type(exc).__name__})"), None
        if signed and finding.metadata and strip_metadata:
            finding = replace(finding, problem="in a signed or encrypted message, which is "
                                               "never rewritten")
        elif member is not None and finding.metadata and not finding.problem:
            finding = replace(finding, problem="inside an archive, which is never rewritten")
        if rewritten is not None:
            _replace_payload(part, rewritten)
            if written_as(finding.format) != finding.format:
                _retype(part, "jpeg")
            changed = True
        findings.append(finding)
    return Scan(tuple(findings), _as_bytes(message) if changed else data)


def _photo(name: str, kind: str, payload: bytes, limits: PhotoLimits, faces: bool,
           may_strip: bool) -> tuple[PhotoFinding, bytes | None]:
    if kind == "VIDEO":
        found = frozenset({MetadataKind.LOCATION}) if video_location(payload) else frozenset()
        problem = "a video with a location, which is never rewritten" if found else ""
        return PhotoFinding(name, "VIDEO", found, problem=problem), None
    try:
        opened = open_photo(payload, int(limits.megapixels * 1_000_000))
    except ImageProblem as exc:
        return PhotoFinding(name, kind, problem=str(exc)), None
    finding = PhotoFinding(name, opened.format, opened.metadata)
    rewritten: bytes | None = None
    if opened.metadata and may_strip:
        try:
            rewritten = strip(opened)
        except Exception as exc:  # an encoder failure: the photo is held, not sent as it is
            return replace(finding, problem=f"cannot be rewritten ({type(exc).__name__})"), None
        finding = replace(finding, stripped=True)
    if faces:
        # OpenCV and numpy (45 MB a process) load with the first photo whose faces count.
        from gateway.adapters.images.faces import find_faces

        seen = find_faces(grey(opened.image))
        finding = replace(finding, faces=len(seen), sharp_faces=sum(f.sharp for f in seen))
    return finding, rewritten


def _images(message: Message) -> Iterator[tuple[Message, bytes | None, str, str | None]]:
    """(part, photo bytes, kind, archive member name) for every photo; a member that could
    not be read has no bytes, and its kind says why."""
    for part in message.walk():
        if part.is_multipart() or part.get_content_type() == "message/rfc822":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        kind = sniff(payload)
        if kind is not None:
            yield part, payload, kind, None
        elif is_zip(payload):
            for member, blob, what in members(payload):
                yield part, blob, what, member


def _name(part: Message, number: int) -> str:
    try:
        filename = part.get_filename()
    except Exception:
        filename = None
    if not filename:
        return f"image {number}"
    # Shown to reviewers and senders on one line: no control characters, bounded length.
    cleaned = "".join(c if c.isprintable() else "?" for c in str(filename)).strip()
    return cleaned[:120] or f"image {number}"


def _replace_payload(part: Message, data: bytes) -> None:
    encoded = base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")
    part.set_payload(encoded)
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "base64"


def _retype(part: Message, subtype: str) -> None:
    """Give a part rewritten in another format its new type and file extension."""
    part.set_type(f"image/{subtype}")
    name = part.get_filename()
    if not name:
        return
    stem, dot, _ = name.rpartition(".")
    new = f"{stem if dot else name}.jpg"
    if part.get_param("filename", header="content-disposition"):
        part.set_param("filename", new, header="Content-Disposition")
    if part.get_param("name"):
        part.set_param("name", new)


def _as_bytes(message: Message) -> bytes:
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_POLICY).flatten(message)
    return out.getvalue()
