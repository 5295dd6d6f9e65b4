"""The deployment files: the compose file validates, and the pieces agree with each other."""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_validates_with_docker_compose_config() -> None:
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("stampgate:", "mailpit:", "stampgate-data:/var/lib/stampgate",
                     "127.0.0.1:2525:2525", "127.0.0.1:8025:8025", "stop_grace_period: 35s",
                     "subnet: 172.30.25.0/24"):
        assert expected in out, expected


def test_container_settings_load_and_fit_the_compose_file() -> None:
    settings = load_settings(ROOT / "deploy" / "stampgate.toml", {})
    assert settings.downstream == "smtp://mailpit:1025"
    assert settings.data == Path("/var/lib/stampgate")
    assert "172.30.25.0/24" in settings.trusted_networks  # the compose network
    assert "0.0.0.0/0" not in settings.trusted_networks
    compose = (ROOT / "docker-compose.yml").read_text()
    grace = int(re.search(r"stop_grace_period: (\d+)s", compose).group(1))  # type: ignore[union-attr]
    assert settings.shutdown_deadline < grace
    assert settings.web_listen.endswith(":8025") and settings.listen.endswith(":2525")


def test_dockerfile_runs_unprivileged_and_checks_health() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml README.md ./" in text  # the package metadata needs both
    assert re.search(r"^USER stampgate$", text, re.MULTILINE)
    assert "STOPSIGNAL SIGTERM" in text
    assert "/healthz" in text
    assert 'VOLUME ["/var/lib/stampgate"]' in text
    assert "PROMETHEUS_MULTIPROC_DIR=/run/stampgate" in text


def test_systemd_unit_stops_gracefully_and_is_hardened() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "stampgate.service")
    service = unit["Service"]
    assert "stampgate serve --config /etc/stampgate/stampgate.toml" in service["ExecStart"]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["KillSignal"] == "SIGTERM"
    assert service["KillMode"] == "mixed"
    stop_seconds = int(service["TimeoutStopSec"].removesuffix("s"))
    assert stop_seconds > load_settings(None, {}).shutdown_deadline
    assert service["User"] == "stampgate"
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                       ("StateDirectory", "stampgate"), ("UMask", "0077")):
        assert service[key] == value, key
    assert unit["Install"]["WantedBy"] == "multi-user.target"
