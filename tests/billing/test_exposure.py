"""Exposure over HTTP: receivables plus unbilled usage less credit, against the credit limit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from partnerguard.billing.models import Allocation, DailyUsage, Invoice, Payment
from partnerguard.billing.usage.handlers import monitoring_consumer
from partnerguard.common.bus.connection import EventBus
from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.monitoring import DailySpend
from tests.support.billing import RunningBilling
from tests.support.events import deliver

TODAY = datetime.now(UTC).date()


async def add_invoice(
    db: Database,
    account: dict[str, Any],
    partner_id: uuid.UUID,
    *,
    total: int,
    status: str = "open",
    paid: int = 0,
    period_end: date | None = None,
) -> uuid.UUID:
    id_ = uuid.uuid4()
    async with db.sweep_session() as session:
        session.add(
            Invoice(
                id=id_,
                partner_id=partner_id,
                account_id=uuid.UUID(account["id"]),
                customer_id=uuid.UUID(account["customer_id"]),
                number=f"INV-{id_.hex[:10]}",
                currency=account["currency"],
                status=status,
                issued_on=TODAY - timedelta(days=5),
                terms_days=30,
                due_on=TODAY + timedelta(days=25),
                period_start=None if period_end is None else period_end.replace(day=1),
                period_end=period_end,
                total=total,
                paid=paid,
                credited=0,
                created_by="test",
            )
        )
    return id_


async def add_payment(
    db: Database,
    account: dict[str, Any],
    partner_id: uuid.UUID,
    *,
    amount: int,
    allocations: dict[uuid.UUID, int] | None = None,
    status: str = "posted",
) -> None:
    """A payment and its allocations; what is not allocated is the account's credit."""
    allocations = allocations or {}
    payment_id = uuid.uuid4()
    async with db.sweep_session() as session:
        session.add(
            Payment(
                id=payment_id,
                partner_id=partner_id,
                account_id=uuid.UUID(account["id"]),
                customer_id=uuid.UUID(account["customer_id"]),
                amount=amount,
                currency=account["currency"],
                method="bank_transfer",
                invoice_hints=[],
                status=status,
                posted_at=datetime.now(UTC) if status == "posted" else None,
                allocated=sum(allocations.values()),
                recorded_by="test",
            )
        )
        await session.flush()
        for invoice_id, part in allocations.items():
            session.add(
                Allocation(
                    partner_id=partner_id, payment_id=payment_id, invoice_id=invoice_id, amount=part
                )
            )


async def add_usage(
    db: Database, account: dict[str, Any], partner_id: uuid.UUID, day: date, amount: int
) -> None:
    async with db.sweep_session() as session:
        session.add(
            DailyUsage(
                partner_id=partner_id,
                customer_id=uuid.UUID(account["customer_id"]),
                day=day,
                amount=amount,
                currency=account["currency"],
                computed_at=datetime.now(UTC),
            )
        )


