"""The protected-client register as the core sees it: keyed hashes, the index, the scan."""

from __future__ import annotations

import enum
import hashlib
import hmac
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import assert_never

from gateway.core.facts import MessageFacts
from gateway.core.register_table import DigestMap, DigestSet, number, pack
from gateway.core.register_text import (
    EXACT,
    PARTICLES,
    SKELETON,
    Key,
    Shape,
    skeleton,
    token_runs,
    value_keys,
)

DIGEST = 16  # bytes of HMAC-SHA256 kept: collisions stay negligible, the index stays small
_JOIN = "\x1f"
_MEMO = 200_000  # entries each memo keeps at most


class ClientField(enum.Enum):
    """What a registered value is."""

    PSEUDONYM = "pseudonym"
    NAME = "names"
    HOMETOWN = "hometown"
    JOB = "job"
    ORIGIN = "origin"
    WITHHOLD = "withhold"

    @property
    def label(self) -> str:
        match self:
            case ClientField.PSEUDONYM:
                return "pseudonym"
            case ClientField.NAME:
                return "real name"
            case ClientField.HOMETOWN:
                return "hometown"
            case ClientField.JOB:
                return "job"
            case ClientField.ORIGIN:
                return "country of origin"
            case ClientField.WITHHOLD:
                return "withheld fact"
            case _:
                assert_never(self)

    @property
    def shape(self) -> Shape:
        return Shape.NAME if self is ClientField.NAME else Shape.EXACT


PROTECTED_FIELDS = (ClientField.NAME, ClientField.HOMETOWN, ClientField.JOB, ClientField.ORIGIN,
                    ClientField.WITHHOLD)


class Where(enum.Enum):
    """Where in a message a registered value was found."""

    SUBJECT = "subject"
    BODY = "body"
    ATTACHED = "attached message"
    DOCUMENT = "attached document"


class Reach(enum.Enum):
    """Which recipients a finding holds mail for."""

    GUARDED = "guarded"  # the protected groups (communications) and everyone outside
    EXTERNAL = "external"  # outside the organisation only


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """One client as an admin enters it; the values never leave the process that hashes them."""

    pseudonym: str
    values: Mapping[ClientField, tuple[str, ...]]
    resettled: bool = False
    share_only_after_resettlement: bool = False


@dataclass(frozen=True, slots=True)
class ClientStatus:
    """What the register keeps in clear about a client."""

    pseudonym: str
    fields: frozenset[ClientField]
    resettled: bool
    share_only_after_resettlement: bool


@dataclass(frozen=True, slots=True)
class HashRow:
    """One keyed hash of a value's key, with the hashes of its tokens (the scan's filters)."""

    pseudonym: str
    field: ClientField
    tokens: bytes  # the keyed hash of each token key, DIGEST bytes each
    full: bytes
    length: int

    @property
    def first(self) -> bytes:
        return self.tokens[:DIGEST]


def keyed(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode(), hashlib.sha256)[:DIGEST]


def hash_rows(key: bytes, record: ClientRecord) -> list[HashRow]:
    """The rows the store keeps for ``record``: hashes only, one per key of every value."""
    keys: dict[tuple[ClientField, Key], None] = {}
    for pseudonym_key in value_keys(record.pseudonym, Shape.EXACT):
        keys[(ClientField.PSEUDONYM, pseudonym_key)] = None
    for client_field in PROTECTED_FIELDS:
        for value in record.values.get(client_field, ()):
            for value_key in value_keys(value, client_field.shape):
                keys[(client_field, value_key)] = None
    return [HashRow(record.pseudonym, f, b"".join(keyed(key, t) for t in k),
                    keyed(key, _JOIN.join(k)), len(k)) for f, k in keys]


@dataclass(frozen=True, slots=True)
class RegisterHit:
    pseudonym: str
    field: ClientField
    where: Where


@dataclass(frozen=True, slots=True)
class RegisterFinding:
    """What one client's hits mean for the decision, in words that carry no value."""

    pseudonym: str
    field: ClientField
    where: tuple[Where, ...]
    reach: Reach

    @property
    def text(self) -> str:
        places = ", ".join(w.value for w in self.where)
        return f"mentions the {self.field.label} of client {self.pseudonym} ({places})"


