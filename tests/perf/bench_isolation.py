"""Does a hostile message delay others? `python tests/perf/bench_isolation.py [--workers N]`.

A real gateway process on loopback (one worker by default, so every connection shares one
event loop) that relays into a maildir: an SMTP downstream in this process would parse the
hostile message line by line under this process's interpreter lock and delay the client that
measures, which is not the gateway's doing. On one connection small 5 KB messages are
sent one after another; on another, a hostile 10 MB message (blank lines, deep nesting, huge
HTML) or 18 MB one (a folded header, text without a header field). The small messages'
latency (MAIL to the reply to the final dot) is reported while the hostile message is in
flight and without it, with the time the hostile message took and its reply. Every loop is
bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import platform
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.gateway import GatewayProcess

MB = 1_000_000
SENDER = "alice@example.org"
RECIPIENT = "bob@example.org"
BASELINE_MESSAGES = 300
MAX_MESSAGES_DURING = 5_000
HOSTILE_TIMEOUT = 180.0
HEAD = (f"From: {SENDER}\r\nTo: {RECIPIENT}\r\nSubject: Case update\r\n"
        "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n").encode()


def small() -> bytes:
    line = b"The meeting notes from today are below; the file is attached as agreed.\r\n"
    body = b"Cleared for publication\r\n\r\n" + line * (5_000 // len(line))
    return HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body


def blank_lines() -> bytes:
    return (HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + b"\r\n" * (5 * MB)
            + b"Confidential\r\n")


def deep_nesting() -> bytes:
    levels = 10_000
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
                       for i in range(levels))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(levels)))
    filler = b"x" * 76 + b"\r\n"
    padding = filler * ((10 * MB - len(opening) - len(closing)) // len(filler))
    return (HEAD + opening + b"Content-Type: text/plain\r\n\r\nConfidential\r\n" + padding
            + closing)


def huge_html() -> bytes:
    row = b"<tr><td style='color:#333;font-size:14px'>Hello <b>world</b> &amp; co</td></tr>\r\n"
    return (HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Confidential</p><table>"
            + row * (10 * MB // len(row)) + b"</table>\r\n")


def folded_header() -> bytes:
    """One header field folded over 18 MB: refused (552) by max_header_size, unread."""
    return HEAD + b"X-Long: start" + b"\r\n a" * (18 * MB // 4) + b"\r\n\r\nCleared\r\n"


def headless() -> bytes:
    """18 MB of text and no header field: all of it body, read and relayed."""
    return b"just text, no header fields here\r\n" * (18 * MB // 34)


HOSTILE = {"10 MB of blank lines": blank_lines, "10,000 nested multiparts, 10 MB":
           deep_nesting, "10 MB of HTML table rows": huge_html,
           "18 MB folded header": folded_header, "18 MB without a header field": headless}


@dataclass
class Hostile:
    seconds: float = 0.0
    reply: str = ""


def send_hostile(gateway: GatewayProcess, data: bytes, out: Hostile) -> None:
    start = time.perf_counter()
    try:
        with smtplib.SMTP("127.0.0.1", gateway.port, local_hostname="client.test",
                          timeout=HOSTILE_TIMEOUT) as smtp:
            smtp.sendmail(SENDER, [RECIPIENT], data)
            out.reply = "250"
    except smtplib.SMTPException as exc:
        out.reply = str(getattr(exc, "smtp_code", type(exc).__name__))
    out.seconds = time.perf_counter() - start


class SmallSender:
    """Small messages one after another on one connection, renewed (untimed) before the
    gateway's per-connection message limit (`max_messages_per_connection`, 100)."""

    PER_CONNECTION = 90

    def __init__(self, gateway: GatewayProcess, data: bytes) -> None:
        self.gateway = gateway
        self.data = data
        self.smtp: smtplib.SMTP | None = None
        self.sent = 0
        self.total = 0

    def send(self) -> float:
        if self.smtp is None or self.sent >= self.PER_CONNECTION:
            self.close()
            self.smtp = smtplib.SMTP("127.0.0.1", self.gateway.port,
                                     local_hostname="client.test", timeout=60)
            self.smtp.ehlo()
            self.sent = 0
        # A Message-ID of its own: the same bytes again would be answered as a retry.
        self.total += 1
        data = f"Message-ID: <{self.total}.{os.getpid()}@bench.test>\r\n".encode() + self.data
        start = time.perf_counter()
        self.smtp.sendmail(SENDER, [RECIPIENT], data)
        self.sent += 1
        return time.perf_counter() - start

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.quit()
            self.smtp = None


def summary(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return (f"{len(ms):5d} msgs  median {statistics.median(ms):7.2f} ms  p95 {p95:7.2f} ms  "
            f"max {ms[-1]:8.2f} ms")


def run(workers: int) -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Linux {platform.release()}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}; gateway workers: {workers}")
    with tempfile.TemporaryDirectory(prefix="stampgate-isolation-") as tmp:
        outbox = Path(tmp) / "outbox"
        gateway = GatewayProcess(Path(tmp), f"maildir:{outbox}", config={"workers": workers})
        try:
            gateway.start()
            measure(gateway)
        finally:
            gateway.stop()
        delivered = len(list((outbox / "new").iterdir()))
    print(f"messages in the maildir: {delivered}")


def measure(gateway: GatewayProcess) -> None:
    sender = SmallSender(gateway, small())
    try:
        for _ in range(20):  # warm up the connection and the gateway
            sender.send()
        baseline = [sender.send() for _ in range(BASELINE_MESSAGES)]
        print(f"{'without a hostile message':34} {summary(baseline)}")
        for name, build in HOSTILE.items():
            data = build()
            result = Hostile()
            thread = threading.Thread(target=send_hostile, args=(gateway, data, result))
            during: list[float] = []
            thread.start()
            deadline = time.monotonic() + HOSTILE_TIMEOUT
            while (thread.is_alive() and len(during) < MAX_MESSAGES_DURING
                   and time.monotonic() < deadline):
                during.append(sender.send())
            thread.join(HOSTILE_TIMEOUT)
            print(f"{'during ' + name:34} {summary(during)}  "
                  f"| hostile: {len(data) / MB:.1f} MB, {result.seconds:.2f} s, "
                  f"reply {result.reply}")
    finally:
        sender.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=1)
    run(parser.parse_args().workers)


if __name__ == "__main__":
    main()
