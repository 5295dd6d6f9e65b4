"""A policy with partners that are written labels (docs/partners.md), for the end-to-end
and milter tests: unhcr.test (and its subdomains) gets all three labels and a subject tag,
gov.test the protective marking only; both may receive Internal material."""

from __future__ import annotations

import shutil
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from tests.support.downstream import Received
from tests.support.gateway import EXAMPLE_POLICIES

PARTNERS = """
[partners."unhcr.test"]
write = ["tlp", "protective-marking", "sio-label"]
subject_tag = true
include_subdomains = true

[partners."gov.test"]
write = ["protective-marking"]
"""
# The partners may receive Internal material (the example bounces it for anyone outside).
PARTNER_GROUP = 'description = "Partners"\nmembers = ["@unhcr.test", "@gov.test"]\n'
INTERNAL_FOR_PARTNERS = '{ communications = "bounce", partners = "allow" }'

INTERNAL_LABELS = [
    ("X-TLP", "TLP:AMBER+STRICT"),
    ("X-Protective-Marking", "VER=2018.4, NS=gov.au, SEC=OFFICIAL"),
    ("SIO-Label", 'marking="INTERNAL"; type=":ess"; label="MSMCAQMGFGmChbe8kLrogqi5jauPnuSxtIdQ'
                  'EwhJTlRFUk5BTA=="'),
]
LABEL_NAMES = ("x-tlp", "x-protective-marking", "sio-label")


def partner_policies(target: Path) -> None:
    shutil.copytree(EXAMPLE_POLICIES, target)
    (target / "partners.toml").write_text(PARTNERS)
    (target / "groups" / "partners.toml").write_text(PARTNER_GROUP)
    rules = (target / "rules.toml").read_text()
    internal = rules.index("[internal]")
    old = 'groups = { communications = "bounce" }'
    at = rules.index(old, internal)
    (target / "rules.toml").write_text(
        rules[:at] + f"groups = {INTERNAL_FOR_PARTNERS}" + rules[at + len(old):])


def fields(copy: Received) -> list[tuple[str, str]]:
    """Every header field of a copy, names as written, values unfolded."""
    message = message_from_bytes(copy.data, policy=default)
    return [(name, " ".join(str(value).split())) for name, value in message.items()]


def labels(copy: Received) -> list[tuple[str, str]]:
    return [(n, v) for n, v in fields(copy) if n.lower() in LABEL_NAMES]


def subject(copy: Received) -> list[str]:
    return [v for n, v in fields(copy) if n.lower() == "subject"]
