"""The ``event_loop`` setting: which event loop the gateway's processes run on."""

from __future__ import annotations

import importlib.util
from typing import Annotated, Literal

from pydantic import AfterValidator


def _installed(value: str) -> str:
    if value == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ValueError("uvloop is not installed (pip install uvloop, or write 'auto')")
    return value


# "auto": uvloop when it is installed, else asyncio's own loop; "uvloop": it or refuse to start.
EventLoop = Annotated[Literal["auto", "uvloop", "asyncio"], AfterValidator(_installed)]
