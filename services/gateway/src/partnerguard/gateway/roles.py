"""Roles (the vendor's partner roles) and the scopes each grants: the one place they are defined."""

from __future__ import annotations

from enum import StrEnum

SERVICES = ("onboarding", "billing", "monitoring", "enforcement")


class Role(StrEnum):
    GLOBAL_ADMIN = "global_admin"
    BILLING_ADMIN = "billing_admin"
    ADMIN_AGENT = "admin_agent"
    USER_MANAGEMENT_ADMIN = "user_management_admin"
    # The platform operator's role: manages partners, holds no partner's data.
    PLATFORM_ADMIN = "platform_admin"


PARTNER_ROLES = frozenset(Role) - {Role.PLATFORM_ADMIN}


def _rw(*areas: str) -> frozenset[str]:
    return frozenset(f"{area}:{access}" for area in areas for access in ("read", "write"))


# ``gateway:*`` covers the partner's clients and webhooks; ``platform:*`` the partners themselves.
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.GLOBAL_ADMIN: _rw(*SERVICES, "gateway") | {"enforcement:approve"},
    Role.BILLING_ADMIN: _rw("billing"),
    Role.ADMIN_AGENT: _rw("onboarding", "monitoring", "enforcement"),
    Role.USER_MANAGEMENT_ADMIN: _rw("gateway"),
    Role.PLATFORM_ADMIN: _rw("platform"),
}

ALL_SCOPES = frozenset().union(*ROLE_SCOPES.values())

SCOPE_DESCRIPTIONS: dict[str, str] = {
    **{f"{s}:read": f"Read {s} data of the caller's partner" for s in SERVICES},
    **{f"{s}:write": f"Change {s} data of the caller's partner" for s in SERVICES},
    "enforcement:approve": "Approve or reject enforcement actions waiting for approval",
    "gateway:read": "Read the partner's API clients and webhooks",
    "gateway:write": "Manage the partner's API clients and webhooks",
    "platform:read": "Read partners (platform operator)",
    "platform:write": "Create and change partners (platform operator)",
}


def audiences(scopes: frozenset[str], gateway_audience: str) -> list[str]:
    """The resource servers a token with ``scopes`` is meant for: the gateway and each service."""
    services = sorted({scope.split(":", 1)[0] for scope in scopes} & set(SERVICES))
    return [gateway_audience, *(f"partnerguard:{service}" for service in services)]
