"""The platform's operations as the gateway's merged OpenAPI document states them: their path
parameters, the scopes their ``security`` requirement names, whether they take a body and
whether they list things. Tests that cover "every route" read them from here, so a new route is
covered as soon as the gateway describes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from partnerguard.gateway.roles import SERVICES
from tests.e2e.views import get
from tests.support.polling import eventually

_METHODS = ("get", "put", "post", "patch", "delete")
_PARAMETER = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    # What the ``security`` requirement names; None when the operation needs no token at all.
    scopes: frozenset[str] | None
    query: tuple[str, ...]
    required_query: tuple[str, ...]
    # Whether it takes a body, and whether it must have one.
    takes_body: bool
    needs_body: bool
    # A page of items (``{"items": [...], "next_cursor": ...}``) or a plain array of them.
    lists: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def reads(self) -> bool:
        return self.method == "GET"

    @property
    def path_parameters(self) -> list[str]:
        return _PARAMETER.findall(self.path)

    def resource(self, parameter: str) -> str:
        """The path up to and including ``{parameter}``: what the parameter names an object of."""
        marker = "{" + parameter + "}"
        return self.path[: self.path.index(marker) + len(marker)]

    def url(self, ids: dict[str, str]) -> str:
        """The path with each ``{parameter}`` replaced by ``ids[resource]``."""
        url = self.path
        for parameter in self.path_parameters:
            url = url.replace("{" + parameter + "}", ids[self.resource(parameter)], 1)
        return url


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of the document, in its order."""
    return [
        _operation(method.upper(), path, spec, document)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in _METHODS
    ]


def _operation(method: str, path: str, spec: dict[str, Any], document: dict[str, Any]) -> Operation:
    security = spec.get("security")
    scopes = None
    if security is not None:
        scopes = frozenset(
            scope for requirement in security for s in requirement.values() for scope in s
        )
    body = spec.get("requestBody")
    query = [p for p in spec.get("parameters", []) if p["in"] == "query"]
    return Operation(
        method=method,
        path=path,
        operation_id=spec["operationId"],
        scopes=scopes,
        query=tuple(p["name"] for p in query),
        required_query=tuple(p["name"] for p in query if p.get("required")),
        takes_body=body is not None,
        needs_body=bool(body and body.get("required")),
        lists=_lists(spec, document),
    )


def _lists(spec: dict[str, Any], document: dict[str, Any]) -> bool:
    schema = spec["responses"].get("200", {}).get("content", {}).get("application/json", {})
    shape = _resolve(schema.get("schema", {}), document)
    return shape.get("type") == "array" or {"items", "next_cursor"} <= set(
        shape.get("properties", {})
    )


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def services_in(document: dict[str, Any]) -> set[str]:
    """The services whose routes the document holds (``/v1/<service>/...``)."""
    return {path.split("/")[2] for path in document["paths"] if path.startswith("/v1/")}


async def merged_openapi(gateway: httpx.AsyncClient) -> dict[str, Any]:
    """The gateway's merged document, once it describes every service: the gateway fetches
    theirs in the background, and is ready before it has them all."""
    document: dict[str, Any] = await eventually(
        lambda: get(gateway, "/openapi.json"),
        lambda found: set(SERVICES) <= services_in(found),
        "the gateway to merge every service's OpenAPI document",
    )
    return document
