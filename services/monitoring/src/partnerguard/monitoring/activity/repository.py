"""Queries for activity-log entries and the countries customers act from."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import aliased

from partnerguard.common.db.repository import Repository
from partnerguard.monitoring.activity.schemas import ActivityFilters
from partnerguard.monitoring.models import ActivityEntry, Footprint, FootprintKind

# Rows per INSERT: 11 parameters each stays well under PostgreSQL's 32,767 per statement.
INSERT_CHUNK = 1_000
SUCCESS = "success"


class ActivityRepository(Repository[ActivityEntry]):
    model = ActivityEntry

    async def insert_new(self, rows: Sequence[Mapping[str, object]]) -> list[ActivityEntry]:
        """Store the rows whose entry id the partner never sent before; the ones stored."""
        stored: list[ActivityEntry] = []
        for start in range(0, len(rows), INSERT_CHUNK):
            statement = (
                insert(ActivityEntry)
                .values([dict(row) for row in rows[start : start + INSERT_CHUNK]])
                .on_conflict_do_nothing(index_elements=["partner_id", "entry_id"])
                .returning(ActivityEntry)
            )
            stored.extend((await self.session.execute(statement)).scalars())
        return stored

    async def first_activity(
        self, partner_id: uuid.UUID, customer_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, datetime]:
        """When each customer's earliest stored entry happened."""
        rows = await self.session.execute(
            select(ActivityEntry.customer_id, func.min(ActivityEntry.occurred_at))
            .where(
                ActivityEntry.partner_id == partner_id,
                ActivityEntry.customer_id.in_(customer_ids),
            )
            .group_by(ActivityEntry.customer_id)
        )
        return dict(rows.all())

    async def neighbours(
        self, partner_id: uuid.UUID, entry_ids: Collection[str]
    ) -> list[tuple[ActivityEntry, ActivityEntry | None, ActivityEntry | None]]:
        """For each of ``entry_ids`` (successful, with a country), the same actor's nearest
        earlier and nearest later successful entry with a country, whenever it arrived."""
        entry = aliased(ActivityEntry, name="entry")

        def nearest(earlier: bool) -> type[ActivityEntry]:
            other = aliased(ActivityEntry, name="other")
            key, entry_key = (
                tuple_(other.occurred_at, other.entry_id),
                tuple_(entry.occurred_at, entry.entry_id),
            )
            order = (
                (other.occurred_at.desc(), other.entry_id.desc())
                if earlier
                else (other.occurred_at.asc(), other.entry_id.asc())
            )
            subquery = (
                select(other)
                .where(
                    other.partner_id == entry.partner_id,
                    other.customer_id == entry.customer_id,
                    other.actor == entry.actor,
                    other.result == SUCCESS,
                    other.country.is_not(None),
                    key < entry_key if earlier else key > entry_key,
                )
                .order_by(*order)
                .limit(1)
                .lateral("earlier" if earlier else "later")
            )
            found: type[ActivityEntry] = aliased(ActivityEntry, subquery)
            return found

        before, after = nearest(earlier=True), nearest(earlier=False)
        statement = (
            select(entry, before, after)
            .select_from(entry)
            .outerjoin(before, true())
            .outerjoin(after, true())
            .where(
                entry.partner_id == partner_id,
                entry.entry_id.in_(entry_ids),
                entry.result == SUCCESS,
                entry.country.is_not(None),
            )
        )
        rows = (await self.session.execute(statement)).all()
        return [(found, earlier, later) for found, earlier, later in rows]

    async def changes(
        self,
        partner_id: uuid.UUID,
        customer_id: uuid.UUID,
        fragments: Collection[str],
        start: datetime,
        end: datetime,
    ) -> list[tuple[datetime, str]]:
        """Time and operation of the customer's successful entries in [start, end] whose
        operation contains one of ``fragments`` (ignoring case), oldest first."""
        wanted = [fragment.strip() for fragment in fragments if fragment.strip()]
        if not wanted:
            return []
        rows = await self.session.execute(
            select(ActivityEntry.occurred_at, ActivityEntry.operation)
            .where(
                ActivityEntry.partner_id == partner_id,
                ActivityEntry.customer_id == customer_id,
                ActivityEntry.occurred_at.between(start, end),
                ActivityEntry.result == SUCCESS,
                or_(*(ActivityEntry.operation.icontains(f, autoescape=True) for f in wanted)),
            )
            .order_by(ActivityEntry.occurred_at)
        )
        return [(at, operation) for at, operation in rows]

    async def page(
        self,
        partner_id: uuid.UUID,
        filters: ActivityFilters,
        *,
        limit: int,
        before: tuple[datetime, str] | None,
    ) -> Sequence[ActivityEntry]:
        """Up to ``limit`` entries, newest first, from just after the ``before`` key."""
        statement = self.select_for_partner(partner_id)
        if filters.customer_id is not None:
            statement = statement.where(ActivityEntry.customer_id == filters.customer_id)
        if filters.actor is not None:
            statement = statement.where(ActivityEntry.actor == filters.actor)
        if filters.occurred_from is not None:
            statement = statement.where(ActivityEntry.occurred_at >= filters.occurred_from)
        if filters.occurred_to is not None:
            statement = statement.where(ActivityEntry.occurred_at < filters.occurred_to)
        if before is not None:
            statement = statement.where(
                tuple_(ActivityEntry.occurred_at, ActivityEntry.entry_id) < tuple_(*before)
            )
        return await self.list(
            statement.order_by(
                ActivityEntry.occurred_at.desc(), ActivityEntry.entry_id.desc()
            ).limit(limit)
        )


class CountryFootprintRepository(Repository[Footprint]):
    model = Footprint

    async def known(
        self, partner_id: uuid.UUID, customer_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, set[str]]:
        """The countries each customer acted from before."""
        rows = await self.session.execute(
            select(Footprint.customer_id, Footprint.value).where(
                Footprint.partner_id == partner_id,
                Footprint.kind == FootprintKind.ACTIVITY_COUNTRY.value,
                Footprint.customer_id.in_(customer_ids),
            )
        )
        known: dict[uuid.UUID, set[str]] = {}
        for customer_id, country in rows:
            known.setdefault(customer_id, set()).add(country)
        return known

    async def record(
        self, partner_id: uuid.UUID, first_seen: Mapping[tuple[uuid.UUID, str], datetime]
    ) -> None:
        """Remember that each customer acted from each country (the first sighting stays).

        The activity rules judge a new country as it arrives, so these are born reported."""
        if not first_seen:
            return
        await self.session.execute(
            insert(Footprint)
            .values(
                [
                    {
                        "partner_id": partner_id,
                        "customer_id": customer_id,
                        "kind": FootprintKind.ACTIVITY_COUNTRY.value,
                        "value": country,
                        "first_seen_at": at,
                        "reported": True,
                    }
                    for (customer_id, country), at in sorted(first_seen.items())
                ]
            )
            .on_conflict_do_nothing(index_elements=["partner_id", "customer_id", "kind", "value"])
        )
