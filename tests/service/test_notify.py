"""Notices of holds: who gets them, what they say, and that they never carry subject or body."""

from __future__ import annotations

import datetime as dt
import email
from email.policy import default
from pathlib import Path

import pytest

from gateway.adapters.crypto import NullSealer
from gateway.core.policy import Policy
from gateway.service import notify
from gateway.service.housekeeping import ReviewTasks
from gateway.settings import Settings
from gateway.store.store import HeldMessage, Store, now
from gateway.store.threads import ThreadMemory
from tests.support.held import hold, settings_for

SUBJECT = "Case update"  # the subject support.hold's messages carry


def next_boundary(at: dt.datetime, minutes: int) -> dt.datetime:
    """The start of the digest period after the one ``at`` is in."""
    length = minutes * 60
    return dt.datetime.fromtimestamp((at.timestamp() // length + 1) * length, dt.UTC)


def parsed(data: bytes | None) -> email.message.EmailMessage:
    assert data is not None
    message = email.message_from_bytes(data, policy=default)
    assert isinstance(message, email.message.EmailMessage)
    return message


async def test_per_message_notices(store: Store, settings: Settings, policy: Policy) -> None:
    hold_id = await hold(store, policy, recipients=("bob@example.org", "partner@outside.test"))
    await notify.on_hold(store, settings, policy, hold_id)
    await notify.on_hold(store, settings, policy, hold_id)  # queued once only
    sender, reviewer = await store.outbox_entries()
    assert sender.purpose == "sender-hold" and sender.recipients == ("alice@example.org",)
    assert reviewer.purpose == "reviewer-hold"
    assert reviewer.recipients == ("director@example.org", "legal-lead@example.org")
    for entry in (sender, reviewer):
        assert entry.sender == ""
        text = entry.data.decode() if entry.data else ""
        assert SUBJECT not in text and "client's story" not in text
        assert "blur face" not in text  # adjustments are stamp text: counted, not quoted
        assert hold_id in text
    body = parsed(reviewer.data).get_body()
    assert body is not None
    content = body.get_content()
    assert f"http://{settings.web_listen}/held/{hold_id}" in content
    assert "Needs adjustment (found in: body)" in content
    assert "Adjustments: 2 required" in content
    assert parsed(reviewer.data)["Auto-Submitted"] == "auto-generated"
    sender_text = parsed(sender.data).get_body().get_content()  # type: ignore[union-attr]
    assert "Delivered now to: bob@example.org" in sender_text
    assert "Held for:         partner@outside.test" in sender_text
    assert "may go outside the organisation only after a reviewer approves" in sender_text


async def test_settings_choose_addresses_and_links(tmp_path: Path, policy: Policy) -> None:
    settings = settings_for(tmp_path / "var", reviewer_addresses=["queue@example.org"],
                            public_url="https://review.example.org/", notify_from="gw@example.org")
    store = await Store.open(Path(settings.data))
    try:
        hold_id = await hold(store, policy)
        await notify.on_hold(store, settings, policy, hold_id)
        _, reviewer = await store.outbox_entries()
        assert reviewer.recipients == ("queue@example.org",)
        message = parsed(reviewer.data)
        assert message["From"] == "stampgate <gw@example.org>"
        assert f"https://review.example.org/held/{hold_id}" in message.get_body().get_content()  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_digest_mode(tmp_path: Path, policy: Policy) -> None:
    settings = settings_for(tmp_path / "var", notify_mode="digest", digest_minutes=30)
    store = await Store.open(Path(settings.data))
    try:
        ids = [await hold(store, policy) for _ in range(3)]
        for hold_id in ids:
            await notify.on_hold(store, settings, policy, hold_id)
        assert [e.purpose for e in await store.outbox_entries()] == ["sender-hold"] * 3
        started = now()
        tasks = ReviewTasks(store, None, settings, lambda: policy,  # type: ignore[arg-type]
                            NullSealer(), ThreadMemory(store.path, store.write))
        # Periods of 30 minutes counted from the epoch: the one it started in is not sent.
        boundary = next_boundary(started, 30)
        await tasks.housekeep(max(started, boundary - dt.timedelta(seconds=1)))
        assert len(await store.outbox_entries()) == 3
        await tasks.housekeep(boundary + dt.timedelta(seconds=1))
        digest = (await store.outbox_entries())[-1]
        assert digest.purpose == "reviewer-digest"
        text = parsed(digest.data).get_body().get_content()  # type: ignore[union-attr]
        assert all(hold_id in text for hold_id in ids) and SUBJECT not in text
        await tasks.housekeep(boundary + dt.timedelta(minutes=31))
        assert len(await store.outbox_entries()) == 4  # nothing new: no empty digest
    finally:
        await store.close()


@pytest.mark.parametrize("mode", ["per-message", "off"])
async def test_sweep_queues_notices_a_crash_missed(mode: str, tmp_path: Path,
                                                   policy: Policy) -> None:
    settings = settings_for(tmp_path / "var", notify_mode=mode)
    store = await Store.open(Path(settings.data))
    try:
        hold_id = await hold(store, policy)  # the gateway "stopped" before on_hold
        tasks = ReviewTasks(store, None, settings, lambda: policy,  # type: ignore[arg-type]
                            NullSealer(), ThreadMemory(store.path, store.write))
        await tasks.housekeep(now())  # too young: its own session may still withdraw it
        assert await store.outbox_entries() == []
        await tasks.housekeep(now() + dt.timedelta(minutes=5))
        entries = await store.outbox_entries()
        expected = ["sender-hold", "reviewer-hold"] if mode == "per-message" else []
        assert [e.purpose for e in entries] == expected
        assert all(e.held_id == hold_id for e in entries)
        await tasks.housekeep(now() + dt.timedelta(minutes=10))
        assert len(await store.outbox_entries()) == len(expected)
    finally:
        await store.close()


async def test_a_whole_hold_queues_its_notices_in_its_own_commit(
        store: Store, settings: Settings, policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    """The submit path for a message nobody gets yet: one transaction, notices included."""
    from gateway.core.decision import decide
    from gateway.core.message import read_message
    from gateway.core.recipients import parse_recipient
    from gateway.core.stamps import read_stamps
    from gateway.store.store import new_held
    from tests.support.gateway import message

    data = message("Needs adjustment in 2 ways: blur face, change name\n\nA client's story.\n",
                   sender="alice@example.org", to="partner@outside.test")
    decision = decide(policy, read_stamps(read_message(data), policy.vocabulary),
                      "alice@example.org", [parse_recipient("partner@outside.test")], None)

    def record(queue_id: str, message_id: str) -> HeldMessage:
        return new_held(queue_id=queue_id, sender="alice@example.org",
                        recipients=["partner@outside.test"], held=["partner@outside.test"],
                        decision=decision, size=len(data), message_id=message_id)

    first = record("Q1", "<m1@example.org>")
    hold_id = await store.hold(first, data, notify.new_hold_notices(first, settings, policy))
    assert [e.purpose for e in await store.outbox_entries()] == ["sender-hold", "reviewer-hold"]
    await notify.on_hold(store, settings, policy, hold_id)  # already queued: nothing new
    assert len(await store.outbox_entries()) == 2

    def broken(*_: object) -> None:
        raise RuntimeError("a notice could not be written")

    second_record = record("Q2", "<m2@example.org>")
    with monkeypatch.context() as patched:
        patched.setattr(notify, "sender_hold_notice", broken)
        notices = notify.new_hold_notices(second_record, settings, policy)
    second = await store.hold(second_record, data, notices)
    assert await store.get_held(second) is not None  # the hold stands
    assert len(await store.outbox_entries()) == 2
    # The housekeeping sweep queues what was missed.
    assert await notify.sweep(store, settings, policy, now() + dt.timedelta(seconds=1)) == 1
    assert len(await store.outbox_entries()) == 4


def test_notice_headers_are_encoded_and_cannot_be_injected(settings: Settings,
                                                          policy: Policy) -> None:
    long_subject = "Gehalten — Überprüfung " + "x" * 90
    data = notify.compose(settings, policy, ["director@example.org"], long_subject,
                          "Ein Hinweis.\n", "reviewer-hold")
    assert all(line.isascii() for line in data.split(b"\r\n")[:12])  # encoded, not raw
    assert parsed(data)["Subject"] == long_subject
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        notify.compose(settings, policy, ["director@example.org"],
                       "Held\r\nBcc: eve@evil.test", "x\n", "reviewer-hold")
