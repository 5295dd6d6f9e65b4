"""Partners' labels where our stamps are read: the Subject, and the header fields that carry
them (``X-Protective-Marking``, ``SIO-Label``, a TLP header).

TLP markers on a text's first lines are read by the vocabulary itself (``vocabulary.py``),
so that they are found wherever a stamp line is: top texts, quoted and forwarded parts,
attached messages and documents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.core import protective_marking, sio_label, tlp
from gateway.core.label_policy import LabelMap
from gateway.core.labels import PROTECTIVE_MARKING, TLP, Label
from gateway.core.model import Stamp
from gateway.core.owned import (
    LABEL_HEADERS as GATEWAY_LABEL_HEADERS,
)
from gateway.core.owned import (
    PROTECTIVE_MARKING_HEADER,
    SIO_LABEL_HEADER,
    TLP_HEADERS,
)

__all__ = ["GATEWAY_LABEL_HEADERS", "header_labels", "subject_labels"]
# Real messages carry one of each; past this many values a field is read no further.
MAX_VALUES = 20


def subject_labels(folded: str, labels: LabelMap) -> list[tuple[Label, Stamp]]:
    """TLP markers anywhere in a folded Subject and ``[SEC=...]`` tags, as the policy maps
    them (a label the policy does not map, or maps to ``none``, is left out)."""
    found: list[tuple[Label, Stamp]] = []
    if labels.reads(TLP) and "tlp" in folded:
        for label in tlp.markers_in(folded):
            stamp = labels.stamp_for(label)
            if stamp is not None:
                found.append((label, stamp))
    if labels.reads(PROTECTIVE_MARKING) and "sec" in folded:
        for value in protective_marking.subject_values(folded):
            for namespace in labels.namespaces():
                label = protective_marking.marking(namespace, value)
                stamp = labels.stamp_for(label)
                if stamp is not None:
                    found.append((label, stamp))
    return found


def header_labels(headers: Mapping[str, Sequence[str]]) -> tuple[tuple[Label, ...],
                                                                   tuple[str, ...]]:
    """The labels of the label header fields (values already decoded), and why any of them
    cannot be read. ``SIO-Label-History`` records earlier labels and is not read."""
    found: list[Label] = []
    problems: list[str] = []
    for value in headers.get(PROTECTIVE_MARKING_HEADER, ())[:MAX_VALUES]:
        try:
            found.append(protective_marking.read_header(value))
        except protective_marking.MarkingError as exc:
            problems.append(str(exc))
    for value in headers.get(SIO_LABEL_HEADER, ())[:MAX_VALUES]:
        try:
            label = sio_label.read_header(value)
        except sio_label.SioLabelError as exc:
            problems.append(str(exc))
            continue
        if label is not None:
            found.append(label)
    for name in TLP_HEADERS:
        for value in headers.get(name, ())[:MAX_VALUES]:
            marker = tlp.header_label(value)
            if marker is None:
                problems.append(f"{name.upper()} header with a value that is not a TLP colour")
            else:
                found.append(marker)
    return tuple(dict.fromkeys(found)), tuple(dict.fromkeys(problems))
