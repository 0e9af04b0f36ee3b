"""Queries for collections policy versions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.common.ids import new_id
from partnerguard.onboarding.models import CollectionsPolicy


class CollectionsPolicyRepository(Repository[CollectionsPolicy]):
    model = CollectionsPolicy

    async def insert_new(
        self,
        partner_id: uuid.UUID,
        *,
        version: str,
        text: str,
        payment_terms_days: int,
        grace_days: int,
        suspension_day: int,
        published_by: str,
    ) -> CollectionsPolicy | None:
        """Insert a version; None when the partner already published one by that name.

        ``ON CONFLICT DO NOTHING``: the transaction stays usable, and of two concurrent
        publications of one version exactly one succeeds.
        """
        statement = (
            insert(CollectionsPolicy)
            .values(
                id=new_id(),
                partner_id=partner_id,
                version=version,
                text=text,
                payment_terms_days=payment_terms_days,
                grace_days=grace_days,
                suspension_day=suspension_day,
                published_by=published_by,
            )
            .on_conflict_do_nothing(index_elements=["partner_id", "version"])
            .returning(CollectionsPolicy)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def latest(self, partner_id: uuid.UUID) -> CollectionsPolicy | None:
        # By id: UUIDv7 ids are in publication order and unique, so "latest" is never a tie.
        statement = (
            self.select_for_partner(partner_id).order_by(CollectionsPolicy.id.desc()).limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def by_version(self, partner_id: uuid.UUID, version: str) -> CollectionsPolicy | None:
        statement = self.select_for_partner(partner_id).where(CollectionsPolicy.version == version)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def id_of_version(self, partner_id: uuid.UUID, version: str) -> uuid.UUID | None:
        """The id of the version named ``version``, read as a plain value (every application
        that accepts a policy asks; an ORM entity costs more than the query)."""
        return (
            await self.session.execute(
                ID_OF_VERSION, {"partner_id": partner_id, "collections_version": version}
            )
        ).scalar_one_or_none()

    async def newest_first(
        self, partner_id: uuid.UUID, limit: int, before: uuid.UUID | None
    ) -> Sequence[CollectionsPolicy]:
        """Up to ``limit + 1`` versions, newest first, published before the one with id ``before``."""
        statement = self.select_for_partner(partner_id)
        if before is not None:
            statement = statement.where(CollectionsPolicy.id < before)
        return await self.list(statement.order_by(CollectionsPolicy.id.desc()).limit(limit + 1))


# Also read with the rest of what a new application is decided on (its parameter names are
# shared with that query's).
ID_OF_VERSION = select(CollectionsPolicy.id).where(
    CollectionsPolicy.partner_id == bindparam("partner_id"),
    CollectionsPolicy.version == bindparam("collections_version"),
)
