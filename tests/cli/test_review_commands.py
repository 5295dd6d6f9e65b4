"""The review CLI end to end against a real gateway: reviewers, held, audit, restart, expiry."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.downstream import Downstream, Mode
from tests.support.gateway import GatewayProcess
from tests.support.review_gateway import (
    PASSWORD,
    SUBJECT,
    add_reviewer,
    cli,
    review_gateway,
    send_held,
    wait_for,
)

PARTNER = "partner@outside.test"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    process = review_gateway(tmp_path_factory.mktemp("review-cli"), downstream).start()
    # Every test here may run alone: the reviewers the decisions and notices name.
    add_reviewer(process)
    add_reviewer(process, "legal-lead@example.org")
    yield process
    process.stop()


def test_reviewer_accounts(gateway: GatewayProcess) -> None:
    listing = cli(gateway, "reviewers", "list")
    assert listing.returncode == 0
    assert "director@example.org  enabled  notices to: director@example.org" in listing.stdout
    assert cli(gateway, "reviewers", "disable", "legal-lead@example.org").returncode == 0
    assert "legal-lead@example.org  disabled" in cli(gateway, "reviewers", "list").stdout
    short = cli(gateway, "reviewers", "add", "x@example.org", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    bare = cli(gateway, "reviewers", "add", "director", "--password-stdin", stdin=PASSWORD)
    assert bare.returncode == 2 and "give --address" in bare.stderr
    missing = cli(gateway, "reviewers", "disable", "nobody@example.org")
    assert missing.returncode == 1 and "no user 'nobody@example.org'" in missing.stderr


def test_hold_notices_say_why_but_never_what(gateway: GatewayProcess,
                                             downstream: Downstream) -> None:
    hold_id = send_held(gateway)
    [to_reviewer] = wait_for(downstream, "director@example.org", purpose="reviewer-hold")
    [to_sender] = wait_for(downstream, "alice@example.org", purpose="sender-hold")
    assert to_reviewer.recipients == ["director@example.org", "legal-lead@example.org"]
    for notice in (to_reviewer, to_sender):
        assert hold_id.encode() in notice.data
        assert SUBJECT.encode() not in notice.data and b"Amira" not in notice.data
    assert f"/held/{hold_id}".encode() in to_reviewer.data
    assert b"Held for:         partner@outside.test" in to_sender.data


def test_list_show_and_release(gateway: GatewayProcess, downstream: Downstream) -> None:
    hold_id = send_held(gateway)
    listed = json.loads(cli(gateway, "held", "list", "--json", "--stamp",
                            "needs_adjustment").stdout)
    assert hold_id in [row["id"] for row in listed]
    assert cli(gateway, "held", "list", "--json", "--stamp", "confidential").stdout.strip() == "[]"
    shown = cli(gateway, "held", "show", hold_id)
    assert shown.returncode == 0, shown.stderr
    assert "adjustments required: blur face; change name" in shown.stdout
    assert "needs_adjustment.external" in shown.stdout and "Amira" not in shown.stdout
    content = cli(gateway, "held", "show", hold_id, "--content", "--by", "director@example.org")
    assert "Amira crossed the border in March." in content.stdout
    assert f"Subject: {SUBJECT}" in content.stdout

    unticked = cli(gateway, "held", "release", hold_id, "--by", "director@example.org")
    assert unticked.returncode == 1 and "confirm each required adjustment" in unticked.stderr
    stranger = cli(gateway, "held", "release", hold_id, "--by", "director@example.org",
                   "--adjustments-done", "--to", "eve@evil.test")
    assert stranger.returncode == 1 and "not a held recipient" in stranger.stderr
    released = cli(gateway, "held", "release", hold_id, "--by", "director@example.org",
                   "--adjustments-done", "--note", "faces blurred")
    assert released.returncode == 0, released.stderr
    assert f"{hold_id}: released to {PARTNER}" in released.stdout
    [delivered] = wait_for(downstream, PARTNER)
    assert b"Amira crossed the border in March." in delivered.data
    assert "X-Stamp: needs_adjustment" in delivered.header_text
    assert wait_for(downstream, "alice@example.org", purpose="sender-released")
    again = cli(gateway, "held", "reject", hold_id, "--as-admin", "checking",
                "--reason", "too late")
    assert again.returncode == 1
    assert "already decided: released by director@example.org" in again.stderr

    audit = json.loads(cli(gateway, "audit", "--json", "--held", hold_id,
                           "--oldest-first").stdout)
    deadline = time.monotonic() + 10
    while "release-delivered" not in [a["action"] for a in audit] and time.monotonic() < deadline:
        time.sleep(0.1)
        audit = json.loads(cli(gateway, "audit", "--json", "--held", hold_id,
                               "--oldest-first").stdout)
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("stampgate", "hold"), ("director@example.org", "view"),
        ("director@example.org", "released"), ("stampgate", "release-delivered")]
    assert audit[2]["detail"]["note"] == "faces blurred"
    text = cli(gateway, "audit").stdout
    assert re.search(rf"director@example.org +released +{hold_id} +note=faces blurred", text)


def test_reject_and_discard(gateway: GatewayProcess, downstream: Downstream) -> None:
    rejected, discarded = send_held(gateway), send_held(gateway)
    empty = cli(gateway, "held", "reject", rejected, "--by", "director@example.org",
                "--reason", "   ")
    assert empty.returncode == 1 and "needs a reason" in empty.stderr
    done = cli(gateway, "held", "reject", rejected, "--by", "director@example.org", "--reason",
               "Name still visible in paragraph 2")
    assert done.returncode == 0, done.stderr
    [notice] = wait_for(downstream, "alice@example.org", purpose="sender-rejected")
    assert b"Name still visible in paragraph 2" in notice.data
    assert cli(gateway, "held", "discard", discarded, "--by", "director@example.org"
               ).returncode == 0
    states = {row["id"]: row["state"] for row in json.loads(
        cli(gateway, "held", "list", "--json", "--state", "all").stdout)}
    assert states[rejected] == "rejected" and states[discarded] == "discarded"
    assert not downstream.delivered_to(PARTNER)


@pytest.mark.parametrize("args", [
    ("held", "show", "HNOSUCH"),
    ("held", "release", "HNOSUCH", "--by", "director@example.org"),
    ("held", "discard", "' OR 1=1; --", "--by", "director@example.org"),
])
def test_unknown_ids(gateway: GatewayProcess, args: tuple[str, ...]) -> None:
    done = cli(gateway, *args)
    assert done.returncode == 1 and "no held message" in done.stderr


def test_by_is_required(gateway: GatewayProcess) -> None:
    assert cli(gateway, "held", "discard", "H1").returncode == 2
    blank = cli(gateway, "held", "discard", "H1", "--by", "  ")
    assert blank.returncode == 2 and "--by needs" in blank.stderr


def test_restart_in_the_middle_of_a_release(gateway: GatewayProcess,
                                            downstream: Downstream) -> None:
    hold_id = send_held(gateway)
    downstream.set(Mode.TEMPFAIL)
    assert cli(gateway, "held", "release", hold_id, "--by", "director@example.org",
               "--adjustments-done").returncode == 0
    deadline = time.monotonic() + 10
    attempts = 0
    while attempts < 2 and time.monotonic() < deadline:
        shown = json.loads(cli(gateway, "held", "show", hold_id, "--json").stdout)
        attempts = next(o["attempts"] for o in shown["outbox"] if o["purpose"] == "release")
    assert attempts >= 2  # the downstream refused it twice (4xx): still pending
    gateway.stop()
    downstream.set(Mode.ACCEPT)
    gateway.start()
    [delivered] = wait_for(downstream, PARTNER)
    assert b"Amira" in delivered.data


def test_a_release_cut_short_by_a_stop_goes_at_the_next_start(
        tmp_path: Path, downstream: Downstream) -> None:
    downstream.clear()
    process = review_gateway(tmp_path, downstream).start()
    try:
        add_reviewer(process)
        hold_id = send_held(process)
        assert wait_for(downstream, "director@example.org", purpose="reviewer-hold")
        assert wait_for(downstream, "alice@example.org", purpose="sender-hold")
        downstream.script(Mode.SLOW, delay=60)  # the release's try: no answer to its DATA
        assert cli(process, "held", "release", hold_id, "--by", "director@example.org",
                   "--adjustments-done").returncode == 0
        deadline = time.monotonic() + 10
        while downstream.state.script and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not downstream.state.script  # the try has begun (its MAIL FROM arrived)
        assert process.stop() == 0
        assert downstream.delivered_to(PARTNER) == []
        started = time.monotonic()
        process.start()
        # Not after the claim's lease (660 s): the stopped gateway gave its claim back.
        [delivered] = wait_for(downstream, PARTNER)
        assert b"Amira" in delivered.data and time.monotonic() - started < 15
        shown = json.loads(cli(process, "held", "show", hold_id, "--json").stdout)
        [release] = [o for o in shown["outbox"] if o["purpose"] == "release"]
        assert release["state"] == "sent"
    finally:
        process.stop()


def test_expiry_tells_the_sender(tmp_path: Path, downstream: Downstream) -> None:
    process = review_gateway(tmp_path, downstream, hold_expiry_days=2 / 86400).start()
    try:
        hold_id = send_held(process)
        [notice] = wait_for(downstream, "alice@example.org", purpose="sender-expired")
        body = email.message_from_bytes(notice.data, policy=email.policy.default)
        assert isinstance(body, EmailMessage)  # long lines come quoted-printable
        text = body.get_content()
        assert hold_id.encode() in notice.data and "has expired" in " ".join(text.split())
        [row] = json.loads(cli(process, "held", "list", "--json", "--state", "all").stdout)
        assert row["state"] == "expired" and row["decided_by"] == "stampgate"
        actions = [a["action"] for a in json.loads(
            cli(process, "audit", "--json", "--oldest-first").stdout)]
        assert actions[:1] == ["hold"] and "expired" in actions
    finally:
        process.stop()
