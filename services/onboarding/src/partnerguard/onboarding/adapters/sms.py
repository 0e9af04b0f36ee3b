"""Sending text messages (verification codes) through an SMS gateway.

Wire protocol of :class:`HttpSmsGateway` (a generic HTTP gateway contract)::

    POST {sms_gateway_url}
    Authorization: Bearer <sms_gateway_token>        (when a token is configured)
    {"from": "<sms_sender>", "to": "<E.164 number>", "text": "<message>"}

Any 2xx answer means the gateway accepted the message; its body is not read.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from partnerguard.common.adapters.http import ProviderClient

log = structlog.get_logger()


class SmsSender(Protocol):
    async def send(self, to: str, text: str) -> None:
        """Hand ``text`` over for delivery to ``to`` (E.164); raise AdapterError if refused."""
        ...


class HttpSmsGateway:
    """Sends through the configured HTTP gateway."""

    def __init__(self, client: ProviderClient, *, url: str, sender: str) -> None:
        self._client = client
        self._url = url
        self._sender = sender

    async def send(self, to: str, text: str) -> None:
        await self._client.post_json(self._url, {"from": self._sender, "to": to, "text": text})
        log.info("sms.sent", provider=self._client.provider)


class LogSmsSender:
    """Development only: logs the message (and so the code in it) instead of sending it.

    This is how a developer reads a verification code in the embedded run. It must never serve
    production: anyone who can read the logs could complete any verification. ``build_adapters``
    picks it only when no gateway URL is configured, and warns at startup outside ``dev``.
    """

    async def send(self, to: str, text: str) -> None:
        log.info("sms.dev_send", to=to, text=text)
