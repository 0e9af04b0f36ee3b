"""Forwarding to the owning service: pooled connections, timeouts, bodies streamed both ways
under a size limit, request id and trace context passed on, failures as 502/503/504."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import structlog
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from partnerguard.common.errors import (
    BadGateway,
    GatewayTimeout,
    PayloadTooLarge,
    ServiceUnavailable,
)
from partnerguard.common.tracing import current_request_id, current_traceparent
from partnerguard.gateway.proxy.routes import RouteTable
from partnerguard.gateway.settings import GatewaySettings

log = structlog.get_logger()

# RFC 9110 §7.6.1 hop-by-hop fields, and those the proxy sets itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "x-request-id",
        "traceparent",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "forwarded",
    }
)
_RESPONSE_DROP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "trailer", "te", "server", "date"}
    # The gateway answers with its own request id and trace context.
    | {"x-request-id", "traceparent"}
)


class _BodyTooLarge(Exception):
    pass


class Proxy:
    """One pooled HTTP client to the services, and what their OpenAPI documents say."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=settings.proxy_max_connections,
                max_keepalive_connections=settings.proxy_max_connections,
                keepalive_expiry=30.0,
            ),
            timeout=httpx.Timeout(
                connect=settings.proxy_connect_timeout_seconds,
                read=settings.proxy_read_timeout_seconds,
                write=settings.proxy_read_timeout_seconds,
                pool=settings.proxy_connect_timeout_seconds,
            ),
            follow_redirects=False,
        )
        self.documents: dict[str, dict[str, Any]] = {}
        self.routes: dict[str, RouteTable] = {}
        self.changed = asyncio.Event()

    def base_url(self, service: str) -> str | None:
        url = self.settings.service_urls.get(service)
        return url.rstrip("/") if url else None

    async def load_document(self, service: str) -> bool:
        base = self.base_url(service)
        if base is None:
            return False
        try:
            response = await self.client.get(f"{base}/openapi.json", timeout=5.0)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.info("proxy.openapi_unavailable", service=service, error=repr(exc))
            return False
        if document != self.documents.get(service):
            self.documents[service] = document
            self.routes[service] = RouteTable(document, f"/v1/{service}/")
            self.changed.set()
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the services' documents fresh: every few seconds until all are loaded."""
        while not stop.is_set():
            loaded = await asyncio.gather(
                *(self.load_document(s) for s in self.settings.service_urls)
            )
            interval = self.settings.openapi_refresh_seconds if all(loaded) else 2.0
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass

    async def forward(
        self, request: Request, service: str, authorization: str | None
    ) -> StreamingResponse:
        base = self.base_url(service)
        if base is None:
            raise ServiceUnavailable(f"the {service} service is not configured")
        length = request.headers.get("content-length")
        limit = self.settings.proxy_max_body_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes")
        upstream = self.client.build_request(
            request.method,
            base + request.url.path,
            params=request.url.query.encode("latin-1") if request.url.query else None,
            headers=self._request_headers(request, authorization),
            content=_limited(request.stream(), limit)
            if request.method not in ("GET", "HEAD", "DELETE", "OPTIONS") or length
            else None,
        )
        try:
            response = await self.client.send(upstream, stream=True)
        except _BodyTooLarge:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes") from None
        except httpx.TimeoutException as exc:
            log.warning("proxy.upstream_timeout", service=service, error=repr(exc))
            raise GatewayTimeout(f"the {service} service did not answer in time") from exc
        except httpx.ConnectError as exc:
            log.warning("proxy.upstream_unreachable", service=service, error=repr(exc))
            raise ServiceUnavailable(f"the {service} service is unavailable") from exc
        except httpx.TransportError as exc:
            log.warning("proxy.upstream_failed", service=service, error=repr(exc))
            raise BadGateway(f"the {service} service failed to answer") from exc
        headers = {
            k: v for k, v in response.headers.multi_items() if k.lower() not in _RESPONSE_DROP
        }
        return StreamingResponse(
            _relay(response, service),
            status_code=response.status_code,
            headers=headers,
            background=BackgroundTask(response.aclose),
        )

    def _request_headers(
        self, request: Request, authorization: str | None
    ) -> list[tuple[str, str]]:
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k not in _HOP_BY_HOP and k != "authorization"
        ]
        if authorization is not None:
            headers.append(("authorization", authorization))
        request_id = current_request_id()
        if request_id:
            headers.append(("x-request-id", request_id))
        traceparent = current_traceparent()
        if traceparent:
            headers.append(("traceparent", traceparent))
        client = request.client.host if request.client else "unknown"
        prior = request.headers.get("x-forwarded-for")
        headers.append(("x-forwarded-for", f"{prior}, {client}" if prior else client))
        headers.append(("x-forwarded-proto", request.url.scheme))
        headers.append(("x-forwarded-host", request.headers.get("host", "")))
        return headers

    async def aclose(self) -> None:
        await self.client.aclose()


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives, refused once it passes ``limit`` bytes."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise _BodyTooLarge
        yield chunk


async def _relay(response: httpx.Response, service: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.TransportError as exc:
        # Headers are gone already: all we can do is cut the body short and say so in the log.
        log.warning("proxy.upstream_body_failed", service=service, error=repr(exc))
