"""Test messages, and a small asyncio SMTP client that times each message.

``smtp-source`` stops at the first 4xx/5xx reply, so the mix (where bounces are expected)
and the latency test use this client instead: a new session per message, no pipelining.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HELO = "bench-client.localdomain"
SENDER = "alice@example.org"
_TEXT = ("the client the hearing was moved to next week and the file needs the translated "
         "statement before then please check the dates against the appointment letter and "
         "keep the case number on every page")
_WORDS = _TEXT.split(" ")


def _filler_lines(size: int, rng: random.Random) -> list[str]:
    lines: list[str] = []
    total = 0
    while total < size:
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 70:
            words.append(rng.choice(_WORDS))
        line = " ".join(words)
        lines.append(line)
        total += len(line) + 2
    return lines


def make_message(size: int, stamp_line: str, recipients: Sequence[str], *,
                 attachment: bool = False, seed: int = 7) -> bytes:
    """A message of about ``size`` bytes (CRLF line ends) whose body starts with the stamp.

    With ``attachment`` the body is multipart/mixed: a 3 KB text part with the stamp and a
    base64 PDF-like attachment filling the rest (what a large real message mostly is).
    No Message-ID: Postfix and the gateway both add one, so each message is a new thread.
    """
    rng = random.Random(seed)
    headers = [
        f"From: Alice Example <{SENDER}>",
        f"To: {', '.join(recipients)}",
        "Subject: Case file update",
        "Date: Thu, 26 Nov 2026 10:00:00 +0000",
        "MIME-Version: 1.0",
    ]
    if not attachment:
        headers.append("Content-Type: text/plain; charset=utf-8")
        head = "\r\n".join(headers) + "\r\n\r\n" + stamp_line + "\r\n\r\n"
        body = _filler_lines(size - len(head), rng)
        return (head + "\r\n".join(body) + "\r\n").encode()
    boundary = "=_bench_boundary_42"
    headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    text = stamp_line + "\r\n\r\n" + "\r\n".join(_filler_lines(3000, rng)) + "\r\n"
    start = ("\r\n".join(headers) + "\r\n\r\nThis is a MIME message.\r\n\r\n"
             f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
             f"--{boundary}\r\nContent-Type: application/pdf; name=\"statement.pdf\"\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "Content-Disposition: attachment; filename=\"statement.pdf\"\r\n\r\n")
    end = f"\r\n--{boundary}--\r\n"
    raw_size = max(0, (size - len(start) - len(end)) * 57 // 78)
    encoded = base64.b64encode(rng.randbytes(raw_size)).decode()
    lines = [encoded[i:i + 76] for i in range(0, len(encoded), 76)]
    return (start + "\r\n".join(lines) + end).encode()


def make_photo(seed: int = 7, width: int = 800, height: int = 600) -> bytes:
    """A real JPEG (Pillow) with a real EXIF block: GPS position, camera serial, owner.

    Smooth gradients with noise, so it compresses like a photo (about 100 KB), not like
    random bytes or a flat colour.
    """
    import io

    import numpy as np
    from PIL import Image

    from tests.support.photos import exif

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)],
                    axis=-1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=85, exif=exif())
    return out.getvalue()


def make_document_message(size: int, stamp_line: str, recipients: Sequence[str], *,
                          seed: int = 7) -> bytes:
    """A message of about ``size`` bytes with a real PDF, a real DOCX, each stamped on its
    first line, and a real JPEG photo with EXIF GPS data attached (the ``2048 KB`` row).

    The PDF has 40 pages of text (the gateway reads the first pages) and an embedded file;
    the DOCX has 2,000 paragraphs and a picture. Random bytes fill the embedded file and the
    picture, so the message is about ``size`` once base64-encoded.
    """
    import io
    import zipfile

    from pypdf import PdfReader, PdfWriter

    from tests.support.documents import CONTENT_TYPES, W, raw_pdf

    rng = random.Random(seed)
    photo = make_photo(seed)
    raw_room = max(0, size * 57 // 78 - 6000 - len(photo))
    pages = [[stamp_line, *_filler_lines(1800, rng)],
             *[_filler_lines(1800, rng) for _ in range(39)]]
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw_pdf(pages))))
    writer.add_attachment("scan.bin", rng.randbytes(raw_room // 2))
    pdf_out = io.BytesIO()
    writer.write(pdf_out)
    paragraphs = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>"
                         for line in [stamp_line, *_filler_lines(120_000, rng)])
    docx_out = io.BytesIO()
    with zipfile.ZipFile(docx_out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("word/document.xml", f'<w:document xmlns:w="{W}"><w:body>'
                                              f"{paragraphs}</w:body></w:document>")
        archive.writestr("word/media/image1.jpeg", rng.randbytes(
            max(0, raw_room - len(pdf_out.getvalue()))), zipfile.ZIP_STORED)
    boundary = "=_bench_boundary_43"
    head = "\r\n".join([
        f"From: Alice Example <{SENDER}>", f"To: {', '.join(recipients)}",
        "Subject: Case file update", "Date: Thu, 26 Nov 2026 10:00:00 +0000",
        "MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"'])
    parts = [f"{head}\r\n\r\nThis is a MIME message.\r\n\r\n--{boundary}\r\n"
             f"Content-Type: text/plain; charset=utf-8\r\n\r\n{stamp_line}\r\n\r\n"
             + "\r\n".join(_filler_lines(3000, rng)) + "\r\n"]
    for name, ctype, data in (
            ("statement.pdf", "application/pdf", pdf_out.getvalue()),
            ("report.docx", "application/vnd.openxmlformats-officedocument."
                            "wordprocessingml.document", docx_out.getvalue()),
            ("photo.jpg", "image/jpeg", photo)):
        encoded = base64.b64encode(data).decode()
        lines = "\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
        parts.append(f"--{boundary}\r\nContent-Type: {ctype}; name=\"{name}\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n"
                     f"Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{lines}\r\n")
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


def write_source_file(message: bytes, path: Path) -> Path:
    """The message for ``smtp-source -F``, which adds CRLF to each line itself."""
    path.write_bytes(message.replace(b"\r\n", b"\n"))
    return path


@dataclass(frozen=True, slots=True)
class Job:
    kind: str  # "relay", "hold", "bounce": what the gateway is expected to do
    recipients: tuple[str, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Result:
    kind: str
    code: int
    reply: str
    accept_s: float  # connect to the reply after the final dot
    error: str | None = None
    ehlo_s: float = 0.0  # connect to the (multi-line) EHLO reply


class SmtpError(Exception):
    pass


async def _reply(reader: asyncio.StreamReader) -> tuple[int, str]:
    lines: list[str] = []
    while True:
        raw = await reader.readline()
        if not raw:
            raise SmtpError("connection closed")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return int(line[:3]), "\n".join(lines)


async def _command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: str,
                   want: int) -> None:
    writer.write(line.encode() + b"\r\n")
    code, text = await _reply(reader)
    if code != want:
        raise SmtpError(f"{line.split(':')[0]}: {text}")


def _stuffed(data: bytes) -> bytes:
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


async def send_one(host: str, port: int, job: Job, timeout: float = 60.0) -> Result:
    """One session, one message; the time runs from connect to the reply to the final dot."""
    started = time.perf_counter()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            code, text = await _reply(reader)
            if code != 220:
                raise SmtpError(f"greeting: {text}")
            await _command(reader, writer, f"EHLO {HELO}", 250)
            ehlo = time.perf_counter() - started
            await _command(reader, writer, f"MAIL FROM:<{SENDER}>", 250)
            for rcpt in job.recipients:
                await _command(reader, writer, f"RCPT TO:<{rcpt}>", 250)
            await _command(reader, writer, "DATA", 354)
            writer.write(_stuffed(job.data))
            code, text = await _reply(reader)
            accepted = time.perf_counter() - started
            writer.write(b"QUIT\r\n")
            await _reply(reader)
            return Result(job.kind, code, text, accepted, ehlo_s=ehlo)
    except (OSError, SmtpError, TimeoutError, ValueError) as exc:
        return Result(job.kind, 0, "", time.perf_counter() - started,
                      error=f"{type(exc).__name__}: {exc}")
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def run_sessions(host: str, port: int, jobs: Sequence[Job], sessions: int,
                       timeout: float) -> tuple[list[Result], float]:
    """Send ``jobs`` over ``sessions`` concurrent clients; return results and wall time."""
    queue = list(reversed(jobs))
    results: list[Result] = []
    deadline = time.monotonic() + timeout

    async def client() -> None:
        while queue and time.monotonic() < deadline:
            job = queue.pop()
            results.append(await send_one(host, port, job,
                                          max(1.0, deadline - time.monotonic())))

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(sessions)))
    return results, time.perf_counter() - started
