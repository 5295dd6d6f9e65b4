"""Gateway settings: defaults, an optional TOML file, then command-line flags."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from gateway.adapters.crypto import BodySealer, NullSealer, Sealer, parse_master_key
from gateway.adapters.key_files import KEY_DIR
from gateway.adapters.master_key import master_key_path, read_master_key
from gateway.core.documents import MEGABYTE, DocumentLimits
from gateway.settings.loops import EventLoop
from gateway.settings.sockets import MilterSettings as MilterSettings
from gateway.settings.sockets import networks_of as networks_of
from gateway.settings.sockets import split_host_port as split_host_port
from gateway.settings.sockets import split_milter_socket as split_milter_socket
from gateway.store.db import check_url, store_table_url
from gateway.store.outbox import check_lease

DEFAULT_LISTEN = "127.0.0.1:2525"
DEFAULT_MAX_SIZE = 25 * 1024 * 1024
DEFAULT_MIN_FREE = 4 * DEFAULT_MAX_SIZE
SECRET_SETTINGS = frozenset({"stamp_signing_key", "held_encryption_key",
                             "held_encryption_old_keys", "upstream_verified_value",
                             "store_url"})


class SettingsError(Exception):
    """A setting with a bad value; the message names the setting and the value."""


class Settings(BaseModel):
    """Everything ``stampgate serve`` needs; every field has a working default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    listen: str = DEFAULT_LISTEN
    downstream: str = "maildir:./var/outbox"
    policies: Path = Path("./policies")
    data: Path = Path("./var")
    store_url: str = ""  # [store] url, --store: "" (SQLite in data) or postgresql://...
    hostname: str = "stampgate.localdomain"
    trusted_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    max_message_size: int = Field(default=DEFAULT_MAX_SIZE, gt=0)
    max_recipients: int = Field(default=1000, gt=0)
    downstream_timeout: float = Field(default=60.0, gt=0)
    session_timeout: float = Field(default=300.0, gt=0)
    policy_poll_seconds: float = Field(default=2.0, ge=0)
    shutdown_deadline: float = Field(default=30.0, ge=0)
    # Seconds one message's reading may take before it counts as unreadable (fails closed).
    read_budget: float = Field(default=10.0, gt=0, le=300)
    # Seconds a reader process may sit idle before it ends, giving its memory back (0: never).
    reader_idle_seconds: float = Field(default=300.0, ge=0)
    # Attached documents (docs/attachments.md): megabytes of one file read, PDF pages read.
    attachment_megabytes: float = Field(default=10.0, gt=0, le=100)
    attachment_pages: int = Field(default=5, ge=1, le=200)
    log_level: str = "info"
    # Health, readiness, metrics (and the review UI); "" turns the web port off.
    web_listen: str = "127.0.0.1:8025"
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)
    # The event loop (docs/performance.md): "auto" uvloop if installed, "uvloop", "asyncio".
    event_loop: EventLoop = "auto"
    # Submission security (docs/security.md): TLS, AUTH, limits, secrets.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    listen_tls: Literal["none", "starttls"] = "none"
    listen_auth: Literal["off", "optional", "required"] = "optional"
    submission_listen: str | None = None
    submission_tls: Literal["starttls", "implicit"] = "starttls"
    submission_auth: Literal["optional", "required"] = "required"
    max_connections: int = Field(default=1000, gt=0)
    max_connections_per_ip: int = Field(default=50, gt=0)  # per client network, as below
    # A client network: the /24 (IPv4) or /64 (IPv6) around an address, one site's or host's.
    connection_prefix_v4: int = Field(default=24, ge=8, le=32)
    connection_prefix_v6: int = Field(default=64, ge=16, le=128)
    # Connections of max_connections only trusted_networks may use: a flood cannot take them.
    reserved_connections: int = Field(default=50, ge=0)
    max_header_size: int = Field(default=100 * 1024, ge=1024)  # Postfix's header_size_limit
    # Below this much free space for `data`, /readyz fails and new mail gets 452 4.3.1.
    min_free_bytes: int = Field(default=DEFAULT_MIN_FREE, ge=0)
    max_messages_per_connection: int = Field(default=100, gt=0)
    max_auth_attempts: int = Field(default=3, gt=0)
    auth_failure_limit: int = Field(default=10, gt=0)
    stamp_signing_key: SecretStr | None = None
    # Unset: the key in DATA/master.key, generated on first start; "" turns encryption off.
    held_encryption_key: SecretStr | None = None
    # Earlier master keys: they only open held messages (until `stampgate keys rotate`).
    held_encryption_old_keys: tuple[SecretStr, ...] = ()
    # The review queue (docs/review.md): links, expiry, notifications, the release outbox.
    public_url: str = ""  # default: http://<web_listen>
    hold_expiry_days: float = Field(default=14.0, gt=0)
    # A released message's body is kept this long after the release, then erased.
    released_retention_days: float = Field(default=30.0, ge=0)
    # How long the answer to an accepted message is remembered, so a client's retry gets the
    # same one (docs/operations.md): longer than any client queue keeps retrying (5 days).
    accepted_retention_days: float = Field(default=7.0, gt=0)
    notify_mode: Literal["per-message", "digest", "off"] = "per-message"
    digest_minutes: float = Field(default=60.0, gt=0)
    reviewer_addresses: tuple[str, ...] = ()  # default: the policy's reviewers group
    notify_from: str = ""  # default: stampgate@<the organisation's first domain>
    outbox_retry_seconds: float = Field(default=60.0, gt=0)
    outbox_retry_max_seconds: float = Field(default=3600.0, gt=0)
    outbox_give_up_hours: float = Field(default=120.0, gt=0)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # How long a claim on outbox entries lasts before another gateway takes them over.
    outbox_lease_seconds: float = Field(default=660.0, gt=0)
    housekeeping_seconds: float = Field(default=60.0, gt=0)
    web_session_hours: float = Field(default=8.0, gt=0)  # a login's absolute lifetime
    web_session_idle_minutes: float = Field(default=30.0, gt=0)
    web_secure_cookies: bool = False  # also on when public_url is https
    review_four_eyes: bool = True  # nobody releases a message they sent themselves
    # The review UI's door (docs/review.md): proxies whose forwarding headers are believed,
    # and failed logins per account and per client address in 15 minutes.
    web_trusted_proxies: tuple[str, ...] = ()
    web_login_failures_per_account: int = Field(default=10, gt=0)
    web_login_failures_per_address: int = Field(default=100, gt=0)
    # Who may vouch for an unauthenticated sender on the trusted port (docs/security.md).
    verified_upstreams: tuple[str, ...] = ()
    upstream_verified_header: str = "X-Stampgate-Verified-Sender"
    # When set, the header must carry exactly this value (upstreams with shared addresses).
    upstream_verified_value: SecretStr | None = None
    # Milter mode (docs/deploy.md, "As a Postfix milter"): the [milter] table of the file.
    milter: MilterSettings = Field(default_factory=MilterSettings)

    @field_validator("store_url", "outbox_lease_seconds")
    @classmethod
    def _several_instances(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == "store_url":
            return check_url(value, Path(info.data.get("data", "./var")))
        return check_lease(value, info.data.get("downstream_timeout", 60.0))

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_host_port(value)
        return value

    @field_validator("web_listen")
    @classmethod
    def _web_listen(cls, value: str) -> str:
        if value:
            split_host_port(value)
        return value

    @field_validator("trusted_networks", "web_trusted_proxies", "verified_upstreams")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(
                    f"{net!r} is not a network (write 127.0.0.0/8 or ::1/128)") from None
        return value

    @field_validator("reserved_connections")
    @classmethod
    def _reserve(cls, value: int, info: ValidationInfo) -> int:
        total = info.data.get("max_connections")
        if isinstance(total, int) and value >= total:
            raise ValueError(f"must be less than max_connections ({total}): the rest are "
                             "for clients outside trusted_networks")
        return value

    @field_validator("downstream")
    @classmethod
    def _downstream(cls, value: str) -> str:
        from gateway.adapters.delivery import parse_downstream

        parse_downstream(value)
        return value

    @field_validator("listen_tls", "submission_listen")
    @classmethod
    def _tls_needs_a_certificate(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.field_name == "submission_listen" and value is not None:
            split_host_port(value)
        if value not in (None, "none") and (info.data.get("tls_cert") is None
                                            or info.data.get("tls_key") is None):
            raise ValueError("needs tls_cert and tls_key (the certificate and key files)")
        return value

    @field_validator("listen_auth")
    @classmethod
    def _auth_needs_tls(cls, value: str, info: ValidationInfo) -> str:
        if value == "required" and info.data.get("listen_tls", "none") == "none":
            raise ValueError("'required' needs listen_tls = 'starttls' "
                             "(AUTH is never offered without TLS)")
        return value

    @field_validator("stamp_signing_key")
    @classmethod
    def _signing_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from gateway.adapters.signing import resolve_key

            try:
                resolve_key(value.get_secret_value())
            except OSError as exc:
                raise ValueError(f"cannot read the key file: {exc.strerror}") from None
        return value

    @field_validator("held_encryption_key")
    @classmethod
    def _held_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() != "":
            parse_master_key(value.get_secret_value())
        return value

    @field_validator("held_encryption_old_keys", mode="before")
    @classmethod
    def _old_held_keys_list(cls, value: object) -> object:
        # One string is accepted too: keys separated by commas or whitespace.
        if isinstance(value, str):
            return tuple(value.replace(",", " ").split())
        if isinstance(value, list | tuple):
            for number, entry in enumerate(value, 1):
                if not isinstance(entry, str | SecretStr):
                    raise ValueError(f"entry {number} of {len(value)} must be a string "
                                     "(32 bytes in base64, made by: stampgate keygen)")
        return value

    @field_validator("held_encryption_old_keys")
    @classmethod
    def _old_held_keys(cls, value: tuple[SecretStr, ...],
                       info: ValidationInfo) -> tuple[SecretStr, ...]:
        for number, secret in enumerate(value, 1):
            try:
                parse_master_key(secret.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"entry {number} of {len(value)} {exc}") from None
        current = info.data.get("held_encryption_key", "failed")  # absent: its own error
        off = isinstance(current, SecretStr) and current.get_secret_value() == ""
        if value and (current is None or off):
            raise ValueError("needs held_encryption_key (old keys only open held messages; "
                             "new ones are sealed with the current key)")
        return value

    @field_validator("reviewer_addresses")
    @classmethod
    def _reviewer_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if address.count("@") != 1 or not all(address.split("@")):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (https://review.example.org)")
        return value.rstrip("/")

    @field_validator("upstream_verified_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        name = value.removeprefix(value[:12]) if value[:12].lower() == "x-stampgate-" else ""
        if not name or not all(c.isalnum() or c == "-" for c in name):
            raise ValueError("must be a header name that starts with X-Stampgate- (the gateway "
                             "removes those from what it relays), e.g. X-Stampgate-Verified-Sender")
        return value

    @property
    def listen_address(self) -> tuple[str, int]:
        return split_host_port(self.listen)

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return networks_of(self.trusted_networks)


def load_settings(config: Path | None, overrides: dict[str, Any]) -> Settings:
    """Defaults, then the TOML file (its ``[stampgate]`` table or top level), then flags."""
    values: dict[str, Any] = {}
    if config is not None:
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"{config}: configuration file not found") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{config}: cannot read configuration: {exc}") from None
        values.update(data.get("stampgate", data))
        if "stampgate" in data and "milter" in data:  # [milter] beside [stampgate]
            values["milter"] = data["milter"]
        if (store := values.pop("store", None) or data.get("store")) is not None:
            values["store_url"] = store_table_url(store, f"{config}: ", SettingsError)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"])
            secret = bool(error["loc"]) and str(error["loc"][0]) in SECRET_SETTINGS
            hidden = error["type"] == "missing" or secret
            shown = "" if hidden else f" (value: {error.get('input')!r})"
            lines.append(f"setting {key}: {error['msg'].removeprefix('Value error, ')}{shown}")
        source = f"{config}: " if config else ""
        raise SettingsError(source + "; ".join(lines)) from None


def encryption_off(settings: Settings) -> bool:
    """``held_encryption_key = ""``: held bodies are stored as they are, on purpose."""
    secret = settings.held_encryption_key
    return secret is not None and secret.get_secret_value() == ""


def master_sealer(settings: Settings) -> Sealer | None:
    """The sealer the master key settings describe, if any.

    ``held_encryption_key`` when set; unset, the generated key in ``DATA/master.key`` (none
    before the first start); ``""``, none. Raises ``MasterKeyError`` for a damaged key file.
    """
    secret = settings.held_encryption_key
    old = tuple(parse_master_key(s.get_secret_value()) for s in settings.held_encryption_old_keys)
    if secret is None or encryption_off(settings):
        if old:
            raise ValueError("held_encryption_old_keys needs held_encryption_key")
        if secret is not None:
            return None
        generated = read_master_key(master_key_path(Path(settings.data)))
        if generated is None:
            return None
        return Sealer(generated, Path(settings.data) / KEY_DIR)
    return Sealer(parse_master_key(secret.get_secret_value()), Path(settings.data) / KEY_DIR, old)


def held_sealer(settings: Settings) -> BodySealer:
    """What seals, opens and destroys held bodies in this process (built once, passed down)."""
    sealer = master_sealer(settings)
    return sealer if sealer is not None else NullSealer(Path(settings.data) / KEY_DIR)


def document_limits(settings: Settings) -> DocumentLimits:
    """The bounds on reading attached documents, from ``attachment_*`` settings."""
    return DocumentLimits(max_bytes=int(settings.attachment_megabytes * MEGABYTE),
                          max_pages=settings.attachment_pages)
