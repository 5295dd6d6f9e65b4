"""The SMTP listeners' protocol: TLS, AUTH against the users file, and connection limits."""

from __future__ import annotations

import asyncio
import binascii
import ssl
from base64 import b64decode
from typing import Any, cast

from aiosmtpd.smtp import SMTP, AuthResult

from gateway.adapters.accounts import Accounts, AccountsError, FailedLogins
from gateway.logs import get_logger
from gateway.settings import Settings, split_host_port
from gateway.smtp.access import (
    SERVER_BUSY,
    TIMEOUT,
    TOO_MANY_CONNECTIONS,
    TOO_MANY_FAILURES,
    AuthMode,
    Listener,
    TlsMode,
)
from gateway.smtp.connections import PER_NETWORK, ConnectionGuard
from gateway.smtp.sessions import DrainingSMTP, Sessions
from gateway.smtp.tls import server_context

log = get_logger()
_AUTH_TEMPORARY = "454 4.7.0 Temporary authentication failure; try again later"


def peer_host(peer: Any) -> str:
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


def listeners_from(settings: Settings) -> tuple[Listener, ...]:
    """The main listener and, if configured, the submission listener."""
    host, port = split_host_port(settings.listen)
    main_auth = AuthMode(settings.listen_auth)
    out = [Listener("main", host, port, TlsMode(settings.listen_tls), main_auth,
                    require_tls=main_auth is AuthMode.REQUIRED)]
    if settings.submission_listen:
        s_host, s_port = split_host_port(settings.submission_listen)
        out.append(Listener("submission", s_host, s_port, TlsMode(settings.submission_tls),
                            AuthMode(settings.submission_auth), require_tls=True))
    return tuple(out)


def command_limits(settings: Settings) -> dict[str, int]:
    """aiosmtpd's per-connection command budget; over it the client gets 421 and is closed."""
    per_message = settings.max_messages_per_connection
    return {
        "*": 20,
        "EHLO": 10, "HELO": 10, "STARTTLS": 2,
        "AUTH": settings.max_auth_attempts,
        "MAIL": per_message, "DATA": per_message, "RSET": 2 * per_message,
        "RCPT": per_message * settings.max_recipients,
    }


class Submission:
    """What every connection of one gateway shares: accounts, limits, the TLS context."""

    def __init__(self, settings: Settings, accounts: Accounts, sessions: Sessions,
                 guard: ConnectionGuard) -> None:
        self.settings = settings
        self.accounts = accounts
        self.sessions = sessions
        self.listeners = listeners_from(settings)
        self.guard = guard
        self.failures = FailedLogins(settings.auth_failure_limit)
        self.limits = command_limits(settings)
        self.tls: ssl.SSLContext | None = None
        if any(item.tls is not TlsMode.NONE for item in self.listeners):
            assert settings.tls_cert is not None and settings.tls_key is not None
            self.tls = server_context(settings.tls_cert, settings.tls_key)
        # argon2 costs 64 MiB and ~0.1 s per check: at most two at a time, off the event loop.
        self.verify_slots = asyncio.Semaphore(2)

    @property
    def main(self) -> Listener:
        return self.listeners[0]

    def protocol(self, handler: Any, listener: Listener,
                 loop: asyncio.AbstractEventLoop) -> SecureSMTP:
        settings = self.settings
        starttls = listener.tls is TlsMode.STARTTLS
        return SecureSMTP(
            self.sessions, handler, submission=self, listener=listener,
            hostname=settings.hostname, data_size_limit=settings.max_message_size,
            timeout=settings.session_timeout, ident="stampgate", loop=loop,
            tls_context=self.tls if starttls else None,
            require_starttls=starttls and listener.require_tls,
            # Implicit TLS: the whole connection is encrypted, so AUTH may be offered at once.
            auth_require_tls=listener.tls is not TlsMode.IMPLICIT,
            auth_exclude_mechanism=() if listener.offers_auth else ("PLAIN", "LOGIN"),
            command_call_limit=self.limits,
        )

    async def serve_extra(self, handler: Any,
                          loop: asyncio.AbstractEventLoop) -> list[asyncio.Server]:
        """Start every listener but the main one (the caller owns the main socket)."""
        servers: list[asyncio.Server] = []
        for listener in self.listeners[1:]:
            implicit = listener.tls is TlsMode.IMPLICIT

            def factory(listener: Listener = listener) -> SecureSMTP:
                return self.protocol(handler, listener, loop)

            server = await loop.create_server(
                factory, host=listener.host, port=listener.port, reuse_address=True,
                ssl=self.tls if implicit else None,
                ssl_handshake_timeout=min(self.settings.session_timeout, 60.0) if implicit
                else None)
            bound = server.sockets[0].getsockname()
            log.info("submission-listening", listener=listener.name,
                     address=f"{bound[0]}:{bound[1]}", tls=listener.tls.value,
                     auth=listener.auth.value)
            servers.append(server)
        return servers


