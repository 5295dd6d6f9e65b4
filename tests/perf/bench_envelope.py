"""Micro-timing of MAIL FROM / RCPT TO path parsing: aiosmtpd's parser against the fast path.

Two measurements, each taking the two variants in turns, in one run:

- **parse**: what the SMTP edge does with the argument of one MAIL and one RCPT command
  (``_getaddr`` of each, the parameter split, ``refuse_source_route``, the trailing-dot
  rewrite and ``parse_recipient``, its cache warm as in a running gateway), before
  (``SMTP._getaddr``, the rewrite on every argument) and after (``GatewaySMTP._getaddr``,
  ``drop_trailing_dot``): the median µs per MAIL+RCPT pair; and ``parse_recipient`` alone,
  on a recipient seen for the first time and from its cache;
- **session**: a gateway started in this process on loopback, one client connection, the
  median round trip of MAIL, RCPT and RSET, the same two variants switched round by round.

    .venv/bin/python tests/perf/bench_envelope.py [--rounds 15] [--number 1000] [--commands 300]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from gateway.core.envelope_path import drop_trailing_dot
from gateway.core.recipients import parse_recipient, refuse_source_route
from gateway.policyfiles.load import load_policy
from gateway.runtime.app import Gateway
from gateway.settings import Settings
from gateway.smtp import handler
from gateway.smtp.handler import GatewaySMTP

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [  # (MAIL FROM argument, RCPT TO argument), as clients send them
    ("<alice@example.org> SIZE=5210 BODY=8BITMIME", "<bob@example.org>"),
    ("<Carol.Smith@example.org>", "<press+campaign@example.org>"),
    ("<noreply-42@mail.sub.example.org> SIZE=120000", "<firstname.lastname@partner.test>"),
]
_TRAILING_DOT = re.compile(r"(@[^\s<>@]+?)\.+(?=>|\s|$)")


def rewrite_always(argument: str) -> str:
    """The trailing-dot rewrite as smtp_RCPT made it before: on every argument."""
    return _TRAILING_DOT.sub(r"\1", argument, count=1)


VARIANTS: dict[str, tuple[Callable[..., Any], Callable[[str], str]]] = {
    "before": (SMTP._getaddr, rewrite_always),
    "after": (GatewaySMTP._getaddr, drop_trailing_dot),
}


def use(variant: str) -> None:
    """Make the running gateway read paths as ``variant`` does."""
    getaddr, rewrite = VARIANTS[variant]
    GatewaySMTP._getaddr = getaddr  # type: ignore[method-assign]
    vars(handler)["drop_trailing_dot"] = rewrite


def _protocol() -> GatewaySMTP:
    loop = asyncio.new_event_loop()
    try:
        return GatewaySMTP(object(), loop=loop)
    finally:
        loop.close()


def edge_work(protocol: GatewaySMTP, variant: str) -> Callable[[], None]:
    """One MAIL and one RCPT argument of every pair, read as the SMTP edge reads them."""
    getaddr, rewrite = VARIANTS[variant]

    def run() -> None:
        for mail, rcpt in PAIRS:
            address, params = getaddr(protocol, mail)
            protocol._getparams(params.upper().split())
            refuse_source_route("TO:" + rcpt)
            arg = rewrite("TO:" + rcpt)[3:]
            address, params = getaddr(protocol, arg)
            protocol._getparams(params.upper().split())
            parse_recipient(address, "+")
    return run


def per_pair_us(run: Callable[[], None], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        run()
    return (time.perf_counter() - start) / number / len(PAIRS) * 1e6


def parse_timing(rounds: int, number: int) -> dict[str, float]:
    protocol = _protocol()
    variants = {name: edge_work(protocol, name) for name in VARIANTS}
    for run in variants.values():
        assert run() is None  # warm: parse_recipient's cache holds the recipients, as live
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for index in range(rounds):
        order = list(variants) if index % 2 == 0 else list(reversed(variants))
        for name in order:
            samples[name].append(per_pair_us(variants[name], number))
    return {name: statistics.median(values) for name, values in samples.items()}


def recipient_timing(rounds: int, number: int) -> dict[str, float]:
    """``parse_recipient`` on a recipient it has not seen (the validation) and from its cache."""
    addresses = [f"user{i}.name+tag@mail{i % 7}.example.org" for i in range(number)]
    first: list[float] = []
    cached: list[float] = []
    for index in range(rounds):
        parse_recipient.cache_clear()
        batch = [f"r{index}{address}" for address in addresses]
        for samples in (first, cached):
            start = time.perf_counter()
            for address in batch:
                parse_recipient(address, "+")
            samples.append((time.perf_counter() - start) / number * 1e6)
    return {"first sight": statistics.median(first), "cached": statistics.median(cached)}


async def session_timing(rounds: int, commands: int) -> dict[str, dict[str, float]]:
    data = Path(tempfile.mkdtemp(prefix="bench-envelope-"))
    settings = Settings(data=data, policies=ROOT / "policies", listen="127.0.0.1:0",
                        downstream=f"maildir:{data}/outbox", web_listen="", workers=1,
                        max_messages_per_connection=rounds * commands * 2)
    gateway = Gateway(settings, load_policy(ROOT / "policies"))
    await gateway.start()
    assert gateway.server is not None
    port = gateway.server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def command(line: bytes) -> bytes:
        writer.write(line)
        while True:
            reply = await reader.readline()
            if reply[3:4] != b"-":
                return reply

    await reader.readline()
    await command(b"EHLO client.test\r\n")
    lines = {"MAIL": b"MAIL FROM:<alice@example.org> SIZE=5210 BODY=8BITMIME\r\n",
             "RCPT": b"RCPT TO:<bob@example.org>\r\n", "RSET": b"RSET\r\n"}
    samples: dict[str, dict[str, list[float]]] = {
        variant: {name: [] for name in lines} for variant in VARIANTS}
    try:
        for index in range(rounds):
            order = ["before", "after"] if index % 2 == 0 else ["after", "before"]
            for variant in order:
                use(variant)
                for _ in range(commands):
                    for name, line in lines.items():
                        start = time.perf_counter()
                        reply = await command(line)
                        samples[variant][name].append((time.perf_counter() - start) * 1e6)
                        assert reply[:1] == b"2", reply
    finally:
        use("after")
        writer.close()
        await gateway.stop()
    return {variant: {name: statistics.median(values) for name, values in by_name.items()}
            for variant, by_name in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=1000, help="parse repetitions per round")
    parser.add_argument("--commands", type=int, default=300, help="MAIL/RCPT/RSET per round")
    args = parser.parse_args()

    parse = parse_timing(args.rounds, args.number)
    print("parse, median µs per MAIL+RCPT pair "
          f"({args.rounds} rounds x {args.number} x {len(PAIRS)} pairs):")
    print(f"  before (aiosmtpd's parser)   {parse['before']:8.1f}")
    print(f"  after  (plain_path)          {parse['after']:8.1f}"
          f"   ({parse['before'] / parse['after']:.0f}x)")

    recipient = recipient_timing(args.rounds, args.number // 4)
    print("parse_recipient alone, median µs per recipient:")
    for name, value in recipient.items():
        print(f"  {name:<28} {value:8.1f}")

    session = asyncio.run(session_timing(args.rounds, args.commands))
    print(f"session on loopback, median µs per round trip ({args.rounds} rounds x "
          f"{args.commands} commands each):")
    print("           " + "".join(f"{name:>8}" for name in session["before"]))
    for variant, by_name in session.items():
        print(f"  {variant:<8} " + "".join(f"{value:8.0f}" for value in by_name.values()))


if __name__ == "__main__":
    main()
