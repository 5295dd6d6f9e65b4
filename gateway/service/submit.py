"""The message use case: read, decide, then bounce, hold or relay one submitted message.

Every edge (the SMTP handler today) translates its envelope into an ``Incoming`` value, calls
``Submitter.submit`` and renders the ``Outcome`` it gets back; the outcome is logged and
counted here, once per message.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.adapters import signing
from gateway.adapters.crypto import BodySealer
from gateway.adapters.delivery import DeliveryError, Downstream
from gateway.adapters.rewrite import outgoing
from gateway.core.decision import Decision, decide
from gateway.core.headers import read_header_block
from gateway.core.model import Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.logs import get_logger
from gateway.service import metrics, notify
from gateway.service.reading import MessageReader
from gateway.service.register import LiveRegister
from gateway.settings import Settings
from gateway.store.records import new_held
from gateway.store.store import Store, StoreError
from gateway.store.threads import ThreadMemory

log = get_logger()

# Reads a message's bytes into its facts and its stamp reading; pure, so it may run anywhere.


class OutcomeKind(enum.Enum):
    """What became of one submitted message."""

    RELAYED = "relayed"
    HELD = "held"
    PARTLY_HELD = "partly-held"
    BOUNCED = "bounced"
    DEFERRED = "deferred"
    DOWNSTREAM_REFUSED = "downstream-refused"
    STORE_FAILED = "store-failed"
    REFUSED_INPUT = "refused-input"
    INTERNAL_ERROR = "internal-error"


class InputProblem(enum.Enum):
    """Why the bytes of a message were refused before they were read."""

    NUL = "nul"
    BARE_LINE_ENDING = "bare-line-ending"
    AMBIGUOUS_HEADERS = "ambiguous-headers"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message as an edge received it: the envelope, the bytes, who handed it over."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    peer: str
    helo: str | None = None
    # The edge vouches for ``sender``: a logged-in user, or a verified upstream's header.
    # Only a verified sender's groups grant rights such as downgrading.
    sender_verified: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message, for the edge to answer and for the logs and metrics."""

    kind: OutcomeKind
    queue_id: str
    decision: Decision | None = None
    hold_id: str | None = None
    held: int = 0
    delivered: int = 0
    detail: str = ""
    code: int | None = None  # the downstream's reply code, when it refused
    during: str | None = None  # the store operation that failed
    problem: InputProblem | None = None


def has_bare_line_ending(data: bytes) -> bool:
    """A CR or LF that is not part of a CRLF pair."""
    return data.count(b"\n") != data.count(b"\r\n") or data.count(b"\r") != data.count(b"\r\n")


def input_problem(data: bytes) -> InputProblem | None:
    if b"\0" in data:
        return InputProblem.NUL
    if has_bare_line_ending(data):
        return InputProblem.BARE_LINE_ENDING
    return None


