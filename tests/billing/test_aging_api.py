"""The aging report over HTTP: buckets at every edge, totals, DSO, as_of, paging, isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from partnerguard.billing.models import Invoice
from partnerguard.common.db.engine import Database
from tests.support.billing import RunningBilling

URL = "/v1/billing/receivables/aging"
AS_OF = date(2026, 6, 30)


async def add_invoice(
    db: Database,
    account: dict[str, Any],
    partner_id: uuid.UUID,
    *,
    total: int,
    issued_on: date,
    due_on: date | None = None,
    status: str = "open",
    paid: int = 0,
    credited: int = 0,
) -> uuid.UUID:
    """An invoice row as the invoices module would write it."""
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
                issued_on=issued_on,
                terms_days=((due_on or issued_on) - issued_on).days,
                due_on=due_on or issued_on,
                total=total,
                paid=paid,
                credited=credited,
                created_by="test",
            )
        )
    return id_


async def aging(billing: RunningBilling, partner_id: uuid.UUID, **params: Any) -> dict[str, Any]:
    response = await billing.http.get(URL, params=params, headers=billing.headers(partner_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def amounts(row: dict[str, Any]) -> dict[str, int]:
    keys = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90", "total")
    return {key: row[key]["amount"] for key in keys}


async def test_every_bucket_edge_lands_where_the_days_past_due_say(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    # Days past due on AS_OF -> the amount owed, one customer each.
    owed = {-5: 1, 0: 2, 1: 4, 30: 8, 31: 16, 60: 32, 61: 64, 90: 128, 91: 256}
    accounts: dict[int, dict[str, Any]] = {}
    for days, amount in owed.items():
        accounts[days] = await billing.open_account(partner_id)
        due = AS_OF - timedelta(days=days)
        await add_invoice(
            billing.db, accounts[days], partner_id, total=amount,
            issued_on=min(due, AS_OF) - timedelta(days=10), due_on=due,
        )  # fmt: skip

    report = await aging(billing, partner_id, as_of=AS_OF.isoformat())

    expected_bucket = {-5: "current", 0: "current", 1: "days_1_30", 30: "days_1_30",
                       31: "days_31_60", 60: "days_31_60", 61: "days_61_90", 90: "days_61_90",
                       91: "days_over_90"}  # fmt: skip
    by_customer = {row["customer_id"]: row for row in report["items"]}
    for days, account in accounts.items():
        row = by_customer[account["customer_id"]]
        assert row[expected_bucket[days]]["amount"] == owed[days], days
        assert row["total"]["amount"] == owed[days]
        assert row["account_id"] == account["id"]
    (totals,) = report["totals"]
    assert amounts(totals) == {
        "current": 3, "days_1_30": 12, "days_31_60": 48, "days_61_90": 192,
        "days_over_90": 256, "total": 511,
    }  # fmt: skip
    assert totals["currency"] == "USD"
    assert totals["customers"] == len(owed)
    assert totals["open_invoices"] == len(owed)
    assert report["as_of"] == AS_OF.isoformat()


async def test_totals_and_dso_count_open_balances_against_ninety_days_of_credit_sales(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    add = partial(add_invoice, billing.db, account, partner_id)
    await add(total=1_000, issued_on=AS_OF - timedelta(days=10))
    await add(total=3_000, issued_on=AS_OF - timedelta(days=20), status="paid", paid=3_000)
    await add(total=5_000, issued_on=AS_OF - timedelta(days=5), status="void")
    await add(total=2_000, issued_on=AS_OF - timedelta(days=100))  # receivable, not a sale
    await add(total=500, issued_on=AS_OF - timedelta(days=89))  # the window's first day
    await add(total=700, issued_on=AS_OF - timedelta(days=90))  # just outside it

    report = await aging(billing, partner_id, as_of=AS_OF.isoformat())

    (totals,) = report["totals"]
    assert totals["total"]["amount"] == 4_200
    assert totals["credit_sales"] == {"amount": 4_500, "currency": "USD"}
    assert totals["dso"] == 84.0  # 4200 / 4500 x 90
    (row,) = report["items"]
    assert row["dso"] == 84.0
    assert row["open_invoices"] == 4


async def test_dso_is_null_without_sales_in_the_window(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    await add_invoice(
        billing.db, account, partner_id, total=900, issued_on=AS_OF - timedelta(days=200)
    )
    report = await aging(billing, partner_id, as_of=AS_OF.isoformat())
    assert report["totals"][0]["dso"] is None
    assert report["items"][0]["dso"] is None


async def test_paid_void_and_written_off_invoices_are_not_aged_and_part_payments_age_their_balance(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    issued, due = AS_OF - timedelta(days=60), AS_OF - timedelta(days=45)
    add = partial(add_invoice, billing.db, account, partner_id, issued_on=issued, due_on=due)
    await add(total=1_000, status="paid", paid=1_000)
    await add(total=2_000, status="void")
    await add(total=4_000, status="uncollectible", paid=500)
    await add(total=10_000, status="partially_paid", paid=2_500, credited=1_000)

    report = await aging(billing, partner_id, as_of=AS_OF.isoformat())

    (row,) = report["items"]
    assert row["days_31_60"]["amount"] == 6_500
    assert row["total"]["amount"] == 6_500
    assert row["open_invoices"] == 1


async def test_a_past_as_of_leaves_out_invoices_issued_after_it(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    today = datetime.now(UTC).date()
    await add_invoice(
        billing.db,
        account,
        partner_id,
        total=100,
        issued_on=today - timedelta(days=40),
        due_on=today - timedelta(days=10),
    )
    await add_invoice(
        billing.db,
        account,
        partner_id,
        total=200,
        issued_on=today - timedelta(days=5),
        due_on=today + timedelta(days=25),
    )

    earlier = await aging(billing, partner_id, as_of=(today - timedelta(days=6)).isoformat())
    now = await aging(billing, partner_id)

    assert amounts(earlier["totals"][0]) == {
        "current": 0, "days_1_30": 100, "days_31_60": 0, "days_61_90": 0,
        "days_over_90": 0, "total": 100,
    }  # fmt: skip
    assert now["as_of"] == today.isoformat()
    assert amounts(now["totals"][0]) == {
        "current": 200, "days_1_30": 100, "days_31_60": 0, "days_61_90": 0,
        "days_over_90": 0, "total": 300,
    }  # fmt: skip


async def test_totals_are_per_currency(billing: RunningBilling, partner_id: uuid.UUID) -> None:
    usd = await billing.open_account(partner_id)
    eur = await billing.open_account(partner_id, currency="EUR", country="DE")
    await add_invoice(billing.db, usd, partner_id, total=100, issued_on=AS_OF)
    await add_invoice(billing.db, eur, partner_id, total=250, issued_on=AS_OF)

    report = await aging(billing, partner_id, as_of=AS_OF.isoformat())

    assert [(t["currency"], t["total"]) for t in report["totals"]] == [
        ("EUR", {"amount": 250, "currency": "EUR"}),
        ("USD", {"amount": 100, "currency": "USD"}),
    ]


async def test_customers_are_paged_while_totals_cover_them_all_and_the_filter_narrows_both(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    accounts = [await billing.open_account(partner_id) for _ in range(3)]
    for index, account in enumerate(accounts):
        await add_invoice(billing.db, account, partner_id, total=10**index, issued_on=AS_OF)
    nothing_owed = await billing.open_account(partner_id)
    await add_invoice(
        billing.db, nothing_owed, partner_id, total=5, issued_on=AS_OF, status="paid", paid=5
    )

    first = await aging(billing, partner_id, as_of=AS_OF.isoformat(), limit=2)
    second = await aging(
        billing, partner_id, as_of=AS_OF.isoformat(), limit=2, cursor=first["next_cursor"]
    )

    listed = [row["customer_id"] for row in first["items"] + second["items"]]
    assert listed == sorted(a["customer_id"] for a in accounts)
    assert second["next_cursor"] is None
    assert first["totals"] == second["totals"]
    assert first["totals"][0]["total"]["amount"] == 111
    assert first["totals"][0]["customers"] == 3

    one = await aging(
        billing, partner_id, as_of=AS_OF.isoformat(), customer_id=accounts[2]["customer_id"]
    )
    assert [row["customer_id"] for row in one["items"]] == [accounts[2]["customer_id"]]
    assert one["totals"][0]["total"]["amount"] == 100


async def test_a_partner_with_nothing_owed_gets_an_empty_report(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    report = await aging(billing, partner_id)
    assert (report["items"], report["totals"], report["next_cursor"]) == ([], [], None)


async def test_another_partners_invoices_are_not_aged(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    await add_invoice(billing.db, account, partner_id, total=100, issued_on=AS_OF)
    other = uuid.uuid4()
    theirs = await billing.open_account(other)
    await add_invoice(billing.db, theirs, other, total=7, issued_on=AS_OF)

    mine = await aging(billing, partner_id, as_of=AS_OF.isoformat())
    assert [row["customer_id"] for row in mine["items"]] == [account["customer_id"]]
    assert mine["totals"][0]["total"]["amount"] == 100
    snooping = await aging(
        billing, other, as_of=AS_OF.isoformat(), customer_id=account["customer_id"]
    )
    assert (snooping["items"], snooping["totals"]) == ([], [])


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"as_of": (datetime.now(UTC).date() + timedelta(days=1)).isoformat()}, 422),
        ({"as_of": "30/06/2026"}, 422),
        ({"as_of": "2026-02-30"}, 422),
        ({"customer_id": "nope"}, 422),
        ({"limit": 0}, 422),
        ({"cursor": "not-a-cursor"}, 400),
    ],
)
async def test_bad_parameters_are_problem_json(
    billing: RunningBilling, partner_id: uuid.UUID, params: dict[str, str], status: int
) -> None:
    response = await billing.http.get(URL, params=params, headers=billing.headers(partner_id))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_aging_needs_the_read_scope(billing: RunningBilling, partner_id: uuid.UUID) -> None:
    foreign = billing.headers(partner_id, scopes=["monitoring:read"])
    assert (await billing.http.get(URL, headers=foreign)).status_code == 403
    read_only = billing.headers(partner_id, scopes=["billing:read"])
    assert (await billing.http.get(URL, headers=read_only)).status_code == 200
