"""The deployment files: the compose file validates, and the pieces agree with each other."""

from __future__ import annotations

import configparser
import ipaddress
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_validates_with_docker_compose_config() -> None:
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("stampgate:", "mailpit:", "stampgate-data:/var/lib/stampgate",
                     "127.0.0.1:2525:2525", "127.0.0.1:8025:8025", "stop_grace_period: 35s",
                     "subnet: 172.30.25.0/24", "gateway: 172.30.25.1", "/readyz"):
        assert expected in out, expected


def test_container_settings_load_and_fit_the_compose_file() -> None:
    settings = load_settings(ROOT / "deploy" / "stampgate.toml", {})
    assert settings.downstream == "smtp://mailpit:1025"
    assert settings.data == Path("/var/lib/stampgate")
    assert "172.30.25.1/32" in settings.trusted_networks  # the host, through Docker
    assert "172.30.25.0/24" not in settings.trusted_networks  # not every container
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
    assert "/readyz" in text and "/healthz" not in text  # healthy means ready
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


def compose() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return parsed


def test_compose_trusts_only_the_host_for_relaying() -> None:
    """Without AUTH only the compose network's gateway (the host, through the ports published
    on loopback) may relay; no other address of the network, such as Mailpit's."""
    spec = compose()
    (pool,) = spec["networks"]["mail"]["ipam"]["config"]
    subnet = ipaddress.ip_network(pool["subnet"])
    gateway = ipaddress.ip_address(pool["gateway"])
    assert gateway in subnet
    # Published on the host's loopback only: Docker's proxy makes every client the gateway.
    for name, service in gateways(spec).items():
        assert service["ports"], name
        assert all(p.startswith("127.0.0.1:") for p in service["ports"]), name
    settings = load_settings(ROOT / "deploy" / "stampgate.toml", {})
    for net in settings.networks:
        if net.is_loopback:
            continue
        assert net.num_addresses == 1, f"{net} trusts more than one address"
        assert net.overlaps(subnet) and gateway in net, f"{net} is not the compose gateway"
    others = [address for address in subnet.hosts() if address != gateway]
    assert not any(address in net for net in settings.networks for address in others)


def test_compose_and_image_health_checks_ask_for_readiness() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    (image_check,) = re.findall(r"^HEALTHCHECK .*\n\s+CMD (.*)$", dockerfile, re.MULTILINE)
    # /readyz probes the store (1 s) and the downstream (3 s) one after the other.
    assert "--timeout=10s" in dockerfile
    services = gateways(compose())
    assert "stampgate" in services
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no health check"
        command = " ".join(check["test"])
        assert "http://127.0.0.1:8025/readyz" in command and "/healthz" not in command, name
        assert check["test"][1:] == json.loads(image_check), name  # the image's command
        assert check["timeout"] == "10s", name


def gateways(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services that run ``stampgate serve``."""
    return {name: service for name, service in spec["services"].items()
            if service.get("command", [""])[0] == "serve"}


def test_dockerfile_installs_only_hashed_locked_dependencies() -> None:
    text = (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"pip install [^\n&]*", text)
    assert "pip install --no-compile --require-hashes -r requirements/run.txt" in installs
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs), installs
    assert "COPY requirements/run.txt ./requirements/run.txt" in text
    locked = (ROOT / "requirements" / "run.txt").read_text()
    assert "--hash=sha256:" in locked and "pyyaml" not in locked.lower()  # tests only
