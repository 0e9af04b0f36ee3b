"""Clients that stay under the gateway's rate limit (50 requests a second per OAuth client, in
bursts of up to 100): a test that sends hundreds of requests in a row would otherwise meet the
429s meant for runaway partner systems, and test the limiter instead of the route."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Iterable

import httpx

from tests.e2e.platform import HTTP_TIMEOUT, Platform

RATE = 40.0
BURST = 60.0


class Pace:
    """A token bucket like the gateway's, a little stricter: a request waits for its turn."""

    def __init__(self, rate: float = RATE, burst: float = BURST) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._at = time.monotonic()
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        async with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1.0:
                await asyncio.sleep((1.0 - self._tokens) / self._rate)
                self._at = time.monotonic()
                self._tokens = 1.0
            self._tokens -= 1.0


class _PacedBearer(httpx.Auth):
    def __init__(
        self, platform: Platform, partner: str, scopes: frozenset[str] | None, pace: Pace
    ) -> None:
        self._platform = platform
        self._partner = partner
        self._scopes = scopes
        self._pace = pace

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._platform.token(self._partner, self._scopes)
        await self._pace.turn()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def paced_client(
    platform: Platform, partner: str, pace: Pace, scopes: Iterable[str] | None = None
) -> httpx.AsyncClient:
    """What ``platform.client`` gives, taking turns with every client of the partner that shares
    ``pace`` (the gateway counts requests per OAuth client, whatever the token's scopes)."""
    wanted = frozenset(scopes) if scopes is not None else None
    return httpx.AsyncClient(
        base_url=platform.gateway_url,
        auth=_PacedBearer(platform, partner, wanted, pace),
        timeout=HTTP_TIMEOUT,
        trust_env=False,
    )
