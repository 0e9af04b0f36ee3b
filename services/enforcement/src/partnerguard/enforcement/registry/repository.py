"""Queries for the registry: customers and their subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, func, literal_column, update
from sqlalchemy.dialects.postgresql import insert

from partnerguard.common.db.repository import Repository
from partnerguard.common.ids import new_id
from partnerguard.enforcement.models import Customer, Subscription


class CustomerRepository(Repository[Customer]):
    model = Customer

    async def locked_or_new(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID
    ) -> tuple[Customer, bool]:
        """The customer's row, created if missing, locked for the rest of the transaction;
        True when this call created it. Everything that changes a customer's holds or
        subscriptions takes this lock first, so those changes are serialised per customer."""
        # One statement: the no-op update on conflict takes the row lock FOR UPDATE would,
        # and a row version's xmax is 0 only when this statement inserted it.
        statement = (
            insert(Customer)
            .values(
                id=new_id(),
                partner_id=partner_id,
                customer_id=customer_id,
                mfa_attested=False,
                budget_set=False,
                prepayment_cleared=False,
            )
            .on_conflict_do_update(
                index_elements=["partner_id", "customer_id"],
                set_={"customer_id": customer_id},
            )
            .returning(Customer, literal_column("xmax = 0", Boolean))
            .execution_options(populate_existing=True)
        )
        customer, created = (await self.session.execute(statement)).one()
        return customer, bool(created)

    async def by_customer(self, partner_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None:
        statement = self.select_for_partner(partner_id).where(Customer.customer_id == customer_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        vendor_tenant_id: uuid.UUID | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Customer]:
        statement = self.select_for_partner(partner_id)
        if vendor_tenant_id is not None:
            statement = statement.where(Customer.vendor_tenant_id == vendor_tenant_id)
        if after is not None:
            statement = statement.where(Customer.id > after)
        return await self.list(statement.order_by(Customer.id).limit(limit + 1))


class SubscriptionRepository(Repository[Subscription]):
    model = Subscription

    async def insert_new(self, values: dict[str, Any]) -> Subscription | None:
        """Insert a subscription; None when the partner already has one of that vendor id."""
        statement = (
            insert(Subscription)
            .values(id=new_id(), **values)
            .on_conflict_do_nothing(index_elements=["partner_id", "subscription_id"])
            .returning(Subscription)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def by_subscription_id(
        self, partner_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> Subscription | None:
        statement = self.select_for_partner(partner_id).where(
            Subscription.subscription_id == subscription_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def of_customer(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID
    ) -> Sequence[Subscription]:
        statement = self.select_for_partner(partner_id).where(
            Subscription.customer_id == customer_id
        )
        return await self.list(statement.order_by(Subscription.id))

    async def want(
        self, partner_id: uuid.UUID, ids: Sequence[uuid.UUID], desired: str
    ) -> Sequence[Subscription]:
        """Set the desired status of the rows ``ids`` in one statement, bumping the revision of
        each row it changes (the provider work acts on one revision); the rows changed, as
        they now are."""
        if not ids:
            return []
        statement = (
            update(Subscription)
            .where(
                Subscription.partner_id == partner_id,
                Subscription.id.in_(ids),
                Subscription.desired_status != desired,
            )
            .values(
                desired_status=desired,
                revision=Subscription.revision + 1,
                updated_at=func.now(),
            )
            .returning(Subscription)
            .execution_options(synchronize_session="fetch", populate_existing=True)
        )
        return (await self.session.scalars(statement)).all()

    async def page(
        self,
        partner_id: uuid.UUID,
        *,
        customer_id: uuid.UUID | None,
        status: str | None,
        desired_status: str | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> Sequence[Subscription]:
        statement = self.select_for_partner(partner_id)
        if customer_id is not None:
            statement = statement.where(Subscription.customer_id == customer_id)
        if status is not None:
            statement = statement.where(Subscription.status == status)
        if desired_status is not None:
            statement = statement.where(Subscription.desired_status == desired_status)
        if after is not None:
            statement = statement.where(Subscription.id > after)
        return await self.list(statement.order_by(Subscription.id).limit(limit + 1))
