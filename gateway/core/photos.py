"""Photos: which metadata fields identify someone, what the policy does with them, findings."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

PHOTOS_FILE = "photos.toml"


class MetadataKind(enum.Enum):
    """What a photo's metadata can give away about who took it, of whom, and where."""

    LOCATION = "location"
    DEVICE_SERIAL = "device serial"
    OWNER = "owner name"


class PhotoAction(enum.Enum):
    """What happens to identifying metadata in a photo on its way to an audience."""

    STRIP = "strip"  # rewrite the image without it, then judge the message as usual
    HOLD = "hold"  # a reviewer looks at the message first


class FaceAction(enum.Enum):
    """What happens to a photo with a sharp face on its way to an audience."""

    ALLOW = "allow"
    HOLD = "hold"


# EXIF (TIFF) tag numbers: GPS block, owner, device serials, the maker note (which carries
# the body serial on most cameras and cannot be read generically).
EXIF_TAGS: Mapping[int, MetadataKind] = {
    0x8825: MetadataKind.LOCATION,  # GPSInfo
    0x013B: MetadataKind.OWNER,  # Artist
    0xA430: MetadataKind.OWNER,  # CameraOwnerName
    0xA431: MetadataKind.DEVICE_SERIAL,  # BodySerialNumber
    0xA435: MetadataKind.DEVICE_SERIAL,  # LensSerialNumber
    0x927C: MetadataKind.DEVICE_SERIAL,  # MakerNote
    0xC62F: MetadataKind.DEVICE_SERIAL,  # CameraSerialNumber (DNG)
}

# IPTC-IIM (record, dataset): places and the photographer.
IPTC_TAGS: Mapping[tuple[int, int], MetadataKind] = {
    (2, 80): MetadataKind.OWNER,  # By-line
    (2, 90): MetadataKind.LOCATION,  # City
    (2, 92): MetadataKind.LOCATION,  # Sub-location
    (2, 95): MetadataKind.LOCATION,  # Province/State
    (2, 100): MetadataKind.LOCATION,  # Country code
    (2, 101): MetadataKind.LOCATION,  # Country
    (2, 116): MetadataKind.OWNER,  # Copyright notice
}

# XMP property names (local part, any namespace prefix) and what they give away.
XMP_PROPERTIES: Mapping[str, MetadataKind] = {
    "gpslatitude": MetadataKind.LOCATION,
    "gpslongitude": MetadataKind.LOCATION,
    "gpsaltitude": MetadataKind.LOCATION,
    "city": MetadataKind.LOCATION,
    "state": MetadataKind.LOCATION,
    "country": MetadataKind.LOCATION,
    "location": MetadataKind.LOCATION,
    "locationcreated": MetadataKind.LOCATION,
    "locationshown": MetadataKind.LOCATION,
    "serialnumber": MetadataKind.DEVICE_SERIAL,
    "bodyserialnumber": MetadataKind.DEVICE_SERIAL,
    "lensserialnumber": MetadataKind.DEVICE_SERIAL,
    "cameraserialnumber": MetadataKind.DEVICE_SERIAL,
    "ownername": MetadataKind.OWNER,
    "cameraownername": MetadataKind.OWNER,
    "creator": MetadataKind.OWNER,
    "artist": MetadataKind.OWNER,
    "rights": MetadataKind.OWNER,
}

# An XMP property written as an element (<exif:GPSLatitude>) or an attribute (exif:City="").
_XMP_NAME = re.compile(rb"<([A-Za-z][\w.-]*):([A-Za-z][\w.-]*)(?=[\s>/])|\s([A-Za-z][\w.-]*):"
                       rb"([A-Za-z][\w.-]*)\s*=\s*[\"']([^\"']*)[\"']")
_XMP_PACKET = 4 * 1024 * 1024  # a packet larger than this is read only this far


def exif_kinds(tags: Iterable[int]) -> frozenset[MetadataKind]:
    """The identifying kinds among EXIF tag numbers (the main IFD, Exif IFD and GPS IFD)."""
    return frozenset(EXIF_TAGS[t] for t in tags if t in EXIF_TAGS)


def iptc_kinds(datasets: Iterable[tuple[int, int]]) -> frozenset[MetadataKind]:
    """The identifying kinds among IPTC-IIM (record, dataset) keys."""
    return frozenset(IPTC_TAGS[d] for d in datasets if d in IPTC_TAGS)


def xmp_kinds(packet: bytes) -> frozenset[MetadataKind]:
    """The identifying kinds named in an XMP packet, with a value (an empty one gives
    nothing away)."""
    found: set[MetadataKind] = set()
    for match in _XMP_NAME.finditer(packet[:_XMP_PACKET]):
        element_name, attribute_name, value = match.group(2), match.group(4), match.group(5)
        if element_name is not None:
            name = element_name
        elif attribute_name is not None and value is not None and value.strip():
            name = attribute_name
        else:
            continue
        kind = XMP_PROPERTIES.get(name.decode("ascii", "replace").lower())
        if kind is not None:
            found.add(kind)
    return frozenset(found)


def kinds_text(kinds: Iterable[MetadataKind]) -> str:
    """The kinds in a fixed order, for reasons and headers: ``location, owner name``."""
    chosen = set(kinds)
    return ", ".join(k.value for k in MetadataKind if k in chosen)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetadataRule(_Frozen):
    """``[metadata]``: strip or hold identifying metadata, per audience."""

    external: PhotoAction = PhotoAction.STRIP
    groups: dict[str, PhotoAction] = Field(
        default_factory=lambda: {"communications": PhotoAction.STRIP})


