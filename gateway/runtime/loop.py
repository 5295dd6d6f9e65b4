"""The event loop the gateway's processes run on: uvloop when installed, else asyncio's.

uvloop (libuv under asyncio's API) runs the same code with less work per socket event and
per callback; ``event_loop = "asyncio"`` turns it off, ``"uvloop"`` insists on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class LoopUnavailable(RuntimeError):
    """``event_loop = "uvloop"`` and uvloop cannot be imported."""


def loop_factory(choice: str) -> tuple[LoopFactory | None, str]:
    """The factory for ``choice`` (``auto``, ``uvloop``, ``asyncio``) and the loop's name;
    ``None``: asyncio's default loop."""
    if choice == "asyncio":
        return None, "asyncio"
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError as exc:
        if choice == "uvloop":
            raise LoopUnavailable(
                "event_loop = 'uvloop' but uvloop cannot be imported "
                f"({exc}); install it or set event_loop = 'auto'") from None
        return None, "asyncio"
    return _blocking_mode_kept(uvloop.Loop), "uvloop"


def _blocking_mode_kept(base: type[Any]) -> LoopFactory:
    """A uvloop loop whose ``add_reader``/``remove_reader`` leave a file descriptor in the
    blocking mode they found it in, as asyncio's loop does: libuv makes a watched descriptor
    non-blocking, and code that uses it blocking afterwards (the socket to a reader process,
    which a thread writes the next message to with ``sendall``) would then fail with EAGAIN
    mid-message."""

    class Loop(base):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self._blocking: dict[int, bool] = {}

        def add_reader(self, fd: Any, callback: Callable[..., object], *args: Any) -> None:
            number = fd if isinstance(fd, int) else fd.fileno()
            self._blocking.setdefault(number, os.get_blocking(number))
            super().add_reader(fd, callback, *args)

        def remove_reader(self, fd: Any) -> bool:
            removed = bool(super().remove_reader(fd))
            number = fd if isinstance(fd, int) else fd.fileno()
            blocking = self._blocking.pop(number, None)
            if blocking is not None:
                with contextlib.suppress(OSError):  # closed meanwhile: nothing to restore
                    os.set_blocking(number, blocking)
            return removed

    return Loop


def run(main: Coroutine[Any, Any, T], choice: str) -> T:
    """``asyncio.run(main)`` on the loop ``choice`` names."""
    try:
        factory, _ = loop_factory(choice)
    except LoopUnavailable:
        main.close()
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: what the loop a process runs on is built on."""
    uv = any(cls.__module__.partition(".")[0] == "uvloop" for cls in type(loop).__mro__)
    return "uvloop" if uv else "asyncio"
