"""Photos over real SMTP: metadata stripped on the way out, faces held and released only with
an override, broken photos held, colleagues get the original, and no value in the logs."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default

import exifread
import pytest

from gateway.adapters.crypto import new_master_key
from tests.support import photos as p
from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess
from tests.support.review_gateway import FAST, HOLD_ID, add_reviewer, cli, wait_for

SENDER = "alice@example.org"
COLLEAGUE = "bob@example.org"
COMMS = "press@example.org"
OUTSIDE = "journalist@news.test"
REVIEWER = "director@example.org"
BLUR = "Needs adjustment: blur face"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("photos")
    config = {**FAST, "notify_mode": "off", "held_encryption_key": new_master_key()}
    process = GatewayProcess(workdir, downstream.url, config=config)
    add_reviewer(process)
    process.start()
    yield process
    process.stop()


def send(gateway: GatewayProcess, recipient: str, first_line: str,
         images: list[tuple[str, bytes]], subject: str) -> tuple[int, str]:
    data = p.mail_with(images, text=f"{first_line}\n\nPhotos from the visit.",
                       subject=subject, to=recipient)
    return gateway.send(SENDER, [recipient], data)


def images_of(raw: bytes) -> list[bytes]:
    message = message_from_bytes(raw, policy=default)
    out: list[bytes] = []
    for part in message.walk():
        if part.get_content_maintype() == "image":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out.append(payload)
    return out


def gps_tags(jpeg: bytes) -> list[str]:
    tags = exifread.process_file(io.BytesIO(jpeg), details=False)
    return [k for k in tags if "GPS" in k or "Serial" in k or "Owner" in k or "Artist" in k]


def show(gateway: GatewayProcess, hold_id: str) -> dict[str, object]:
    done = cli(gateway, "held", "show", hold_id, "--json", "--data", str(gateway.data))
    assert done.returncode == 0, done.stderr
    shown: dict[str, object] = json.loads(done.stdout)
    return shown


def test_stripped_for_outside_original_for_colleagues(gateway: GatewayProcess,
                                                      downstream: Downstream) -> None:
    original = p.photo("JPEG", p.blurred(p.astronaut()), p.exif())
    assert gps_tags(original)
    code, reply = send(gateway, OUTSIDE, "Cleared for publication", [("visit.jpg", original)],
                       "Visit one")
    assert code == 250 and not HOLD_ID.search(reply), reply
    (out,) = wait_for(downstream, OUTSIDE)
    (image,) = images_of(out.data)
    assert gps_tags(image) == [] and b"SN-0042" not in image and b"Jane" not in out.data
    assert "X-Stampgate-Photos: visit.jpg: location, device serial, owner name stripped" \
        in out.header_text
    code, reply = send(gateway, COLLEAGUE, "Cleared for publication", [("visit.jpg", original)],
                       "Visit two")
    assert code == 250, reply
    (inside,) = wait_for(downstream, COLLEAGUE)
    assert images_of(inside.data) == [original]
    assert "X-Stampgate-Photos" not in inside.header_text
    events = [e for e in gateway.log_events("message") if e.get("photos")]
    assert any(e["photos_stripped"] == 1 for e in events)
    log = gateway.log()
    assert "Visit one" not in log and "Jane" not in log and "SN-0042" not in log


def test_sharp_face_under_blur_face_needs_an_override(gateway: GatewayProcess,
                                                      downstream: Downstream) -> None:
    family = p.photo("PNG", exif_block=p.exif())
    code, reply = send(gateway, COMMS, BLUR, [("family.png", family)], "Faces one")
    assert code == 250, reply
    found = HOLD_ID.search(reply)
    assert found, reply
    hold_id = found.group(1)
    shown = show(gateway, hold_id)
    decision = shown["decision"]
    assert isinstance(decision, dict)
    assert "photo-faces" in decision["rules"]
    assert decision["photos"][0]["sharp_faces"] == 1
    text = cli(gateway, "held", "show", hold_id, "--data", str(gateway.data)).stdout
    assert ("photo family.png: stripped location, device serial, owner name; 1 face(s), 1 still "
            "sharp") in text
    base = ("held", "release", hold_id, "--by", REVIEWER, "--adjustments-done",
            "--data", str(gateway.data))
    refused = cli(gateway, *base)
    assert refused.returncode != 0
    assert "faces still look sharp (family.png: 1 of 1)" in refused.stderr + refused.stdout
    released = cli(gateway, *base, "--override", "the client asked to be shown")
    assert released.returncode == 0, released.stderr
    (out,) = wait_for(downstream, COMMS)
    # The held copy is the stripped one, and the release says so.
    assert "X-Stampgate-Photos: family.png: location, device serial, owner name stripped" \
        in out.header_text
    (image,) = images_of(out.data)
    assert b"SN-0042" not in image and b"Jane" not in image
    history = show(gateway, hold_id)["history"]
    assert isinstance(history, list)
    detail = next(h for h in history if h["action"] == "released")["detail"]
    assert detail["override"] == "the client asked to be shown"
    assert detail["sharp_faces"] == [{"photo": "family.png", "faces": 1, "sharp": 1}]


def test_blurred_face_under_blur_face_is_released_as_usual(gateway: GatewayProcess,
                                                           downstream: Downstream) -> None:
    blurred = p.photo("JPEG", p.blurred(p.astronaut()))
    code, reply = send(gateway, COMMS, BLUR, [("family.jpg", blurred)], "Faces two")
    found = HOLD_ID.search(reply)
    assert code == 250 and found, reply
    decision = show(gateway, found.group(1))["decision"]
    assert isinstance(decision, dict)
    assert "photo-faces" not in decision["rules"]
    assert decision["photos"][0]["faces"] == 1 and decision["photos"][0]["sharp_faces"] == 0
    released = cli(gateway, "held", "release", found.group(1), "--by", REVIEWER,
                   "--adjustments-done", "--data", str(gateway.data))
    assert released.returncode == 0, released.stderr
    wait_for(downstream, COMMS)


def test_cleared_sharp_face_held_for_outside_not_for_communications(
        gateway: GatewayProcess, downstream: Downstream) -> None:
    sharp = [("portrait.webp", p.photo("WEBP"))]
    code, reply = send(gateway, OUTSIDE, "Cleared for publication", sharp, "Faces three")
    found = HOLD_ID.search(reply)
    assert code == 250 and found, reply
    decision = show(gateway, found.group(1))["decision"]
    assert isinstance(decision, dict)
    (recipient,) = decision["recipients"]
    assert recipient["rule"] == "photo-faces"
    assert "photo portrait.webp: 1 of 1 face(s) still sharp" in recipient["reason"]
    code, reply = send(gateway, COMMS, "Cleared for publication", sharp, "Faces four")
    assert code == 250 and not HOLD_ID.search(reply), reply
    wait_for(downstream, COMMS)


def test_a_broken_photo_is_held_for_outside(gateway: GatewayProcess) -> None:
    broken = b"\xff\xd8\xff\xe0" + b"\0" * 300
    code, reply = send(gateway, OUTSIDE, "Cleared for publication", [("x.jpg", broken)],
                       "Broken")
    found = HOLD_ID.search(reply)
    assert code == 250 and found, reply
    decision = show(gateway, found.group(1))["decision"]
    assert isinstance(decision, dict)
    assert "photo x.jpg: cannot be read" in decision["recipients"][0]["reason"]
