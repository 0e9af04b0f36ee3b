"""Queries for the audit log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.enforcement.models import AuditEntry, AuditHead, PendingAuditEntry


class AuditRepository(Repository[AuditEntry]):
    model = AuditEntry

    async def lock_chain(self, partner_id: uuid.UUID) -> None:
        """Serialise appends to one partner's chain until the transaction ends."""
        key = func.hashtextextended(f"audit:{partner_id}", 0)
        await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def pending(
        self, partner_id: uuid.UUID, limit: int | None
    ) -> Sequence[PendingAuditEntry]:
        """The partner's oldest ``limit`` (None: all) entries waiting to be chained, in
        recorded order."""
        statement = (
            select(PendingAuditEntry)
            .where(PendingAuditEntry.partner_id == partner_id)
            .order_by(PendingAuditEntry.position)
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def forget_pending(self, positions: Sequence[int]) -> None:
        """Remove pending entries once chained (in the transaction that chains them)."""
        await self.session.execute(
            delete(PendingAuditEntry)
            .where(PendingAuditEntry.position.in_(positions))
            .execution_options(synchronize_session=False)
        )

    async def partners_with_pending(self) -> list[uuid.UUID]:
        """Every partner with entries waiting to be chained (as the sweep role)."""
        statement = select(PendingAuditEntry.partner_id).distinct()
        return list((await self.session.scalars(statement)).all())

    async def head(self, partner_id: uuid.UUID) -> AuditHead | None:
        statement = select(AuditHead).where(AuditHead.partner_id == partner_id)
        return (await self.session.scalars(statement)).one_or_none()

    async def advance_head(self, partner_id: uuid.UUID, seq: int, hash_: str) -> None:
        """Move the partner's head to its newest entry (in the transaction that chains it)."""
        statement = insert(AuditHead).values(partner_id=partner_id, seq=seq, hash=hash_)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[AuditHead.partner_id],
                set_={"seq": statement.excluded.seq, "hash": statement.excluded.hash},
            )
        )

    async def last(self, partner_id: uuid.UUID) -> AuditEntry | None:
        statement = self.select_for_partner(partner_id).order_by(AuditEntry.seq.desc()).limit(1)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        limit: int,
        before_seq: int | None,
        subject_type: str | None = None,
        subject_id: str | None = None,
    ) -> Sequence[AuditEntry]:
        """Newest first."""
        statement = self.select_for_partner(partner_id)
        if before_seq is not None:
            statement = statement.where(AuditEntry.seq < before_seq)
        if subject_type is not None:
            statement = statement.where(AuditEntry.subject_type == subject_type)
        if subject_id is not None:
            statement = statement.where(AuditEntry.subject_id == subject_id)
        return await self.list(statement.order_by(AuditEntry.seq.desc()).limit(limit + 1))

    async def in_order(self, partner_id: uuid.UUID, chunk: int = 1000) -> AsyncIterator[AuditEntry]:
        """Every entry, oldest first, a chunk at a time."""
        after = 0
        while True:
            rows = await self.list(
                self.select_for_partner(partner_id)
                .where(AuditEntry.seq > after)
                .order_by(AuditEntry.seq)
                .limit(chunk)
            )
            for row in rows:
                yield row
            if len(rows) < chunk:
                return
            after = rows[-1].seq
