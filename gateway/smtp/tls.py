"""TLS for the SMTP listeners: one server context from the configured certificate and key."""

from __future__ import annotations

import ssl
from pathlib import Path


class TlsError(OSError):
    """The certificate or key cannot be used; the message names the setting and the file."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.2 or later, no client certificate asked, no compression or renegotiation."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except FileNotFoundError as exc:
        raise TlsError(f"setting tls_cert/tls_key: file not found: {exc.filename}") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"setting tls_cert/tls_key: cannot use {cert} with {key}: "
                       f"{exc.__class__.__name__}: {exc}") from None
    return context
