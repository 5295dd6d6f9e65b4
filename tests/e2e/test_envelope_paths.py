"""MAIL FROM and RCPT TO paths, plain and odd, get the replies they got before the fast path.

The expected replies were recorded from a gateway that read every path with aiosmtpd's
header parser; plain paths are now read without it (gateway/core/envelope_path.py).
"""

from __future__ import annotations

import socket

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

SENDER_OK = "250 2.1.0 Sender ok"
RECIPIENT_OK = "250 2.1.5 Recipient ok"
MALFORMED = "553 5.1.3 Error: malformed address"
MAIL_SYNTAX = "501 Syntax: MAIL FROM: <address> [SP <mail-parameters>]"
RCPT_SYNTAX = "501 Syntax: RCPT TO: <address> [SP <mail-parameters>]"
LONG_LOCAL = "b" * 300

MAIL_REPLIES = [
    # plain: the fast path, parameters handled by aiosmtpd as before
    ("<alice@example.org>", SENDER_OK),
    ("<alice@example.org> SIZE=5000 BODY=8BITMIME", SENDER_OK),
    ("<Alice.Smith+tag@Example.ORG>\tSIZE=100", SENDER_OK),
    ("<alice@example.org>SIZE=10", SENDER_OK),
    ("<alice@example.org> SIZE=999999999999",
     "552 Error: message size exceeds fixed maximum message size"),
    ("<alice@example.org> BODY=9BIT", "501 Error: BODY can only be one of 7BIT, 8BITMIME"),
    ("<alice@example.org> SMTPUTF8", "501 Error: SMTPUTF8 disabled"),
    ("<alice@example.org> FOO=bar", "555 MAIL FROM parameters not recognized or not implemented"),
    ("<alice@example.org> SIZE", MAIL_SYNTAX),
    ("<" + "a" * 300 + "@example.org>", SENDER_OK),
    # odd: the header parser, as before
    ("<>", SENDER_OK),
    ("<> SIZE=10", SENDER_OK),
    ("alice@example.org", SENDER_OK),
    ('<"alice smith"@example.org>', SENDER_OK),
    ("<alice@example.org> (comment) SIZE=10", SENDER_OK),
    ("<alice@example.org.>", MALFORMED),
    ("<a@b..c>", MALFORMED),
    ("<<alice@example.org>>", MALFORMED),
    ("<alice@example.org>>", MAIL_SYNTAX),
    ("<alice@[127.0.0.1]>", SENDER_OK),
    ("<alice@example.org", SENDER_OK),
    ("< alice@example.org>", SENDER_OK),
    ("<al\\ice@example.org>", SENDER_OK),
    ("<alic\u00e9@example.org>", "500 Error: strict ASCII mode"),
    ("<alice@example.org> \x0bSIZE=1", SENDER_OK),
    # the header parser broke on these: a 451 internal error before
    ("<", MALFORMED),
    ("<alice@", MALFORMED),
    # an encoded word read as a local part, decoded by the header parser: alice before
    ("<=?utf-8?q?alice?=@example.org>", MALFORMED),
    ("<=?utf-8?b?YWxpY2U=?=@example.org>", MALFORMED),
]

