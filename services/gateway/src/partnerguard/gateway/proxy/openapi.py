"""The merged OpenAPI document: the gateway's own routes and every service's ``/v1/<service>/``
routes, under one OAuth 2.0 client-credentials security scheme."""

from __future__ import annotations

import copy
import json
from typing import Any

from partnerguard.gateway.roles import SCOPE_DESCRIPTIONS

SCHEME = "OAuth2"
_REF = "#/components/schemas/"
_OWN_ONLY = ("/healthz", "/readyz", "/metrics")


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


def merge_openapi(
    own: dict[str, Any], services: dict[str, dict[str, Any]], token_url: str
) -> dict[str, Any]:
    merged = copy.deepcopy(own)
    merged["paths"] = {p: v for p, v in merged.get("paths", {}).items() if p not in _OWN_ONLY}
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    tags = {t["name"]: t for t in merged.get("tags", [])}
    for service, document in sorted(services.items()):
        theirs = document.get("components", {}).get("schemas", {})
        renames = {}
        for name, schema in theirs.items():
            if name in schemas and json.dumps(schemas[name], sort_keys=True) != json.dumps(
                _rename_refs(schema, {}), sort_keys=True
            ):
                renames[name] = f"{service.capitalize()}{name}"
        for name, schema in theirs.items():
            schemas[renames.get(name, name)] = _rename_refs(schema, renames)
        prefix = f"/v1/{service}/"
        for path, item in document.get("paths", {}).items():
            if path.startswith(prefix):
                merged["paths"][path] = _rename_refs(item, renames)
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