async def exposure_of(
    billing: RunningBilling, partner_id: uuid.UUID, account_id: str
) -> dict[str, Any]:
    response = await billing.http.get(
        f"/v1/billing/accounts/{account_id}/exposure", headers=billing.headers(partner_id)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def usd(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


async def test_exposure_is_open_receivables_plus_unbilled_usage_less_credit(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, credit_limit=20_000)
    invoice = await add_invoice(
        billing.db, account, partner_id, total=10_000, status="partially_paid", paid=2_000
    )
    await add_invoice(billing.db, account, partner_id, total=4_000, status="paid", paid=4_000)
    await add_payment(billing.db, account, partner_id, amount=3_500, allocations={invoice: 2_000})
    await add_payment(billing.db, account, partner_id, amount=900, status="reported")
    await add_usage(billing.db, account, partner_id, TODAY - timedelta(days=2), 1_200)
    await add_usage(billing.db, account, partner_id, TODAY - timedelta(days=1), 1_300)

    exposure = await exposure_of(billing, partner_id, account["id"])

    assert exposure == {
        "account_id": account["id"],
        "customer_id": account["customer_id"],
        "currency": "USD",
        "open_receivables": usd(8_000),
        "unbilled_usage": usd(2_500),
        "credit_balance": usd(1_500),
        "exposure": usd(9_000),
        "credit_limit": usd(20_000),
        "headroom": usd(11_000),
        "over_limit": False,
    }


async def test_usage_up_to_the_last_billed_period_is_not_unbilled(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    billed_until = TODAY - timedelta(days=3)
    await add_invoice(billing.db, account, partner_id, total=500, period_end=billed_until)
    await add_usage(billing.db, account, partner_id, billed_until, 111)
    await add_usage(billing.db, account, partner_id, billed_until + timedelta(days=1), 222)

    exposure = await exposure_of(billing, partner_id, account["id"])

    assert exposure["unbilled_usage"] == usd(222)
    assert exposure["exposure"] == usd(722)
    assert (exposure["credit_limit"], exposure["headroom"]) == (None, None)


async def test_the_exposure_list_pages_filters_and_flags_accounts_over_their_limit(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    within = await billing.open_account(partner_id, credit_limit=10_000)
    over = await billing.open_account(partner_id, credit_limit=1_000)
    unlimited = await billing.open_account(partner_id)
    await add_invoice(billing.db, within, partner_id, total=500)
    # Usage delivered through the consumer runs the exposure check that flags the account.
    await deliver(
        bus, billing.db, monitoring_consumer(billing.settings),
        DailySpend(customer_id=uuid.UUID(over["customer_id"]), day=TODAY, cost=Decimal("25.00"),
                   currency="USD", record_count=3, computed_at=datetime.now(UTC)),
        partner_id=partner_id,
    )  # fmt: skip
    headers = billing.headers(partner_id)

    first = (await billing.http.get("/v1/billing/exposure?limit=2", headers=headers)).json()
    second = (
        await billing.http.get(
            f"/v1/billing/exposure?limit=2&cursor={first['next_cursor']}", headers=headers
        )
    ).json()
    flagged = (
        await billing.http.get("/v1/billing/exposure?over_limit=true", headers=headers)
    ).json()
    fine = (await billing.http.get("/v1/billing/exposure?over_limit=false", headers=headers)).json()
    one = (
        await billing.http.get(
            f"/v1/billing/exposure?customer_id={within['customer_id']}", headers=headers
        )
    ).json()

    listed = [row["account_id"] for row in first["items"] + second["items"]]
    assert listed == [within["id"], over["id"], unlimited["id"]]
    assert second["next_cursor"] is None
    (over_row,) = flagged["items"]
    assert over_row["account_id"] == over["id"]
    assert over_row["over_limit"] is True
    assert over_row["exposure"] == usd(2_500)
    assert over_row["headroom"] == usd(-1_500)
    assert [row["account_id"] for row in fine["items"]] == [within["id"], unlimited["id"]]
    assert [row["open_receivables"] for row in one["items"]] == [usd(500)]


async def test_another_partners_exposure_is_not_found_and_not_listed(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    other = billing.headers(uuid.uuid4())
    got = await billing.http.get(f"/v1/billing/accounts/{account['id']}/exposure", headers=other)
    assert got.status_code == 404
    assert got.headers["content-type"] == "application/problem+json"
    listed = await billing.http.get("/v1/billing/exposure", headers=other)
    assert listed.json()["items"] == []


async def test_exposure_needs_the_read_scope_and_checks_its_parameters(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    foreign = billing.headers(partner_id, scopes=["enforcement:read"])
    assert (await billing.http.get("/v1/billing/exposure", headers=foreign)).status_code == 403
    url = f"/v1/billing/accounts/{account['id']}/exposure"
    assert (await billing.http.get(url, headers=foreign)).status_code == 403
    headers = billing.headers(partner_id)
    for query in ("over_limit=maybe", "customer_id=nope", "limit=500"):
        response = await billing.http.get(f"/v1/billing/exposure?{query}", headers=headers)
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"
    missing = await billing.http.get(
        f"/v1/billing/accounts/{uuid.uuid4()}/exposure", headers=headers
    )
    assert missing.status_code == 404
