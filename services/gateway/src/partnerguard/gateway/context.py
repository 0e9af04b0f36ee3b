"""What a gateway process holds beside the kernel runtime: its keys, revocations, rate limiter
and upstream proxy. Built once per process and reached through ``GatewayDep``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from partnerguard.common.auth import Caller, TokenVerifier
from partnerguard.gateway.keys.store import KeyStore
from partnerguard.gateway.oauth.tokens import issue_access_token
from partnerguard.gateway.ratelimit import RateLimiter
from partnerguard.gateway.revocation import RevocationList
from partnerguard.gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from partnerguard.gateway.proxy.forward import Proxy


@dataclass
class Gateway:
    settings: GatewaySettings
    keys: KeyStore
    revocations: RevocationList
    limiter: RateLimiter
    proxy: Proxy
    _exchanged: dict[tuple[str, str | None], tuple[str, float]] = field(default_factory=dict)

    def exchange(self, caller: Caller) -> str:
        """A token of ours standing for an external issuer's caller, cached until near expiry."""
        key = (caller.client_id, caller.token_id)
        cached = self._exchanged.get(key)
        now = time.time()
        if cached is not None and cached[1] - 30 > now:
            return cached[0]
        lifetime = self.settings.token_lifetime_seconds
        if caller.expires_at is not None:
            lifetime = max(1, min(lifetime, int(caller.expires_at - now)))
        issued = issue_access_token(
            self.keys.signing_key(),
            issuer=self.settings.issuer(),
            gateway_audience=self.settings.auth_audience,
            client_id=caller.client_id,
            partner_id=caller.partner_id,
            scopes=caller.scopes,
            lifetime=lifetime,
        )
        if len(self._exchanged) > 10_000:
            self._exchanged = {k: v for k, v in self._exchanged.items() if v[1] > now}
        self._exchanged[key] = (issued.token, now + lifetime)
        return issued.token


class GatewayVerifier(TokenVerifier):
    """Token verification at the gateway: the kernel's checks (signature once per token), then
    revocation, every time."""

    def __init__(self, *args: object, revocations: RevocationList, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.revocations = revocations

    async def verify(self, token: str) -> Caller:
        caller = await super().verify(token)
        self.revocations.check(caller)
        return caller


async def get_gateway(request: Request) -> Gateway:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a hop per request.
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
