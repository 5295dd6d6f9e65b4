"""Open SMTP connections per client network and in total, counted across all workers.

A client network is the /24 (IPv4) or /64 (IPv6) around the client's address
(``connection_prefix_v4``, ``connection_prefix_v6``): one host or subscriber usually has a
whole IPv6 /64, so a limit per exact address would let it open the total by itself. Of the
total, ``reserved_connections`` are kept for the trusted networks, so a flood from many
networks cannot lock out the organisation's own mail server either.

With ``--workers N`` every worker accepts on the same socket, so a limit counted inside one
process would let a client open up to N times ``max_connections_per_ip``. The counts live
in one small shared-memory table instead (a ``memfd`` the supervisor creates and hands to
each worker, like the listening socket):

- a header: magic, number of workers, number of slots, the two prefix lengths, then one
  total per worker;
- slots of (16-byte client network, one count per worker).

Worker *i* only ever changes column *i*, so when a worker dies the supervisor clears its
column (``clear_worker``) and the connections it held are no longer counted. Admitting is
check-then-increment under an ``fcntl`` lock on the table, so two workers cannot both take
the last place; the lock is held for a few memory reads and writes, microseconds, so taking
it on the event loop does not stall it. A slot whose counts are all zero is free; an address
has at most one slot in use, found by probing from a keyed hash of the network.
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

_MAGIC = b"SGCONN02"
_HEADER = struct.Struct("<8sIIBB2x16s")  # magic, workers, slots, v4 and v6 prefix, hash key
_KEY_LEN = 16
_PROBES = 32
TOTAL = "total"
PER_NETWORK = "per-network"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def network_key(host: str, prefix_v4: int = 32, prefix_v6: int = 128) -> bytes:
    """16 bytes naming a client's network: its IPv6 (or IPv4-mapped) prefix, else a digest."""
    address = _address(host)
    if address is None:
        return hashlib.blake2b(host.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    if isinstance(address, ipaddress.IPv4Address):
        masked = int(address) >> (32 - prefix_v4) << (32 - prefix_v4)
        return b"\0" * 10 + b"\xff\xff" + masked.to_bytes(4, "big")
    masked = int(address) >> (128 - prefix_v6) << (128 - prefix_v6)
    return masked.to_bytes(16, "big")


def network_name(host: str, prefix_v4: int = 32, prefix_v6: int = 128) -> str:
    """The client network of ``host`` as text (``192.0.2.0/24``), for replies and logs."""
    address = _address(host)
    if address is None:
        return host
    prefix = prefix_v4 if isinstance(address, ipaddress.IPv4Address) else prefix_v6
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class ConnectionTable:
    """The shared table; ``for_worker`` gives one worker's view of it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False
        size = os.fstat(fd).st_size
        self._map = mmap.mmap(fd, size)
        (magic, self.workers, self.slots, self.prefix_v4, self.prefix_v6,
         self._hash_key) = _HEADER.unpack_from(self._map, 0)
        if magic != _MAGIC:
            raise ValueError("not a connection table")
        self._totals_at = _HEADER.size
        self._slots_at = self._totals_at + 4 * self.workers
        self._slot_size = _KEY_LEN + 4 * self.workers
        counts_end = self._slots_at + self._slot_size * self.slots
        if counts_end > size:
            raise ValueError("connection table is truncated")

    @classmethod
    def create(cls, workers: int, max_connections: int, prefix_v4: int = 32,
               prefix_v6: int = 128) -> ConnectionTable:
        """A new zeroed table for ``workers`` processes (its fd is inheritable).

        Clients are counted per network of ``prefix_v4`` / ``prefix_v6`` bits (32 and 128:
        per address).
        """
        if not (0 < prefix_v4 <= 32 and 0 < prefix_v6 <= 128):
            raise ValueError(f"prefix lengths /{prefix_v4} and /{prefix_v6} are out of range")
        slots = max(64, 4 * max_connections)
        size = _HEADER.size + 4 * workers + (_KEY_LEN + 4 * workers) * slots
        fd = _anonymous_file()
        os.ftruncate(fd, size)
        os.pwrite(fd, _HEADER.pack(_MAGIC, workers, slots, prefix_v4, prefix_v6,
                                   os.urandom(16)), 0)
        os.set_inheritable(fd, True)
        return cls(fd)

    def for_worker(self, index: int, per_network: int, total: int,
                   exempt: Sequence[Network] = (), reserved: int = 0) -> ConnectionGuard:
        if not 0 <= index < self.workers:
            raise ValueError(f"worker {index} is not in a table for {self.workers} workers")
        return ConnectionGuard(self, index, per_network, total, exempt, reserved)

    def key(self, host: str) -> bytes:
        return network_key(host, self.prefix_v4, self.prefix_v6)

    def network(self, host: str) -> str:
        return network_name(host, self.prefix_v4, self.prefix_v6)

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
            slot, _ = self._find(self.key(host))
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
    may send everything through one address) have no per-network limit, as Postfix exempts
    ``$mynetworks`` from its per-client limits, and may use the ``reserved`` connections of
    the total that the other clients may not.
    """

    def __init__(self, table: ConnectionTable, worker: int, per_network: int,
                 total: int, exempt: Sequence[Network] = (), reserved: int = 0) -> None:
        if not 0 <= reserved < total:
            raise ValueError(f"{reserved} reserved connections leave none of {total} "
                             "for other clients")
        self.table = table
        self.worker = worker
        self.per_network = per_network
        self.total = total
        self.reserved = reserved
        self.exempt = tuple(exempt)
        # Networks admitted without a slot (the table was full on their probe path).
        self._unslotted: dict[bytes, int] = {}

    def admit(self, host: str) -> str | None:
        table = self.table
        if table.closed:  # the gateway is stopping
            return TOTAL
        if self._exempt(host):
            with table.locked():
                if table._total() >= self.total:
                    return TOTAL
                table._add_total(self.worker, 1)
            return None
        key = table.key(host)
        with table.locked():
            if table._total() >= self.total - self.reserved:
                return TOTAL
            slot, free = table._find(key)
            if slot is not None and table._slot_total(slot) >= self.per_network:
                return PER_NETWORK
            if slot is None and free is not None:
                offset = table._slots_at + free * table._slot_size
                table._map[offset:offset + _KEY_LEN] = key
                slot = free
            if slot is None:
                # Every slot on this network's path is taken by other networks: count it in
                # the total only (needs more than 4x max_connections distinct clients at once).
                self._unslotted[key] = self._unslotted.get(key, 0) + 1
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
        exempt = self._exempt(host)
        key = table.key(host)
        with table.locked():
            table._add_total(self.worker, -1)
            if exempt:
                return
            if self._unslotted.get(key):
                self._unslotted[key] -= 1
                if not self._unslotted[key]:
                    del self._unslotted[key]
                return
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
