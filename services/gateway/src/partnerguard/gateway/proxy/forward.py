"""Forwarding to the owning service: pooled connections, timeouts, small bodies passed whole and
large ones streamed both ways under a size limit, request id and trace context passed on,
failures as 502/503/504."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import structlog
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse
from starlette.types import Scope

from partnerguard.common.errors import (
    BadGateway,
    GatewayTimeout,
    PayloadTooLarge,
    ServiceUnavailable,
)
from partnerguard.common.tls import client_tls
from partnerguard.common.tracing import current_request_id, current_traceparent
from partnerguard.gateway.proxy.routes import RouteTable
from partnerguard.gateway.proxy.upstream import (
    BUFFERED_BODY_BYTES,
    UpstreamClient,
    UpstreamConnectError,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeout,
)
from partnerguard.gateway.settings import GatewaySettings

log = structlog.get_logger()

# RFC 9110 §7.6.1 hop-by-hop fields, and those the proxy sets itself (framing included).
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"content-length",
        b"upgrade",
        b"host",
        b"authorization",
        b"x-request-id",
        b"traceparent",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"forwarded",
    }
)
_RESPONSE_DROP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"trailer", b"te"}
    | {b"server", b"date"}
    # The gateway answers with its own request id and trace context.
    | {b"x-request-id", b"traceparent"}
)


class _BodyTooLarge(Exception):
    pass


class Proxy:
    """Connections to the services, and what their OpenAPI documents say."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.upstream = UpstreamClient(
            max_connections=settings.proxy_max_connections,
            connect_timeout=settings.proxy_connect_timeout_seconds,
            read_timeout=settings.proxy_read_timeout_seconds,
        )
        # The documents are fetched now and then, off the request path: a general client.
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.proxy_read_timeout_seconds, connect=5.0),
            follow_redirects=False,
            verify=client_tls(),
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

    async def forward(self, request: Request, service: str, authorization: str | None) -> Response:
        """The service's answer to the request: read whole when small, else streamed."""
        base = self.base_url(service)
        if base is None:
            raise ServiceUnavailable(f"the {service} service is not configured")
        try:
            origin = self.upstream.origin(base)
        except ValueError as exc:
            log.warning("proxy.bad_service_url", service=service, error=str(exc))
            raise ServiceUnavailable(f"the {service} service is not configured") from exc
        scope = request.scope
        headers, length, chunked = _request_headers(scope, authorization)
        limit = self.settings.proxy_max_body_bytes
        if length is not None and length > limit:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes")
        body: bytes | AsyncIterator[bytes] | None = None
        if length is not None and length <= BUFFERED_BODY_BYTES:
            body = await request.body() if length else b""
        elif length is not None or chunked:
            body = _limited(request.stream(), limit)
        target = scope.get("raw_path") or scope["path"].encode("utf-8")
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        try:
            response = await self.upstream.send(
                origin, scope["method"], target, headers, body, length
            )
        except _BodyTooLarge:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes") from None
        except UpstreamTimeout as exc:
            log.warning("proxy.upstream_timeout", service=service, error=repr(exc))
            raise GatewayTimeout(f"the {service} service did not answer in time") from exc
        except UpstreamConnectError as exc:
            log.warning("proxy.upstream_unreachable", service=service, error=repr(exc))
            raise ServiceUnavailable(f"the {service} service is unavailable") from exc
        except UpstreamError as exc:
            log.warning("proxy.upstream_failed", service=service, error=repr(exc))
            raise BadGateway(f"the {service} service failed to answer") from exc
        answer: Response
        if response.body is not None:
            answer = Response(response.body, status_code=response.status)
        else:
            answer = StreamingResponse(
                _relay(response, service, self.settings.proxy_read_timeout_seconds),
                status_code=response.status,
                background=BackgroundTask(response.aclose),
            )
        answer.raw_headers = [h for h in response.headers if h[0] not in _RESPONSE_DROP]
        return answer

    async def aclose(self) -> None:
        await self.upstream.aclose()
        await self.client.aclose()


def _request_headers(
    scope: Scope, authorization: str | None
) -> tuple[list[tuple[bytes, bytes]], int | None, bool]:
    """The headers to pass on, the body's declared length, and whether it comes chunked."""
    headers = []
    length: int | None = None
    chunked = False
    prior_forwarded = host = b""
    for raw_name, value in scope["headers"]:
        name = raw_name.lower()
        if name not in _HOP_BY_HOP:
            headers.append((name, value))
        elif name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"x-forwarded-for":
            prior_forwarded = value
        elif name == b"host":
            host = value
    if chunked:
        length = None  # RFC 9112 §6.3: chunked framing wins over a declared length
    if authorization is not None:
        headers.append((b"authorization", authorization.encode("latin-1")))
    request_id = current_request_id()
    if request_id:
        headers.append((b"x-request-id", request_id.encode("latin-1")))
    traceparent = current_traceparent()
    if traceparent:
        headers.append((b"traceparent", traceparent.encode("latin-1")))
    client = scope.get("client")
    peer = client[0].encode("latin-1") if client else b"unknown"
    headers.append(
        (b"x-forwarded-for", prior_forwarded + b", " + peer if prior_forwarded else peer)
    )
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))
    headers.append((b"x-forwarded-host", host))
    return headers, length, chunked


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives, refused once it passes ``limit`` bytes."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise _BodyTooLarge
        yield chunk


async def _relay(
    response: UpstreamResponse, service: str, read_timeout: float
) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.stream(read_timeout):
            yield chunk
    except UpstreamError as exc:
        # Headers are gone already: all we can do is cut the body short and say so in the log.
        log.warning("proxy.upstream_body_failed", service=service, error=repr(exc))