class Submitter:
    """Holds the use case's collaborators; ``submit`` runs it for one message."""

    def __init__(self, settings: Settings, policy: Callable[[], Policy], store: Store,
                 threads: ThreadMemory, downstream: Downstream, sealer: BodySealer,
                 reader: MessageReader | None = None,
                 register: LiveRegister | None = None) -> None:
        self.settings = settings
        self.policy = policy
        self.store = store
        self.threads = threads
        self.downstream = downstream
        self.sealer = sealer
        # Reads small mail inline and large mail in reader processes within a time budget.
        self.reader = reader if reader is not None else MessageReader()
        self.register = register

    async def submit(self, incoming: Incoming) -> Outcome:
        """Decide and act on one message; never raises. Logged and counted once here."""
        started = time.perf_counter()
        queue_id = secrets.token_hex(5).upper()
        problem = input_problem(incoming.data)
        if problem is not None:
            return Outcome(OutcomeKind.REFUSED_INPUT, queue_id, problem=problem)
        # Where the headers end must be beyond doubt: a reader that ends them elsewhere
        # would read another stamp than the mail client shows.
        ambiguous = read_header_block(incoming.data).ambiguous
        if ambiguous is not None:
            return Outcome(OutcomeKind.REFUSED_INPUT, queue_id,
                           problem=InputProblem.AMBIGUOUS_HEADERS, detail=ambiguous)
        context: dict[str, Any] = {"queue_id": queue_id, "message_id": None,
                                   "sender": incoming.sender, "size": len(incoming.data),
                                   "sender_verified": incoming.sender_verified}
        try:
            outcome = await self._relay(incoming, queue_id, context)
        except Exception:
            log.exception("internal-error", queue_id=queue_id)
            return Outcome(OutcomeKind.INTERNAL_ERROR, queue_id)
        _report(outcome, context, started)
        return outcome

    async def _relay(self, incoming: Incoming, queue_id: str,
                     context: dict[str, Any]) -> Outcome:
        policy = self.policy()
        sender, data = incoming.sender, incoming.data
        recipients = [parse_recipient(a, policy.organisation.plus_separator)
                      for a in incoming.recipients]
        read = await self.reader.read(data, policy.vocabulary)
        facts, reading = read.facts, read.reading
        context["message_id"] = facts.message_id
        try:
            thread = await self.threads.thread_for(facts.thread_ids)
        except Exception:
            log.exception("store-error", queue_id=queue_id, during="thread look-up")
            return Outcome(OutcomeKind.STORE_FAILED, queue_id, during="thread look-up")
        try:
            found = await self.register.findings(facts) if self.register is not None else ()
        except Exception:
            # Without the register nobody can tell whether a client is named: retry later.
            log.exception("store-error", queue_id=queue_id, during="register")
            return Outcome(OutcomeKind.STORE_FAILED, queue_id, during="register")
        decision = decide(policy, reading, sender, recipients, thread, register=found,
                          sender_verified=incoming.sender_verified)
        if decision.verdict is Verdict.BOUNCE:
            return Outcome(OutcomeKind.BOUNCED, queue_id, decision)

        message_id = facts.message_id or f"<{queue_id}.{time.time_ns()}@{self.settings.hostname}>"
        by_address = {r.address: r for r in recipients}
        allowed = [by_address[a].address for a in decision.addresses(Verdict.ALLOW)]
        held = [by_address[a].address for a in decision.addresses(Verdict.HOLD)]
        try:
            delivered_keys = [r.key for r in decision.recipients if r.verdict is Verdict.ALLOW]
            await self.threads.remember(message_id, decision, delivered_keys)
        except Exception:
            log.exception("store-error", queue_id=queue_id, during="thread memory")
            return Outcome(OutcomeKind.STORE_FAILED, queue_id, decision, during="thread memory")

        hold_id: str | None = None
        sealed = b""
        if held:
            try:
                sealed = await asyncio.to_thread(self.sealer.seal, data)
                record = new_held(queue_id=queue_id, sender=sender,
                                  recipients=incoming.recipients, held=held, decision=decision,
                                  size=len(sealed), message_id=message_id)
                # Wholly held: nothing can withdraw the hold, so its notices are queued in
                # the same commit. Partly held: only once the allowed part was delivered.
                notices = None if allowed else notify.new_hold_notices(record, self.settings,
                                                                       policy)
                hold_id = await self.store.hold(record, sealed, notices)
            except (StoreError, OSError) as exc:
                return Outcome(OutcomeKind.STORE_FAILED, queue_id, decision, during="hold",
                               detail=str(exc))
        if allowed:
            relayed = outgoing(data, self._trace(incoming, queue_id, decision, message_id,
                                                 facts.message_id is None))
            try:
                await self.downstream.deliver(sender, allowed, relayed)
            except DeliveryError as exc:
                if hold_id is not None:
                    await self.store.forget_hold(hold_id, "onward delivery failed")
                    await asyncio.to_thread(self.sealer.destroy, sealed)
                kind = OutcomeKind.DEFERRED if exc.temporary else OutcomeKind.DOWNSTREAM_REFUSED
                return Outcome(kind, queue_id, decision, detail=exc.detail, code=exc.code)
        if hold_id is not None and allowed:  # final now: queue its notices (docs/review.md)
            await notify.on_hold(self.store, self.settings, policy, hold_id)
        kind = (OutcomeKind.RELAYED if hold_id is None
                else OutcomeKind.PARTLY_HELD if allowed else OutcomeKind.HELD)
        return Outcome(kind, queue_id, decision, hold_id=hold_id, held=len(held),
                       delivered=len(allowed))

    def _trace(self, incoming: Incoming, queue_id: str, decision: Decision, message_id: str,
               add_message_id: bool) -> list[tuple[str, str]]:
        """The fields the gateway adds to what it relays: Received, X-Stamp and the rest."""
        helo = (incoming.helo or "unknown").replace("\r", "").replace("\n", "")[:100]
        received = (f"from {helo} ([{incoming.peer}])\r\n\tby {self.settings.hostname} "
                    f"(stampgate) with ESMTP id {queue_id};\r\n\t"
                    f"{email.utils.formatdate(localtime=False)}")
        stamp = decision.stamp.value if decision.stamp else "none"
        trace = [("Received", received), ("X-Stamp", stamp)]
        if add_message_id:
            trace.append(("Message-ID", message_id))
        if self.settings.stamp_signing_key is not None:
            trace.append(signing.signature_field(
                signing.resolve_key(self.settings.stamp_signing_key.get_secret_value()),
                queue_id, stamp, message_id))
        return trace


def _report(outcome: Outcome, context: dict[str, Any], started: float) -> None:
    """The message's one log line and its metrics (never its subject or body)."""
    if outcome.during is not None:
        metrics.store_error(outcome.during)
    if outcome.kind in (OutcomeKind.DEFERRED, OutcomeKind.DOWNSTREAM_REFUSED):
        metrics.downstream_error(outcome.kind is OutcomeKind.DEFERRED)
    decision = outcome.decision
    if decision is None:
        return
    extra: dict[str, Any] = {"outcome": outcome.kind.value}
    if outcome.detail:
        extra["error"] = outcome.detail
    if outcome.kind in (OutcomeKind.RELAYED, OutcomeKind.HELD, OutcomeKind.PARTLY_HELD):
        extra["hold_id"] = outcome.hold_id
    seconds = time.perf_counter() - started
    log.info(
        "message", **context, **extra,
        stamp=decision.stamp.value if decision.stamp else None,
        found_in=[loc.value for loc in decision.found_in],
        verdicts={r.address: r.verdict.value for r in decision.recipients},
        rules=list(decision.rules), downgrade=decision.downgrade,
        thread_id=decision.thread_id, newcomers=list(decision.newcomers),
        unreadable=bool(decision.unreadable), policy_version=decision.policy_version,
        ms=round(seconds * 1000, 2),
    )
    metrics.message_done(decision, outcome.kind.value, seconds)
