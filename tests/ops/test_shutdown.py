"""SIGTERM drains the sessions in DATA and exits 0 within the deadline; SIGHUP reloads policy."""

from __future__ import annotations

import signal
import smtplib
import socket
import threading
import time
from pathlib import Path

from tests.support.downstream import Downstream, Mode
from tests.support.gateway import GatewayProcess, message

ALICE = "alice@example.org"
BOB = "bob@example.org"
PARTNER = "partner@outside.test"


class DataInFlight:
    """One SMTP transaction whose DATA is sent from a thread, so the test can act meanwhile."""

    def __init__(self, process: GatewayProcess, body: str) -> None:
        self.smtp = process.client()
        self.smtp.ehlo()
        self.smtp.mail(ALICE)
        self.smtp.rcpt(BOB)
        self.reply: tuple[int, str] | None = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._data, args=(message(body),))
        self.thread.start()

    def _data(self, raw: bytes) -> None:
        try:
            code, text = self.smtp.data(raw)
            self.reply = (code, text.decode())
        except (smtplib.SMTPException, OSError) as exc:
            self.error = exc
        finally:
            self.smtp.close()

    def join(self, timeout: float = 20) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive()


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return not sock.recv(100).startswith(b"220")
    except OSError:
        return True


def wait_for_event(process: GatewayProcess, event: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(process.log_events(event)) < count:
        assert time.monotonic() < deadline, f"no {count} {event} events:\n{process.log()}"
        time.sleep(0.05)


def wait_exit(process: GatewayProcess, timeout: float) -> tuple[int, float]:
    assert process.proc is not None
    started = time.monotonic()
    code = process.proc.wait(timeout)
    return code, time.monotonic() - started


def test_sigterm_finishes_the_message_in_data_then_exits_0(tmp_path: Path,
                                                          downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={"shutdown_deadline": 15}).start()
    try:
        idle = socket.create_connection(("127.0.0.1", process.port), timeout=10)
        assert idle.recv(200).startswith(b"220")
        downstream.set(Mode.SLOW, delay=2.0)
        in_flight = DataInFlight(process, "Internal\n\nfinish me")
        time.sleep(0.7)  # the gateway is now waiting on the slow downstream
        assert process.proc is not None
        process.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert refuses_connections(process.port), "still accepting after SIGTERM"
        # an idle session is told the service is going away
        assert idle.recv(200).startswith(b"421 4.3.2")
        idle.close()
        in_flight.join()
        assert in_flight.error is None
        assert in_flight.reply is not None and in_flight.reply[0] == 250, in_flight.reply
        assert len(downstream.wait_for(1)) == 1
        code, elapsed = wait_exit(process, 15)
        assert code == 0, process.log()
        assert elapsed < 10
    finally:
        downstream.set(Mode.ACCEPT)
        process.stop()


def test_sigterm_gives_up_at_the_deadline_and_still_exits_0(tmp_path: Path,
                                                           downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url, config={"shutdown_deadline": 1}).start()
    try:
        downstream.set(Mode.SLOW, delay=8.0)
        in_flight = DataInFlight(process, "Internal\n\ntoo slow")
        time.sleep(0.7)
        assert process.proc is not None
        process.proc.send_signal(signal.SIGTERM)
        code, elapsed = wait_exit(process, 10)
        assert code == 0, process.log()
        assert elapsed < 4, f"took {elapsed:.1f}s with a 1s deadline"
        in_flight.join()
        # cut off without a 250: the client still has the message and will retry
        assert in_flight.reply is None or in_flight.reply[0] != 250, in_flight.reply
        assert process.log_events("shutdown-deadline")
    finally:
        downstream.set(Mode.ACCEPT)
        process.stop()


def test_sighup_reloads_the_policy_and_keeps_the_last_good_one(tmp_path: Path,
                                                              downstream: Downstream) -> None:
    process = GatewayProcess(tmp_path, downstream.url,
                             config={"policy_poll_seconds": 0, "workers": 2}).start()
    try:
        wait_for_event(process, "listening", 2)
        def unstamped() -> bytes:  # each send a new message, not a retry of the last one
            return message("Quarterly figures attached.", to=PARTNER)

        code, reply = process.send(ALICE, [PARTNER], unstamped())
        assert code == 250 and "held" not in reply, reply

        rules = process.policies / "rules.toml"
        text = rules.read_text()
        section = text.split("[unstamped]", 1)[1].split("\n[", 1)[0]
        stricter = section.replace('external = "allow"', 'external = "hold"')
        assert stricter != section
        rules.write_text(text.replace(section, stricter))
        assert process.proc is not None
        process.proc.send_signal(signal.SIGHUP)
        wait_for_event(process, "policy-loaded", 2)  # both workers
        code, reply = process.send(ALICE, [PARTNER], unstamped())
        assert code == 250 and "held for review" in reply, reply

        rules.write_text(rules.read_text() + "\n[internal]\nexternal = 42\n")
        process.proc.send_signal(signal.SIGHUP)
        wait_for_event(process, "policy-refused", 2)
        code, reply = process.send(ALICE, [PARTNER], unstamped())
        assert code == 250 and "held for review" in reply, reply
    finally:
        process.stop()


def test_a_web_port_in_use_stops_the_start_before_any_worker_takes_mail(
        tmp_path: Path, downstream: Downstream) -> None:
    """Worker 0 starts the web port; the other workers start only once it is up. With the port
    taken, the gateway exits at once, saying which address and setting, and no worker ever
    answered on the SMTP port (before, worker 1 took mail until it was killed 35 s later)."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        web_port = taken.getsockname()[1]
        process = GatewayProcess(tmp_path, downstream.url,
                                 config={"workers": 2, "web_listen": f"127.0.0.1:{web_port}"})
        process.start(wait=False)
        greeted = False
        try:
            assert process.proc is not None
            deadline = time.monotonic() + 20
            while process.proc.poll() is None and time.monotonic() < deadline:
                greeted = greeted or not refuses_connections(process.port)
                time.sleep(0.02)
            code = process.proc.poll()
        finally:
            process.stop()
    assert code == 1, process.log()
    assert not greeted, process.log()
    assert (f"cannot start: [Errno 98] the web address 127.0.0.1:{web_port} (web_listen) "
            "cannot be used: Address already in use") in process.log()
    assert not process.log_events("worker-exited")


def test_an_smtp_port_in_use_is_named_at_start(tmp_path: Path, downstream: Downstream) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        process = GatewayProcess(tmp_path, downstream.url, config={"workers": 2})
        process.port = taken.getsockname()[1]
        process.start(wait=False)
        assert process.proc is not None
        code = process.proc.wait(20)
    assert code == 1, process.log()
    assert (f"cannot start: [Errno 98] the SMTP address 127.0.0.1:{process.port} (--listen) "
            "cannot be used: Address already in use") in process.log()
