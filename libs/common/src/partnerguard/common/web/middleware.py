"""Request context (request id, trace) and HTTP metrics, as a plain ASGI middleware."""

from __future__ import annotations

import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from partnerguard.common.tracing import bind_trace, clear_trace, new_traceparent, parse_traceparent

log = structlog.get_logger()

HTTP_REQUESTS = Counter(
    "partnerguard_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "partnerguard_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_MAX_REQUEST_ID = 128


class RequestContextMiddleware:
    """Carries ``X-Request-ID`` and ``traceparent`` into logs and events, and times requests."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id", "")[:_MAX_REQUEST_ID] or str(uuid.uuid4())
        parent = parse_traceparent(headers.get("traceparent"))
        trace = parent.child() if parent else new_traceparent()
        bind_trace(trace, request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                    (b"traceparent", trace.header().encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        finally:
            route = scope.get("route")
            route_name = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(self.service, scope["method"], route_name, str(status)).inc()
            HTTP_SECONDS.labels(self.service, scope["method"], route_name).observe(elapsed)
            if status >= 500:
                log.warning(
                    "http.request",
                    method=scope["method"],
                    route=route_name,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                )
            clear_trace()
