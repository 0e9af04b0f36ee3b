"""The partner's collections policy: versions are published, never changed, and the latest is
the one new customers accept. Dunning later holds a customer to the version it accepted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict, NotFound
from partnerguard.onboarding.collections.repository import CollectionsPolicyRepository
from partnerguard.onboarding.collections.schemas import CollectionsPolicyIn
from partnerguard.onboarding.models import CollectionsPolicy

log = structlog.get_logger()


async def publish_policy(
    session: AsyncSession, partner_id: uuid.UUID, policy: CollectionsPolicyIn, actor: str
) -> CollectionsPolicy:
    """Publish ``policy`` as the partner's current version; ``Conflict`` when its version name
    is taken (published versions are evidence customers accepted, so they are never replaced)."""
    row = await CollectionsPolicyRepository(session).insert_new(
        partner_id,
        version=policy.version,
        text=policy.text,
        payment_terms_days=policy.payment_terms_days,
        grace_days=policy.grace_days,
        suspension_day=policy.suspension_day,
        published_by=actor,
    )
    if row is None:
        raise Conflict(
            f"collections policy version {policy.version!r} is already published; "
            "publish the change under a new version"
        )
    log.info(
        "collections_policy.published",
        policy_id=str(row.id),
        partner_id=str(partner_id),
        version=row.version,
    )
    return row


async def current_policy(session: AsyncSession, partner_id: uuid.UUID) -> CollectionsPolicy | None:
    """The latest published version, or None before the partner publishes one."""
    return await CollectionsPolicyRepository(session).latest(partner_id)


async def policy_version(
    session: AsyncSession, partner_id: uuid.UUID, version: str
) -> CollectionsPolicy | None:
    """The partner's published version named ``version`` (exact match), or None."""
    return await CollectionsPolicyRepository(session).by_version(partner_id, version)


async def published_version_id(
    session: AsyncSession, partner_id: uuid.UUID, version: str
) -> uuid.UUID | None:
    """The id of the partner's published version named ``version`` (exact match), or None."""
    return await CollectionsPolicyRepository(session).id_of_version(partner_id, version)


async def require_current_policy(session: AsyncSession, partner_id: uuid.UUID) -> CollectionsPolicy:
    """The latest published version; ``NotFound`` before the partner publishes one."""
    policy = await current_policy(session, partner_id)
    if policy is None:
        raise NotFound("no collections policy has been published yet")
    return policy


async def require_policy_version(
    session: AsyncSession, partner_id: uuid.UUID, version: str
) -> CollectionsPolicy:
    """The published version named ``version``; ``NotFound`` for none (or another partner's)."""
    policy = await policy_version(session, partner_id, version)
    if policy is None:
        raise NotFound(f"no collections policy version {version!r}")
    return policy


async def list_versions(
    session: AsyncSession, partner_id: uuid.UUID, limit: int, before: uuid.UUID | None
) -> Sequence[CollectionsPolicy]:
    """Up to ``limit + 1`` published versions, newest first, older than the one with id ``before``."""
    return await CollectionsPolicyRepository(session).newest_first(partner_id, limit, before)