RCPT_REPLIES = [
    ("<bob@example.org>", RECIPIENT_OK),
    ("<Bob@Example.ORG>", RECIPIENT_OK),
    ("<press+x@example.org>", RECIPIENT_OK),
    ("<bob@example.org> FOO=1", "555 RCPT TO parameters not recognized or not implemented"),
    ("<bob%x@example.org>", "553 5.7.1 <bob%x@example.org>: the percent hack and bang paths "
     "(user%host@domain, host!user) are refused; give the plain address"),
    ("<bob@localhost>", "553 5.1.3 <bob@localhost>: not a valid address: The part after the "
     "@-sign is a special-use or reserved name that cannot be used with email."),
    (f"<{LONG_LOCAL}@example.org>", f"553 5.1.3 <{LONG_LOCAL}@example.org>: not a valid "
     "address: The email address is too long (58 characters too many)."),
    ("<bob@example.org.>", RECIPIENT_OK),
    ("<@relay.test:bob@example.org>", "553 5.7.1 Source routes (<@host:user@domain>) are "
     "refused; give the plain address"),
    ('<"bob"@example.org>', RECIPIENT_OK),
    ("<bob@[127.0.0.1]>", "553 5.1.3 <bob@[127.0.0.1]>: not a valid address: A bracketed IP "
     "address after the @-sign is not allowed here."),
    ("bob@example.org", RECIPIENT_OK),
    ("<bob @example.org>", RECIPIENT_OK),
    ("<bo\\b@example.org>", '553 5.1.3 <"bo\\\\b"@example.org>: not a valid address: Quoting '
     "the part before the @-sign is not allowed here."),
    ("<bob@exa_mple.org>", "553 5.1.3 <bob@exa_mple.org>: not a valid address: The part after "
     "the @-sign contains invalid characters: '_'."),
    ("<bob@example.org>>", RCPT_SYNTAX),
    ("<a..b@example.org>", "553 5.1.3 <a..b@example.org>: not a valid address: An email "
     "address cannot have two periods in a row."),
    ("<b\x00ob@example.org>", "553 5.1.3 <b\x00ob@example.org>: not a valid address: The email "
     "address contains invalid characters before the @-sign: U+0000."),
    ("<bob@ex\u0430mple.org>", "500 Error: strict ASCII mode"),
    ("<>", "553 5.1.3 <>: the null path is no recipient; give an address (user@domain)"),
    ("<a@", MALFORMED),
    ("<=?utf-8?q?bob?=@example.org>", MALFORMED),
]


def replies_to(gateway: GatewayProcess, commands: list[str]) -> list[str]:
    """One session: EHLO, then ``commands``; the last line of each command's reply."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"220")
        answers = []
        for command in ["EHLO client.test", *commands]:
            sock.sendall(command.encode() + b"\r\n")
            line = reader.readline()
            while line[3:4] == b"-":
                line = reader.readline()
            answers.append(line.decode().rstrip("\r\n"))
        return answers[1:]


def test_mail_from_paths_get_the_same_replies(gateway: GatewayProcess) -> None:
    commands = [part for path, _ in MAIL_REPLIES for part in (f"MAIL FROM:{path}", "RSET")]
    answers = replies_to(gateway, commands)[::2]
    assert list(zip([p for p, _ in MAIL_REPLIES], answers, strict=True)) == [
        (path, reply) for path, reply in MAIL_REPLIES]


def test_rcpt_to_paths_get_the_same_replies(gateway: GatewayProcess) -> None:
    answers = replies_to(gateway, ["MAIL FROM:<alice@example.org>",
                                   *(f"RCPT TO:{path}" for path, _ in RCPT_REPLIES)])
    assert answers[0] == SENDER_OK
    assert list(zip([p for p, _ in RCPT_REPLIES], answers[1:], strict=True)) == [
        (path, reply) for path, reply in RCPT_REPLIES]


def test_plain_paths_reach_the_downstream_as_before(gateway: GatewayProcess,
                                                   downstream: Downstream) -> None:
    body = message("Internal\n\nThe envelope as the client wrote it.",
                   sender="Alice.Smith+tag@Example.ORG", to="Bob@Example.ORG")
    answers = replies_to(gateway, [
        "MAIL FROM:<Alice.Smith+tag@Example.ORG> SIZE=900 BODY=8BITMIME",
        "RCPT TO:<Bob@Example.ORG>", "RCPT TO:<carol@example.org.>", "DATA",
        body.decode().replace("\r\n.", "\r\n..") + ".", "QUIT"])
    assert answers[:4] == [SENDER_OK, RECIPIENT_OK, RECIPIENT_OK,
                           "354 End data with <CR><LF>.<CR><LF>"]
    assert answers[4].startswith("250"), answers
    received = downstream.wait_for(1)
    # The sender as written; a recipient's local part as written, its domain folded.
    assert (received[0].sender, received[0].recipients) == (
        "Alice.Smith+tag@Example.ORG", ["Bob@example.org", "carol@example.org"])
