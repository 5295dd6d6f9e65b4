"""Free disk space where the store writes, against the floor below which new mail waits."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

# One statvfs per second at most: a burst of MAIL commands does not stat the disk each time.
CACHE_SECONDS = 1.0


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on the file system of ``path``."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


class DiskSpace:
    """The free space of ``path`` and whether it is below ``floor`` (``min_free_bytes``).

    A path that cannot be examined counts as having no space: the gateway then answers 4xx
    and the clients retry, rather than taking mail it may not be able to store.
    """

    def __init__(self, path: Path, floor: int, *, cache_seconds: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.floor = floor
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._checked_at: float | None = None
        self._free = 0

    def free(self, *, fresh: bool = False) -> int:
        now = self.clock()
        if fresh or self._checked_at is None or now - self._checked_at >= self.cache_seconds:
            try:
                self._free = free_bytes(self.path)
            except OSError:
                self._free = 0
            self._checked_at = now
        return self._free

    def low(self, *, fresh: bool = False) -> bool:
        """Below the floor: new messages are refused with ``452 4.3.1`` until there is room."""
        return self.free(fresh=fresh) < self.floor
