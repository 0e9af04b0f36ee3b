"""Usage as the vendor's rated-usage feed gives it, sent to monitoring through the gateway."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.e2e.customers import Customer
from tests.support.polling import eventually

GPU = {"resource_type": "Standard_NC24ads_A100_v4", "meter": "NC24ads A100 v4"}


def usage(
    tenant: uuid.UUID,
    subscription: uuid.UUID,
    start: datetime,
    cost: str,
    *,
    resource_type: str = "Standard_D2_v3",
    meter: str = "D2 v3",
    region: str = "westeurope",
) -> dict[str, Any]:
    """One hour of rated usage in EUR, naming the customer by its vendor tenant (as the vendor's
    reconciliation files do)."""
    return {
        "record_id": str(uuid.uuid4()),
        "vendor_tenant_id": str(tenant),
        "subscription_id": str(subscription),
        "meter": meter,
        "meter_category": "Virtual Machines",
        "resource_type": resource_type,
        "region": region,
        "quantity": "1",
        "unit": "1 Hour",
        "cost": cost,
        "currency": "EUR",
        "usage_start": start.isoformat(),
        "usage_end": (start + timedelta(hours=1)).isoformat(),
    }


def mining_usage(
    customer: Customer, today: datetime, office: uuid.UUID, gpu: uuid.UUID
) -> list[dict[str, Any]]:
    """Office hours on ordinary VMs three days before ``today`` (midnight UTC); the day before
    it, GPUs round the clock at 12 EUR an hour in a region the customer never used."""
    three_days_ago = today - timedelta(days=3)
    yesterday = today - timedelta(days=1)
    office_hours = [
        usage(customer.tenant, office, three_days_ago.replace(hour=hour), "1.50")
        for hour in range(8, 17)
    ]
    mining = [
        usage(
            customer.tenant,
            gpu,
            yesterday.replace(hour=hour),
            "12.00",
            region="koreacentral",
            **GPU,
        )
        for hour in range(24)
    ]
    return office_hours + mining


async def send_usage(client: httpx.AsyncClient, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Send a batch until monitoring has taken it whole: a tenant is known to monitoring only
    once onboarding's approval has reached it, and records already taken count as duplicates."""

    async def post() -> dict[str, Any]:
        response = await client.post("/v1/monitoring/usage", json={"records": records})
        assert response.status_code == 200, response.text
        summary: dict[str, Any] = response.json()
        return summary

    return await eventually(
        post, lambda summary: not summary["rejected"], "monitoring to take the usage batch"
    )
