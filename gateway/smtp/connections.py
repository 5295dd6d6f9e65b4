"""Open SMTP connections per client address and in total, counted across all workers.

With ``--workers N`` every worker accepts on the same socket, so a limit counted inside one
process would let a client open up to N times ``max_connections_per_ip``. The counts live
in one small shared-memory table instead (a ``memfd`` the supervisor creates and hands to
each worker, like the listening socket):

- a header: magic, number of workers, number of slots, then one total per worker;
- slots of (16-byte client address, one count per worker).

Worker *i* only ever changes column *i*, so when a worker dies the supervisor clears its
column (``clear_worker``) and the connections it held are no longer counted. Admitting is
check-then-increment under an ``fcntl`` lock on the table, so two workers cannot both take
the last place; the lock is held for a few memory reads and writes, microseconds, so taking
it on the event loop does not stall it. A slot whose counts are all zero is free; an address
has at most one slot in use, found by probing from a keyed hash of the address.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import mmap
import os
import struct
import tempfile
from collections.abc import Iterator, Sequence

_MAGIC = b"SGCONN01"
_HEADER = struct.Struct("<8sII16s")  # magic, workers, slots, hash key
_KEY_LEN = 16
_PROBES = 32
TOTAL = "total"
PER_ADDRESS = "per-address"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _address_key(host: str) -> bytes:
    """16 bytes naming a client: its IPv6 (or IPv4-mapped) address, else a digest."""
    address = _address(host)
    if address is None:
        return hashlib.blake2b(host.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    if isinstance(address, ipaddress.IPv4Address):
        return b"\0" * 10 + b"\xff\xff" + address.packed
    return address.packed


class ConnectionTable:
    """The shared table; ``for_worker`` gives one worker's view of it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False
        size = os.fstat(fd).st_size
        self._map = mmap.mmap(fd, size)
        magic, self.workers, self.slots, self._hash_key = _HEADER.unpack_from(self._map, 0)
        if magic != _MAGIC:
            raise ValueError("not a connection table")
        self._totals_at = _HEADER.size
        self._slots_at = self._totals_at + 4 * self.workers
        self._slot_size = _KEY_LEN + 4 * self.workers
        counts_end = self._slots_at + self._slot_size * self.slots
        if counts_end > size:
            raise ValueError("connection table is truncated")

    @classmethod
    def create(cls, workers: int, max_connections: int) -> ConnectionTable:
        """A new zeroed table for ``workers`` processes (its fd is inheritable)."""
        slots = max(64, 4 * max_connections)
        size = _HEADER.size + 4 * workers + (_KEY_LEN + 4 * workers) * slots
        fd = _anonymous_file()
        os.ftruncate(fd, size)
        os.pwrite(fd, _HEADER.pack(_MAGIC, workers, slots, os.urandom(16)), 0)
        os.set_inheritable(fd, True)
        return cls(fd)

    def for_worker(self, index: int, per_address: int, total: int,
                   exempt: Sequence[Network] = ()) -> ConnectionGuard:
        if not 0 <= index < self.workers:
            raise ValueError(f"worker {index} is not in a table for {self.workers} workers")
        return ConnectionGuard(self, index, per_address, total, exempt)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)

    # -- the layout ------------------------------------------------------------------------

    def _count_at(self, slot: int, worker: int) -> int:
        offset = self._slots_at + slot * self._slot_size + _KEY_LEN + 4 * worker
        value: int = struct.unpack_from("<I", self._map, offset)[0]
        return value

    def _add_at(self, slot: int, worker: int, delta: int) -> None:
        offset = self._slots_at + slot * self._slot_size + _KEY_LEN + 4 * worker
        value = struct.unpack_from("<I", self._map, offset)[0] + delta
        struct.pack_into("<I", self._map, offset, max(0, value))

    def _slot_total(self, slot: int) -> int:
        offset = self._slots_at + slot * self._slot_size + _KEY_LEN
        return sum(struct.unpack_from(f"<{self.workers}I", self._map, offset))

    def _key_at(self, slot: int) -> bytes:
        offset = self._slots_at + slot * self._slot_size
        return self._map[offset:offset + _KEY_LEN]

    def _total(self) -> int:
        return sum(struct.unpack_from(f"<{self.workers}I", self._map, self._totals_at))

    def _add_total(self, worker: int, delta: int) -> None:
        offset = self._totals_at + 4 * worker
        value = struct.unpack_from("<I", self._map, offset)[0] + delta
        struct.pack_into("<I", self._map, offset, max(0, value))

    def _probe(self, key: bytes) -> Iterator[int]:
        start = int.from_bytes(hashlib.blake2b(key, digest_size=8, key=self._hash_key).digest(),
                               "little") % self.slots
        for step in range(min(_PROBES, self.slots)):
            yield (start + step) % self.slots

    def _find(self, key: bytes) -> tuple[int | None, int | None]:
        """The slot in use for ``key`` (or ``None``) and the first free one on its probe path."""
        free: int | None = None
        for slot in self._probe(key):
            if self._slot_total(slot) == 0:
                if free is None:
                    free = slot
            elif self._key_at(slot) == key:
                return slot, free
        return None, free

    # -- what the supervisor and the tests see ---------------------------------------------

    def clear_worker(self, worker: int) -> None:
        """Forget every connection worker ``worker`` held (it exited; they are closed)."""
        with self.locked():
            for slot in range(self.slots):
                offset = self._slots_at + slot * self._slot_size + _KEY_LEN + 4 * worker
                struct.pack_into("<I", self._map, offset, 0)
            struct.pack_into("<I", self._map, self._totals_at + 4 * worker, 0)

    def open_connections(self, host: str | None = None) -> int:
        with self.locked():
            if host is None:
                return self._total()
            slot, _ = self._find(_address_key(host))
            return 0 if slot is None else self._slot_total(slot)

    def close(self) -> None:
        """Release the table; guards then admit nothing and releases are no-ops."""
        self.closed = True
        self._map.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)