class FaceRule(_Frozen):
    """``[faces]``: photos with a face that still looks sharp, per audience, whatever the
    stamp (a *Needs adjustment* stamp asking to blur faces always holds them)."""

    external: FaceAction = FaceAction.ALLOW
    groups: dict[str, FaceAction] = Field(default_factory=dict)


class PhotoLimits(_Frozen):
    """``[limits]``: what one message may cost; an overrun is held for outside recipients."""

    images: int = Field(default=20, ge=1, le=200)
    megapixels: float = Field(default=40.0, gt=0, le=200)
    seconds: float = Field(default=10.0, gt=0, le=120)


class PhotoPolicy(_Frozen):
    """``policies/photos.toml``; absent, photos are stripped for communications and outside."""

    description: str = ""
    metadata: MetadataRule = MetadataRule()
    faces: FaceRule = FaceRule()
    limits: PhotoLimits = PhotoLimits()

    @field_validator("metadata", "faces")
    @classmethod
    def _group_names(cls, value: MetadataRule | FaceRule) -> MetadataRule | FaceRule:
        for name in value.groups:
            if not re.match(r"^[a-z0-9][a-z0-9_-]{0,62}$", name):
                raise ValueError(f"group name {name!r} is not a group name")
        return value

    def metadata_action(self, groups: Iterable[str], outside: bool) -> PhotoAction | None:
        """The action for one recipient (``None``: inside the organisation, none applies);
        in several groups, the strictest wins (hold over strip)."""
        actions = [self.metadata.groups[g] for g in groups if g in self.metadata.groups]
        if outside:
            actions.append(self.metadata.external)
        if not actions:
            return None
        return PhotoAction.HOLD if PhotoAction.HOLD in actions else PhotoAction.STRIP

    def holds_faces(self, groups: Iterable[str], outside: bool) -> bool:
        """Whether a sharp face holds the photo for one recipient (hold over allow)."""
        actions = [self.faces.groups[g] for g in groups if g in self.faces.groups]
        if outside:
            actions.append(self.faces.external)
        return FaceAction.HOLD in actions

    def summary(self) -> str:
        """One line for ``policy check``: the actions per audience and the limits."""
        def per(external: enum.Enum, groups: Mapping[str, enum.Enum]) -> str:
            named = "".join(f", {g} {a.value}" for g, a in sorted(groups.items()))
            return f"external {external.value}{named}"

        limits = self.limits
        return (f"metadata {per(self.metadata.external, self.metadata.groups)}; "
                f"sharp faces {per(self.faces.external, self.faces.groups)}; limits "
                f"{limits.images} images, {limits.megapixels:g} MP, {limits.seconds:g} s")

    def guarded_groups(self) -> frozenset[str]:
        """Groups this policy names: recipients in them are checked like outside ones."""
        return frozenset(self.metadata.groups) | frozenset(self.faces.groups)


@dataclass(frozen=True, slots=True)
class PhotoFinding:
    """What was found in one image of a message; never a value of its metadata."""

    name: str  # the file name, or "image N" without one
    format: str  # JPEG, PNG, WEBP, TIFF, HEIF; "" when unreadable
    metadata: frozenset[MetadataKind] = frozenset()
    stripped: bool = False  # the message carries the rewritten image
    faces: int = 0
    sharp_faces: int = 0
    problem: str = ""  # why it could not be read or rewritten (fails closed outside)

    @property
    def text(self) -> str:
        """One line for reasons, notices and the reviewer: name, fields, faces."""
        parts = [f"photo {self.name}"]
        if self.problem:
            parts.append(self.problem)
        if self.metadata:
            verb = "stripped" if self.stripped else "carries"
            parts.append(f"{verb} {kinds_text(self.metadata)}")
        if self.faces:
            parts.append(f"{self.faces} face(s), {self.sharp_faces} still sharp")
        return ": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:])


def wants_blurred_faces(adjustments: Iterable[str]) -> bool:
    """Whether a *Needs adjustment* list asks for faces to be blurred or obscured."""
    for adjustment in adjustments:
        words = set(re.findall(r"[a-z]+", adjustment.lower()))
        if words & {"face", "faces"} and words & {"blur", "obscure", "pixelate", "hide", "mask"}:
            return True
    return False


def finding_to_dict(finding: PhotoFinding) -> dict[str, object]:
    """A JSON-ready form of one finding, for the held record."""
    return {"name": finding.name, "format": finding.format,
            "metadata": [k.value for k in MetadataKind if k in finding.metadata],
            "stripped": finding.stripped, "faces": finding.faces,
            "sharp_faces": finding.sharp_faces, "problem": finding.problem}


def finding_from_dict(data: Mapping[str, object]) -> PhotoFinding:
    """The finding ``finding_to_dict`` wrote."""
    metadata = data.get("metadata", [])
    faces, sharp = data.get("faces", 0), data.get("sharp_faces", 0)
    return PhotoFinding(
        name=str(data.get("name", "")), format=str(data.get("format", "")),
        metadata=frozenset(MetadataKind(str(k)) for k in metadata)
        if isinstance(metadata, list) else frozenset(),
        stripped=bool(data.get("stripped", False)),
        faces=faces if isinstance(faces, int) else 0,
        sharp_faces=sharp if isinstance(sharp, int) else 0,
        problem=str(data.get("problem", "")))


def stripped_header(findings: Iterable[PhotoFinding]) -> str:
    """The value of ``X-Stampgate-Photos``: which kinds of field were stripped, per image,
    one image per folded line (20 file names would not fit a line of mail)."""
    return ";\r\n\t".join(f"{f.name}: {kinds_text(f.metadata)} stripped" for f in findings
                     if f.stripped)
