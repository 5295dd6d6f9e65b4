"""Micro-benchmark of the protected-client register: the time it adds to one message.

A register of N clients (default 10,000) with 6 protected values each (two names, one of
them in Arabic or Cyrillic script, a hometown, a job, a country of origin, a withheld
phrase), hashed with a random key, loaded into the in-memory index. Messages of about 5 KB
of ordinary prose (some with a registered name in them) are read once; the benchmark times
``findings(index.scan(facts))``, which is what the submit use case adds per message, and
prints the median and the 95th percentile. The first pass over each message fills the
index's per-word memo, as the gateway's first messages do; both passes are reported.

    .venv/bin/python tests/perf/bench_register.py [--clients 10000] [--messages 200]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time

from gateway.core.message import read_message
from gateway.core.register import (
    ClientField,
    ClientRecord,
    ClientStatus,
    RegisterIndex,
    findings,
    hash_rows,
)

GIVEN = ("Amina", "Mohammed", "Olena", "Zahra", "Tesfay", "Sahin", "Yusuf", "Fatima", "Ali",
         "Hassan", "Layla", "Omar", "Nadia", "Karim", "Selam", "Dawit", "Iryna", "Reza")
FAMILY = ("Haddad", "Kovalenko", "Karimi", "Gebremichael", "Yildiz", "Rahimi", "Osman",
          "Petrenko", "Tesfaye", "Nasser", "Hakimi", "Bondarenko", "Alemu", "Saleh")
SCRIPT = ("محمد", "حداد", "Олена", "Коваленко", "زهرا", "کریمی")
PLACES = ("Kobani", "Aleppo", "Homs", "Mariupol", "Bakhmut", "Mashhad", "Asmara", "Cizre")
JOBS = ("pharmacist", "tram driver", "teacher", "goldsmith", "imam", "nurse", "engineer")
PROSE = ("the", "team", "met", "on", "monday", "to", "discuss", "the", "resettlement",
         "caseload", "and", "the", "funding", "report", "for", "the", "next", "quarter;",
         "volunteers", "will", "translate", "the", "leaflets", "and", "the", "legal", "aid",
         "clinic", "opens", "at", "nine", "with", "two", "lawyers", "on", "duty")


def register(count: int, rng: random.Random) -> list[ClientRecord]:
    clients = []
    for number in range(count):
        name = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}{number}"
        script = f"{rng.choice(SCRIPT)} {rng.choice(SCRIPT)}{number}"
        clients.append(ClientRecord(f"Client{number}", {
            ClientField.NAME: (name, script),
            ClientField.HOMETOWN: (f"{rng.choice(PLACES)} {number}",),
            ClientField.JOB: (rng.choice(JOBS),),
            ClientField.ORIGIN: (f"Country{number % 50}",),
            ClientField.WITHHOLD: (f"what happened in prison {number}",)}))
    return clients


def message(rng: random.Random, name: str | None) -> bytes:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < 5000:
        words.append(rng.choice(PROSE))
    if name:
        words.insert(len(words) // 2, name)
    body = "Cleared for publication\r\n\r\n" + " ".join(words)
    return (f"From: a@example.org\r\nTo: b@example.org\r\nSubject: Update\r\n\r\n{body}\r\n"
            ).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(17)
    key = os.urandom(32)
    started = time.perf_counter()
    records = register(args.clients, rng)
    rows = [row for record in records for row in hash_rows(key, record)]
    statuses = [ClientStatus(r.pseudonym, frozenset(r.values), False, False) for r in records]
    index = RegisterIndex.build(key, statuses, rows)
    hashes = len(rows)
    del records, rows
    gc.collect()
    gc.freeze()  # as the gateway does after loading the index (service/register.py)
    print(f"register: {args.clients} clients, {hashes} hashes, built in "
          f"{time.perf_counter() - started:.1f} s")
    facts = [read_message(message(rng, "Amina Haddad7" if i % 10 == 0 else None))
             for i in range(args.messages)]
    for label in ("first pass", "second pass"):
        times = []
        for fact in facts:
            begin = time.perf_counter()
            findings(index.scan(fact), index.clients)
            times.append((time.perf_counter() - begin) * 1000)
        times.sort()
        print(f"{label}: median {statistics.median(times):.3f} ms, "
              f"p95 {times[int(len(times) * 0.95)]:.3f} ms per 5 KB message")


if __name__ == "__main__":
    main()
