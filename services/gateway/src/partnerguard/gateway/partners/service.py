"""Partners: the tenants of the platform, managed by the platform operator."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict, NotFound
from partnerguard.gateway.models import Partner
from partnerguard.gateway.partners.repository import PartnerRepository


async def create_partner(
    session: AsyncSession, name: str, kind: Literal["partner", "operator"] = "partner"
) -> Partner:
    partners = PartnerRepository(session)
    if await partners.by_name(name) is not None:
        raise Conflict(f"a partner named {name!r} exists already")
    return await partners.add(Partner(name=name, kind=kind, status="active"))


async def get_partner(session: AsyncSession, partner_id: uuid.UUID) -> Partner:
    partner = await PartnerRepository(session).by_id(partner_id)
    if partner is None:
        raise NotFound("no such partner")
    return partner


async def list_partners(
    session: AsyncSession, limit: int, after: uuid.UUID | None
) -> Sequence[Partner]:
    return await PartnerRepository(session).page(limit, after)
