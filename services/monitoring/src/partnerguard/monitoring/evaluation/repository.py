"""Queries for the queue of customer-days whose spend changed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, tuple_, update

from partnerguard.common.db.repository import Repository
from partnerguard.monitoring.models import CustomerDay


class CustomerDayRepository(Repository[CustomerDay]):
    model = CustomerDay

    async def claim_pending(self, limit: int) -> Sequence[CustomerDay]:
        """Up to ``limit`` changed days, oldest change first, locked for this transaction;
        days another evaluator holds are skipped, so any number may run at once."""
        statement = (
            select(CustomerDay)
            .where(CustomerDay.evaluated_revision < CustomerDay.revision)
            .order_by(CustomerDay.changed_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self.list(statement)

    async def mark_evaluated(self, days: Sequence[CustomerDay]) -> None:
        """Record the revision each day was evaluated at (what was claimed, not what is now)."""
        for revision in {day.revision for day in days}:
            keys = [
                (day.partner_id, day.customer_id, day.day)
                for day in days
                if day.revision == revision
            ]
            await self.session.execute(
                update(CustomerDay)
                .where(
                    tuple_(CustomerDay.partner_id, CustomerDay.customer_id, CustomerDay.day).in_(
                        keys
                    )
                )
                .values(evaluated_revision=revision)
                .execution_options(synchronize_session=False)
            )
