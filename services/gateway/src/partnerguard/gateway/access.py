"""Per-client rate limiting for every authenticated route of the gateway and its proxy."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPBearer, SecurityScopes

from partnerguard.common.auth import Caller
from partnerguard.common.errors import TooManyRequests
from partnerguard.common.web.deps import CallerDep, get_caller
from partnerguard.gateway.context import Gateway, GatewayDep

RATE_LIMIT_HEADERS = "rate_limit_headers"

_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="OAuth 2.0 access token")
_NO_SCOPES = SecurityScopes()


async def rate_limit(request: Request, caller: CallerDep, gateway: GatewayDep) -> None:
    """Take one token from the caller's bucket; 429 with ``Retry-After`` when it is empty."""
    _take(request, caller, gateway)


async def limited_caller(request: Request) -> Caller:
    """The verified caller, counted against its rate limit: what ``CallerDep`` and
    ``RateLimited`` give, in one call, for the proxy's hot path (no dependency resolution)."""
    caller = await get_caller(_NO_SCOPES, request, await _bearer(request))
    _take(request, caller, request.app.state.gateway)
    return caller


def _take(request: Request, caller: Caller, gateway: Gateway) -> None:
    decision = gateway.limiter.take(caller.client_id)
    if not decision.allowed:
        raise TooManyRequests(
            f"more than {gateway.settings.rate_limit_per_second:g} requests per second",
            headers=decision.headers(),
        )
    # The edge middleware adds them to whatever response the route gives, streamed or not.
    setattr(request.state, RATE_LIMIT_HEADERS, decision.raw_headers())


RateLimited = Depends(rate_limit)
