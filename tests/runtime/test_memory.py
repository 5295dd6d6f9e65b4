"""A gateway process loads OpenCV and numpy (about 45 MB together) only once a photo's
faces are looked for or an image needs them, not to relay plain mail or serve the review
UI: two idle processes fit the memory budget."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("cv2", "numpy")


def test_the_running_gateway_does_not_load_opencv_or_numpy_until_a_photo_needs_them() -> None:
    code = ("import sys, gateway.runtime.app, gateway.runtime.workers, gateway.cli.serve, "
            "gateway.web.app, gateway.web.server, gateway.service.housekeeping; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
    code = ("import sys; from gateway.adapters.images.faces import find_faces; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == str(sorted(HEAVY))
