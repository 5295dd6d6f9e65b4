"""The live register index: loaded once, reloaded when the register changes."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from gateway.adapters.register_key import key_path
from gateway.core.message import read_message
from gateway.core.register import ClientField, ClientRecord
from gateway.service.register import ClientRegister, LiveRegister
from tests.core.mail import plain

MAIL = read_message(plain("Cleared for publication\n\nWe met Amina Haddad.\n"))


def test_the_index_follows_the_register(tmp_path: Path) -> None:
    now = [0.0]
    register = ClientRegister(tmp_path)
    live = LiveRegister(register, every=1.0, clock=lambda: now[0])

    async def run() -> None:
        assert await live.findings(MAIL) == ()
        register.put([ClientRecord("John", {ClientField.NAME: ("Amina Haddad",)})])
        assert await live.findings(MAIL) == ()  # looked at no more than once a second
        now[0] += 1.5
        (finding,) = await live.findings(MAIL)
        assert finding.text == "mentions the real name of client John (body)"
        register.remove("John")
        now[0] += 1.5
        assert await live.findings(MAIL) == ()

    asyncio.run(run())


def test_the_key_is_made_once_and_private(tmp_path: Path) -> None:
    register = ClientRegister(tmp_path)
    register.put([ClientRecord("John", {ClientField.NAME: ("Amina Haddad",)})])
    key = key_path(tmp_path).read_bytes()
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600
    register.put([ClientRecord("Sara", {ClientField.NAME: ("Olena Kovalenko",)})])
    assert key_path(tmp_path).read_bytes() == key
    _, index = register.load()
    assert index.key == key and set(index.clients) == {"John", "Sara"}
