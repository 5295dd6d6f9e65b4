"""Handing freed heap memory back to the system (glibc's ``malloc_trim``)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    with contextlib.suppress(OSError, AttributeError):
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
        return trim
    return None  # not glibc: nothing to do


def give_back_free_memory() -> None:
    """After a large short-lived build (the register's index): the heap pages its freed
    objects leave empty go back to the system instead of staying in the process's RSS."""
    trim = _trim()
    if trim is not None:
        trim(0)
