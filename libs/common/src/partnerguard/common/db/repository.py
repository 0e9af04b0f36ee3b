"""The one generic repository: SQL for a module lives in its repository, built on this."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

M = TypeVar("M")


class Repository(Generic[M]):
    """Queries for one model, always scoped to one partner (the first wall; RLS is the second)."""

    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> Repository[M]:
        return cls(session)

    def select_for_partner(self, partner_id: uuid.UUID) -> Select[M]:
        column: Any = getattr(self.model, "partner_id")  # noqa: B009 - tenant models only
        return select(self.model).where(column == partner_id)

    async def get(self, partner_id: uuid.UUID, id_: uuid.UUID) -> M | None:
        id_column: Any = getattr(self.model, "id")  # noqa: B009
        result = await self.session.execute(
            self.select_for_partner(partner_id).where(id_column == id_)
        )
        return result.scalar_one_or_none()

    async def locked(self, partner_id: uuid.UUID, id_: uuid.UUID) -> M | None:
        """The row as committed now, locked for the rest of the transaction: concurrent
        changes to it are serialised (whoever comes second sees the first's result)."""
        id_column: Any = getattr(self.model, "id")  # noqa: B009
        statement = (
            self.select_for_partner(partner_id)
            .where(id_column == id_)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(self, statement: Select[M]) -> Sequence[M]:
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, obj: M) -> M:
        self.session.add(obj)
        await self.session.flush()
        return obj
