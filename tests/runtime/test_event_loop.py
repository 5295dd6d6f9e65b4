"""The event loop setting: uvloop by default when installed, asyncio's loop on request;
the gateway relays, bounces and speaks STARTTLS the same on both."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings
from tests.security.support import tls_gateway
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
PRESS = "press@example.org"


@pytest.mark.parametrize(("choice", "expected"), [("auto", "uvloop"), ("asyncio", "asyncio")])
def test_every_worker_runs_on_the_chosen_loop(tmp_path: Path, downstream: Downstream,
                                              choice: str, expected: str) -> None:
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"workers": 2, "event_loop": choice}).start()
    try:
        loops = [e.get("event_loop") for e in process.log_events("listening")]
        assert loops == [expected, expected]
        code, reply = process.send(ALICE, [BOB], message("Cleared for publication\n\nx"))
        assert code == 250, reply
        code, reply = process.send(ALICE, [PRESS], message("Internal\n\nx"))
        assert code == 550, reply
        assert len(downstream.wait_for(1)) == 1
    finally:
        process.stop()


@pytest.mark.parametrize("choice", ["auto", "asyncio"])
def test_starttls_works_on_either_loop(tmp_path: Path, downstream: Downstream,
                                       choice: str) -> None:
    process = tls_gateway(tmp_path, downstream.url, event_loop=choice)
    try:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", process.port, timeout=30) as smtp:
            smtp.ehlo("client.test")
            code, _ = smtp.starttls(context=context)
            assert code == 220
            smtp.ehlo("client.test")
            smtp.mail(ALICE)
            smtp.rcpt(BOB)
            code, reply = smtp.data(message("Cleared for publication\n\nover TLS"))
            assert code == 250, reply
        assert len(downstream.wait_for(1)) == 1
    finally:
        process.stop()


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, {"event_loop": "trio"})
    assert "setting event_loop" in str(caught.value)
    assert "(value: 'trio')" in str(caught.value)


@pytest.mark.parametrize("choice", ["auto", "asyncio"])
def test_watching_a_pipe_leaves_it_blocking(choice: str) -> None:
    """A reader process's socket is watched for a reply, then written blocking (the next
    message, from a thread); uvloop (libuv) makes a watched descriptor non-blocking, and the
    gateway's loop undoes that."""
    import os

    from gateway.runtime.loop import run

    read_end, write_end = os.pipe()

    async def watch_then_read() -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_reader(read_end, lambda: ready.done() or ready.set_result(None))
        os.write(write_end, b"first")
        await ready
        loop.remove_reader(read_end)
        return os.read(read_end, 100)

    try:
        assert run(watch_then_read(), choice) == b"first"
        assert os.get_blocking(read_end)
    finally:
        os.close(read_end)
        os.close(write_end)
