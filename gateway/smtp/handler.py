"""The SMTP edge: an aiosmtpd handler that turns a decision into relay, bounce or hold."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ipaddress
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, ClassVar

from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from gateway.adapters import crypto, signing
from gateway.adapters.delivery import DeliveryError, Downstream
from gateway.adapters.rewrite import outgoing
from gateway.core.decision import Decision, decide
from gateway.core.headers import read_header_block
from gateway.core.message import read_message
from gateway.core.model import Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import AddressRefused, parse_recipient, refuse_source_route
from gateway.core.stamps import read_stamps
from gateway.logs import get_logger
from gateway.service import notify, observability
from gateway.settings import Settings
from gateway.smtp import replies
from gateway.smtp.data_reader import TooBig, read_data
from gateway.store.store import Store, StoreError
from gateway.store.threads import ThreadMemory

log = get_logger()
_TRAILING_DOT = re.compile(r"(@[^\s<>@]+?)\.+(?=>|\s|$)")


_HOOK_PREFIXES = ("smtp_", "auth_", "handle_")


class HookNames:
    """``dir()`` lists only the hook methods (``smtp_*``, ``auth_*``, ``handle_*``).

    aiosmtpd builds its command, AUTH and hook tables with ``dir()`` and
    ``inspect.getmembers()`` on the protocol and the handler for every connection, which
    touches every attribute of both; answering from a per-class list takes a third of the time.
    """

    _hook_names: ClassVar[dict[type, list[str]]] = {}

    def __dir__(self) -> list[str]:
        cls = type(self)
        names = HookNames._hook_names.get(cls)
        if names is None:
            names = [n for n in object.__dir__(self) if n.startswith(_HOOK_PREFIXES)]
            HookNames._hook_names[cls] = names
        return list(names)


class GatewaySMTP(HookNames, SMTP):
    """aiosmtpd's protocol with the raw-argument checks and a chunked DATA reader."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reply_lines: list[bytes] = []

    async def push(self, status: str | bytes) -> None:
        """Send one reply line; a multi-line reply (EHLO's) goes out in one write."""
        if isinstance(status, str):
            status = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
        if status.rpartition(b"\n")[2][3:4] == b"-":  # "250-...": more lines follow
            self._reply_lines.append(status)
            return
        if self._reply_lines:
            status = b"\r\n".join([*self._reply_lines, status])
            self._reply_lines.clear()
        self._writer.write(status + b"\r\n")
        await self._writer.drain()

    def _end_data(self) -> None:
        self._set_post_data_state()  # type: ignore[no-untyped-call]

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content = await read_data(self._reader, self.data_size_limit)
        except TooBig:
            self._end_data()
            await self.push(replies.TOO_BIG.format(limit=self.data_size_limit))
            return
        except asyncio.IncompleteReadError:
            self._end_data()
            return  # the client went away mid-DATA; nothing was accepted
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._end_data()
        await self.push(status)

    async def smtp_RCPT(self, arg: str) -> None:
        if arg:
            try:
                refuse_source_route(arg)
            except AddressRefused as exc:
                await self.push(exc.reply)
                return
            # A fully qualified domain's trailing dot (press@example.org.) is the same domain.
            arg = _TRAILING_DOT.sub(r"\1", arg, count=1)
        await super().smtp_RCPT(arg)


def has_bare_line_ending(data: bytes) -> bool:
    """A CR or LF that is not part of a CRLF pair."""
    return data.count(b"\n") != data.count(b"\r\n") or data.count(b"\r") != data.count(b"\r\n")


