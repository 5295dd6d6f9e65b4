"""Registered clients the core tests share, and the index their values make."""

from __future__ import annotations

from gateway.core.facts import MessageFacts
from gateway.core.register import (
    ClientField,
    ClientRecord,
    ClientStatus,
    RegisterFinding,
    RegisterIndex,
    findings,
    hash_rows,
)

KEY = bytes(range(32))
N, HOME, JOB, ORIGIN, WITHHOLD = (ClientField.NAME, ClientField.HOMETOWN, ClientField.JOB,
                                  ClientField.ORIGIN, ClientField.WITHHOLD)

CLIENTS = (
    ClientRecord("John", {N: ("Amina Haddad", "Umm Yusuf"), HOME: ("Kobani",),
                          JOB: ("pharmacist",), ORIGIN: ("Syria",),
                          WITHHOLD: ("Sednaya prison",)},
                 resettled=False, share_only_after_resettlement=True),
    ClientRecord("Sara", {N: ("محمد حداد",), HOME: ("Bakhmut",), JOB: ("tram driver",)},
                 resettled=True, share_only_after_resettlement=True),
    ClientRecord("Lena", {N: ("Олена Коваленко",), HOME: ("Mariupol",)}),
    ClientRecord("Kidane", {N: ("ተስፋይ ገብረሚካኤል", "Tesfay Gebremichael"),
                            HOME: ("Adi Keyh",), JOB: ("goldsmith",)},
                 resettled=False, share_only_after_resettlement=True),
    ClientRecord("Parisa", {N: ("زهرا کریمی", "Zahra Karimi"), HOME: ("Mashhad",),
                            ORIGIN: ("Iran",), WITHHOLD: ("women's football team",)}),
    ClientRecord("Emre", {N: ("Şahin Yıldız",), HOME: ("Cizre",), JOB: ("imam",)}),
)


def status(record: ClientRecord) -> ClientStatus:
    return ClientStatus(record.pseudonym, frozenset(f for f, v in record.values.items() if v),
                        record.resettled, record.share_only_after_resettlement)


def build_index(clients: tuple[ClientRecord, ...] = CLIENTS) -> RegisterIndex:
    rows = [row for record in clients for row in hash_rows(KEY, record)]
    return RegisterIndex.build(KEY, [status(c) for c in clients], rows)


INDEX = build_index()


def findings_in(facts: MessageFacts, index: RegisterIndex = INDEX) -> tuple[RegisterFinding, ...]:
    return findings(index.scan(facts), index.clients)
