"""HTTP: ``/v1/<service>/...`` forwarded to the owning service once the caller may call it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from partnerguard.common.auth import Caller
from partnerguard.common.errors import InsufficientScope, NotFound
from partnerguard.gateway.access import limited_caller
from partnerguard.gateway.context import Gateway
from partnerguard.gateway.proxy.routes import Route
from partnerguard.gateway.roles import SERVICES


class _ServiceConvertor(Convertor[str]):
    """A path segment naming one of the services behind the gateway."""

    regex = "|".join(SERVICES)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("gateway_service", _ServiceConvertor())

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


async def forward(request: Request) -> Response:
    """``/v1/<service>/<path>``: the caller verified and counted against its rate limit, the
    route's scopes checked, then the service's answer.

    A plain Starlette endpoint rather than a FastAPI one: it is the gateway's hot path, takes
    no parameters to parse, and the caller's dependency is called directly; per-request
    dependency resolution cost more than the rest of the hop.
    """
    service: str = request.path_params["service"]
    if service not in SERVICES:
        raise NotFound("no such API")
    caller = await limited_caller(request)
    gateway: Gateway = request.app.state.gateway
    path = request.scope["path"]
    missing = required_scopes(gateway, service, request.method, path) - caller.scopes
    if missing:
        raise InsufficientScope(list(missing))
    authorization = upstream_authorization(gateway, request, caller)
    return await gateway.proxy.forward(request, service, authorization)


# Routing tries routes in order: the services' routes, the gateway's busiest, go first (their
# paths are disjoint from the gateway's own); any other ``/v1/<name>/`` falls to the catch-all
# at the very end, a 404.
services_router = APIRouter()
services_router.add_route(
    "/v1/{service:gateway_service}/{path:path}", forward, methods=_METHODS, include_in_schema=False
)
router = APIRouter()
router.add_route("/v1/{service}/{path:path}", forward, methods=_METHODS, include_in_schema=False)
