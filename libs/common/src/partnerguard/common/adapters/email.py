"""Sending e-mail (verification codes, notices) over SMTP.

:class:`SmtpEmailSender` opens one SMTP session per message (sends are rare and short), with
STARTTLS when configured (implicit TLS on port 465) and login when a username is set. Transient
failures (connection, timeout, disconnect, 4xx replies) are retried per the policy; 5xx replies
are permanent and are not.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import aiosmtplib
import structlog
from pydantic import BaseModel, SecretStr

from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.adapters.http import RetryPolicy

log = structlog.get_logger()

PROVIDER = "smtp"


class SmtpSettings(BaseModel):
    """The SMTP settings a service mixes into its own settings class (``SMTP_HOST`` ...).

    No host means the development sender, which writes messages to the log.
    """

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    email_sender: str = "no-reply@partnerguard.invalid"


class EmailSender(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None:
        """Hand a plain-text message over for delivery; raise AdapterError if refused."""
        ...


class SmtpEmailSender:
    """Sends through an SMTP server (a relay or a provider's SMTP endpoint)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = True,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self.policy = policy or RetryPolicy()

    def message(self, to: str, subject: str, body: str) -> EmailMessage:
        """The message as it goes on the wire."""
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        message.set_content(body)
        return message

    async def send(self, to: str, subject: str, body: str) -> None:
        message = self.message(to, subject, body)
        implicit_tls = self._port == 465
        attempts = self.policy.attempts
        attempt = 0
        while True:
            attempt += 1
            try:
                await aiosmtplib.send(
                    message,
                    hostname=self._host,
                    port=self._port,
                    username=self._username,
                    password=self._password.get_secret_value() if self._password else None,
                    use_tls=implicit_tls,
                    start_tls=self._starttls and not implicit_tls,
                    timeout=self.policy.timeout_seconds,
                )
            except aiosmtplib.SMTPResponseException as exc:
                # 4xx is "try again later" in SMTP; 5xx (bad recipient, auth refused) is final.
                reason = f"answered SMTP {exc.code}"
                if exc.code < 400 or exc.code >= 500:
                    log.warning("adapter.rejected", provider=PROVIDER, status=exc.code)
                    raise AdapterError(PROVIDER, reason) from exc
            except (aiosmtplib.SMTPTimeoutError, TimeoutError):
                reason = "timed out"
            except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
                reason = f"unreachable ({type(exc).__name__})"
            except aiosmtplib.SMTPException as exc:
                # STARTTLS not offered, no supported auth method ...: configuration, not luck.
                log.warning("adapter.rejected", provider=PROVIDER, error=type(exc).__name__)
                raise AdapterError(PROVIDER, f"failed ({type(exc).__name__})") from exc
            else:
                log.info("email.sent", provider=PROVIDER)
                return
            if attempt == attempts:
                log.warning("adapter.gave_up", provider=PROVIDER, attempts=attempts, reason=reason)
                raise AdapterError(PROVIDER, f"{reason} after {attempts} attempt(s)")
            delay = self.policy.delay(attempt)
            log.info(
                "adapter.retry",
                provider=PROVIDER,
                attempt=attempt,
                reason=reason,
                delay_seconds=round(delay, 3),
            )
            await asyncio.sleep(delay)


class LogEmailSender:
    """Development only: logs the message (and so any code in it) instead of sending it.

    Like the SMS one, it must never serve production; ``build_adapters`` picks it only when no
    SMTP host is configured, and warns at startup outside ``dev``.
    """

    async def send(self, to: str, subject: str, body: str) -> None:
        log.info("email.dev_send", to=to, subject=subject, body=body)


def build_email_sender(settings: SmtpSettings, policy: RetryPolicy) -> EmailSender:
    """SMTP when a host is configured, the development log sender otherwise."""
    if not settings.smtp_host:
        return LogEmailSender()
    return SmtpEmailSender(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.email_sender,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        policy=policy,
    )
