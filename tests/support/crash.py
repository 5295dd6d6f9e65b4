"""Crash safety under load: SIGKILL the gateway at random moments and account for every message.

Ten client threads send a mix of relay, hold, partial-hold and bounce messages over loopback
the way a mail client's queue does: a message without a final answer (no reply, or 4xx) is
sent again; 250 and 5xx are final. The gateway is killed with SIGKILL at a random moment,
its store is integrity-checked, and it is restarted. At the end every attempt is checked:

- a message answered 250 is at the recording downstream (its relayed part) and in the held
  queue (its held part, under the hold id of the 250): otherwise it is **lost**. The copies
  may have been made by an earlier attempt that got no answer: acceptance is idempotent, so
  the retry is answered with the work that attempt did;
- an attempt answered 4xx or 5xx was neither delivered nor held: otherwise it **leaked**;
- a second copy for a recipient is a **duplicate**. Held duplicates must not happen; a
  relayed one only when the gateway died between the downstream's 250 and recording it,
  and then the gateway counts it (``possible-duplicate-delivery`` in its log,
  ``stampgate_possible_duplicate_deliveries_total``): ``possible_duplicates``.

Run as ``python -m tests.support.crash --kills 100`` (``scripts/crash-test``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import random
import re
import signal
import smtplib
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gateway.adapters.crypto import sealed_key_id
from gateway.settings import Settings, held_sealer
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

SENDER = "alice@example.org"
COLLEAGUE = "bob@example.org"
PARTNER = "partner@outside.test"
PRESS = "press@example.org"
ATTEMPT_HEADER = re.compile(r"^X-Crash-Attempt: (\S+)\.(\d+)\r?$", re.MULTILINE)
HOLD_ID = re.compile(r"held for review as (H[0-9A-F]+)")

# kind: (stamp line, recipients, which recipients are relayed, which are held)
KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "relay": ("Internal", (COLLEAGUE,), (COLLEAGUE,), ()),
    "hold": ("Needs adjustment: blur face", (PARTNER,), (), (PARTNER,)),
    "partial": ("Needs adjustment in 2 ways: blur face, change name", (COLLEAGUE, PARTNER),
                (COLLEAGUE,), (PARTNER,)),
    "bounce": ("Internal", (PRESS,), (), ()),
}


@dataclass
class Attempt:
    number: int
    outcome: str  # accepted | temporary | permanent | no-reply
    code: int | None = None
    hold_id: str | None = None


@dataclass
class Mail:
    token: str
    kind: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return any(a.outcome in ("accepted", "permanent") for a in self.attempts)

    def raw(self, attempt: int) -> bytes:
        stamp, recipients, _, _ = KINDS[self.kind]
        return message(f"{stamp}\n\nCase note {self.token}.\n", to=", ".join(recipients),
                       message_id=f"<{self.token}@crash.test>",
                       headers={"X-Crash-Attempt": f"{self.token}.{attempt}"})


@dataclass
class Report:
    seed: int
    kills: int = 0
    messages: int = 0
    attempts: int = 0
    accepted: int = 0
    refused_permanent: int = 0
    answered_temporary: int = 0
    no_reply: int = 0
    unresolved: int = 0
    lost: int = 0
    leaked: int = 0
    duplicates: int = 0
    duplicates_delivered: int = 0
    duplicates_held: int = 0
    possible_duplicates: int = 0  # counted by the gateway
    integrity_failures: int = 0
    restart_failures: int = 0
    seconds: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    hold_ids: list[str] = field(default_factory=list)  # from 250 replies, oldest first

    @property
    def ok(self) -> bool:
        return not (self.lost or self.leaked or self.unresolved or self.integrity_failures
                    or self.restart_failures or self.duplicates_held
                    or self.duplicates_delivered > self.possible_duplicates)

    def summary(self) -> str:
        return (f"kills={self.kills} messages={self.messages} attempts={self.attempts} "
                f"accepted={self.accepted} refused-5xx={self.refused_permanent} "
                f"answered-4xx={self.answered_temporary} no-reply={self.no_reply} "
                f"lost={self.lost} leaked={self.leaked} duplicates={self.duplicates} "
                f"(delivered {self.duplicates_delivered}, held {self.duplicates_held}; "
                f"counted by the gateway {self.possible_duplicates}) "
                f"unresolved={self.unresolved} integrity-failures={self.integrity_failures} "
                f"seconds={self.seconds:.0f} seed={self.seed}")


class Clients:
    """Ten sending threads sharing one queue of messages still to be sent (or sent again)."""

    def __init__(self, port: int, rng: random.Random, sessions: int = 10) -> None:
        self.port = port
        self.rng = rng
        self.sessions = sessions
        self.mails: list[Mail] = []
        self.pending: queue.Queue[Mail] = queue.Queue()
        self.lock = threading.Lock()
        self.new_mail = threading.Event()  # set while new messages may be created
        self.new_mail.set()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, name=f"client-{i}", daemon=True)
                        for i in range(sessions)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _next(self) -> Mail | None:
        try:
            return self.pending.get_nowait()
        except queue.Empty:
            pass
        if not self.new_mail.is_set():
            return None
        with self.lock:
            kind = self.rng.choice(list(KINDS))
            mail = Mail(f"m{len(self.mails):06d}{self.rng.randrange(16**6):06x}", kind)
            self.mails.append(mail)
        return mail

    def _run(self) -> None:
        while not self.stop.is_set():
            mail = self._next()
            if mail is None:
                time.sleep(0.02)
                continue
            if not self._send(mail):
                self.pending.put(mail)

    def _send(self, mail: Mail) -> bool:
        """One attempt; True if its answer was final (250 or 5xx)."""
        _, recipients, _, _ = KINDS[mail.kind]
        try:
            smtp = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.test", timeout=15)
        except (OSError, smtplib.SMTPException):
            time.sleep(0.05)  # gateway down: nothing was sent, try later
            return False
        number = len(mail.attempts) + 1
        try:
            with smtp:
                smtp.ehlo()
                smtp.mail(SENDER)
                for rcpt in recipients:
                    smtp.rcpt(rcpt)
                code, text = smtp.data(mail.raw(number))
        except (OSError, smtplib.SMTPException):
            mail.attempts.append(Attempt(number, "no-reply"))
            time.sleep(0.05)
            return False
        reply = text.decode(errors="replace")
        if code == 250:
            found = HOLD_ID.search(reply)
            mail.attempts.append(Attempt(number, "accepted", code,
                                         found.group(1) if found else None))
            return True
        outcome = "permanent" if code >= 500 else "temporary"
        mail.attempts.append(Attempt(number, outcome, code))
        return outcome == "permanent"

    def drain(self, timeout: float) -> None:
        """No new messages; keep retrying until every one has a final answer."""
        self.new_mail.clear()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(m.final for m in self.mails) and self.pending.empty():
                break
            time.sleep(0.1)
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def port_closed(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
        except OSError:
            return True
        time.sleep(0.05)
    return False


def integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    return "; ".join(rows)


def restart(gateway: GatewayProcess, report: Report) -> None:
    for _ in range(5):
        try:
            gateway.start()
            return
        except RuntimeError:
            gateway.stop(signal.SIGKILL)
            time.sleep(0.5)
    report.restart_failures += 1
    raise RuntimeError(f"gateway did not come back:\n{gateway.log()[-3000:]}")


Delivered = dict[tuple[str, int], list[str]]
Held = dict[tuple[str, int], list[tuple[str, str]]]


def copies(gateway: GatewayProcess, downstream: Downstream) -> tuple[Delivered, Held]:
    """Per (token, attempt): recipients delivered downstream, and (hold id, recipient) held."""
    delivered: Delivered = {}
    for item in downstream.messages:
        found = ATTEMPT_HEADER.search(item.header_text)
        if found:
            key = (found.group(1), int(found.group(2)))
            delivered.setdefault(key, []).extend(r.lower() for r in item.recipients)
    held: Held = {}
    with contextlib.closing(sqlite3.connect(gateway.data / "stampgate.sqlite3")) as conn:
        rows = conn.execute(
            "SELECT id, held_recipients, content FROM held_messages WHERE state = 'held'")
        # Held bodies are encrypted by default: read them as the gateway does, each with its
        # wrapped key from the store.
        keys = {str(k): bytes(w) for k, w in conn.execute("SELECT key_id, wrapped FROM held_keys")}
        sealer = held_sealer(Settings(data=gateway.data))
        for hold_id, recipients, content in rows:
            key_id = sealed_key_id(bytes(content))
            wrapped = keys.get(key_id.hex()) if key_id is not None else None
            head = sealer.open(bytes(content), wrapped).split(b"\r\n\r\n", 1)[0].decode(
                "utf-8", "replace")
            found = ATTEMPT_HEADER.search(head)
            if found:
                key = (found.group(1), int(found.group(2)))
                held.setdefault(key, []).extend((hold_id, r.lower())
                                                for r in json.loads(recipients))
    return delivered, held


def check(mails: list[Mail], delivered: Delivered, held: Held, report: Report) -> None:
    for mail in mails:
        _, _, relayed, kept = KINDS[mail.kind]
        report.kinds[mail.kind] = report.kinds.get(mail.kind, 0) + 1
        if not mail.final:
            report.unresolved += 1
            report.problems.append(f"{mail.token}: no final answer")
        went: Counter[str] = Counter()
        kept_for: Counter[str] = Counter()
        hold_ids: set[str] = set()
        for attempt in mail.attempts:
            key = (mail.token, attempt.number)
            went.update(delivered.get(key, []))
            stored = held.get(key, [])
            kept_for.update(r for _, r in stored)
            hold_ids.update(h for h, _ in stored)
            if attempt.outcome == "accepted":
                report.accepted += 1
                if attempt.hold_id:
                    report.hold_ids.append(attempt.hold_id)
            elif attempt.outcome in ("temporary", "permanent"):
                if attempt.outcome == "permanent":
                    report.refused_permanent += 1
                else:
                    report.answered_temporary += 1
                if delivered.get(key) or stored:
                    report.leaked += 1
                    report.problems.append(f"{mail.token}.{attempt.number} answered "
                                           f"{attempt.code} but delivered or held")
            else:
                report.no_reply += 1
        report.attempts += len(mail.attempts)
        answered = [a for a in mail.attempts if a.outcome == "accepted"]
        if answered:
            missing = [r for r in relayed if not went[r]] + [r for r in kept if not kept_for[r]]
            if kept and answered[-1].hold_id not in hold_ids:
                missing.append(f"hold {answered[-1].hold_id}")
            if missing:
                report.lost += 1
                report.problems.append(f"{mail.token} answered 250 but not delivered/held: "
                                       f"{missing}")
        extra_delivered = sum(n - 1 for n in went.values() if n > 1)
        extra_held = sum(n - 1 for n in kept_for.values() if n > 1)
        report.duplicates += extra_delivered + extra_held
        report.duplicates_delivered += extra_delivered
        report.duplicates_held += extra_held
        if extra_delivered or extra_held:
            report.problems.append(f"{mail.token} ({mail.kind}): {extra_delivered} delivered "
                                   f"and {extra_held} held duplicate(s), "
                                   f"attempts {[a.outcome for a in mail.attempts]}")
        if mail.kind == "bounce" and (went or kept_for):
            report.leaked += 1
            report.problems.append(f"{mail.token}: a bounce was delivered or held")


def run(kills: int, workdir: Path, seed: int | None = None, min_up: float = 0.3,
        max_up: float = 2.0, sessions: int = 10, drain_timeout: float = 120.0,
        progress: bool = False) -> Report:
    """Kill the gateway ``kills`` times under load; return the accounting."""
    seed = seed if seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    report = Report(seed)
    started = time.monotonic()
    downstream = Downstream().start()
    gateway = GatewayProcess(workdir, downstream.url, config={"downstream_timeout": 10})
    clients = Clients(gateway.port, rng, sessions)
    try:
        gateway.start()
        clients.start()
        for round_number in range(1, kills + 1):
            time.sleep(rng.uniform(min_up, max_up))
            gateway.stop(signal.SIGKILL)
            report.kills += 1
            if not port_closed(gateway.port):
                report.problems.append(f"round {round_number}: port still open after SIGKILL")
            verdict = integrity(gateway.data / "stampgate.sqlite3")
            if verdict != "ok":
                report.integrity_failures += 1
                report.problems.append(f"round {round_number}: integrity_check: {verdict}")
            restart(gateway, report)
            if progress:
                print(f"round {round_number}/{kills}: {len(clients.mails)} messages so far",
                      file=sys.stderr, flush=True)
        clients.drain(drain_timeout)
        code = gateway.stop(signal.SIGTERM)
        if code != 0:
            report.problems.append(f"final SIGTERM: exit code {code}")
        delivered, held = copies(gateway, downstream)
        report.messages = len(clients.mails)
        report.possible_duplicates = len(gateway.log_events("possible-duplicate-delivery"))
        check(clients.mails, delivered, held, report)
    finally:
        clients.stop.set()
        gateway.stop(signal.SIGKILL)
        downstream.stop()
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=100, help="how many SIGKILLs (default 100)")
    parser.add_argument("--seed", type=int, help="random seed, to repeat a run")
    parser.add_argument("--sessions", type=int, default=10, help="concurrent client sessions")
    parser.add_argument("--min-up", type=float, default=0.3,
                        help="shortest time up before a kill (s)")
    parser.add_argument("--max-up", type=float, default=2.0,
                        help="longest time up before a kill (s)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="stampgate-crash-"))
    report = run(args.kills, workdir, args.seed, args.min_up, args.max_up, args.sessions,
                 progress=True)
    if args.json:
        print(json.dumps({**report.__dict__, "ok": report.ok}, indent=2))
    else:
        print(report.summary())
        print("kinds: " + ", ".join(f"{k}={v}" for k, v in sorted(report.kinds.items())))
        for problem in report.problems[:50]:
            print(f"  {problem}")
    if args.keep:
        print(f"work directory: {workdir}", file=sys.stderr)
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