class ConnectionGuard:
    """One worker's admissions: ``admit`` says which limit refused, or ``None``.

    Clients in ``exempt`` (the trusted networks: the organisation's own mail servers, which
    may send everything through one address) count toward the total but have no limit of
    their own, as Postfix exempts ``$mynetworks`` from its per-client limits.
    """

    def __init__(self, table: ConnectionTable, worker: int, per_address: int,
                 total: int, exempt: Sequence[Network] = ()) -> None:
        self.table = table
        self.worker = worker
        self.per_address = per_address
        self.total = total
        self.exempt = tuple(exempt)
        # Addresses admitted without a slot (the table was full on their probe path).
        self._unslotted: dict[str, int] = {}

    def admit(self, host: str) -> str | None:
        table = self.table
        if table.closed:  # the gateway is stopping
            return TOTAL
        key = _address_key(host)
        with table.locked():
            if table._total() >= self.total:
                return TOTAL
            slot, free = table._find(key)
            if (slot is not None and table._slot_total(slot) >= self.per_address
                    and not self._exempt(host)):
                return PER_ADDRESS
            if slot is None and free is not None:
                offset = table._slots_at + free * table._slot_size
                table._map[offset:offset + _KEY_LEN] = key
                slot = free
            if slot is None:
                # Every slot on this address's path is taken by other addresses: count it in
                # the total only (needs more than 4x max_connections distinct clients at once).
                self._unslotted[host] = self._unslotted.get(host, 0) + 1
            else:
                table._add_at(slot, self.worker, 1)
            table._add_total(self.worker, 1)
        return None

    def _exempt(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in net for net in self.exempt)

    def release(self, host: str) -> None:
        table = self.table
        if table.closed:
            return
        with table.locked():
            table._add_total(self.worker, -1)
            if self._unslotted.get(host):
                self._unslotted[host] -= 1
                if not self._unslotted[host]:
                    del self._unslotted[host]
                return
            key = _address_key(host)
            for slot in table._probe(key):
                if table._key_at(slot) == key and table._count_at(slot, self.worker) > 0:
                    table._add_at(slot, self.worker, -1)
                    return


def _anonymous_file() -> int:
    """A file descriptor of shared memory that no path names."""
    create = getattr(os, "memfd_create", None)
    if create is not None:
        with contextlib.suppress(OSError):
            fd: int = create("stampgate-connections", getattr(os, "MFD_CLOEXEC", 0))
            return fd
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the descriptor outlives the object
    return os.dup(handle.fileno())
