"""Photo metadata facts and the photo policy: which fields identify, what each audience gets."""

from __future__ import annotations

import pytest

from gateway.core.photos import (
    MetadataKind,
    PhotoAction,
    PhotoFinding,
    PhotoPolicy,
    exif_kinds,
    finding_from_dict,
    finding_to_dict,
    iptc_kinds,
    kinds_text,
    stripped_header,
    wants_blurred_faces,
    xmp_kinds,
)

LOC, SERIAL, OWNER = MetadataKind.LOCATION, MetadataKind.DEVICE_SERIAL, MetadataKind.OWNER


@pytest.mark.parametrize(("tags", "kinds"), [
    ((0x8825,), {LOC}),
    ((0xA431, 0xA435), {SERIAL}),
    ((0x013B, 0xA430), {OWNER}),
    ((0x010F, 0x0110, 0x0132), set()),  # make, model, date: not identifying
    ((0x8825, 0xA431, 0x013B), {LOC, SERIAL, OWNER}),
])
def test_exif_tags(tags: tuple[int, ...], kinds: set[MetadataKind]) -> None:
    assert exif_kinds(tags) == kinds


def test_iptc_datasets() -> None:
    assert iptc_kinds([(2, 90), (2, 80), (2, 5)]) == {LOC, OWNER}
    assert iptc_kinds([(2, 5), (2, 120)]) == set()


@pytest.mark.parametrize(("packet", "kinds"), [
    (b'<rdf:Description exif:GPSLatitude="52,31N"/>', {LOC}),
    (b"<exif:GPSLongitude>13,24E</exif:GPSLongitude>", {LOC}),
    (b'<rdf:Description aux:SerialNumber="123"/>', {SERIAL}),
    (b"<dc:creator><rdf:Seq><rdf:li>Jane</rdf:li></rdf:Seq></dc:creator>", {OWNER}),
    (b'<rdf:Description photoshop:City="Aleppo" exif:GPSLatitude=""/>', {LOC}),
    (b'<rdf:Description exif:GPSLatitude="  "/>', set()),  # empty: gives nothing away
    (b'<rdf:Description tiff:Make="Canon" xmp:CreateDate="2024"/>', set()),
    (b"", set()),
])
def test_xmp_properties(packet: bytes, kinds: set[MetadataKind]) -> None:
    assert xmp_kinds(packet) == kinds


def test_kinds_are_written_in_a_fixed_order() -> None:
    assert kinds_text({OWNER, LOC}) == "location, owner name"


@pytest.mark.parametrize(("adjustments", "wanted"), [
    (("blur face", "change name"), True),
    (("Obscure faces",), True),
    (("pixelate the face",), True),
    (("change name",), False),
    (("blur the background",), False),
    ((), False),
])
def test_which_adjustments_ask_for_faces_to_be_blurred(adjustments: tuple[str, ...],
                                                       wanted: bool) -> None:
    assert wants_blurred_faces(adjustments) is wanted


def test_policy_defaults_strip_for_communications_and_outside() -> None:
    policy = PhotoPolicy()
    assert policy.metadata_action((), outside=True) is PhotoAction.STRIP
    assert policy.metadata_action(("communications",), outside=False) is PhotoAction.STRIP
    assert policy.metadata_action(("management",), outside=False) is None
    assert not policy.holds_faces((), outside=True)


def test_policy_strictest_action_wins() -> None:
    policy = PhotoPolicy.model_validate({
        "metadata": {"external": "strip", "groups": {"communications": "hold"}},
        "faces": {"external": "allow", "groups": {"communications": "hold"}}})
    assert policy.metadata_action(("communications",), outside=True) is PhotoAction.HOLD
    assert policy.metadata_action((), outside=True) is PhotoAction.STRIP
    assert policy.holds_faces(("communications", "management"), outside=False)
    assert not policy.holds_faces((), outside=True)
    assert policy.guarded_groups() == {"communications"}


@pytest.mark.parametrize("bad", [
    {"metadata": {"external": "delete"}},
    {"faces": {"external": "strip"}},
    {"limits": {"images": 0}},
    {"limits": {"megapixels": -1}},
    {"metadata": {"groups": {"Not A Group": "hold"}}},
    {"unknown": 1},
])
def test_policy_refuses_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PhotoPolicy.model_validate(bad)


def test_the_header_has_one_stripped_image_per_line() -> None:
    stripped = PhotoFinding("a.jpg", "JPEG", frozenset({LOC}), stripped=True)
    kept = PhotoFinding("b.jpg", "JPEG")
    other = PhotoFinding("c.png", "PNG", frozenset({OWNER, SERIAL}), stripped=True)
    assert stripped_header([stripped, kept, other]) == (
        "a.jpg: location stripped;\r\n\tc.png: device serial, owner name stripped")
    assert stripped_header([kept]) == ""


def test_finding_words_and_round_trip() -> None:
    finding = PhotoFinding("beach.jpg", "JPEG", frozenset({LOC, SERIAL}), stripped=True,
                           faces=2, sharp_faces=1)
    assert finding.text == ("photo beach.jpg: stripped location, device serial; "
                            "2 face(s), 1 still sharp")
    assert finding_from_dict(finding_to_dict(finding)) == finding
    broken = PhotoFinding("x.png", "", problem="cannot be read (OSError)")
    assert broken.text == "photo x.png: cannot be read (OSError)"
    assert finding_from_dict(finding_to_dict(broken)) == broken
