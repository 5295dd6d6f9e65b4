"""The event loop the gateway's processes run on: uvloop when installed, else asyncio's.

uvloop (libuv under asyncio's API) runs the same code with less work per socket event and
per callback; ``event_loop = "asyncio"`` turns it off, ``"uvloop"`` insists on it.
"""

from __future__ import annotations

import asyncio
import importlib
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
    factory: LoopFactory = uvloop.new_event_loop
    return factory, "uvloop"


def run(main: Coroutine[Any, Any, T], choice: str) -> T:
    """``asyncio.run(main)`` on the loop ``choice`` names."""
    try:
        factory, _ = loop_factory(choice)
    except LoopUnavailable:
        main.close()
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