class Handler(HookNames):
    """aiosmtpd hooks; the decision itself is the pure ``decide``."""

    def __init__(self, settings: Settings, policy: Callable[[], Policy], store: Store,
                 threads: ThreadMemory,
                 downstream: Downstream) -> None:
        self.settings = settings
        self.policy = policy
        self.store = store
        self.threads = threads
        self.downstream = downstream
        self.networks = settings.networks

    def _trusted(self, session: Session) -> bool:
        peer = session.peer
        host = peer[0] if isinstance(peer, tuple) else str(peer)
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self.networks)

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        # Advertise enhanced status codes (RFC 2034): every reply carries one.
        return [*responses[:-1], "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if not self._trusted(session):
            peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
            log.warning("refused-untrusted", peer=str(peer))
            return replies.UNTRUSTED.format(peer=peer)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        try:
            parse_recipient(address, self.policy().organisation.plus_separator)
        except AddressRefused as exc:
            return exc.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        started = time.perf_counter()
        queue_id = secrets.token_hex(5).upper()
        data = envelope.original_content or b""
        if b"\0" in data:
            return replies.NUL_IN_DATA
        if has_bare_line_ending(data):
            return replies.BARE_LINE_ENDING
        ambiguous = read_header_block(data).ambiguous
        if ambiguous is not None:
            return replies.AMBIGUOUS_HEADERS.format(why=ambiguous)
        try:
            return await self._relay(server, session, envelope, data, queue_id, started)
        except Exception:
            log.exception("internal-error", queue_id=queue_id)
            return replies.INTERNAL_ERROR

    async def _relay(self, server: SMTP, session: Session, envelope: Envelope, data: bytes,
                     queue_id: str, started: float) -> str:
        policy = self.policy()
        sender = envelope.mail_from or ""
        recipients = [parse_recipient(a, policy.organisation.plus_separator)
                      for a in envelope.rcpt_tos]
        facts = read_message(data)
        reading = read_stamps(facts, policy.vocabulary)
        try:
            thread = await self.threads.thread_for(facts.thread_ids)
        except Exception:
            log.exception("store-error", queue_id=queue_id, during="thread look-up")
            observability.store_error("thread look-up")
            return replies.STORE_FAILED
        decision = decide(policy, reading, sender, recipients, thread)
        context: dict[str, Any] = {
            "queue_id": queue_id, "message_id": facts.message_id, "sender": sender,
            "size": len(data),
        }
        if decision.verdict is Verdict.BOUNCE:
            self._log(decision, context, started, outcome="bounced")
            return replies.bounce(decision)

        message_id = facts.message_id or f"<{queue_id}.{time.time_ns()}@{self.settings.hostname}>"
        by_address = {r.address: r for r in recipients}
        allowed = [by_address[a].address for a in decision.addresses(Verdict.ALLOW)]
        held = [by_address[a].address for a in decision.addresses(Verdict.HOLD)]
        try:
            delivered_keys = [r.key for r in decision.recipients if r.verdict is Verdict.ALLOW]
            await self.threads.remember(message_id, decision, delivered_keys)
        except Exception:
            log.exception("store-error", queue_id=queue_id, during="thread memory")
            observability.store_error("thread memory")
            return replies.STORE_FAILED

        hold_id: str | None = None
        sealed = b""
        if held:
            try:
                # Held bodies are stored sealed (crypto.py) when a master key is configured.
                sealed = await asyncio.to_thread(crypto.seal, data)
                # Wholly held: nothing can withdraw the hold, so its notices are queued in
                # the same commit. Partly held: only once the allowed part was delivered.
                hold_id = await self.store.hold(
                    queue_id=queue_id, sender=sender, recipients=envelope.rcpt_tos,
                    held=held, decision=decision, content=sealed, message_id=message_id,
                    notices=None if allowed else functools.partial(
                        notify.hold_notices, settings=self.settings, policy=policy))
            except (StoreError, OSError) as exc:
                observability.store_error("hold")
                self._log(decision, context, started, outcome="store-failed", error=str(exc))
                return replies.STORE_FAILED
        if allowed:
            trace = self._trace_headers(session, queue_id, decision)
            if facts.message_id is None:
                trace.append(("Message-ID", message_id))
            if self.settings.stamp_signing_key is not None:
                trace.append(signing.signature_field(
                    signing.resolve_key(self.settings.stamp_signing_key.get_secret_value()),
                    queue_id, decision.stamp.value if decision.stamp else "none", message_id))
            relayed = outgoing(data, trace)
            try:
                await self.downstream.deliver(sender, allowed, relayed)
            except DeliveryError as exc:
                observability.downstream_error(exc.temporary)
                if hold_id is not None:
                    await self.store.forget_hold(hold_id, "onward delivery failed")
                    await asyncio.to_thread(crypto.destroy, sealed)
                self._log(decision, context, started, outcome="deferred" if exc.temporary
                          else "downstream-refused", error=exc.detail)
                if exc.temporary:
                    return replies.DOWNSTREAM_TEMPORARY.format(detail=exc.detail[:200])
                return replies.downstream_refused(exc.code or 554, exc.detail)
        outcome = "held" if hold_id and not allowed else "partly-held" if hold_id else "relayed"
        if hold_id is not None and allowed:  # final now: queue its notices (docs/review.md)
            await notify.on_hold(self.store, self.settings, policy, hold_id)
        self._log(decision, context, started, outcome=outcome, hold_id=hold_id)
        return replies.accepted(queue_id, hold_id, len(held), len(allowed))

    def _trace_headers(self, session: Session, queue_id: str,
                       decision: Decision) -> list[tuple[str, str]]:
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        helo = (session.host_name or "unknown").replace("\r", "").replace("\n", "")[:100]
        received = (f"from {helo} ([{peer}])\r\n\tby {self.settings.hostname} (stampgate) "
                    f"with ESMTP id {queue_id};\r\n\t{email.utils.formatdate(localtime=False)}")
        return [("Received", received),
                ("X-Stamp", decision.stamp.value if decision.stamp else "none")]

    def _log(self, decision: Decision, context: dict[str, Any], started: float,
             **extra: Any) -> None:
        log.info(
            "message", **context, **extra,
            stamp=decision.stamp.value if decision.stamp else None,
            found_in=[loc.value for loc in decision.found_in],
            verdicts={r.address: r.verdict.value for r in decision.recipients},
            rules=list(decision.rules), downgrade=decision.downgrade,
            thread_id=decision.thread_id, newcomers=list(decision.newcomers),
            unreadable=bool(decision.unreadable), policy_version=decision.policy_version,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
        observability.message_done(decision, str(extra.get("outcome")),
                                   time.perf_counter() - started)
