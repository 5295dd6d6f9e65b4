"""Property tests over the whole handler path: MIME structure, encodings, stamp text, headers.

The core's own reader properties live in tests/core/test_fuzz_reader.py; these drive the SMTP
handler (read, decide, store, rewrite, relay) and the sender binding with generated input.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import quopri
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import Envelope, Session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from gateway.adapters.accounts import Account
from gateway.adapters.crypto import NullSealer
from gateway.adapters.rewrite import split_header
from gateway.core.headers import has_bare_line_ending
from gateway.core.message import read_message
from gateway.policyfiles.load import load_policy
from gateway.service.submit import Submitter
from gateway.settings import Settings
from gateway.smtp.access import header_refusal
from gateway.smtp.handler import Handler
from gateway.store.store import Store
from gateway.store.threads import ThreadMemory

set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "stampgate-hypothesis"))
POLICIES = Path(__file__).resolve().parents[2] / "policies"
FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

BOB, PRESS, PARTNER = "bob@example.org", "press@example.org", "partner@outside.test"

STAMP_TEXT = ["Cleared for publication", "Internal", "Confidential", "Strictly confidential",
              "Needs adjustment in 2 ways: blur face, change name", "[CONFIDENTIAL]",
              "Stamp: Cleared for publication", "Сleared for publication", "Cleared",
              "Cle\u200bared for publication", "ＣＬＥＡＲＥＤ ＦＯＲ ＰＵＢＬＩＣＡＴＩＯＮ",
              "-----BEGIN PGP MESSAGE-----", "> Internal", "hello", ""]
texts = st.lists(st.one_of(st.sampled_from(STAMP_TEXT), st.text(max_size=30)),
                 max_size=6).map("\n".join)
charsets = st.sampled_from(["utf-8", "latin-1", "utf-16", "koi8-r", "bogus", ""])
encodings = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-unknown"])
leaf_types = st.sampled_from(["text/plain", "text/html", "application/octet-stream",
                              "application/pkcs7-mime", "message/rfc822", "text/plain; format"])
multi_types = st.sampled_from(["multipart/mixed", "multipart/alternative",
                               "multipart/encrypted", "multipart/signed"])


def _encode(text: str, charset: str, encoding: str) -> bytes:
    try:
        raw = text.encode(charset or "ascii", "replace")
    except LookupError:
        raw = text.encode("utf-8")
    if encoding == "base64":
        return base64.encodebytes(raw)
    if encoding == "quoted-printable":
        return quopri.encodestring(raw)
    return raw


@st.composite
def parts(draw: st.DrawFn, depth: int = 0) -> bytes:
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b1", "b2", "==x==", "", "b1 "]))
        children = draw(st.lists(parts(depth + 1), max_size=3))
        close = draw(st.booleans())
        body = b"".join(b"--" + boundary.encode() + b"\n" + child + b"\n" for child in children)
        if close:
            body += b"--" + boundary.encode() + b"--\n"
        ctype = draw(multi_types)
        return f'Content-Type: {ctype}; boundary="{boundary}"\n\n'.encode() + body
    ctype, charset, encoding = draw(leaf_types), draw(charsets), draw(encodings)
    header = f"Content-Type: {ctype}; charset={charset}\nContent-Transfer-Encoding: {encoding}\n"
    return header.encode() + b"\n" + _encode(draw(texts), charset, encoding)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    subject = draw(st.one_of(st.sampled_from(["", "[Internal] x", "Cleared for publication",
                                              "=?utf-8?q?Cleared_for_publication?="]),
                             st.text(max_size=20)))
    extra = draw(st.lists(st.sampled_from([
        "X-Stamp: cleared", "x-stamp : cleared", "X-STAMP: Cleared for publication",
        "X-Stampgate-Signature: v=1; q=A; s=cleared; mac=AAAA", "X-Stampgate-Verdict: allow",
        "X-Stamp:\n cleared", "MIME-Version: 1.0", "Message-ID: <fuzz@example.org>",
        "In-Reply-To: <nothing@example.org>",
    ]), max_size=4))
    head = "\n".join(["From: alice@example.org", f"Subject: {subject}", *extra])
    raw = head.encode("utf-8", "surrogateescape") + b"\n" + draw(parts())
    # The handler refuses bare CR/LF and NUL; the interesting input is what gets past that.
    text = raw.replace(b"\r", b"").replace(b"\0", b"")
    return text.replace(b"\n", b"\r\n")


@dataclass
class RecordingDownstream:
    description: str = "recording"
    deliveries: list[tuple[str, tuple[str, ...], bytes]] = field(default_factory=list)

    async def deliver(self, sender: str, recipients: Sequence[str], data: bytes) -> None:
        self.deliveries.append((sender, tuple(recipients), data))

    async def close(self) -> None:
        return None


class HandlerRig:
    """The real Handler with a real store in a temporary directory and a recording downstream."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.dir = tempfile.TemporaryDirectory()
        data = Path(self.dir.name)
        self.settings = Settings(data=data, policies=POLICIES, workers=1)
        policy = load_policy(POLICIES)
        self.store = self.loop.run_until_complete(Store.open(data))
        self.threads = ThreadMemory(self.store.path, self.store.write)
        self.loop.run_until_complete(self.threads.open())
        self.downstream = RecordingDownstream()
        self.handler = Handler(Submitter(self.settings, lambda: policy, self.store,
                                         self.threads, self.downstream, NullSealer()))

    def data(self, content: bytes, recipients: list[str]) -> str:
        self.downstream.deliveries.clear()
        session = Session(self.loop)
        session.peer = ("127.0.0.1", 40000)
        envelope = Envelope()
        envelope.mail_from = "alice@example.org"
        envelope.rcpt_tos = list(recipients)
        envelope.original_content = content
        server: Any = None
        reply: str = self.loop.run_until_complete(
            self.handler.handle_DATA(server, session, envelope))
        return reply

    def close(self) -> None:
        self.loop.run_until_complete(self.threads.close())
        self.loop.run_until_complete(self.store.close())
        self.loop.close()
        self.dir.cleanup()


