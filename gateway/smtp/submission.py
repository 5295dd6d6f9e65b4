"""The SMTP handler with submission rules: who may send on a listener, and as whom."""

from __future__ import annotations

from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.adapters.accounts import Account, Accounts, AccountsError
from gateway.adapters.rewrite import split_header
from gateway.core.headers import header_over
from gateway.logs import get_logger
from gateway.service.outcome import input_problem
from gateway.smtp import replies
from gateway.smtp.access import ACCOUNT_DISABLED, header_refusal, mail_refusal
from gateway.smtp.handler import Handler
from gateway.smtp.listener import SecureSMTP, peer_host

log = get_logger()
_ACCOUNTS_UNAVAILABLE = "451 4.3.0 Sender not accepted: the account list is unavailable; try again"


class SubmissionHandler(Handler):
    """``Handler`` plus the listener's access rule at MAIL and sender binding at DATA."""

    def __init__(self, *args: Any, accounts: Accounts, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accounts = accounts

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        lines = await super().handle_EHLO(server, session, envelope, hostname, responses)
        # aiosmtpd advertises "AUTH" with no mechanism when every mechanism is switched off.
        return [line for line in lines if line.strip() != "250-AUTH"]

    def _account(self, session: Session) -> Account | None:
        if not session.authenticated:
            return None
        return self.accounts.get(str(session.auth_data))

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if not isinstance(server, SecureSMTP):
            return await super().handle_MAIL(server, session, envelope, address, mail_options)
        peer = peer_host(session.peer)
        try:
            account = self._account(session)
        except AccountsError as exc:
            log.error("accounts-unavailable", peer=peer, error=str(exc))
            return _ACCOUNTS_UNAVAILABLE
        refusal = mail_refusal(server.listener, trusted=self._trusted(session), account=account,
                               authenticated=bool(session.authenticated), sender=address,
                               untrusted_reply=replies.UNTRUSTED.format(peer=peer))
        if refusal is not None:
            event = ("sender-refused" if session.authenticated
                     else "refused-untrusted" if refusal.startswith("554") else "auth-required")
            log.warning(event, peer=peer, listener=server.listener.name, sender=address,
                        login=account.login if account else None, reply=refusal[:3])
            return refusal
        space = self.space_refusal(session)
        if space is not None:
            return space
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender ok"

    async def handle_exception(self, error: Exception) -> str:
        """A protocol-level failure: log its kind only (never its text), answer 451."""
        log.error("session-error", error=type(error).__name__)
        return "451 4.3.0 Error: internal error; try again later"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope,
                          clean: bool = False) -> str:
        data = envelope.original_content or b""
        # Input the submit use case refuses anyway is not read here (an oversized header
        # block would be, whole, on the event loop). What is found is passed on: the use
        # case does not look for NUL and bare line endings again.
        clean = clean or input_problem(data) is None
        if (session.authenticated and clean
                and not header_over(data, self.settings.max_header_size)):
            try:
                account = self._account(session)
            except AccountsError as exc:
                log.error("accounts-unavailable", peer=peer_host(session.peer), error=str(exc))
                return _ACCOUNTS_UNAVAILABLE
            if account is None or account.disabled:
                refusal: str | None = ACCOUNT_DISABLED.format(login=str(session.auth_data))
            else:
                refusal = header_refusal(account, split_header(data)[0])
            if refusal is not None:
                log.warning("sender-refused", peer=peer_host(session.peer),
                            login=str(session.auth_data), sender=envelope.mail_from,
                            where="header", reply=refusal[:3])
                return refusal
        return await super().handle_DATA(server, session, envelope, clean)
