"""A gateway process loads OpenCV and numpy (about 45 MB together) only once a photo's
faces are looked for or an image needs them, Pillow only once it opens an image, and
cryptography (about 8 MB) only once it seals or opens a held body: not to relay plain mail
or serve the review UI. Two idle processes fit the memory budget."""

from __future__ import annotations

import ast
import struct
import subprocess
import sys
import zlib

HEAVY = ("PIL", "argon2", "cryptography", "cv2", "numpy")
# What a worker and the primary import to serve (the CLI's entry point included).
SERVING = ("gateway.cli.main, gateway.cli.serve, gateway.runtime.app, gateway.runtime.workers, "
           "gateway.service.submit, gateway.service.photos, gateway.web.app, "
           "gateway.web.server, gateway.service.housekeeping, gateway.service.preview")


def loaded_after(code: str) -> list[str]:
    """The heavy packages in ``sys.modules`` after ``code`` ran in a fresh interpreter."""
    script = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    names: list[str] = ast.literal_eval(out)
    return names


def png(side: int = 8) -> bytes:
    """A grey PNG of ``side`` x ``side`` pixels, made without Pillow."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    rows = b"".join(b"\x00" + bytes(range(side)) for _ in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grey
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_the_running_gateway_loads_no_heavy_package_until_a_message_needs_it() -> None:
    assert loaded_after(f"import {SERVING}") == []


def test_the_first_photo_loads_pillow_and_faces_load_opencv() -> None:
    assert loaded_after(
        "from gateway.adapters.images.metadata import open_photo\n"
        "assert 'PIL' not in sys.modules\n"
        f"assert open_photo({png()!r}, 10**6).format == 'PNG'") == ["PIL"]
    assert loaded_after("from gateway.adapters.images.faces import find_faces") == [
        "cv2", "numpy"]


def test_the_first_held_body_loads_cryptography_and_opens_again() -> None:
    assert loaded_after(
        "from pathlib import Path\n"
        "from gateway.adapters.crypto import Sealer\n"
        "sealer = Sealer(bytes(32), Path('unused'))\n"
        "assert 'cryptography' not in sys.modules\n"
        "sealed = sealer.seal(b'Subject: x\\r\\n\\r\\nA story.\\r\\n', b'x')\n"
        "assert sealer.open(sealed.body, sealed.key.wrapped).endswith(b'A story.\\r\\n')"
    ) == ["cryptography"]


def test_the_first_login_loads_argon2() -> None:
    assert loaded_after(
        "import pathlib, tempfile\n"
        "from gateway.adapters.accounts import Accounts\n"
        "assert 'argon2' not in sys.modules\n"
        "users = Accounts(pathlib.Path(tempfile.mkdtemp()) / 'users.json')\n"
        "assert users.verify('nobody@example.org', 'a password') is None") == ["argon2"]