_RIG: HandlerRig | None = None


def rig() -> HandlerRig:
    global _RIG
    if _RIG is None:
        _RIG = HandlerRig()
    return _RIG


def teardown_module() -> None:
    if _RIG is not None:
        _RIG.close()


def relayed_stamp(data: bytes) -> str:
    header, _ = split_header(data)
    values = [line.split(b":", 1)[1].strip().decode() for line in header.split(b"\r\n")
              if line.lower().startswith(b"x-stamp:")]
    assert len(values) == 1, header
    return values[0]


@FUZZ
@given(messages())
def test_handler_never_fails_and_never_lets_doubt_through(content: bytes) -> None:
    reply = rig().data(content, [BOB, PRESS, PARTNER])
    assert not reply.startswith("451"), reply  # never an internal error on any input
    assert reply[:3] in ("250", "550"), reply
    unreadable = bool(read_message(content).unreadable)
    for _sender, recipients, relayed in rig().downstream.deliveries:
        stamp = relayed_stamp(relayed)
        assert not has_bare_line_ending(relayed)
        assert b"X-Stampgate-Verdict" not in relayed
        if PRESS in recipients:  # communications: only ever cleared material
            assert stamp == "cleared", (stamp, content)
        if PARTNER in recipients:  # external: cleared, or readable and unstamped
            assert stamp == "cleared" or (stamp == "none" and not unreadable), (stamp, content)


# -- sender binding: parser differentials between the gateway and a mail client ---------

OWNED = ("alice@example.org", "a.lice@example.org")
ACCOUNT = Account(login="alice", password_hash="-", addresses=OWNED)
names = st.sampled_from(["", "Alice", '"Alice"', '"bob@example.org"', "bob@example.org",
                         "=?utf-8?q?bob=40example.org?=", '"Al\\"ice"', "(c)", '"a,b"',
                         "Alice (bob@example.org)", "=?utf-8?b?Ym9iQGV4YW1wbGUub3Jn?="])
addresses = st.sampled_from(["alice@example.org", "ALICE@Example.ORG", "bob@example.org",
                             "alice@example.org.", '"alice@example.org"@evil.test',
                             "alice@example.org@evil.test", "alice", "", "a.lice@example.org",
                             "alice@[127.0.0.1]", "alice@example.org>bob@example.org"])
separators = st.sampled_from([", ", " ", "; ", ",", "\r\n ", ":", "\t"])


@st.composite
def from_fields(draw: st.DrawFn) -> str:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        name, address = draw(names), draw(addresses)
        form = draw(st.sampled_from(["angle", "bare", "comment", "group"]))
        if form == "angle":
            items.append(f"{name} <{address}>".strip())
        elif form == "bare":
            items.append(address)
        elif form == "comment":
            items.append(f"{address} ({name})")
        else:
            items.append(f"{name or 'group'}: {address};")
    return draw(separators).join(items)


def client_view(value: str) -> list[str]:
    """What a modern mail client shows: addresses and display names (stdlib default policy)."""
    message = email.message_from_bytes(f"From: {value}\r\n\r\n".encode(),
                                       policy=email.policy.default)
    header: Any = message["From"]
    shown: list[str] = []
    for address in header.addresses:
        shown.append(address.addr_spec.lower().rstrip("."))
        if "@" in address.display_name:
            shown.append(address.display_name.lower())
    return shown


@FUZZ
@given(from_fields())
def test_an_accepted_from_header_shows_only_the_users_own_address(value: str) -> None:
    refused = header_refusal(ACCOUNT, f"From: {value}\r\n\r\n".encode())
    if refused is not None:
        return
    shown = client_view(value)
    assert shown, value
    for item in shown:
        assert any(item == owned or item.endswith(f"<{owned}>") for owned in OWNED) or \
            item in OWNED, (value, shown)
