"""``policies/photos.toml``: optional, validated by ``policy check`` with file, line and hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.photos import FaceAction, PhotoAction
from gateway.policyfiles.load import PolicyError, load_policy
from tests.policyfiles.conftest import Run


def test_the_example_policy_reviews_faces_outside(policies: Path) -> None:
    photos = load_policy(policies).photos
    assert photos.metadata.external is PhotoAction.STRIP
    assert photos.faces.external is FaceAction.HOLD
    assert photos.faces.groups == {"communications": FaceAction.ALLOW}


def test_without_the_file_metadata_is_stripped_for_communications_and_outside(
        policies: Path) -> None:
    (policies / "photos.toml").unlink()
    photos = load_policy(policies).photos
    assert photos.metadata_action((), outside=True) is PhotoAction.STRIP
    assert photos.metadata_action(("communications",), outside=False) is PhotoAction.STRIP
    assert not photos.holds_faces((), outside=True)


def test_policy_check_shows_the_photo_policy(policies: Path, run: Run) -> None:
    status, out, _ = run("policy", "check", str(policies))
    assert status == 0
    assert ("  photos: metadata external strip, communications strip; sharp faces external "
            "hold, communications allow; limits 20 images, 40 MP, 10 s") in out


@pytest.mark.parametrize(("text", "expected"), [
    ('[metadata]\nexternal = "delete"\n',
     "photos.toml:2: metadata.external: is not one of the choices (value: 'delete'); "
     "hint: write 'strip' or 'hold'"),
    ('[faces]\nexternl = "hold"\n',
     "photos.toml:2: faces.externl: is not a known key (value: 'hold'); "
     "hint: did you mean 'external'?"),
    ('[metadata]\ngroups = { press = "hold" }\n',
     "photos.toml:2: metadata.groups.press: names no known group (value: 'press'); "
     "hint: known groups: communications, management"),
    ("[limits]\nimages = 0\n", "photos.toml:2: limits.images:"),
    ("[metadata\n", "photos.toml:1: (syntax): not valid TOML"),
])
def test_policy_check_names_the_problem(policies: Path, run: Run, text: str,
                                        expected: str) -> None:
    (policies / "photos.toml").write_text(text)
    with pytest.raises(PolicyError):
        load_policy(policies)
    status, out, _ = run("policy", "check", str(policies))
    assert status == 1
    assert expected in out
