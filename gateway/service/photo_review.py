"""Releasing a message held for sharp faces: only with an override that says why."""

from __future__ import annotations

from typing import Any

from gateway.core.photo_rules import FACES_RULE
from gateway.store.records import HeldMessage

MAX_OVERRIDE = 2000


def override_detail(hold: HeldMessage, override: str | None,
                    refused: type[Exception]) -> dict[str, Any]:
    """The audit detail of releasing ``hold``: empty unless sharp faces held it, in which case
    a reviewer's ``override`` note is required (else ``refused`` is raised) and recorded with
    the faces it overrides."""
    decision = hold.decision
    sharp = [f for f in decision.photos if f.sharp_faces]
    if FACES_RULE not in decision.rules or not sharp:
        return {}
    note = " ".join((override or "").split())
    if not note:
        faces = "; ".join(f"{f.name}: {f.sharp_faces} of {f.faces}" for f in sharp)
        raise refused(
            f"faces still look sharp ({faces}): blur them and send the photo again, or "
            "release with an override that says why (stampgate held release --override TEXT)")
    if len(note) > MAX_OVERRIDE:
        raise refused(f"the override is longer than {MAX_OVERRIDE} characters")
    return {"override": note,
            "sharp_faces": [{"photo": f.name, "faces": f.faces, "sharp": f.sharp_faces}
                            for f in sharp]}
