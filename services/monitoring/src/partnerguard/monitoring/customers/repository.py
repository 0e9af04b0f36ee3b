"""Queries for the customer registry."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert

from partnerguard.common.db.repository import Repository
from partnerguard.common.ids import new_id
from partnerguard.monitoring.models import Customer

# Ingestion's lookups, built once. Ids go as one array: an IN list would be a statement of its
# own for each number of customers, compiled by SQLAlchemy and prepared by PostgreSQL anew.
_USAGE_OF = select(Customer.customer_id, Customer.currency, Customer.first_usage_at).where(
    Customer.partner_id == bindparam("partner_id"),
    Customer.customer_id == any_(bindparam("customer_ids", type_=ARRAY(UUID(as_uuid=True)))),
)
_CUSTOMERS_OF_TENANTS = select(Customer.vendor_tenant_id, Customer.customer_id).where(
    Customer.partner_id == bindparam("partner_id"),
    Customer.vendor_tenant_id == any_(bindparam("tenant_ids", type_=ARRAY(UUID(as_uuid=True)))),
)


class CustomerRepository(Repository[Customer]):
    model = Customer

    async def by_customer(self, partner_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None:
        return (
            await self.session.execute(
                self.select_for_partner(partner_id).where(Customer.customer_id == customer_id)
            )
        ).scalar_one_or_none()

    async def by_tenant(self, partner_id: uuid.UUID, tenant_id: uuid.UUID) -> Customer | None:
        return (
            await self.session.execute(
                self.select_for_partner(partner_id).where(Customer.vendor_tenant_id == tenant_id)
            )
        ).scalar_one_or_none()

    async def many(
        self, partner_id: uuid.UUID, customer_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, Customer]:
        rows = await self.list(
            self.select_for_partner(partner_id).where(Customer.customer_id.in_(customer_ids))
        )
        return {row.customer_id: row for row in rows}

    async def usage_of(
        self, partner_id: uuid.UUID, customer_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str | None, datetime | None]]:
        """Usage currency and first usage of each customer known (ingestion's hot path: plain
        rows, no entities)."""
        rows = await self.session.execute(
            _USAGE_OF, {"partner_id": partner_id, "customer_ids": list(customer_ids)}
        )
        return {customer_id: (currency, first) for customer_id, currency, first in rows}

    async def customers_of_tenants(
        self, partner_id: uuid.UUID, tenant_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """Customer id by vendor tenant id, for those known."""
        rows = await self.session.execute(
            _CUSTOMERS_OF_TENANTS, {"partner_id": partner_id, "tenant_ids": list(tenant_ids)}
        )
        return {tenant: customer for tenant, customer in rows if tenant is not None}

    async def ensure(self, partner_id: uuid.UUID, customer_id: uuid.UUID) -> Customer:
        """The customer's row, created bare if monitoring has not heard of it yet."""
        await self.session.execute(
            insert(Customer)
            .values(id=new_id(), partner_id=partner_id, customer_id=customer_id)
            .on_conflict_do_nothing(index_elements=["partner_id", "customer_id"])
        )
        found = await self.by_customer(partner_id, customer_id)
        assert found is not None
        return found

    async def record_approval(
        self,
        partner_id: uuid.UUID,
        customer_id: uuid.UUID,
        *,
        risk_tier: str,
        vendor_tenant_id: uuid.UUID | None,
        approved_at: datetime,
    ) -> None:
        """Keep onboarding's word on the customer; a later approval (a re-vetting) wins."""
        statement = insert(Customer).values(
            id=new_id(),
            partner_id=partner_id,
            customer_id=customer_id,
            risk_tier=risk_tier,
            vendor_tenant_id=vendor_tenant_id,
            approved_at=approved_at,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["partner_id", "customer_id"],
                set_={
                    "risk_tier": statement.excluded.risk_tier,
                    "vendor_tenant_id": statement.excluded.vendor_tenant_id,
                    "approved_at": statement.excluded.approved_at,
                    "updated_at": statement.excluded.approved_at,
                },
                where=(Customer.approved_at.is_(None))
                | (Customer.approved_at <= statement.excluded.approved_at),
            )
        )
