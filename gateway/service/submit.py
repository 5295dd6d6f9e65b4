"""The message use case: read, decide, then bounce, hold or relay one submitted message.

Every edge (the SMTP handler today) translates its envelope into an ``Incoming`` value, calls
``Submitter.submit`` and renders the ``Outcome`` it gets back; the outcome is logged and
counted here, once per message. Acceptance is idempotent (``service/acceptance.py``): a
retry of a message already held or relayed gets the same answer and causes nothing twice.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

from gateway.adapters.crypto import BodySealer
from gateway.adapters.delivery import Downstream
from gateway.core.acceptance import acceptance_key
from gateway.core.decision import Decision, decide
from gateway.core.deferral import documents_can_wait, register_guards_someone
from gateway.core.headers import header_over, read_header_block
from gateway.core.label_writers import label_stamp
from gateway.core.message import read_message, thread_ids
from gateway.core.model import Verdict
from gateway.core.policy import Policy
from gateway.core.recipients import parse_recipient
from gateway.logs import get_logger
from gateway.service import bodies, metrics, notify, partners, photos
from gateway.service.acceptance import Acceptance, Attempt, repeat
from gateway.service.outcome import Incoming, InputProblem, Outcome, OutcomeKind, input_problem
from gateway.service.reading import MessageReader, Read
from gateway.service.register import LiveRegister
from gateway.service.report import report
from gateway.service.timing import Stopwatch
from gateway.service.trace import trace_fields
from gateway.settings import Settings
from gateway.store.accepted import AcceptanceUpdate, Answer, Claim
from gateway.store.records import new_held
from gateway.store.store import Store, StoreError
from gateway.store.threads import ThreadMemory

log = get_logger()

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
        self.acceptance = Acceptance(store, settings)

    @property
    def single_copy(self) -> bool:
        """The downstream delivers one copy to all (an MTA behind a milter, handed in for each
        message): partners' labels only if all agree, and nothing taken off it."""
        return bool(getattr(self.downstream, "single_copy", False))

    async def submit(self, incoming: Incoming) -> Outcome:
        """Decide and act on one message; never raises. Logged and counted once here."""
        started = time.perf_counter()
        watch = Stopwatch()
        queue_id = secrets.token_hex(5).upper()
        # First, and in time bounded by the limit: nothing below reads an oversized header.
        if header_over(incoming.data, self.settings.max_header_size):
            return Outcome(OutcomeKind.REFUSED_INPUT, queue_id,
                           problem=InputProblem.HEADER_TOO_BIG,
                           detail=str(self.settings.max_header_size))
        problem = None if incoming.clean else input_problem(incoming.data)
        if problem is not None:
            return Outcome(OutcomeKind.REFUSED_INPUT, queue_id, problem=problem)
        # Where the headers end must be beyond doubt: a reader that ends them elsewhere
        # would read another stamp than the mail client shows.
        block = read_header_block(incoming.data)
        if block.ambiguous is not None:
            return Outcome(OutcomeKind.REFUSED_INPUT, queue_id,
                           problem=InputProblem.AMBIGUOUS_HEADERS, detail=block.ambiguous)
        key = acceptance_key(block, incoming.data, incoming.sender, incoming.recipients)
        context: dict[str, Any] = {"queue_id": queue_id, "message_id": None,
                                   "sender": incoming.sender, "size": len(incoming.data),
                                   "sender_verified": incoming.sender_verified}
        watch.lap("checks")
        earlier = await self.acceptance.earlier(key, queue_id)
        watch.lap("earlier")
        if earlier is not None:
            report(earlier, {**context, **watch.fields()}, started)
            return earlier
        attempt = self.acceptance.start(key)
        try:
            outcome = await self._relay(incoming, queue_id, context, attempt,
                                        thread_ids(block), watch)
        except asyncio.CancelledError:
            self.acceptance.abandon_later(attempt)
            raise
        except Exception:
            log.exception("internal-error", queue_id=queue_id)
            self.acceptance.abandon_later(attempt)
            return Outcome(OutcomeKind.INTERNAL_ERROR, queue_id)
        finally:
            self.acceptance.finish(attempt)
        report(outcome, {**context, **watch.fields()}, started)
        return outcome

    def relayed_again(self, incoming: Incoming, outcome: Outcome) -> bytes | None:
        """The copy a repeated message's allowed part goes out as, made again: for an edge
        whose MTA delivers every copy it is handed itself (the milter)."""
        if not (outcome.repeated and outcome.delivered and outcome.decision is not None):
            return None
        block = read_header_block(incoming.data)
        own = read_message(incoming.data, defer_documents=True).message_id  # as first read
        key = acceptance_key(block, incoming.data, incoming.sender, incoming.recipients)
        message_id = own or f"<{key.generated_message_id_local}@{self.settings.hostname}>"
        policy = self.policy()
        allowed = [parse_recipient(a, policy.organisation.plus_separator)
                   for a in outcome.decision.addresses(Verdict.ALLOW)]
        trace = trace_fields(self.settings, incoming, outcome.queue_id, outcome.decision,
                             message_id, own is None)
        return partners.parcels(policy, label_stamp(outcome.decision), allowed, incoming.data,
                                trace, single=True)[0][1]

    async def _relay(self, incoming: Incoming, queue_id: str, context: dict[str, Any],
                     attempt: Attempt, referred: tuple[str, ...], watch: Stopwatch) -> Outcome:
        policy = self.policy()
        sender, data = incoming.sender, incoming.data
        recipients = [parse_recipient(a, policy.organisation.plus_separator)
                      for a in incoming.recipients]
        try:  # the thread is known from the header block alone, before the message is read
            thread = await self.threads.thread_for(referred)
        except Exception:
            log.exception("store-error", queue_id=queue_id, during="thread look-up")
            return Outcome(OutcomeKind.STORE_FAILED, queue_id, during="thread look-up")
        watch.lap("thread")

        def settles(first: Read) -> bool:  # attached documents cannot change any verdict
            return documents_can_wait(policy, first.reading, sender, recipients, thread,
                                      incoming.sender_verified)

        read = await self.reader.read(data, policy.vocabulary, settles)
        watch.lap("read")
        facts, reading = read.facts, read.reading
        context["message_id"] = facts.message_id
        # How many attached documents the first pass left unread (a count: names may say
        # who a file is about).
        context["documents_unread"] = len(facts.unread)
        try:
            # Inside the organisation the register does not apply (docs/register.md).
            found = (await self.register.findings(facts) if self.register is not None
                     and register_guards_someone(policy, recipients) else ())
        except Exception:
            # Without the register nobody can tell whether a client is named: retry later.
            log.exception("store-error", queue_id=queue_id, during="register")
            return Outcome(OutcomeKind.STORE_FAILED, queue_id, during="register")
        # Photos to communications or outside: findings for the rules, and the message with
        # identifying metadata stripped, which every recipient then gets.
        scanned = await photos.inspect(data, policy, recipients)
        decision = decide(policy, reading, sender, recipients, thread, register=found,
                          sender_verified=incoming.sender_verified, photos=scanned.findings)
        watch.lap("decide")
        if decision.verdict is Verdict.BOUNCE:
            return Outcome(OutcomeKind.BOUNCED, queue_id, decision)
        data = scanned.data

        # None of its own: one derived from its key, so a retry is relayed under the same.
        message_id = (facts.message_id
                      or f"<{attempt.key.generated_message_id_local}@{self.settings.hostname}>")
        by_address = {r.address: r for r in recipients}
        allowed = [by_address[a].address for a in decision.addresses(Verdict.ALLOW)]
        held = [by_address[a].address for a in decision.addresses(Verdict.HOLD)]
        kind = (OutcomeKind.RELAYED if not held
                else OutcomeKind.PARTLY_HELD if allowed else OutcomeKind.HELD)
        delivered_keys = [r.key for r in decision.recipients if r.verdict is Verdict.ALLOW]
        if held and not allowed:  # wholly held: claim, thread memory and hold in one commit
            try:
                held_here = await self._hold_at_once(attempt, queue_id, message_id, decision,
                                                     delivered_keys, held, kind, incoming,
                                                     data, facts.subject, policy)
                watch.lap("hold")
            except StoreError as exc:  # nothing of it was written: no claim to give up
                log.error("store-error", queue_id=queue_id, during="hold", exc_info=exc)
                return Outcome(OutcomeKind.STORE_FAILED, queue_id, decision, during="hold",
                               detail=str(exc))
            if held_here is not None:
                attempt.claimed, attempt.held_by_it = True, held_here
                if scanned.stripped:
                    await photos.record_stripped(self.store, queue_id, message_id, held_here,
                                                 scanned.stripped)
                return Outcome(kind, queue_id, decision, hold_id=held_here, held=len(held))
        # The claim and the thread memory share one commit, not waited onto the disk: the
        # answer or hold below is, before the 250, and takes them there.
        attempt.claiming = True
        claim, remembered = await self._claim(attempt, queue_id, message_id, decision,
                                              delivered_keys)
        watch.lap("claim")
        if isinstance(claim, BaseException):
            log.error("store-error", queue_id=queue_id, during="claim", exc_info=claim)
            return Outcome(OutcomeKind.STORE_FAILED, queue_id, decision, during="claim")
        if not claim.won:
            assert claim.before is not None
            return (repeat(claim.before) if claim.before.answer is not None
                    else Outcome(OutcomeKind.IN_PROGRESS, queue_id))
        attempt.claimed, attempt.before = True, claim.before
        if claim.before is not None:  # a stale claim taken over: its queue id and its hold
            queue_id = context["queue_id"] = claim.before.queue_id
        if isinstance(remembered, BaseException):
            log.error("store-error", queue_id=queue_id, during="thread memory",
                      exc_info=remembered)
            await self.acceptance.give_up(attempt, maybe_delivered=False)
            return Outcome(OutcomeKind.STORE_FAILED, queue_id, decision, during="thread memory")

        if held:
            taken = claim.before.hold_id if claim.before is not None else None
            if taken is not None and await self.store.get_held(taken) is not None:
                attempt.held_by_it = taken
            else:
                try:
                    sealed = await asyncio.to_thread(
                        self.sealer.seal, data, facts.subject[:1000].encode("utf-8", "replace"))
                    record = new_held(queue_id=queue_id, sender=sender,
                                      recipients=incoming.recipients, held=held,
                                      decision=decision, size=len(sealed.body),
                                      message_id=message_id, subject=sealed.subject)
                    # Wholly held: nothing can withdraw the hold; its notices and answer
                    # share its commit. Partly held: once the allowed part was delivered.
                    notices = None if allowed else notify.new_hold_notices(
                        record, self.settings, policy)
                    final = None if allowed else Answer(kind.value, queue_id, record.id,
                                                        len(held), 0, decision)
                    key = sealed.key
                    attempt.held_by_it = await self.store.hold(
                        record, sealed.body, notices, AcceptanceUpdate(attempt.key.digest, final),
                        (key.key_id, key.wrapped) if key is not None else None)
                    watch.lap("hold")
                except (StoreError, OSError) as exc:
                    await self.acceptance.give_up(attempt, maybe_delivered=False)
                    return Outcome(OutcomeKind.STORE_FAILED, queue_id, decision,
                                   during="hold", detail=str(exc))
                if not allowed:
                    if scanned.stripped:
                        await photos.record_stripped(self.store, queue_id, message_id,
                                                     record.id, scanned.stripped)
                    return Outcome(kind, queue_id, decision, hold_id=record.id,
                                   held=len(held))
        hold_id = attempt.held_by_it
        answer = Answer(kind.value, queue_id, hold_id, len(held), len(allowed), decision)
        if allowed:
            labelled = label_stamp(decision, thread.stamp if thread is not None else None)
            fields = trace_fields(self.settings, incoming, queue_id, decision, message_id,
                                  facts.message_id is None)
            # The intake refused bare line endings; a copy with its photos stripped is new.
            made = partners.parcels(policy, labelled, [by_address[a] for a in allowed], data,
                                    fields, self.single_copy, checked=data is incoming.data)
            failed = await self._deliver(attempt, sender, made, queue_id, message_id, decision)
            watch.lap("deliver")
            if failed is not None:
                return failed
        try:
            await self.store.answer(attempt.key.digest, answer)
        except StoreError:  # delivered all the same: the 250 stands; a retry may repeat it
            log.exception("store-error", queue_id=queue_id, during="answer")
            metrics.store_error("answer")
        watch.lap("answer")
        if hold_id is not None and allowed:  # final now: queue its notices (docs/review.md)
            await notify.on_hold(self.store, self.settings, policy, hold_id)
        if scanned.stripped:
            await photos.record_stripped(self.store, queue_id, message_id, hold_id,
                                         scanned.stripped)
        return Outcome(kind, queue_id, decision, hold_id=hold_id, held=len(held),
                       delivered=len(allowed))

    async def _claim(self, attempt: Attempt, queue_id: str, message_id: str,
                     decision: Decision, delivered_keys: list[str],
                     ) -> tuple[Claim | BaseException, BaseException | None]:
        """The attempt's claim and the message's thread memory, each one's failure returned."""
        remembering = self.threads.remembering(message_id, decision, delivered_keys)
        key, owner, stale = attempt.key.digest, attempt.owner, self.acceptance.stale
        if self.threads.path is not None and self.threads.path == self.store.path:
            return await self.store.claim_remembering(key, owner, queue_id, stale, remembering)
        claim, remembered = await asyncio.gather(  # the thread memory of another store
            self.store.claim(key, owner, queue_id, stale),
            self.threads.remember(message_id, decision, delivered_keys, durable=False),
            return_exceptions=True)
        return claim, remembered if isinstance(remembered, BaseException) else None

    async def _deliver(self, attempt: Attempt, sender: str, made: list[partners.Parcel],
                       queue_id: str, message_id: str, decision: Decision) -> Outcome | None:
        """Hand the downstream the copies no attempt delivered yet; if one failed, withdraw
        the hold, give up the claim naming whose copies went, and say what to answer."""
        done = attempt.before.delivered_to if attempt.before is not None else frozenset()
        earlier = attempt.earlier
        if self.single_copy:  # the MTA delivers one copy to all once answered: all again
            done, left, taken = frozenset(), made, set()
            earlier = earlier or ("gave-up" if attempt.before and attempt.before.delivered_to
                                  else None)
        else:
            left, taken = partners.still_to_send(made, done), attempt.taken
        if len(left) < len(made):
            log.info("copies-already-delivered", queue_id=queue_id, copies=len(made) - len(left))
        attempt.delivering = True
        handover = await partners.hand_over(self.downstream, sender, left, queue_id, taken)
        exc = handover.failure
        if exc is None:
            if earlier is not None and left:
                metrics.possible_duplicate(earlier)
                log.warning("possible-duplicate-delivery", queue_id=queue_id,
                            message_id=message_id, earlier=earlier)
            return None
        if attempt.held_by_it is not None:
            await bodies.withdraw_hold(self.store, self.sealer, attempt.held_by_it)
        uncertain = handover.stopped is not None and handover.stopped.uncertain
        await self.acceptance.give_up(attempt, uncertain, hold_gone=True)
        kind = OutcomeKind.DEFERRED if exc.temporary else OutcomeKind.DOWNSTREAM_REFUSED
        return Outcome(kind, queue_id, decision, detail=exc.detail, code=exc.code,
                       reached=tuple(sorted({*done, *taken})),
                       refused=handover.refused_recipients)

    async def _hold_at_once(self, attempt: Attempt, queue_id: str, message_id: str,
                            decision: Decision, delivered_keys: list[str], held: list[str],
                            kind: OutcomeKind, incoming: Incoming, data: bytes, subject: str,
                            policy: Policy) -> str | None:
        """A wholly held message: claimed afresh and held in one transaction. ``None`` if
        its key was claimed or answered meanwhile (nothing written: claim the usual way)."""
        sealed = await asyncio.to_thread(self.sealer.seal, data,
                                         subject[:1000].encode("utf-8", "replace"))
        record = new_held(queue_id=queue_id, sender=incoming.sender,
                          recipients=incoming.recipients, held=held, decision=decision,
                          size=len(sealed.body), message_id=message_id, subject=sealed.subject)
        key = sealed.key
        return await self.store.claim_and_hold(
            attempt.key.digest, attempt.owner,
            self.threads.remembering(message_id, decision, delivered_keys), record,
            sealed.body, notify.new_hold_notices(record, self.settings, policy),
            AcceptanceUpdate(attempt.key.digest,
                             Answer(kind.value, queue_id, record.id, len(held), 0, decision)),
            (key.key_id, key.wrapped) if key is not None else None)
