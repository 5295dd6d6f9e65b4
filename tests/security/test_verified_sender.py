"""The right to downgrade goes with a verified sender only, over real SMTP on loopback.

On the trusted port anyone can write ``MAIL FROM:<director@...>``. Management's rights
(downgrading) count only for a logged-in sender, or when a configured verified upstream
wrote the verified-sender header; that header from anyone else counts for nothing and is
never relayed.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings
from tests.security.support import PASSWORD, add_account, tls_gateway
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

DIRECTOR, PRESS = "director@example.org", "press@example.org"
UPSTREAM, ANYONE = "127.0.0.2", "127.0.0.1"  # both inside the trusted 127.0.0.0/8
HEADER = "X-Stampgate-Verified-Sender"
DOWNGRADE = "Cleared for publication\n\n> Needs adjustment: blur face\n> The story.\n"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    process = tls_gateway(tmp_path_factory.mktemp("verified"), downstream.url,
                          verified_upstreams=[f"{UPSTREAM}/32"])
    add_account(process, DIRECTOR)
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def clean(downstream: Downstream) -> None:
    downstream.clear()


def send(gateway: GatewayProcess, source: str, headers: list[tuple[str, str]] | None = None,
         login: bool = False) -> tuple[int, str]:
    data = message(DOWNGRADE, sender=DIRECTOR, to=PRESS)
    extra = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers or [])
    data = extra + data
    with smtplib.SMTP("127.0.0.1", gateway.port, local_hostname="client.test", timeout=30,
                      source_address=(source, 0)) as smtp:
        smtp.ehlo()
        if login:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            smtp.starttls(context=context)
            smtp.ehlo()
            smtp.login(DIRECTOR, PASSWORD)
        code, reply = smtp.mail(DIRECTOR)
        assert code == 250, reply
        code, reply = smtp.rcpt(PRESS)
        assert code == 250, reply
        code, reply = smtp.data(data)
        return code, reply.decode()


def last_message(gateway: GatewayProcess) -> dict[str, object]:
    return gateway.log_events("message")[-1]


def test_a_claimed_management_sender_may_not_downgrade(gateway: GatewayProcess,
                                                       downstream: Downstream) -> None:
    code, reply = send(gateway, ANYONE)
    assert code == 250 and "held for review" in reply, reply
    hold_id = reply.split("held for review as ")[1].split()[0]
    shown = gateway.run_cli("held", "show", hold_id, "--data", str(gateway.data))
    assert shown.returncode == 0, shown.stderr
    assert f"{DIRECTOR} may downgrade, but the sender was not verified" in shown.stdout
    event = last_message(gateway)
    assert event["sender_verified"] is False and "downgrade" in event["rules"]
    assert downstream.wait_for(1, timeout=0.3) == []


def test_the_header_from_anyone_else_counts_for_nothing(gateway: GatewayProcess,
                                                        downstream: Downstream) -> None:
    code, reply = send(gateway, ANYONE, [(HEADER, "yes")])
    assert code == 250 and "held for review" in reply, reply
    assert last_message(gateway)["sender_verified"] is False


def test_a_verified_upstream_vouches_with_its_header(gateway: GatewayProcess,
                                                     downstream: Downstream) -> None:
    code, reply = send(gateway, UPSTREAM, [(HEADER.lower(), "yes")])
    assert code == 250 and "held" not in reply, reply
    event = last_message(gateway)
    assert event["sender_verified"] is True and "downgrade-permitted" in event["rules"]
    [delivered] = downstream.wait_for(1)
    assert delivered.recipients == [PRESS]
    assert HEADER.lower().encode() not in delivered.data.lower()  # never relayed


@pytest.mark.parametrize(("headers", "why"), [
    ([], None),
    ([(HEADER, "yes"), (HEADER, "yes")], "repeated"),
    ([(HEADER, "")], "empty"),
])
def test_the_upstream_without_one_clear_header_vouches_for_nobody(
        gateway: GatewayProcess, downstream: Downstream,
        headers: list[tuple[str, str]], why: str | None) -> None:
    before = len(gateway.log_events("upstream-header-ignored"))
    code, reply = send(gateway, UPSTREAM, headers)
    assert code == 250 and "held for review" in reply, reply
    ignored = gateway.log_events("upstream-header-ignored")[before:]
    assert [e["why"] for e in ignored] == ([why] if why else [])
    assert downstream.wait_for(1, timeout=0.3) == []


def test_a_logged_in_management_sender_may_downgrade(gateway: GatewayProcess,
                                                     downstream: Downstream) -> None:
    code, reply = send(gateway, ANYONE, login=True)
    assert code == 250 and "held" not in reply, reply
    assert last_message(gateway)["sender_verified"] is True
    assert downstream.wait_for(1)[0].recipients == [PRESS]


def test_an_upstream_with_shared_addresses_must_know_the_value(
        tmp_path: Path, downstream: Downstream) -> None:
    secret = "k3pt-between-the-tenant-rule-and-the-gateway"
    process = tls_gateway(tmp_path, downstream.url, verified_upstreams=[f"{UPSTREAM}/32"],
                          upstream_verified_value=secret)
    try:
        code, reply = send(process, UPSTREAM, [(HEADER, "yes")])
        assert code == 250 and "held for review" in reply, reply
        assert [e["why"] for e in process.log_events("upstream-header-ignored")] == [
            "wrong value"]
        downstream.clear()
        code, reply = send(process, UPSTREAM, [(HEADER, secret)])
        assert code == 250 and "held" not in reply, reply
        [delivered] = downstream.wait_for(1)
        assert secret.encode() not in delivered.data
        assert secret not in process.log()
    finally:
        process.stop()


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("verified_upstreams", ["mail.example.org"], "is not a network"),
    ("verified_upstreams", ["10.0.0.0/33"], "is not a network"),
    ("upstream_verified_header", "X-MS-Exchange-Organization-AuthAs", "X-Stampgate-"),
    ("upstream_verified_header", "X-Stampgate-", "X-Stampgate-"),
    ("upstream_verified_header", "X-Stampgate-Verified: yes", "X-Stampgate-"),
])
def test_bad_settings_name_the_setting(setting: str, value: object, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, {setting: value})
    assert f"setting {setting}" in str(caught.value) and says in str(caught.value)
