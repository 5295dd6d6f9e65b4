"""`stampgate milter` settings: the [milter] table, --listen, and bad values named clearly;
the milter socket as a Unix socket."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings, split_milter_socket
from tests.support.gateway import EXAMPLE_POLICIES


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stampgate.toml"
    path.write_text(text)
    return path


def test_milter_table_beside_the_stampgate_table(tmp_path: Path) -> None:
    config = write(tmp_path, '[stampgate]\nhostname = "gw.example.org"\n\n'
                             '[milter]\nlisten = "unix:/run/stampgate/milter.sock"\n')
    settings = load_settings(config, {})
    assert settings.hostname == "gw.example.org"
    assert settings.milter.listen == "unix:/run/stampgate/milter.sock"


def test_milter_table_in_a_file_without_a_stampgate_table(tmp_path: Path) -> None:
    config = write(tmp_path, 'hostname = "gw.example.org"\n[milter]\nlisten = "inet:[::1]:8891"\n')
    assert split_milter_socket(load_settings(config, {}).milter.listen) == ("inet", "::1", 8891)


@pytest.mark.parametrize("value", ["127.0.0.1:8891", "inet:127.0.0.1", "unix:", "local:/x",
                                   "inet:127.0.0.1:99999"])
def test_bad_listen_is_named_with_its_value(tmp_path: Path, value: str) -> None:
    config = write(tmp_path, f'[milter]\nlisten = "{value}"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config, {})
    assert "setting milter.listen" in str(caught.value)
    assert repr(value) in str(caught.value)


def test_unknown_milter_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"milter\.listn"):
        load_settings(write(tmp_path, '[milter]\nlistn = "inet:127.0.0.1:8891"\n'), {})


def test_bad_listen_flag_exits_2_with_the_reason(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "milter", "--listen", "8891", "--policies",
         str(EXAMPLE_POLICIES), "--data", str(tmp_path / "var")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert "--listen" in done.stderr and "inet:HOST:PORT" in done.stderr
    assert not (tmp_path / "var").exists()  # nothing created for a command that cannot run


async def test_unix_socket_replaces_a_stale_socket_and_is_group_writable(
        tmp_path: Path) -> None:
    from kilter.protocol.messages import Negotiate

    from gateway.adapters.crypto import NullSealer
    from gateway.milter.listener import MilterEdge
    from gateway.policyfiles.load import load_policy
    from gateway.service.submit import Submitter
    from gateway.settings import Settings
    from gateway.store.store import Store
    from gateway.store.threads import ThreadMemory
    from tests.milter.test_protocol import OFFERED, Mta

    path = tmp_path / "milter.sock"
    stale = await asyncio.start_unix_server(lambda r, w: None, path=str(path))
    stale.close()  # the file stays, as after a process that died
    assert stat.S_ISSOCK(path.lstat().st_mode)
    settings = Settings(data=tmp_path, policies=EXAMPLE_POLICIES, workers=1,
                        milter={"listen": f"unix:{path}"})
    store = await Store.open(tmp_path)
    threads = ThreadMemory(store.path, store.write)
    await threads.open()
    policy = load_policy(EXAMPLE_POLICIES)
    edge = MilterEdge(Submitter(settings, lambda: policy, store, threads, None,  # type: ignore[arg-type]
                                NullSealer()))
    server = await edge.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        mta = Mta(*await asyncio.open_unix_connection(str(path)))
        assert isinstance(await mta.ask(OFFERED), Negotiate)
        mta.writer.close()
    finally:
        server.close()
        await threads.close()
        await store.close()


async def test_a_regular_file_at_the_socket_path_is_not_replaced(tmp_path: Path) -> None:
    from gateway.milter.listener import MilterEdge

    path = tmp_path / "milter.sock"
    path.write_text("not a socket")

    class Parts:  # what MilterEdge.start reads of its submitter
        settings = type("S", (), {"milter": type("M", (), {"listen": f"unix:{path}"})()})()

    with pytest.raises(OSError):
        await MilterEdge(Parts()).start()  # type: ignore[arg-type]
    assert path.read_text() == "not a socket"


def test_milter_unit_runs_the_milter_stops_gracefully_and_is_hardened() -> None:
    import configparser

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(Path(__file__).resolve().parents[2] / "deploy" / "stampgate-milter.service")
    service = unit["Service"]
    assert "stampgate milter --config /etc/stampgate/stampgate.toml" in service["ExecStart"]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert (service["KillSignal"], service["KillMode"]) == ("SIGTERM", "mixed")
    stop_seconds = int(service["TimeoutStopSec"].removesuffix("s"))
    assert stop_seconds > load_settings(None, {}).shutdown_deadline
    assert service["CapabilityBoundingSet"] == ""  # the milter port needs no capability
    for key, value in (("User", "stampgate"), ("NoNewPrivileges", "yes"),
                       ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                       ("StateDirectory", "stampgate"), ("UMask", "0077")):
        assert service[key] == value, key
