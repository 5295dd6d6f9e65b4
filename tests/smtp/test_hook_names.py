"""The short ``dir()`` of the protocol and handler keeps every command, AUTH and hook method."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

from gateway.adapters.accounts import Accounts
from gateway.settings import Settings
from gateway.smtp.connections import ConnectionTable
from gateway.smtp.listener import Submission
from gateway.smtp.sessions import Sessions
from gateway.smtp.submission import SubmissionHandler


def _full(obj: object, prefix: str) -> set[str]:
    return {name for name in object.__dir__(obj) if name.startswith(prefix)}


async def _protocol_tables(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path)
    accounts = Accounts(tmp_path / "users")
    handler = SubmissionHandler.__new__(SubmissionHandler)
    guard = ConnectionTable.create(1, 10).for_worker(0, 5, 10)
    submission = Submission(settings, accounts, Sessions(), guard)
    protocol = submission.protocol(handler, submission.main, asyncio.get_running_loop())
    assert set(protocol._smtp_methods) == {n[5:] for n in _full(protocol, "smtp_")}
    assert {"EHLO", "MAIL", "RCPT", "DATA", "QUIT", "AUTH", "STARTTLS"} <= set(
        protocol._smtp_methods)
    assert set(protocol._handle_hooks) == {n[7:] for n in _full(handler, "handle_")}
    assert {"EHLO", "MAIL", "RCPT", "DATA"} <= set(protocol._handle_hooks)
    named = {getattr(f, "__auth_mechanism_name__", n[5:].replace("__", "-"))
             for n, f in inspect.getmembers(type(protocol)) if n.startswith("auth_")}
    excluded = set() if protocol.listener.offers_auth else {"PLAIN", "LOGIN"}
    assert set(protocol._auth_methods) == named - excluded
    assert {"PLAIN", "LOGIN"} <= named


def test_every_command_and_hook_is_still_found(tmp_path: Path) -> None:
    asyncio.run(_protocol_tables(tmp_path))
