"""Asking a running service whether it is ready (``GET /readyz``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Endpoint:
    """Where one service of the platform listens."""

    service: str
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Readiness:
    service: str
    url: str
    ready: bool
    status_code: int | None = None
    checks: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def describe(self) -> str:
        if self.ready:
            return "ready"
        if self.status_code is None:
            return f"unreachable ({self.error})"
        failing = ", ".join(f"{k}: {v}" for k, v in self.checks.items() if v != "ok")
        return f"not ready (HTTP {self.status_code}{'; ' + failing if failing else ''})"


async def probe(client: httpx.AsyncClient, endpoint: Endpoint) -> Readiness:
    url = f"{endpoint.base_url}/readyz"
    try:
        response = await client.get(url, timeout=PROBE_TIMEOUT)
    except httpx.HTTPError as exc:
        return Readiness(endpoint.service, endpoint.base_url, False, error=type(exc).__name__)
    checks: dict[str, str] = {}
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("checks"), dict):
            checks = {str(k): str(v) for k, v in body["checks"].items()}
    except ValueError:
        pass  # a non-JSON answer still has a status code worth reporting
    return Readiness(
        endpoint.service,
        endpoint.base_url,
        response.status_code == 200,
        status_code=response.status_code,
        checks=checks,
    )


async def probe_all(endpoints: Sequence[Endpoint]) -> list[Readiness]:
    # Proxies from the environment must not intercept calls to our own loopback services.
    async with httpx.AsyncClient(trust_env=False) as client:
        return list(await asyncio.gather(*(probe(client, e) for e in endpoints)))
