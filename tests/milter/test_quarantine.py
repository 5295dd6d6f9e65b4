"""``[milter] held``: a wholly held message discarded from the MTA's queue (the default) or
quarantined in its hold queue (``postfix-hold``), spoken to packet by packet; the setting's
bad values."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from kilter.protocol.messages import (
    ActionFlags,
    Body,
    ChangeHeader,
    Connect,
    Continue,
    Discard,
    EndOfHeaders,
    EndOfMessage,
    Header,
    Helo,
    Message,
    Negotiate,
    ProtocolFlags,
    Quarantine,
    RemoveRecipient,
)

from gateway.adapters.crypto import NullSealer
from gateway.milter.listener import MilterEdge
from gateway.policyfiles.load import load_policy
from gateway.service.submit import Submitter
from gateway.settings import Settings, SettingsError, load_settings
from gateway.store.store import Store
from gateway.store.threads import ThreadMemory
from tests.milter.test_protocol import Mta, NoDelivery, envelope
from tests.support.gateway import EXAMPLE_POLICIES
from tests.support.review_gateway import ADJUST

EVERY_ACTION = ActionFlags(0x1FF)
NO_QUARANTINE = ActionFlags(0x1FF & ~ActionFlags.QUARANTINE)


@asynccontextmanager
async def milter(tmp_path: Path, held: str,
                 offered: ActionFlags) -> AsyncIterator[tuple[Mta, Negotiate, Store]]:
    """A milter edge with ``[milter] held = held``, and an MTA that offered ``offered``."""
    policy = load_policy(EXAMPLE_POLICIES)
    settings = Settings(data=tmp_path, policies=EXAMPLE_POLICIES, workers=1,
                        milter={"listen": "inet:127.0.0.1:0", "held": held},
                        session_timeout=2)
    store = await Store.open(tmp_path)
    threads = ThreadMemory(store.path, store.write)
    await threads.open()
    edge = MilterEdge(Submitter(settings, lambda: policy, store, threads, NoDelivery(),
                                NullSealer()))
    server = await edge.start()
    mta = Mta(*await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1]))
    try:
        negotiated = await mta.ask(Negotiate(6, offered, ProtocolFlags(0x1FFFFF)))
        assert isinstance(negotiated, Negotiate)
        assert isinstance(await mta.ask(Connect("client.test", IPv4Address("127.0.0.1"),
                                                4000)), Continue)
        assert isinstance(await mta.ask(Helo("client.test")), Continue)
        yield mta, negotiated, store
    finally:
        mta.writer.close()
        server.close()
        deadline = asyncio.get_running_loop().time() + 5
        while edge.sessions and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        await threads.close()
        await store.close()


async def final(mta: Mta, headers: list[tuple[str, bytes]], body: bytes) -> list[Message]:
    """Headers and body, then the answers to the end of message: edits, the final one."""
    for name, value in headers:
        assert isinstance(await mta.ask(Header(name, value)), Continue)
    assert isinstance(await mta.ask(EndOfHeaders()), Continue)
    assert isinstance(await mta.ask(Body(body)), Continue)
    await mta.send(EndOfMessage(b""))
    answers = [await mta.answer()]
    while isinstance(answers[-1], ChangeHeader | RemoveRecipient | Quarantine):
        answers.append(await mta.answer())
    return answers


async def test_postfix_hold_quarantines_a_wholly_held_message_and_keeps_it_held(
        tmp_path: Path) -> None:
    async with milter(tmp_path, "postfix-hold", EVERY_ACTION) as (mta, negotiated, store):
        assert ActionFlags.QUARANTINE in negotiated.action_flags
        await envelope(mta, "partner@outside.test")
        answers = await final(mta, [("From", b" alice@example.org"), ("X-Stamp", b" cleared")],
                              f"{ADJUST}\r\n\r\nA story.\r\n".encode())
        [held] = await store.held()
        # the client's X-Stamp goes from the MTA's copy too; then the hold queue, accepted
        assert answers[0] == ChangeHeader(1, "X-Stamp", b"")
        assert isinstance(answers[1], Quarantine) and isinstance(answers[2], Continue)
        assert len(answers) == 3
        assert held.id in answers[1].reason and "postsuper -H" in answers[1].reason
        assert held.held_recipients == ("partner@outside.test",)


async def test_postfix_hold_leaves_a_partial_hold_as_it_was(tmp_path: Path) -> None:
    async with milter(tmp_path, "postfix-hold", EVERY_ACTION) as (mta, _, store):
        await envelope(mta, "bob@example.org", "partner@outside.test")
        answers = await final(mta, [("From", b" alice@example.org")],
                              f"{ADJUST}\r\n\r\nA story.\r\n".encode())
        assert answers[0] == RemoveRecipient("<partner@outside.test>")
        assert not any(isinstance(a, Quarantine) for a in answers)
        assert isinstance(answers[-1], Continue)
        assert len(await store.held()) == 1


@pytest.mark.parametrize(("held", "offered"), [("discard", EVERY_ACTION),
                                               ("postfix-hold", NO_QUARANTINE)])
async def test_discard_by_default_or_when_the_mta_has_no_hold_queue(
        tmp_path: Path, held: str, offered: ActionFlags,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The default asks for no quarantine; an MTA that offers none gets a discard (and the
    log says so), and the held store still has the message (nothing goes past the review)."""
    async with milter(tmp_path, held, offered) as (mta, negotiated, store):
        warned = "milter-quarantine-not-offered" in capsys.readouterr().out
        assert warned == (held == "postfix-hold")
        assert ActionFlags.QUARANTINE not in negotiated.action_flags
        await envelope(mta, "partner@outside.test")
        answers = await final(mta, [("From", b" alice@example.org")],
                              f"{ADJUST}\r\n\r\nA story.\r\n".encode())
        assert len(answers) == 1 and isinstance(answers[0], Discard)
        assert len(await store.held()) == 1


def test_the_default_is_discard() -> None:
    assert Settings().milter.held == "discard"


@pytest.mark.parametrize("value", ['"hold"', '"Postfix-Hold"', '""', "true"])
def test_an_unknown_held_value_is_named_with_the_choices(tmp_path: Path, value: str) -> None:
    config = tmp_path / "stampgate.toml"
    config.write_text(f"[stampgate]\n[milter]\nheld = {value}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config, {})
    text = str(caught.value)
    assert "setting milter.held" in text and "'discard'" in text and "'postfix-hold'" in text
