"""Which scopes each upstream route needs, read from the service's own OpenAPI document, so the
gateway refuses a request before it travels (the service checks again: no trust by position)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_PARAM = re.compile(r"\{([^}/]+)\}")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    scopes: frozenset[str]


def _compile(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    # Even indexes are literal text, odd ones parameter names.
    regex = "".join(re.escape(p) if i % 2 == 0 else "[^/]+" for i, p in enumerate(parts))
    return re.compile(f"^{regex}$")


def _scopes(operation: dict[str, Any]) -> frozenset[str]:
    requirements = operation.get("security") or []
    # Alternatives: a request passes with any one; we take the first, which is what ours emit.
    if not requirements:
        return frozenset()
    return frozenset(scope for scopes in requirements[0].values() for scope in scopes)


class RouteTable:
    """The routes of one service, literal paths before templated ones."""

    def __init__(self, document: dict[str, Any], prefix: str) -> None:
        routes = []
        for template, item in (document.get("paths") or {}).items():
            if not template.startswith(prefix):
                continue
            for method in _METHODS:
                operation = item.get(method)
                if isinstance(operation, dict):
                    routes.append(
                        Route(method.upper(), template, _compile(template), _scopes(operation))
                    )
        routes.sort(key=lambda r: (template_params(r.template), r.template))
        self.routes = routes

    def match(self, method: str, path: str) -> Route | None | bool:
        """The route; ``False`` when the path exists for other methods; ``None`` when unknown."""
        path_known = False
        lookup = "GET" if method == "HEAD" else method
        for route in self.routes:
            if route.pattern.match(path):
                if route.method == lookup:
                    return route
                path_known = True
        return False if path_known else None


def template_params(template: str) -> int:
    return len(_PARAM.findall(template))
