"""The client-credentials grant and token revocation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.gateway.clients.repository import ClientRepository
from partnerguard.gateway.clients.secrets import verify_secret
from partnerguard.gateway.models import RevokedToken
from partnerguard.gateway.oauth.client_auth import ClientCredentials
from partnerguard.gateway.oauth.errors import InvalidClient, OAuthError
from partnerguard.gateway.oauth.repository import RevokedTokenRepository
from partnerguard.gateway.roles import ROLE_SCOPES, Role

log = structlog.get_logger()


@dataclass(frozen=True)
class AuthenticatedClient:
    client_id: str
    partner_id: uuid.UUID
    role: Role


async def authenticate_client(
    session: AsyncSession, credentials: ClientCredentials
) -> AuthenticatedClient:
    """The client, if its secret (or a rotated one still in its overlap) matches."""
    found = await ClientRepository(session).with_partner(credentials.client_id)
    hashes: tuple[str, ...] = ()
    if found is not None:
        client, _ = found
        hashes = (client.secret_hash,)
        if client.previous_secret_hash and client.previous_secret_expires_at is not None:
            if client.previous_secret_expires_at > datetime.now(UTC):
                hashes += (client.previous_secret_hash,)
    if not await verify_secret(hashes, credentials.client_secret) or found is None:
        log.info("oauth.client_authentication_failed")
        raise InvalidClient()
    client, partner = found
    if client.status != "active" or partner.status != "active":
        raise InvalidClient("the client is not active")
    return AuthenticatedClient(client.client_id, client.partner_id, Role(client.role))


def grant_scopes(role: Role, requested: str | None) -> frozenset[str]:
    """RFC 6749 §3.3: the requested scopes if the role allows every one; all of the role's
    scopes when none are asked for."""
    allowed = ROLE_SCOPES[role]
    if requested is None:
        return allowed
    asked = frozenset(requested.split(" ")) - {""}
    if not asked:
        raise OAuthError("invalid_scope", "the scope parameter is empty")
    beyond = asked - allowed
    if beyond:
        raise OAuthError(
            "invalid_scope", f"the client's role does not allow: {' '.join(sorted(beyond))}"
        )
    return asked


async def record_revocation(
    session: AsyncSession, *, jti: str, partner_id: uuid.UUID, client_id: str, expires_at: int
) -> None:
    await RevokedTokenRepository(session).revoke(
        RevokedToken(
            jti=jti,
            partner_id=partner_id,
            client_id=client_id,
            expires_at=datetime.fromtimestamp(expires_at, UTC),
        )
    )
    log.info("oauth.token_revoked", client_id=client_id, jti=jti)
