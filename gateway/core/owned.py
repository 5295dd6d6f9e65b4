"""The header fields the gateway writes itself: a client's copies are removed from what it
relays (adapters/rewrite.py, milter/message.py), so that downstream can trust them."""

from __future__ import annotations

STAMP_HEADER = "x-stamp"
GATEWAY_PREFIX = "x-stampgate-"
PROTECTIVE_MARKING_HEADER = "x-protective-marking"
SIO_LABEL_HEADER = "sio-label"
SIO_HISTORY_HEADER = "sio-label-history"
TLP_HEADERS = ("x-tlp", "tlp")
# The label headers the gateway writes for partners; while a client's copies are read they
# only ever restrict (rules_labels.py).
LABEL_HEADERS = frozenset({PROTECTIVE_MARKING_HEADER, SIO_LABEL_HEADER, SIO_HISTORY_HEADER,
                           *TLP_HEADERS})
# Lower-case byte strings one of which every owned field name contains (a quick pre-check).
OWNED_NAME_PARTS = (b"x-stamp", b"protective-marking", b"sio-label", b"tlp")


def owned(name: str) -> bool:
    """Whether a field of this name is the gateway's own (``X-Stamp``, ``X-Stampgate-*``,
    the partner label headers)."""
    lower = name.strip().lower()
    return lower == STAMP_HEADER or lower.startswith(GATEWAY_PREFIX) or lower in LABEL_HEADERS
