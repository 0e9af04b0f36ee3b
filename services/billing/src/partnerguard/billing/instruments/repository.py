"""Queries for instruments, the partner's BIN ranges and its instrument policy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from partnerguard.billing.models import BinRange, Instrument, InstrumentPolicy
from partnerguard.common.db.repository import Repository
from partnerguard.common.ids import new_id


class InstrumentRepository(Repository[Instrument]):
    model = Instrument

    async def of_account(
        self, partner_id: uuid.UUID, account_id: uuid.UUID, id_: uuid.UUID
    ) -> Instrument | None:
        statement = self.select_for_partner(partner_id).where(
            Instrument.account_id == account_id, Instrument.id == id_
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        partner_id: uuid.UUID,
        account_id: uuid.UUID,
        *,
        status: str | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Instrument]:
        statement = self.select_for_partner(partner_id).where(Instrument.account_id == account_id)
        if status is not None:
            statement = statement.where(Instrument.status == status)
        if after is not None:
            statement = statement.where(Instrument.id > after)
        return await self.list(statement.order_by(Instrument.id).limit(limit + 1))


class BinRangeRepository(Repository[BinRange]):
    model = BinRange

    async def insert_new(self, values: dict[str, Any]) -> BinRange | None:
        """Insert a range; None when the partner already has one for the prefix (of two
        concurrent adds exactly one succeeds, and the transaction stays usable)."""
        statement = (
            insert(BinRange)
            .values(id=new_id(), **values)
            .on_conflict_do_nothing(index_elements=["partner_id", "prefix"])
            .returning(BinRange)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def matching(self, partner_id: uuid.UUID, prefixes: Sequence[str]) -> Sequence[BinRange]:
        """The partner's ranges whose prefix is one of ``prefixes`` (at most 8 rows)."""
        statement = self.select_for_partner(partner_id).where(BinRange.prefix.in_(prefixes))
        return await self.list(statement)

    async def page(
        self, partner_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
    ) -> Sequence[BinRange]:
        statement = self.select_for_partner(partner_id)
        if after is not None:
            statement = statement.where(BinRange.id > after)
        return await self.list(statement.order_by(BinRange.id).limit(limit + 1))

    async def remove(self, partner_id: uuid.UUID, id_: uuid.UUID) -> bool:
        """Delete the partner's range ``id_``; False when it has none by that id."""
        statement = (
            delete(BinRange)
            .where(BinRange.partner_id == partner_id, BinRange.id == id_)
            .returning(BinRange.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None


class InstrumentPolicyRepository(Repository[InstrumentPolicy]):
    model = InstrumentPolicy

    async def of_partner(self, partner_id: uuid.UUID) -> InstrumentPolicy | None:
        statement = self.select_for_partner(partner_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def save(
        self,
        partner_id: uuid.UUID,
        *,
        refused: list[str],
        exceptions: list[dict[str, Any]],
        updated_by: str,
    ) -> InstrumentPolicy:
        """Insert or replace the partner's one policy row (two concurrent saves: the last wins)."""
        proposed = insert(InstrumentPolicy).values(
            id=new_id(),
            partner_id=partner_id,
            refused=refused,
            exceptions=exceptions,
            updated_by=updated_by,
        )
        statement = proposed.on_conflict_do_update(
            index_elements=["partner_id"],
            set_={
                "refused": proposed.excluded.refused,
                "exceptions": proposed.excluded.exceptions,
                "updated_by": proposed.excluded.updated_by,
                "updated_at": proposed.excluded.updated_at,
            },
        ).returning(InstrumentPolicy)
        result = await self.session.execute(
            statement, execution_options={"populate_existing": True}
        )
        saved: InstrumentPolicy = result.scalar_one()
        return saved
