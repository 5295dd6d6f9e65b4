"""The gateway's own processes (the workers, the re-executed supervisor, the readers) run
the package the gateway was started with, never a ``gateway`` directory that happens to be
in the working directory."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess, message

PLANTED = "import pathlib; pathlib.Path('planted-ran').touch(); raise SystemExit(3)\n"


class StartedByItsCommand(GatewayProcess):
    """Started as an admin starts it: the ``stampgate`` command, in the working directory."""

    def command(self) -> list[str]:
        args = super().command()
        assert args[1:3] == ["-m", "gateway"]
        return [str(Path(sys.executable).with_name("stampgate")), *args[3:]]


def test_a_gateway_package_in_the_working_directory_is_never_run(
        tmp_path: Path, downstream: Downstream) -> None:
    planted = tmp_path / "gateway"
    (planted / "service").mkdir(parents=True)
    (planted / "__init__.py").write_text(PLANTED)
    (planted / "__main__.py").write_text(PLANTED)
    (planted / "service" / "__init__.py").write_text("")
    gateway = StartedByItsCommand(tmp_path, downstream.url, config={"workers": 2}).start()
    try:
        # Over the inline limit (128 KB): read in a reader process.
        body = "Internal\n" + "An ordinary line of the case file, nothing more.\n" * 4000
        code, reply = gateway.send("alice@example.org", ["bob@example.org"], message(body))
        assert code == 250, reply
        assert len(gateway.log_events("listening")) == 2
    finally:
        gateway.stop()
    assert not (tmp_path / "planted-ran").exists()
    assert [m.recipients for m in downstream.messages][-1:] == [["bob@example.org"]]
