"""Idempotent acceptance for the submit use case: which attempt works on which message.

Before it holds or relays, an attempt claims the message's acceptance key in the store
(``store/accepted.py``); the answer it gives is recorded under that key (with the hold, in
the same transaction; after the downstream accepted, for what is relayed). A retry finds the
answer and gets it again, or finds a claim: if the attempt that made it is still at work,
the retry is told to come back later (``451``); if it is gone (its process died, its client
hung up), the retry takes the claim over and finishes the work, reusing its hold.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import socket
from dataclasses import dataclass, field

from gateway.core.acceptance import AcceptanceKey
from gateway.logs import get_logger
from gateway.service.outcome import Outcome, OutcomeKind
from gateway.settings import Settings
from gateway.store.accepted import Accepted, AcceptedState
from gateway.store.records import now
from gateway.store.store import Store, StoreError

log = get_logger()


@dataclass(slots=True)
class Attempt:
    """One attempt at a message, from its claim to its answer."""

    key: AcceptanceKey
    owner: str  # host:pid:token, written on the claim
    claimed: bool = False
    claiming: bool = False  # its claim is being written: it may land after a cancellation
    before: Accepted | None = None  # the stale claim this attempt took over
    held_by_it: str | None = None  # the hold id on its claim (new or taken over)
    delivering: bool = False  # the message went to the downstream; its answer may not come
    abandoning: bool = False  # cancelled: its claim is being given up in the background
    # Recipients whose copies the downstream took in this attempt: written on the claim when
    # it is given up, so that the retry does not send them again.
    taken: set[str] = field(default_factory=set)

    @property
    def possible_duplicate(self) -> bool:
        """Delivering now may make a second copy: the attempt before may have delivered
        (it died while at work, or it gave up after sending without hearing back)."""
        return self.earlier is not None

    @property
    def earlier(self) -> str | None:
        """What became of the attempt before, if it may have delivered: died, gave-up."""
        before = self.before
        if before is None:
            return None
        if before.owner is not None:
            return "died"
        return "gave-up" if before.maybe_delivered else None


def _alive(pid: int) -> bool:
    """A process of that id runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except OSError:  # no /proc (not Linux): the signal said it exists
        return True


class Acceptance:
    """The attempts at work in this process, and whether another's claim is stale."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.host = socket.gethostname().replace(":", "_")
        # No attempt works longer than this (reading, the store, the downstream, twice
        # over); an older claim is stale whoever made it, even on another machine.
        self.limit = dt.timedelta(seconds=settings.read_budget
                                  + 2 * settings.downstream_timeout + 60)
        self._working: dict[str, str] = {}  # key digest: owner
        self._owners: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def working_here(self, key: AcceptanceKey) -> bool:
        return key.digest in self._working

    def start(self, key: AcceptanceKey) -> Attempt:
        owner = f"{self.host}:{os.getpid()}:{secrets.token_hex(4)}"
        self._working[key.digest] = owner
        self._owners.add(owner)
        return Attempt(key, owner)

    def finish(self, attempt: Attempt) -> None:
        if self._working.get(attempt.key.digest) == attempt.owner:
            del self._working[attempt.key.digest]
        if not attempt.abandoning:  # else its claim stays live until it is given up
            self._owners.discard(attempt.owner)

    def busy(self, row: Accepted) -> bool:
        """Another attempt is at work on this message now."""
        return row.state is AcceptedState.CLAIMED and not self.stale(row)

    def stale(self, row: Accepted) -> bool:
        """The attempt that made this claim is gone. Called where the claim is written: the
        store's thread or the event loop's (``SqliteEngine.write_now``)."""
        if row.owner is None or now() - row.claimed_at > self.limit:
            return True
        host, _, rest = row.owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host != self.host:
            return False  # another machine's attempt: only time tells
        if not pid_text.isdigit():
            return True
        if int(pid_text) == os.getpid():
            return row.owner not in self._owners
        return not _alive(int(pid_text))

    async def earlier(self, key: AcceptanceKey, queue_id: str) -> Outcome | None:
        """The outcome of an earlier attempt at the same message, if it settles this one.

        On SQLite the store is asked at once, a read of the local file that spares a retry
        its reading. On PostgreSQL that would be a round trip for every message to spare the
        rare retry: the claim, which every attempt makes before it holds or relays, finds
        the earlier attempt and its answer all the same."""
        if self.working_here(key):
            return Outcome(OutcomeKind.IN_PROGRESS, queue_id)
        if self.store.path is None:
            return None
        try:
            row = await self.store.accepted(key.digest)
        except StoreError as exc:
            return Outcome(OutcomeKind.STORE_FAILED, queue_id, during="accepted look-up",
                           detail=str(exc))
        if row is None:
            return None
        if row.answer is not None:
            return repeat(row)
        return Outcome(OutcomeKind.IN_PROGRESS, queue_id) if self.busy(row) else None

    async def give_up(self, attempt: Attempt, maybe_delivered: bool,
                      hold_gone: bool = False) -> None:
        """Let go of the claim of an attempt that answers 4xx or 5xx. Never raises."""
        try:
            if attempt.before is None and not maybe_delivered and not attempt.taken:
                await self.store.release_claim(attempt.key.digest, attempt.owner)
            else:  # what the attempts before delivered, or may have, must still count
                await self.store.abandon_claim(
                    attempt.key.digest, attempt.owner, hold_gone=hold_gone,
                    maybe_delivered=maybe_delivered or attempt.possible_duplicate,
                    delivered_to=attempt.taken)
        except Exception:  # the claim goes stale with this attempt; the retry takes it over
            log.exception("store-error", during="release claim")

    def abandon_later(self, attempt: Attempt) -> None:
        """The attempt was cancelled (its client hung up): give up its claim in the
        background, keeping its hold for the retry. A claim still being written when the
        attempt was cancelled is given up too, once written (the store's writes keep their
        order); otherwise it would look like the claim of an attempt that died."""
        if not (attempt.claimed or attempt.claiming):
            return
        attempt.abandoning = True
        task = asyncio.get_running_loop().create_task(self._abandon(attempt))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _abandon(self, attempt: Attempt) -> None:
        try:
            await self.store.abandon_claim(attempt.key.digest, attempt.owner,
                                           maybe_delivered=attempt.delivering, hold_gone=False,
                                           delivered_to=attempt.taken)
        except Exception:  # the claim goes stale with this process or with time
            log.exception("store-error", during="abandon claim")
        finally:
            self._owners.discard(attempt.owner)


def repeat(row: Accepted) -> Outcome:
    """The answer an earlier attempt of the same message got, given again."""
    answer = row.answer
    assert answer is not None
    return Outcome(OutcomeKind(answer.outcome), answer.queue_id, answer.decision,
                   hold_id=answer.hold_id, held=answer.held, delivered=answer.delivered,
                   repeated=True)
