"""The register's hashes in flat arrays: a few buffers instead of an object per hash.

A register of 10,000 clients has some 170,000 hashes. Held as Python ``bytes`` in sets and
dicts, each costs an object, a set or dict slot and a tuple of results, about 100 MB per
gateway process once the rows it was built from are counted. Here each 16-byte digest is
two 64-bit halves in sorted ``array('Q')`` buffers, found by bisection (in C), and what a
digest stands for (client and field) is a 32-bit entry in a third array: a few MB in all,
and no object the collector or the reference counts ever walk.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

_HALF = 64
_LOW = (1 << _HALF) - 1
_ENTRY_BITS = 3  # an entry: (client number << 3) | field number; 8 fields at most

T = TypeVar("T")


def number(digest: bytes) -> int:
    return int.from_bytes(digest, "big")


def pack(digest: bytes, name: int, kind: int) -> int:
    """One (digest, name number, kind number) triple as a single int, for ``DigestMap``."""
    return (number(digest) << 32) | (name << _ENTRY_BITS) | kind


class DigestSet:
    """A set of digests (of up to 16 bytes), sorted in two arrays of 64-bit halves."""

    __slots__ = ("high", "low")

    def __init__(self, numbers: Iterable[int]) -> None:
        ordered = sorted(set(numbers))
        # From lists, not generators: an array filled from a list is allocated once, exactly.
        self.high = array("Q", [n >> _HALF for n in ordered])
        self.low = array("Q", [n & _LOW for n in ordered])

    def __len__(self) -> int:
        return len(self.high)

    def position(self, digest: bytes) -> int:
        """Where ``digest`` is in the sorted order; -1 if it is not in the set."""
        wanted = number(digest)
        high, low = wanted >> _HALF, wanted & _LOW
        at = bisect_left(self.high, high)
        # Two digests sharing their first 8 bytes are all but unheard of, but allowed for.
        while at < len(self.high) and self.high[at] == high:
            if self.low[at] == low:
                return at
            at += 1
        return -1

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, bytes) and self.position(digest) >= 0


class DigestMap(Generic[T]):
    """Digest -> the (name, kind) pairs registered under it, in flat arrays.

    ``names`` and ``kinds`` are the few distinct values (pseudonyms, fields) the entries
    number; an entry packs one of each into 32 bits.
    """

    __slots__ = ("bounds", "entries", "keys", "kinds", "names")

    def __init__(self, packed_triples: Iterable[int], names: Sequence[str],
                 kinds: Sequence[T]) -> None:
        """``packed_triples``: ``pack(digest, name number, kind number)`` of each, in any
        order, repeats allowed."""
        if len(kinds) > 1 << _ENTRY_BITS or len(names) >= 1 << (32 - _ENTRY_BITS):
            raise ValueError("too many names or kinds for an entry")
        packed = sorted(set(packed_triples))
        self.keys = DigestSet(p >> 32 for p in packed)
        self.entries = array("I", [p & 0xFFFFFFFF for p in packed])
        # The entries of the i-th digest are entries[bounds[i]:bounds[i + 1]].
        self.bounds = array("I", [0] * (len(self.keys) + 1))
        at = -1
        previous: int | None = None
        for i, p in enumerate(packed):
            if p >> 32 != previous:
                previous, at = p >> 32, at + 1
                self.bounds[at] = i
        self.bounds[len(self.keys)] = len(packed)
        self.names = tuple(names)
        self.kinds = tuple(kinds)

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, digest: bytes) -> tuple[tuple[str, T], ...]:
        at = self.keys.position(digest)
        if at < 0:
            return ()
        mask = (1 << _ENTRY_BITS) - 1
        return tuple((self.names[e >> _ENTRY_BITS], self.kinds[e & mask])
                     for e in self.entries[self.bounds[at]:self.bounds[at + 1]])
