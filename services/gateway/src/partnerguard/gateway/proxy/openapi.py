"""The merged OpenAPI document: the gateway's own routes and every service's ``/v1/<service>/``
routes, under one OAuth 2.0 client-credentials security scheme, with the answers the gateway
itself gives in front of them (rate limit, body limit, an unreachable service)."""

from __future__ import annotations

import copy
import json
from typing import Any

from partnerguard.common.errors import PROBLEM_JSON
from partnerguard.gateway.roles import SCOPE_DESCRIPTIONS

SCHEME = "OAuth2"
_REF = "#/components/schemas/"
_OWN_ONLY = ("/healthz", "/readyz", "/metrics")
# What the gateway answers on its own: every authenticated route is rate limited, and a proxied
# one can also meet the body limit or a service that is down or slow.
_RATE_LIMITED = {429: "Too many requests (see Retry-After)"}
_PROXIED = {
    413: "Payload too large",
    502: "The service failed to answer",
    503: "The service is unavailable",
    504: "The service did not answer in time",
}


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF):
                name = value[len(_REF) :]
                out[key] = _REF + renames.get(name, name)
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def _with_oauth_security(paths: dict[str, Any]) -> None:
    for item in paths.values():
        for operation in item.values():
            if not isinstance(operation, dict) or "security" not in operation:
                continue
            scopes = sorted(
                {
                    s
                    for requirement in operation["security"]
                    for ss in requirement.values()
                    for s in ss
                }
            )
            operation["security"] = [{SCHEME: scopes}]
            _with_gateway_responses(operation, _RATE_LIMITED)


def _canonical(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True)


def _renames(service: str, schemas: dict[str, Any], theirs: dict[str, Any]) -> dict[str, str]:
    """The service's schemas that take its prefix: those whose name another schema holds.

    To a fixed point, since schemas refer to each other by name: two services' ``Page_X_`` are
    the same text, yet not the same schema once one's ``X`` is renamed.
    """
    renames: dict[str, str] = {}
    while True:
        clashing = {
            name: f"{service.capitalize()}{name}"
            for name, schema in theirs.items()
            if name not in renames
            and name in schemas
            and _canonical(schemas[name]) != _canonical(_rename_refs(schema, renames))
        }
        if not clashing:
            return renames
        renames |= clashing


def _with_gateway_responses(operation: dict[str, Any], statuses: dict[int, str]) -> None:
    responses = operation.setdefault("responses", {})
    for status, description in statuses.items():
        responses.setdefault(
            str(status),
            {
                "description": description,
                "content": {PROBLEM_JSON: {"schema": {"$ref": f"{_REF}Problem"}}},
            },
        )


def merge_openapi(
    own: dict[str, Any], services: dict[str, dict[str, Any]], token_url: str
) -> dict[str, Any]:
    merged = copy.deepcopy(own)
    merged["paths"] = {p: v for p, v in merged.get("paths", {}).items() if p not in _OWN_ONLY}
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    tags = {t["name"]: t for t in merged.get("tags", [])}
    for service, document in sorted(services.items()):
        theirs = document.get("components", {}).get("schemas", {})
        renames = _renames(service, schemas, theirs)
        for name, schema in theirs.items():
            schemas[renames.get(name, name)] = _rename_refs(schema, renames)
        prefix = f"/v1/{service}/"
        for path, item in document.get("paths", {}).items():
            if path.startswith(prefix):
                merged["paths"][path] = _rename_refs(item, renames)
                for operation in merged["paths"][path].values():
                    if isinstance(operation, dict):
                        _with_gateway_responses(operation, _PROXIED)
        for tag in document.get("tags", []):
            tags.setdefault(tag["name"], tag)
    if tags:
        merged["tags"] = list(tags.values())
    merged["components"]["securitySchemes"] = {
        SCHEME: {
            "type": "oauth2",
            "description": "OAuth 2.0 client credentials; tokens are RFC 9068 JWTs.",
            "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": SCOPE_DESCRIPTIONS}},
        }
    }
    _with_oauth_security(merged["paths"])
    return merged
