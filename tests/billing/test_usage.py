"""The usage consumer: monitoring's daily spend becomes unbilled usage and moves exposure."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from partnerguard.billing.models import DailyUsage
from partnerguard.billing.settings import BillingSettings
from partnerguard.billing.usage.handlers import monitoring_consumer
from partnerguard.common.bus.connection import EventBus
from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.monitoring import DailySpend
from tests.support.billing import RunningBilling
from tests.support.events import deliver

TODAY = datetime.now(UTC).date()
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def spend(
    customer_id: str | uuid.UUID,
    cost: str,
    *,
    day: date = TODAY,
    computed_at: datetime = T0,
    currency: str = "USD",
) -> DailySpend:
    return DailySpend(
        customer_id=uuid.UUID(str(customer_id)),
        day=day,
        cost=Decimal(cost),
        currency=currency,
        record_count=10,
        computed_at=computed_at,
    )


async def send(
    billing: RunningBilling,
    bus: EventBus,
    partner_id: uuid.UUID,
    data: DailySpend,
    event_id: uuid.UUID | None = None,
) -> None:
    await deliver(
        bus, billing.db, monitoring_consumer(billing.settings), data,
        partner_id=partner_id, customer_id=data.customer_id, event_id=event_id,
    )  # fmt: skip


async def unbilled(billing: RunningBilling, partner_id: uuid.UUID, account: dict[str, Any]) -> int:
    response = await billing.http.get(
        f"/v1/billing/accounts/{account['id']}/exposure", headers=billing.headers(partner_id)
    )
    assert response.status_code == 200, response.text
    amount: int = response.json()["unbilled_usage"]["amount"]
    return amount


async def usage_rows(db: Database, partner_id: uuid.UUID) -> list[DailyUsage]:
    async with db.sweep_session() as session:
        rows = await session.execute(
            select(DailyUsage).where(DailyUsage.partner_id == partner_id).order_by(DailyUsage.day)
        )
        return list(rows.scalars())


async def test_exposure_grows_with_each_days_spend_in_minor_units(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    customer = account["customer_id"]
    await send(billing, bus, partner_id, spend(customer, "12.34", day=TODAY - timedelta(days=1)))
    assert await unbilled(billing, partner_id, account) == 1_234
    # Half a cent rounds up.
    await send(billing, bus, partner_id, spend(customer, "1.005"))
    assert await unbilled(billing, partner_id, account) == 1_335


async def test_a_later_recomputation_of_a_day_replaces_it(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    await send(billing, bus, partner_id, spend(account["customer_id"], "10.00"))
    await send(
        billing, bus, partner_id,
        spend(account["customer_id"], "25.50", computed_at=T0 + timedelta(hours=1)),
    )  # fmt: skip

    assert await unbilled(billing, partner_id, account) == 2_550
    (row,) = await usage_rows(billing.db, partner_id)
    assert row.computed_at == T0 + timedelta(hours=1)


async def test_an_older_recomputation_arriving_late_is_ignored(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    newer = spend(account["customer_id"], "30.00", computed_at=T0 + timedelta(hours=2))
    older = spend(account["customer_id"], "5.00", computed_at=T0)
    await send(billing, bus, partner_id, newer)
    await send(billing, bus, partner_id, older)

    assert await unbilled(billing, partner_id, account) == 3_000
    (row,) = await usage_rows(billing.db, partner_id)
    assert (row.amount, row.computed_at) == (3_000, T0 + timedelta(hours=2))


async def test_a_redelivered_event_is_counted_once(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, credit_limit=1_000)
    event_id = uuid.uuid4()
    data = spend(account["customer_id"], "15.00")
    await send(billing, bus, partner_id, data, event_id=event_id)
    await send(billing, bus, partner_id, data, event_id=event_id)

    assert await unbilled(billing, partner_id, account) == 1_500
    assert len(await usage_rows(billing.db, partner_id)) == 1
    assert len(await billing.events(partner_id, "billing.exposure.limit_exceeded")) == 1


async def test_usage_before_the_account_opens_counts_once_it_does(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await send(billing, bus, partner_id, spend(customer, "7.25", day=TODAY - timedelta(days=2)))
    await send(billing, bus, partner_id, spend(customer, "2.75", day=TODAY - timedelta(days=1)))
    assert len(await usage_rows(billing.db, partner_id)) == 2

    account = await billing.open_account(partner_id, customer_id=str(customer))

    assert await unbilled(billing, partner_id, account) == 1_000


async def test_an_account_opened_over_its_limit_by_earlier_usage_says_so_at_once(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await send(billing, bus, partner_id, spend(customer, "80.00", day=TODAY - timedelta(days=1)))

    account = await billing.open_account(partner_id, customer_id=str(customer), credit_limit=5_000)

    (crossed,) = await billing.events(partner_id, "billing.exposure.limit_exceeded")
    assert crossed["data"]["account_id"] == account["id"]
    assert crossed["data"]["exposure"] == {"amount": 8_000, "currency": "USD"}


async def test_crossing_the_limit_on_usage_emits_the_event_once_per_crossing(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, credit_limit=5_000)
    customer = account["customer_id"]
    yesterday = TODAY - timedelta(days=1)

    await send(billing, bus, partner_id, spend(customer, "40.00", day=yesterday))
    assert await billing.events(partner_id, "billing.exposure.limit_exceeded") == []

    await send(billing, bus, partner_id, spend(customer, "20.00"))
    (crossed,) = await billing.events(partner_id, "billing.exposure.limit_exceeded")
    assert crossed["data"]["account_id"] == account["id"]
    assert crossed["data"]["exposure"] == {"amount": 6_000, "currency": "USD"}
    assert crossed["data"]["limit"] == {"amount": 5_000, "currency": "USD"}
    assert crossed["customerid"] == customer

    # Further over: no second event for the same crossing.
    await send(
        billing, bus, partner_id, spend(customer, "30.00", computed_at=T0 + timedelta(hours=1))
    )
    assert len(await billing.events(partner_id, "billing.exposure.limit_exceeded")) == 1

    # Back under the limit by a recomputation, then over again: a new crossing.
    await send(
        billing, bus, partner_id, spend(customer, "1.00", computed_at=T0 + timedelta(hours=2))
    )
    assert len(await billing.events(partner_id, "billing.exposure.limit_exceeded")) == 1
    await send(
        billing, bus, partner_id, spend(customer, "99.00", computed_at=T0 + timedelta(hours=3))
    )
    assert len(await billing.events(partner_id, "billing.exposure.limit_exceeded")) == 2


async def test_a_day_beyond_what_billing_can_hold_is_kept_at_the_most_and_crosses_the_limit(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, credit_limit=5_000)
    customer = account["customer_id"]
    # Monitoring totals are numeric(38, 8): 10^20 dollars is 10^22 cents, past a bigint.
    await send(billing, bus, partner_id, spend(customer, "100000000000000000000.00"))

    (row,) = await usage_rows(billing.db, partner_id)
    assert row.amount == 2**63 - 1
    assert await unbilled(billing, partner_id, account) == 2**63 - 1
    (crossed,) = await billing.events(partner_id, "billing.exposure.limit_exceeded")
    assert crossed["data"]["exposure"] == {"amount": 2**63 - 1, "currency": "USD"}

    # A recomputation back within range replaces it as any other would.
    await send(
        billing, bus, partner_id, spend(customer, "12.00", computed_at=T0 + timedelta(hours=1))
    )
    assert await unbilled(billing, partner_id, account) == 1_200


async def test_spend_in_another_currency_is_stored_but_not_counted(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, credit_limit=100)
    await send(billing, bus, partner_id, spend(account["customer_id"], "500.00", currency="EUR"))

    assert await unbilled(billing, partner_id, account) == 0
    (row,) = await usage_rows(billing.db, partner_id)
    assert (row.amount, row.currency) == (50_000, "EUR")
    assert await billing.events(partner_id, "billing.exposure.limit_exceeded") == []


async def test_spend_in_a_currency_without_minor_units_is_stored_in_whole_units(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, currency="JPY", country="JP")
    await send(billing, bus, partner_id, spend(account["customer_id"], "1234.5", currency="JPY"))
    assert await unbilled(billing, partner_id, account) == 1_235


async def test_spend_delivered_for_one_partner_never_touches_another(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    other = uuid.uuid4()
    await send(billing, bus, other, spend(account["customer_id"], "99.99"))

    assert await unbilled(billing, partner_id, account) == 0
    assert await usage_rows(billing.db, partner_id) == []
    assert len(await usage_rows(billing.db, other)) == 1


def test_the_consumer_listens_to_every_partners_daily_spend() -> None:
    consumer = monitoring_consumer(BillingSettings())
    assert consumer.spec.durable == "billing-monitoring"
    assert consumer.spec.stream == "MONITORING"
    assert consumer.spec.subjects == ["monitoring.*.spend.daily"]