class SecureSMTP(DrainingSMTP):
    """One connection: admitted under the connection limits, AUTH checked off the loop."""

    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

    def __init__(self, sessions: Sessions, handler: Any, *, submission: Submission,
                 listener: Listener, **kwargs: Any) -> None:
        super().__init__(sessions, handler, **kwargs)
        self.submission = submission
        self.listener = listener
        self._admitted: str | None = None
        self._refused = False

    @property
    def peer_host(self) -> str:
        return peer_host(self.session.peer if self.session is not None else None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None and self._original_transport is None:  # not a STARTTLS
            host = peer_host(transport.get_extra_info("peername"))
            guard = self.submission.guard
            limit = guard.admit(host)
            if limit is not None:
                self._refused = True
                network = guard.table.network(host)
                reply = TOO_MANY_CONNECTIONS if limit == PER_NETWORK else SERVER_BUSY
                log.warning("connection-refused", peer=host, network=network,
                            listener=self.listener.name, limit=limit)
                text = reply.format(hostname=self.hostname, network=network)
                # cast, not isinstance: uvloop's transports are not asyncio's classes
                cast(asyncio.WriteTransport, transport).write(text.encode("ascii") + b"\r\n")
                transport.close()
                return
            self._admitted = host
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._admitted is not None:
            self.submission.guard.release(self._admitted)
            self._admitted = None
        super().connection_lost(error)

    def _timeout_cb(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            text = TIMEOUT.format(hostname=self.hostname)
            cast(asyncio.WriteTransport, transport).write(text.encode("ascii") + b"\r\n")
        log.info("connection-timeout", peer=self.peer_host, listener=self.listener.name)
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    # -- AUTH: aiosmtpd's PLAIN and LOGIN, with the password check off the event loop --------

    async def auth_PLAIN(self, _: SMTP, args: list[str]) -> AuthResult:
        response = (await self.challenge_auth("") if len(args) == 1
                    else await self._decode(args[1]))
        if not isinstance(response, bytes):
            return AuthResult(success=False)
        parts = response.split(b"\0")
        if len(parts) != 3:
            await self.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False)
        authzid, login, password = parts
        if authzid and authzid != login:
            # Acting for another identity is not offered: each person logs in as themself.
            return await self._check("PLAIN", b"", b"")
        return await self._check("PLAIN", login, password)

    async def auth_LOGIN(self, _: SMTP, args: list[str]) -> AuthResult:
        login = (await self.challenge_auth(self.AuthLoginUsernameChallenge) if len(args) == 1
                 else await self._decode(args[1]))
        if not isinstance(login, bytes):
            return AuthResult(success=False)
        password = await self.challenge_auth(self.AuthLoginPasswordChallenge)
        if not isinstance(password, bytes):
            return AuthResult(success=False)
        return await self._check("LOGIN", login, password)

    async def _decode(self, text: str) -> bytes | None:
        try:
            return b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, ValueError):
            await self.push("501 5.5.2 Can't decode base64")
            return None

    async def _check(self, mechanism: str, login: bytes, password: bytes) -> AuthResult:
        host = self.peer_host
        failures = self.submission.failures
        if failures.blocked(host):
            log.warning("auth-refused", peer=host, listener=self.listener.name,
                        reason="too many failed logins")
            await self.push(TOO_MANY_FAILURES)
            return AuthResult(success=False)
        try:
            login_text = login.decode("utf-8")
            password_text = password.decode("utf-8")
        except UnicodeDecodeError:
            login_text, password_text = "", ""
        try:
            async with self.submission.verify_slots:
                account = await asyncio.to_thread(self.submission.accounts.verify,
                                                  login_text, password_text)
        except AccountsError as exc:
            log.error("auth-unavailable", peer=host, error=str(exc))
            await self.push(_AUTH_TEMPORARY)
            return AuthResult(success=False)
        if account is None:
            failures.record(host)
            log.warning("auth-failed", peer=host, listener=self.listener.name,
                        mechanism=mechanism)
            return AuthResult(success=False, handled=False)
        log.info("auth-ok", peer=host, listener=self.listener.name, mechanism=mechanism,
                 login=account.login)
        return AuthResult(success=True, auth_data=account.login)
