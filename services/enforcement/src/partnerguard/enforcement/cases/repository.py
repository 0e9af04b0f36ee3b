"""Queries for cases, their timeline and the credit request, and the registry facts they need."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.common.events.types.enforcement import CaseKind
from partnerguard.enforcement.models import Case, CaseEntry, CreditRequest, Customer, Subscription


class CaseRepository(Repository[Case]):
    model = Case

    async def lock_source_event(self, partner_id: uuid.UUID, source_event_id: uuid.UUID) -> None:
        """Serialise case opening for one source event until the transaction ends, so two
        deliveries of it cannot both open a case."""
        key = func.hashtextextended(f"case-source:{partner_id}:{source_event_id}", 0)
        await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def by_source_event(
        self, partner_id: uuid.UUID, source_event_id: uuid.UUID
    ) -> Case | None:
        statement = (
            self.select_for_partner(partner_id)
            .where(Case.source_event_id == source_event_id)
            .order_by(Case.id)
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        status: str | None,
        kind: str | None,
        customer_id: uuid.UUID | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Case]:
        statement = self.select_for_partner(partner_id)
        if status is not None:
            statement = statement.where(Case.status == status)
        if kind is not None:
            statement = statement.where(Case.kind == kind)
        if customer_id is not None:
            statement = statement.where(Case.customer_id == customer_id)
        if after is not None:
            statement = statement.where(Case.id > after)
        return await self.list(statement.order_by(Case.id).limit(limit + 1))

    async def due_for_reminder(
        self,
        today: date,
        horizon_days: int,
        limit: int,
        *,
        after: tuple[date, uuid.UUID] | None = None,
    ) -> Sequence[Case]:
        """Every partner's open, eligible compromise cases whose deadline is between today and
        ``horizon_days`` away and whose tenant has no credit request, by deadline then id after
        ``after``, locked (SKIP LOCKED) so concurrent sweeps take disjoint sets. Sweep only."""
        filed = (
            select(CreditRequest.id)
            .where(
                CreditRequest.partner_id == Case.partner_id,
                CreditRequest.vendor_tenant_id == Case.vendor_tenant_id,
            )
            .exists()
        )
        statement = (
            select(Case)
            .where(
                Case.status == "open",
                Case.kind == CaseKind.ACCOUNT_COMPROMISE.value,
                Case.credit_deadline >= today,
                Case.credit_deadline <= today + timedelta(days=horizon_days),
                func.cardinality(Case.ineligible_reasons) == 0,
                ~filed,
            )
            .where(true() if after is None else tuple_(Case.credit_deadline, Case.id) > after)
            .order_by(Case.credit_deadline, Case.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self.list(statement)


class CaseEntryRepository(Repository[CaseEntry]):
    model = CaseEntry

    async def timeline(self, partner_id: uuid.UUID, case_id: uuid.UUID) -> Sequence[CaseEntry]:
        statement = (
            self.select_for_partner(partner_id)
            .where(CaseEntry.case_id == case_id)
            .order_by(CaseEntry.at, CaseEntry.id)
        )
        return await self.list(statement)

    async def verified_cases(
        self, partner_id: uuid.UUID, case_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of ``case_ids`` have a verification entry."""
        if not case_ids:
            return set()
        statement = (
            select(CaseEntry.case_id)
            .where(
                CaseEntry.partner_id == partner_id,
                CaseEntry.case_id.in_(case_ids),
                CaseEntry.kind == "verification",
            )
            .distinct()
        )
        return set((await self.session.execute(statement)).scalars().all())


class CreditRequestRepository(Repository[CreditRequest]):
    model = CreditRequest

    async def insert_new(self, values: dict[str, Any]) -> CreditRequest | None:
        """Insert the tenant's request; None when the tenant already has one (of two concurrent
        requests exactly one succeeds, and the transaction stays usable)."""
        statement = (
            insert(CreditRequest)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["partner_id", "vendor_tenant_id"])
            .returning(CreditRequest)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def by_tenants(
        self, partner_id: uuid.UUID, tenant_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, CreditRequest]:
        if not tenant_ids:
            return {}
        statement = self.select_for_partner(partner_id).where(
            CreditRequest.vendor_tenant_id.in_(tenant_ids)
        )
        return {row.vendor_tenant_id: row for row in await self.list(statement)}


class RegistryFacts(Repository[Customer]):
    """What cases read of the registry: a customer's tenant and its subscriptions' commerce."""

    model = Customer

    async def customer(self, partner_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None:
        statement = self.select_for_partner(partner_id).where(Customer.customer_id == customer_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def subscriptions(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, subscription_ids: Sequence[uuid.UUID]
    ) -> Sequence[Subscription]:
        statement = select(Subscription).where(
            Subscription.partner_id == partner_id,
            Subscription.customer_id == customer_id,
            Subscription.subscription_id.in_(subscription_ids),
        )
        return (await self.session.execute(statement)).scalars().all()

    async def commerce_by_customer(
        self, partner_id: uuid.UUID, customer_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[str]]:
        """Each customer's subscriptions' commerce types (customers without any are absent)."""
        if not customer_ids:
            return {}
        statement = select(Subscription.customer_id, Subscription.commerce).where(
            Subscription.partner_id == partner_id, Subscription.customer_id.in_(customer_ids)
        )
        found: dict[uuid.UUID, list[str]] = {}
        for customer_id, commerce in (await self.session.execute(statement)).all():
            found.setdefault(customer_id, []).append(commerce)
        return found
