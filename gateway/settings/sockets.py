"""Where the gateway listens and whom it trusts: socket addresses and networks as settings."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator


def split_host_port(value: str, default_port: int | None = None) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` into its parts."""
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not port_text:
        if default_port is None:
            raise ValueError(f"{value!r} has no port (write HOST:PORT)")
        return host, default_port
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{value!r}: the port must be a number from 0 to 65535")
    return host or "127.0.0.1", int(port_text)


def split_milter_socket(value: str) -> tuple[str, str, int]:
    """``inet:HOST:PORT`` or ``unix:PATH`` (Postfix's spelling) into (family, host or path,
    port)."""
    family, _, rest = value.strip().partition(":")
    if family == "unix" and rest:
        return "unix", rest, 0
    if family == "inet" and rest:
        host, port = split_host_port(rest)
        return "inet", host, port
    raise ValueError(f"{value!r}: write inet:HOST:PORT (inet:127.0.0.1:8891) or unix:PATH")


class MilterSettings(BaseModel):
    """``stampgate milter``: where Postfix (or Sendmail) reaches the milter, and what it does
    with the MTA's copy of a message held for every recipient."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    listen: str = "inet:127.0.0.1:8891"
    # "discard": the MTA drops its copy, the message is only in the sealed held store;
    # "postfix-hold": the MTA keeps its copy in its hold queue as well (SMFIR_QUARANTINE).
    # Either way the review and the release are stampgate's (docs/deploy.md).
    held: Literal["discard", "postfix-hold"] = "discard"

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_milter_socket(value)
        return value


def networks_of(values: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network,
                                                  ...]:
    """Validated network strings (a settings field) as networks."""
    return tuple(ipaddress.ip_network(n, strict=False) for n in values)