_FIRST = 1  # a token key's hash starts a registered key
_MEMBER = 2  # it is in one
_EXACT_STARTS = 1  # a word's exact key starts a registered key
_SKELETON_STARTS = 2  # its skeleton key does
_FIELDS = tuple(ClientField)


@dataclass(slots=True)
class RegisterIndex:
    """The register's hashes in memory; ``scan`` finds them in a message.

    The hashes are kept in flat sorted arrays (``register_table``): a few MB for 10,000
    clients, with no object per hash for the collector or the reference counts to touch.
    ``full`` maps a key's hash to the clients and fields registered under it; ``firsts``
    holds the hash of each key's first token, ``members`` of every token of every key.

    ``memo`` remembers, per token key, whether it starts a registered key and whether it is
    in one: most words of most mail are the same few thousand, so each is hashed once, and
    a run of words is hashed whole only while every word is in some key. ``starts``
    remembers, per word, whether its exact or skeleton key starts a registered key, and
    ``runs`` what each run of words hashed whole found: a text that starts no key costs its
    tokens and one look-up per distinct word.
    """

    key: bytes
    clients: Mapping[str, ClientStatus]
    firsts: DigestSet
    members: DigestSet
    full: DigestMap[ClientField]
    longest: int
    memo: dict[str, int] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    runs: dict[str, tuple[tuple[str, ClientField], ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, key: bytes, clients: Iterable[ClientStatus],
              rows: Iterable[HashRow]) -> RegisterIndex:
        """The index of ``rows``, read once as they come (they need not fit in memory)."""
        by_pseudonym = {c.pseudonym: c for c in clients}
        numbers = {p: n for n, p in enumerate(by_pseudonym)}
        field_numbers = {f: n for n, f in enumerate(_FIELDS)}
        full: list[int] = []
        firsts: set[int] = set()
        members: set[int] = set()
        longest = 0
        for row in rows:
            client = numbers.setdefault(row.pseudonym, len(numbers))
            full.append(pack(row.full, client, field_numbers[row.field]))
            firsts.add(number(row.first))
            members.update(number(row.tokens[i:i + DIGEST])
                           for i in range(0, len(row.tokens), DIGEST))
            longest = max(longest, row.length)
        return cls(key, by_pseudonym, DigestSet(firsts), DigestSet(members),
                   DigestMap(full, [sys.intern(p) for p in numbers], _FIELDS), longest)

    def _flags(self, token_key: str) -> int:
        known = self.memo.get(token_key)
        if known is None:
            if len(self.memo) > _MEMO:  # bounded: a flood of unique words cannot grow it
                self.memo.clear()
            digest = keyed(self.key, token_key)
            known = self.memo[token_key] = ((_FIRST if digest in self.firsts else 0)
                                            | (_MEMBER if digest in self.members else 0))
        return known

    def _starts(self, token: str) -> int:
        """Whether the word's exact key, and its skeleton key, start a registered key."""
        known = self.starts.get(token)
        if known is None:
            if len(self.starts) > _MEMO:
                self.starts.clear()
            exact = self._flags(EXACT + token) & _FIRST
            known = self.starts[token] = (
                (_EXACT_STARTS if exact else 0)
                | (_SKELETON_STARTS if token not in PARTICLES
                   and self._flags(SKELETON + skeleton(token)) & _FIRST else 0))
        return known

    def _found(self, keys: list[str]) -> tuple[tuple[str, ClientField], ...]:
        """Who is registered under a run of token keys, remembered: mail repeats its
        phrases. (The key of one token hashes as the token does.)"""
        text = _JOIN.join(keys)
        known = self.runs.get(text)
        if known is None:
            if len(self.runs) > _MEMO:
                self.runs.clear()
            known = self.runs[text] = self.full.get(keyed(self.key, text))
        return known

    def _runs(self, tokens: list[str], key_of: Mapping[str, str | None],
              starting: Iterable[str]) -> Iterator[tuple[str, ClientField]]:
        """Who is registered under the runs of ``tokens`` that start with a ``starting`` word.

        ``key_of`` gives each distinct word's token key, or None for a word the run steps
        over (a particle, in a skeleton run). A run is walked only where its next word is in
        some registered key; a word that starts a key is looked up alone once, however
        often it occurs.
        """
        followers = {t for t, k in key_of.items() if k is not None and self._flags(k) & _MEMBER}
        for word in starting:
            first = key_of[word]
            assert first is not None
            yield from self._found([first])
            if not followers or self.longest < 2:
                continue
            at = -1
            while True:
                try:
                    at = tokens.index(word, at + 1)  # each place the word occurs (in C)
                except ValueError:
                    break
                keys, end = [first], at + 1
                while end < len(tokens) and len(keys) < self.longest:
                    following = tokens[end]
                    end += 1
                    key = key_of[following]
                    if key is None:
                        continue
                    if following not in followers:
                        break
                    keys.append(key)
                    yield from self._found(keys)

    def scan_text(self, text: str) -> set[tuple[str, ClientField]]:
        found: set[tuple[str, ClientField]] = set()
        if not self.full:
            return found
        for tokens in token_runs(text):
            # Each distinct word is looked up once; most texts start no registered key, and
            # nothing more is done for them.
            distinct = {t: self._starts(t) for t in set(tokens)}
            exact = [t for t, flags in distinct.items() if flags & _EXACT_STARTS]
            if exact:
                found.update(self._runs(tokens, {t: EXACT + t for t in distinct}, exact))
            skeletons = [t for t, flags in distinct.items() if flags & _SKELETON_STARTS]
            if skeletons:
                found.update(self._runs(tokens, {t: None if t in PARTICLES
                                                 else SKELETON + skeleton(t)
                                                 for t in distinct}, skeletons))
        return found

    def scan(self, facts: MessageFacts) -> tuple[RegisterHit, ...]:
        """Every registered value in the subject, the texts and the attached messages."""
        hits: dict[RegisterHit, None] = {}
        for where, text in _texts(facts):
            for pseudonym, client_field in sorted(self.scan_text(text), key=str):
                hits[RegisterHit(pseudonym, client_field, where)] = None
        return tuple(hits)


def _texts(facts: MessageFacts, where: Where | None = None) -> Iterator[tuple[Where, str]]:
    seen: set[str] = set()
    pairs = [(where or Where.SUBJECT, subject)
             for subject in (facts.subject, *facts.other_subjects)]
    pairs += [(where or Where.BODY, part.text) for part in facts.top_texts]
    for place, text in pairs:
        if text and text not in seen:  # renderings of one part are often the same text
            seen.add(text)
            yield place, text
    for document in facts.documents:
        if document.unreadable is None:
            yield Where.DOCUMENT, document.text
    for attached in facts.attached:
        yield from _texts(attached, Where.ATTACHED)


def findings(hits: Iterable[RegisterHit],
             clients: Mapping[str, ClientStatus]) -> tuple[RegisterFinding, ...]:
    """What the hits mean: a name always; a fact next to the client's pseudonym or name;
    the pseudonym of a client who may be shown only once resettled, who is not yet."""
    places: dict[tuple[str, ClientField], list[Where]] = {}
    for hit in hits:
        places.setdefault((hit.pseudonym, hit.field), []).append(hit.where)
    named = {p for p, f in places if f in (ClientField.NAME, ClientField.PSEUDONYM)}
    out: list[RegisterFinding] = []
    for (pseudonym, client_field), where in places.items():
        status = clients.get(pseudonym)
        reach: Reach | None
        match client_field:
            case ClientField.NAME:
                reach = Reach.GUARDED
            case ClientField.HOMETOWN | ClientField.JOB | ClientField.ORIGIN | ClientField.WITHHOLD:
                reach = Reach.GUARDED if pseudonym in named else None
            case ClientField.PSEUDONYM:
                waiting = (status is not None and status.share_only_after_resettlement
                           and not status.resettled)
                reach = Reach.EXTERNAL if waiting else None
            case _:
                assert_never(client_field)
        if reach is not None:
            out.append(RegisterFinding(pseudonym, client_field, tuple(dict.fromkeys(where)),
                                       reach))
    return tuple(sorted(out, key=lambda f: (f.pseudonym, f.field.value)))
