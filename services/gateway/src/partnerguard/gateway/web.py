"""The edge: security headers on every answer, rate-limit headers, CORS only when configured."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from partnerguard.gateway.access import RATE_LIMIT_HEADERS
from partnerguard.gateway.context import Gateway

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
# The API serves JSON only; the docs page loads Swagger UI from its CDN.
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")


class EdgeHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in _SECURITY_HEADERS if h[0] not in present]
                if scope["path"] not in _DOCS_PATHS:
                    headers.append(_API_CSP)
                limits = scope.get("state", {}).get(RATE_LIMIT_HEADERS)
                if limits and b"ratelimit-limit" not in present:
                    headers += limits
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_edge_middleware(app: FastAPI, gateway: Gateway) -> None:
    origins = gateway.settings.cors_origins
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "Retry-After",
            ],
            max_age=600,
        )
    app.add_middleware(EdgeHeadersMiddleware)
