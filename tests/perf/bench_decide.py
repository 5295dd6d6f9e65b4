"""Micro-benchmark of the pure decision core, pinned to one core.

A 5 KB message stamped "Cleared for publication" to 10 recipients, against a copy of
policies/ whose groups have N members each (communications, management, and an external
"partners" group). It measures:

- ``decide()`` alone, with a pre-read ``StampReading`` and pre-parsed recipients;
- the whole pure path from bytes: ``read_message`` + ``read_stamps`` + ``parse_recipient``
  (cached, as on the hot path) + ``decide``;
- the parts of that path on their own;

and ``decide()`` with 100, 10,000 and 100,000 members per group: group look-up must be
O(1) per recipient, so the rate must not fall with the group size.

    .venv/bin/python tests/perf/bench_decide.py [--members 10000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gateway.core.decision import decide
from gateway.core.message import read_message
from gateway.core.policy import Policy
from gateway.core.recipients import Recipient, parse_recipient
from gateway.core.stamps import read_stamps
from gateway.policyfiles.load import load_policy

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from loadgen import make_message  # noqa: E402

SENDER = "alice@example.org"


def recipients_for(members: int) -> list[str]:
    """Ten recipients: group members at both ends of the lists, colleagues, outsiders."""
    last = members - 3  # the last generated member of each group
    return [
        "comms@example.org",  # communications (the original member)
        f"comms{last}@example.org",  # communications, the last generated member
        "director@example.org",  # management
        f"manager{members // 2}@example.org",  # management, middle of the list
        "bob@example.org",  # organisation, no group
        "Carol.Smith+cases@example.org",  # organisation, plus-address and case folded
        f"contact{last}@partner.test",  # external, partners group
        "someone@partner-ngo.test",  # external, no group
        "editor@news.test",  # external
        f"user{last}@example.org",  # organisation, no group
    ]


def write_policy(source: Path, target: Path, members: int) -> Path:
    """A copy of the policy directory with three groups of ``members`` members each."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("tests"))
    groups = target / "groups"

    def write(name: str, description: str, addresses: Sequence[str]) -> None:
        body = ",\n".join(f'  "{a}"' for a in addresses)
        (groups / f"{name}.toml").write_text(
            f'description = "{description}"\nmembers = [\n{body},\n]\n')

    write("communications", "Communications team (benchmark size)",
          ["comms@example.org", "press@example.org",
           *(f"comms{i}@example.org" for i in range(members - 2))])
    write("management", "Management (benchmark size)",
          ["director@example.org", "legal-lead@example.org",
           *(f"manager{i}@example.org" for i in range(members - 2))])
    write("partners", "Partner organisations (benchmark size)",
          [f"contact{i}@partner.test" for i in range(members)])
    return target


def rate(fn: Callable[[], object], seconds: float, repeats: int) -> float:
    """Median calls per second over ``repeats`` timed batches of about ``seconds`` each."""
    batch = 1
    while True:  # calibrate a batch that takes at least a tenth of a run
        started = time.perf_counter()
        for _ in range(batch):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds / 10:
            break
        batch *= 2
    per_run = max(1, int(batch * seconds / elapsed))
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(per_run):
            fn()
        rates.append(per_run / (time.perf_counter() - started))
    return statistics.median(rates)


def measure(policy: Policy, message: bytes, addresses: Sequence[str], seconds: float,
            repeats: int, full: bool) -> dict[str, float]:
    plus = policy.organisation.plus_separator
    recipients: list[Recipient] = [parse_recipient(a, plus) for a in addresses]
    facts = read_message(message)
    reading = read_stamps(facts, policy.vocabulary)
    decision = decide(policy, reading, SENDER, recipients)
    assert decision.stamp is not None and len(decision.recipients) == len(addresses)
    in_groups = sorted(g for r in decision.recipients for g in r.groups)
    expected = ["communications"] * 2 + ["management"] * 2 + ["partners"]
    if in_groups != expected:
        raise SystemExit(f"the benchmark policy is not what it should be: {in_groups}")
    results = {"decide()": rate(lambda: decide(policy, reading, SENDER, recipients),
                                seconds, repeats)}
    if not full:
        return results

    def whole() -> object:
        facts = read_message(message)
        reading = read_stamps(facts, policy.vocabulary)
        parsed = [parse_recipient(a, plus) for a in addresses]
        return decide(policy, reading, SENDER, parsed)

    results["bytes -> decision (read_message + read_stamps + decide)"] = rate(
        whole, seconds, repeats)
    results["read_message() alone"] = rate(lambda: read_message(message), seconds, repeats)
    results["read_stamps() alone"] = rate(lambda: read_stamps(facts, policy.vocabulary),
                                          seconds, repeats)
    return results


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policies", type=Path, default=ROOT / "policies",
                        help="the policy directory to copy (default policies/)")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--scaling", default="100,10000,100000",
                        help="group sizes for the O(1) check")
    parser.add_argument("--seconds", type=float, default=1.0, help="per timed batch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="shorter batches")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 0.3, 3
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})  # one core
    message = make_message(5 * 1024, "Cleared for publication", recipients_for(args.members))

    with tempfile.TemporaryDirectory(prefix="bench-decide-") as tmp:
        sizes = sorted({args.members, *(int(x) for x in args.scaling.split(",") if x)})
        rates: dict[str, float] = {}
        scaling: list[tuple[int, float]] = []
        load_seconds: dict[int, float] = {}
        for members in sizes:
            directory = write_policy(args.policies, Path(tmp) / f"policy-{members}", members)
            started = time.perf_counter()
            policy = load_policy(directory)
            load_seconds[members] = round(time.perf_counter() - started, 2)
            addresses = recipients_for(members)
            result = measure(policy, message, addresses, args.seconds, args.repeats,
                             full=members == args.members)
            scaling.append((members, result["decide()"]))
            if members == args.members:
                rates = result
            print(f"{members:>7,} members: decide() {result['decide()']:>9,.0f}/s "
                  f"(policy loaded in {load_seconds[members]} s)", file=sys.stderr)
    summary: dict[str, Any] = {
        "members": args.members, "recipients": len(recipients_for(args.members)),
        "message_bytes": len(message), "cpu": cpus[-1], "rates": rates,
        "scaling": scaling, "policy_load_seconds": load_seconds,
    }
    for name, value in rates.items():
        print(f"{name:<58} {value:>10,.0f}/s  {1e6 / value:8.1f} µs", file=sys.stderr)
    low, high = scaling[0][1], scaling[-1][1]
    print(f"decide() at {scaling[-1][0]:,} members runs at {high / low:.2f}x the rate at "
          f"{scaling[0][0]:,}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
