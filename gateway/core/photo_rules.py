"""The photo rules: identifying metadata and sharp faces in images sent out of the house."""

from __future__ import annotations

from dataclasses import replace

from gateway.core.context import DecisionContext
from gateway.core.model import Stamp, Verdict
from gateway.core.photos import PhotoAction, PhotoFinding, kinds_text, wants_blurred_faces
from gateway.core.tally import Hit, Judgement, Tally

METADATA_RULE = "photo-metadata"
FACES_RULE = "photo-faces"


def _guarded(context: DecisionContext, judgement: Judgement) -> bool:
    """Outside the organisation, or in a group that gets only what may go outside."""
    if not judgement.is_organisation:
        return True
    groups = (set(context.policy.organisation.register_guards)
              | context.policy.photos.guarded_groups())
    return bool(groups & set(judgement.groups))


def _hold(judgement: Judgement, rule: str, reason: str) -> Judgement:
    # A bounce stays a bounce; a hold by another rule is taken over, because the reviewer
    # must see what is wrong with the photo.
    if judgement.verdict is Verdict.BOUNCE:
        return judgement
    return replace(judgement, verdict=Verdict.HOLD, rule=rule, reason=reason)


class PhotoMetadata:
    """Photos that carry where, by whom or with which device they were taken."""

    name = METADATA_RULE
    description = ("photos with a location, device serial or owner name to communications or "
                   "outside: stripped, or held where [metadata] in photos.toml says hold; a "
                   "photo that cannot be read or rewritten is held")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        judgements = tally.require_judged(self.name)
        if not context.photos:
            return None
        policy = context.policy.photos
        judged: list[Judgement] = []
        for judgement in judgements:
            outside = not judgement.is_organisation
            action = policy.metadata_action(judgement.groups, outside)
            if action is None and _guarded(context, judgement):
                action = PhotoAction.STRIP
            reasons = [_metadata_reason(f, action) for f in context.photos] if action else []
            found = [r for r in reasons if r]
            if found:
                judgement = _hold(judgement, self.name, "; ".join(found))
            judged.append(judgement)
        notes = tuple(f.text for f in context.photos if f.metadata or f.problem)
        if not notes:
            return None
        return Hit((self.name,), replace(tally, judgements=tuple(judged),
                                         reasons=(*tally.reasons, *notes)))


def _metadata_reason(finding: PhotoFinding, action: PhotoAction) -> str:
    """Why ``finding`` holds a recipient whose action is ``action``; empty when it does not."""
    if finding.problem:
        return f"photo {finding.name}: {finding.problem}"
    if not finding.metadata:
        return ""
    fields = kinds_text(finding.metadata)
    if action is PhotoAction.HOLD:
        return f"photo {finding.name} carries {fields}: held for review by policy"
    if not finding.stripped:
        return f"photo {finding.name} carries {fields} and could not be stripped"
    return ""


class PhotoFaces:
    """Photos with faces that still look sharp, where faces must be blurred."""

    name = FACES_RULE
    description = ("photos with a face that still looks sharp to communications or outside: "
                   "held under a Needs adjustment stamp asking to blur faces, and where "
                   "[faces] in photos.toml says hold")

    def check(self, context: DecisionContext, tally: Tally) -> Hit | None:
        judgements = tally.require_judged(self.name)
        sharp = [f for f in context.photos if f.sharp_faces]
        if not sharp:
            return None
        asked = (tally.stamp is Stamp.NEEDS_ADJUSTMENT
                 and wants_blurred_faces(context.reading.adjustments))
        policy = context.policy.photos
        faces = "; ".join(f"photo {f.name}: {f.sharp_faces} of {f.faces} face(s) still sharp"
                          for f in sharp)
        judged: list[Judgement] = []
        hit = False
        for judgement in judgements:
            guarded = _guarded(context, judgement)
            if asked and guarded:
                judgement = _hold(judgement, self.name,
                                  f"{faces}; the stamp asks to blur faces")
                hit = True
            elif policy.holds_faces(judgement.groups, not judgement.is_organisation):
                judgement = _hold(judgement, self.name,
                                  f"{faces}: faces are reviewed before they go "
                                  f"{judgement.audience.where}")
                hit = True
            judged.append(judgement)
        if not hit:
            return None
        return Hit((self.name,), replace(tally, judgements=tuple(judged),
                                         reasons=(*tally.reasons, faces)))
