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
from tests.support.postgres import TestDatabase

MAIL = read_message(plain("Cleared for publication\n\nWe met Amina Haddad.\n"))


def test_the_index_follows_the_register(tmp_path: Path, store_url: str) -> None:
    now = [0.0]
    register = ClientRegister(tmp_path, store_url)
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


def test_the_key_is_made_once_and_private(tmp_path: Path, store_url: str) -> None:
    register = ClientRegister(tmp_path, store_url)
    register.put([ClientRecord("John", {ClientField.NAME: ("Amina Haddad",)})])
    key = key_path(tmp_path).read_bytes()
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600
    register.put([ClientRecord("Sara", {ClientField.NAME: ("Olena Kovalenko",)})])
    assert key_path(tmp_path).read_bytes() == key
    _, index = register.load()
    assert index.key == key and set(index.clients) == {"John", "Sara"}


def test_two_gateways_on_one_postgresql_store_read_one_register(
        tmp_path: Path, postgres: TestDatabase) -> None:
    """A client added through one node is held by every node (the register key is shared)."""
    url = postgres.new_schema()
    admin = ClientRegister(tmp_path / "node-a", url)
    admin.put([ClientRecord("John", {ClientField.NAME: ("Amina Haddad",)})])
    key_path(tmp_path / "node-b").parent.mkdir(parents=True)
    key_path(tmp_path / "node-b").write_bytes(key_path(tmp_path / "node-a").read_bytes())
    other = LiveRegister(ClientRegister(tmp_path / "node-b", url))
    admin.update(ClientRecord("John", {}, resettled=True))

    async def run() -> None:
        (finding,) = await other.findings(MAIL)
        assert "client John" in finding.text

    asyncio.run(run())
    assert [c.pseudonym for c in ClientRegister(tmp_path / "node-b", url).clients()] == ["John"]
