"""Per-client rate limiting for every authenticated route of the gateway and its proxy."""

from __future__ import annotations

from fastapi import Depends, Request

from partnerguard.common.errors import TooManyRequests
from partnerguard.common.web.deps import CallerDep
from partnerguard.gateway.context import GatewayDep

RATE_LIMIT_HEADERS = "rate_limit_headers"


async def rate_limit(request: Request, caller: CallerDep, gateway: GatewayDep) -> None:
    """Take one token from the caller's bucket; 429 with ``Retry-After`` when it is empty."""
    decision = gateway.limiter.take(caller.client_id)
    headers = decision.headers()
    if not decision.allowed:
        raise TooManyRequests(
            f"more than {gateway.settings.rate_limit_per_second:g} requests per second",
            headers=headers,
        )
    # The edge middleware adds them to whatever response the route gives, streamed or not.
    setattr(request.state, RATE_LIMIT_HEADERS, headers)


RateLimited = Depends(rate_limit)
