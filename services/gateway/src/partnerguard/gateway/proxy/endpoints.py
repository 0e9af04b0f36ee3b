"""HTTP: ``/v1/<service>/...`` forwarded to the owning service once the caller may call it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from partnerguard.common.auth import Caller
from partnerguard.common.errors import Forbidden, NotFound
from partnerguard.common.web.deps import CallerDep
from partnerguard.gateway.access import RateLimited
from partnerguard.gateway.context import Gateway, GatewayDep
from partnerguard.gateway.proxy.routes import Route
from partnerguard.gateway.roles import SERVICES

router = APIRouter(dependencies=[RateLimited])

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def required_scopes(gateway: Gateway, service: str, method: str, path: str) -> frozenset[str]:
    """The route's scopes from the service's document; before it is known, read for reads and
    write for the rest (the service still checks the exact ones)."""
    table = gateway.proxy.routes.get(service)
    if table is None:
        access = "read" if method in ("GET", "HEAD") else "write"
        return frozenset({f"{service}:{access}"})
    route = table.match(method, path)
    if route is None:
        raise NotFound(f"no such route in the {service} API")
    if route is False:
        raise NotFound(f"{method} is not a route of this path")  # 404: do not map the API
    assert isinstance(route, Route)
    return route.scopes


def upstream_authorization(gateway: Gateway, request: Request, caller: Caller) -> str | None:
    """Our own tokens travel as they are; a token of an external issuer is exchanged for one
    of ours, so the services trust a single issuer."""
    if caller.issuer == gateway.settings.issuer():
        return request.headers.get("authorization")
    return f"Bearer {gateway.exchange(caller)}"


@router.api_route("/v1/{service}/{path:path}", methods=_METHODS, include_in_schema=False)
async def forward(
    service: str, path: str, request: Request, caller: CallerDep, gateway: GatewayDep
) -> StreamingResponse:
    if service not in SERVICES:
        raise NotFound("no such API")
    missing = required_scopes(gateway, service, request.method, request.url.path) - caller.scopes
    if missing:
        raise Forbidden(f"the token lacks the scope {' '.join(sorted(missing))}")
    authorization = upstream_authorization(gateway, request, caller)
    return await gateway.proxy.forward(request, service, authorization)
