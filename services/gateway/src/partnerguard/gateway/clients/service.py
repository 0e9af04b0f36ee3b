"""OAuth clients of a partner: created with one role, rotated, revoked."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.auth import Caller
from partnerguard.common.errors import Forbidden, NotFound, PolicyViolation
from partnerguard.gateway.clients.repository import ClientRepository
from partnerguard.gateway.clients.secrets import hash_secret, new_client_id, new_client_secret
from partnerguard.gateway.models import Client
from partnerguard.gateway.partners.repository import PartnerRepository
from partnerguard.gateway.roles import ROLE_SCOPES, Role

log = structlog.get_logger()


def check_may_grant(caller: Caller, role: Role) -> None:
    """A caller may create a client only in a role whose powers it holds itself, except that a
    user-management admin may hand out the partner's working roles. No one creates a global
    admin but a global admin, and platform admins come only from the operator's command line."""
    if role is Role.PLATFORM_ADMIN:
        raise Forbidden("platform_admin clients are created by the platform operator")
    if role is Role.GLOBAL_ADMIN and not ROLE_SCOPES[Role.GLOBAL_ADMIN] <= caller.scopes:
        raise Forbidden("only a global_admin may create a global_admin client")


async def create_client(
    session: AsyncSession, partner_id: uuid.UUID, name: str, role: Role
) -> tuple[Client, str]:
    """A new client and its secret (returned this once)."""
    partner = await PartnerRepository(session).by_id(partner_id)
    if partner is None:
        raise NotFound("no such partner")
    if (role is Role.PLATFORM_ADMIN) != (partner.kind == "operator"):
        raise PolicyViolation(
            "platform_admin clients belong to the operator, and operator clients are platform admins"
        )
    secret = new_client_secret()
    client = Client(
        partner_id=partner_id,
        client_id=new_client_id(),
        name=name,
        role=role.value,
        secret_hash=await hash_secret(secret),
        status="active",
    )
    await ClientRepository(session).add(client)
    log.info("client.created", client_id=client.client_id, partner_id=str(partner_id), role=role)
    return client, secret


async def get_client(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> Client:
    client = await ClientRepository(session).get(partner_id, id_)
    if client is None:
        raise NotFound("no such client")
    return client


async def list_clients(
    session: AsyncSession, partner_id: uuid.UUID, limit: int, after: uuid.UUID | None
) -> Sequence[Client]:
    return await ClientRepository(session).page(partner_id, limit, after)


async def revoke_client(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> Client:
    """Revoke a client: no new tokens, and the gateway refuses those it holds."""
    client = await get_client(session, partner_id, id_)
    if client.status != "revoked":
        client.status = "revoked"
        client.revoked_at = datetime.now(UTC)
        await session.flush()
        log.info("client.revoked", client_id=client.client_id, partner_id=str(partner_id))
    return client


async def rotate_client_secret(
    session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID, overlap: timedelta
) -> tuple[Client, str]:
    """A new secret; the old one keeps working for ``overlap`` (zero: it stops at once)."""
    client = await get_client(session, partner_id, id_)
    if client.status == "revoked":
        raise PolicyViolation("a revoked client cannot get a new secret")
    secret = new_client_secret()
    if overlap > timedelta(0):
        client.previous_secret_hash = client.secret_hash
        client.previous_secret_expires_at = datetime.now(UTC) + overlap
    else:
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
    client.secret_hash = await hash_secret(secret)
    await session.flush()
    log.info("client.secret_rotated", client_id=client.client_id, partner_id=str(partner_id))
    return client, secret
