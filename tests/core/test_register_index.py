"""The register's index finds exactly what a plain look-up of every run of words finds."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.register import DIGEST, ClientField, hash_rows, keyed
from gateway.core.register_table import DigestMap, DigestSet, pack
from gateway.core.register_text import EXACT, PARTICLES, SKELETON, skeleton, token_runs
from tests.core.register_clients import CLIENTS, INDEX, KEY, build_index

_JOIN = "\x1f"


def plain_scan(text: str) -> set[tuple[str, ClientField]]:
    """Every run of up to ``longest`` keys, hashed and looked up in a dict of all rows."""
    table: dict[bytes, set[tuple[str, ClientField]]] = {}
    for record in CLIENTS:
        for row in hash_rows(KEY, record):
            table.setdefault(row.full, set()).add((row.pseudonym, row.field))
    found: set[tuple[str, ClientField]] = set()
    for tokens in token_runs(text):
        for keys in ([EXACT + t for t in tokens],
                     [SKELETON + skeleton(t) for t in tokens if t not in PARTICLES]):
            for start in range(len(keys)):
                for end in range(start + 1, min(len(keys), start + INDEX.longest) + 1):
                    found |= table.get(keyed(KEY, _JOIN.join(keys[start:end])), set())
    return found


# Registered words, their other spellings, particles and everyday words, so that generated
# texts start, continue and break off registered keys.
WORDS = ("Amina", "Haddad", "A.", "Haddad's", "Umm", "Yusuf", "Um", "Yousef", "Kobani",
         "pharmacist", "Syria", "Sednaya", "prison", "Mohammed", "Muhammad", "Hadad", "al",
         "El", "Bakhmut", "tram", "driver", "Олена", "Коваленко", "Olena", "Kovalenko",
         "Tesfay", "Gebremichael", "Zahra", "Karimi", "زهرا", "کریمی", "Mashhad", "Iran",
         "women's", "football", "team", "Şahin", "Yıldız", "Sahin", "Yildiz", "Cizre", "imam",
         "and", "the", "nadia", "end", "in", "to", "John", "Sara", "Kidane", ",", "\n", "<b>")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=40))
def test_the_index_finds_what_every_run_looked_up_finds(words: list[str]) -> None:
    text = " ".join(words)
    assert INDEX.scan_text(text) == plain_scan(text)


def test_a_text_naming_clients_among_many_words_is_found_in_full() -> None:
    index = build_index()  # fresh memos
    text = ("and the " * 300 + "Muhammad al Hadad met A. Haddad in Mashhad; "
            + "the end and " * 300 + "Zahra Karimi")
    assert index.scan_text(text) == plain_scan(text)
    assert {p for p, f in index.scan_text(text) if f is ClientField.NAME} == {
        "John", "Sara", "Parisa"}


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_words_are_the_letter_and_digit_runs_without_apostrophes(text: str) -> None:
    lowered = re.sub(r"['`](?:s\b)?", "", text.lower())
    assert token_runs(text) == [re.findall(r"[a-z0-9]+", lowered)]


def test_digest_set_compares_all_sixteen_bytes() -> None:
    same_high = [bytes(8) + bytes([i]) * 8 for i in range(1, 5)]
    digests = set(same_high[:3]) | {bytes([9]) * DIGEST, bytes([255]) * DIGEST}
    table = DigestSet(int.from_bytes(d, "big") for d in digests)
    assert len(table) == 5
    assert all(d in table for d in digests)
    assert same_high[3] not in table and bytes(DIGEST) not in table
    assert bytes([255]) * 15 + bytes([254]) not in table


def test_digest_map_keeps_every_client_under_a_shared_hash() -> None:
    shared, alone = bytes([7]) * DIGEST, bytes([8]) * DIGEST
    kinds = tuple(ClientField)
    table = DigestMap([pack(shared, 0, 2), pack(shared, 1, 2), pack(alone, 1, 0),
                       pack(shared, 0, 2)], ["John", "Sara"], kinds)
    assert len(table) == 2
    assert set(table.get(shared)) == {("John", kinds[2]), ("Sara", kinds[2])}
    assert table.get(alone) == (("Sara", kinds[0]),)
    assert table.get(bytes(DIGEST)) == ()
