"""Usage at the edges of what is kept: amounts whose sums outgrow what one record may cost, and
times at the ends of the calendar. A record beyond a documented bound is refused on its own,
with why, and changes nothing; whatever is accepted is stored and counted whole, and no sum of
accepted records ever makes a 5xx — over HTTP, on the USAGE stream or through an import."""

from __future__ import annotations

import csv
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from partnerguard.common.bus.connection import EventBus
from partnerguard.common.bus.consumer import ConsumerSpec, EventConsumer
from partnerguard.common.db.engine import Database
from partnerguard.monitoring.budgets.policy import percent_used
from partnerguard.monitoring.customers.repository import CustomerRepository
from partnerguard.monitoring.usage.importer import import_file
from partnerguard.monitoring.usage.recon import RowError, record_from_row
from partnerguard.monitoring.usage.spend import decimal_string
from partnerguard.monitoring.usage.stream import UsageBatches, usage_subject
from tests.support.monitoring import RunningMonitoring, usage_record
from tests.support.monitoring_data import add_customer, add_hourly_spend

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
# The most one record may cost (or count): 12 digits before the point, 8 after.
MOST = "999999999999.99999999"
# A heavy-compute size, so that ``heavy_cost`` grows with ``cost``.
GPU = "Standard_NC24ads_A100_v4"
# Exact arithmetic on the widest totals (the default context keeps 28 digits).
EXACT = Context(prec=60)
# The largest total an aggregate row can reach: as many records as its int4 count holds,
# each costing the most a record may.
LARGEST_ROW_TOTAL = EXACT.multiply(Decimal(MOST), 2**31 - 1)


async def _rows(db: Database, query: str, **params: Any) -> list[Any]:
    async with db.sweep_session() as session:
        return list((await session.execute(text(query), params)).all())


async def _post(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, records: list[Any]
) -> httpx.Response:
    return await monitoring.http.post(
        "/v1/monitoring/usage", json={"records": records}, headers=monitoring.headers(partner_id)
    )


# --- amounts ----------------------------------------------------------------------------------


async def test_a_days_total_may_outgrow_what_one_record_may_cost(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    batch = [usage_record(customer, T0, MOST, resource_type=GPU) for _ in range(3)]

    first = await _post(monitoring, partner_id, batch)
    # Once more on rows that exist: the sums are added to what is stored.
    again = await _post(
        monitoring, partner_id, [usage_record(customer, T0, MOST, resource_type=GPU)] * 2
    )

    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    assert again.status_code == 200, again.text
    assert again.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    total = Decimal(MOST) * 4
    assert total >= 10**12
    for table in ("customer_days", "usage_hourly"):
        assert await _rows(
            monitoring.db,
            f"SELECT cost, heavy_cost, record_count FROM {table}",  # noqa: S608
        ) == [(total, total, 4)], table
    assert await _rows(monitoring.db, "SELECT count(*), sum(cost) FROM usage_records") == [
        (4, total)
    ]


async def test_a_record_costing_more_than_the_most_is_refused_and_its_batch_kept(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer, refused_customer = uuid.uuid4(), uuid.uuid4()
    good = [usage_record(customer, T0, MOST), usage_record(customer, T0, "1")]
    too_dear = [
        usage_record(refused_customer, T0, "1000000000000"),
        usage_record(refused_customer, T0, "1", quantity="1000000000000.5"),
    ]

    response = await _post(monitoring, partner_id, [good[0], *too_dear, good[1]])

    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["accepted"] == 2
    assert [(r["index"], r["record_id"]) for r in summary["rejected"]] == [
        (1, too_dear[0]["record_id"]),
        (2, too_dear[1]["record_id"]),
    ]
    [[cost], [quantity]] = [item["errors"] for item in summary["rejected"]]
    assert (cost["loc"], quantity["loc"]) == (["cost"], ["quantity"])
    assert "12 digits" in cost["msg"]
    assert await _rows(monitoring.db, "SELECT sum(cost) FROM customer_days") == [
        (Decimal(MOST) + 1,)
    ]
    assert await _rows(monitoring.db, "SELECT customer_id FROM customers") == [(customer,)]


async def test_totals_beyond_what_one_record_may_cost_are_evaluated_and_shown(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    headers = monitoring.headers(partner_id)
    put = await monitoring.http.put(
        f"/v1/monitoring/customers/{customer}/budget",
        json={"amount": "1000", "currency": "EUR"},
        headers=headers,
    )
    assert put.status_code == 201, put.text
    await monitoring.ingest(
        partner_id, [usage_record(customer, T0, MOST, resource_type=GPU) for _ in range(3)]
    )
    total = format(Decimal(MOST) * 3, "f")

    assert await monitoring.evaluate(now=T0 + timedelta(hours=2)) == 1

    [spend] = await monitoring.events(partner_id, "monitoring.spend.daily")
    assert spend["data"]["cost"] == total
    reached = await monitoring.events(partner_id, "monitoring.budget.threshold_reached")
    assert {event["data"]["spent"] for event in reached} == {total}
    budget = await monitoring.http.get(
        f"/v1/monitoring/customers/{customer}/budget?month=2026-11", headers=headers
    )
    assert budget.status_code == 200, budget.text
    assert budget.json()["spend"]["spent"] == total
    series = await monitoring.http.get(
        f"/v1/monitoring/customers/{customer}/spend?from=2026-11-01&to=2026-11-30",
        headers=headers,
    )
    assert series.status_code == 200, series.text
    assert [point["cost"] for point in series.json()["points"]] == [total]


async def test_the_largest_totals_the_aggregates_can_reach_are_evaluated_and_shown(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    """A whole month of days, each as large as a row can count, against the smallest budget:
    every step of the evaluation and every answer works with numbers this wide."""
    customer = uuid.uuid4()
    headers = monitoring.headers(partner_id)
    october = [datetime(2026, 10, day, 8, tzinfo=UTC) for day in range(1, 32)]
    await add_customer(
        monitoring.db, partner_id, customer, risk_tier="low", first_usage_at=october[0]
    )
    put = await monitoring.http.put(
        f"/v1/monitoring/customers/{customer}/budget",
        json={"amount": "0.00000001", "currency": "EUR"},
        headers=headers,
    )
    assert put.status_code == 201, put.text
    await add_hourly_spend(
        monitoring.db, partner_id, customer, [(at, LARGEST_ROW_TOTAL) for at in october]
    )
    month = EXACT.multiply(LARGEST_ROW_TOTAL, 31)

    assert await monitoring.evaluate(now=datetime(2026, 10, 31, 12, tzinfo=UTC)) == 31

    published = await monitoring.events(partner_id, "monitoring.spend.daily")
    assert {event["data"]["cost"] for event in published} == {format(LARGEST_ROW_TOTAL, "f")}
    [(crossings, least_spent)] = await _rows(
        monitoring.db, "SELECT count(*), min(spent) FROM budget_crossings"
    )
    assert crossings == 4
    assert least_spent >= LARGEST_ROW_TOTAL
    budget = await monitoring.http.get(
        f"/v1/monitoring/customers/{customer}/budget?month=2026-10", headers=headers
    )
    assert budget.status_code == 200, budget.text
    assert Decimal(budget.json()["spend"]["spent"]) == month
    series = await monitoring.http.get(
        f"/v1/monitoring/customers/{customer}/spend?from=2026-10-01&to=2026-10-31"
        "&granularity=month",
        headers=headers,
    )
    assert series.status_code == 200, series.text
    assert [Decimal(point["cost"]) for point in series.json()["points"]] == [month]


def test_money_as_wide_as_the_aggregates_is_written_exactly() -> None:
    # Five years of months of the largest days: the widest sum any answer adds up.
    widest = EXACT.multiply(LARGEST_ROW_TOTAL, 31 * 60)

    assert decimal_string(widest) == "3994319583419999999960056.8041658"
    assert decimal_string(Decimal("1E+25")) == "1" + "0" * 25
    assert percent_used(widest, Decimal("0.00000001")) == EXACT.multiply(widest, 10**10)


# --- times ------------------------------------------------------------------------------------

_NOW = datetime.now(UTC)
# Records dated where the calendar runs out, or before usage was metered: each refused on its
# own (with the field to blame), never a 500.
OUT_OF_TIME = {
    "start on the last day of the calendar": (
        "usage_start",
        {"usage_start": "9999-12-31T23:00:00Z", "usage_end": "9999-12-31T23:59:59.999999Z"},
    ),
    "start past the calendar's end in UTC": (
        "usage_start",
        {"usage_start": "9999-12-31T23:00:00-05:00", "usage_end": "9999-12-31T23:30:00-05:00"},
    ),
    "end on the last day of the calendar": (
        "usage_end",
        {"usage_end": "9999-12-31T23:59:59Z"},
    ),
    "a year ahead": (
        "usage_start",
        {
            "usage_start": (_NOW + timedelta(days=366)).isoformat(),
            "usage_end": (_NOW + timedelta(days=366, hours=1)).isoformat(),
        },
    ),
    "start on the first day of the calendar": (
        "usage_start",
        {"usage_start": "0001-01-01T00:00:00Z", "usage_end": "0001-01-01T01:00:00Z"},
    ),
    "start before the calendar's start in UTC": (
        "usage_start",
        {"usage_start": "0001-01-01T00:00:00+05:00", "usage_end": "0001-01-01T01:00:00+05:00"},
    ),
    "start before 2000": (
        "usage_start",
        {"usage_start": "1999-12-31T23:00:00Z", "usage_end": "2000-01-01T00:00:00Z"},
    ),
}


@pytest.mark.parametrize("case", OUT_OF_TIME.values(), ids=OUT_OF_TIME.keys())
async def test_a_record_dated_out_of_time_is_refused_and_its_batch_kept(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, case: tuple[str, dict[str, str]]
) -> None:
    field, times = case
    customer, refused_customer = uuid.uuid4(), uuid.uuid4()
    bad = {**usage_record(refused_customer, T0, region="eastus"), **times}
    good = [usage_record(customer, T0, "2"), usage_record(customer, T0, "3")]

    response = await _post(monitoring, partner_id, [good[0], bad, good[1]])

    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["accepted"] == 2
    [refusal] = summary["rejected"]
    assert (refusal["index"], refusal["record_id"]) == (1, bad["record_id"])
    assert [error["loc"] for error in refusal["errors"]] == [[field]]
    assert all(error["msg"] for error in refusal["errors"])
    assert await _rows(monitoring.db, "SELECT customer_id, cost FROM customer_days") == [
        (customer, Decimal(5))
    ]
    assert await _rows(monitoring.db, "SELECT customer_id FROM customers") == [(customer,)]
    assert await _rows(monitoring.db, "SELECT DISTINCT customer_id FROM footprints") == [
        (customer,)
    ]
    assert await monitoring.evaluate() == 1


async def test_a_record_dated_out_of_time_alone_is_refused_with_why(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    """A batch of nothing but such records: the fast reading may not take any of them."""
    customer = uuid.uuid4()
    records = [
        {**usage_record(customer, T0), **times}
        for field, times in OUT_OF_TIME.values()
        if field == "usage_start"
    ]

    response = await _post(monitoring, partner_id, records)

    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["accepted"] == 0
    assert [item["index"] for item in summary["rejected"]] == list(range(len(records)))
    assert await _rows(monitoring.db, "SELECT count(*) FROM usage_records") == [(0,)]
    assert await _rows(monitoring.db, "SELECT count(*) FROM customers") == [(0,)]


# --- the USAGE stream -------------------------------------------------------------------------


async def _handle(
    monitoring: RunningMonitoring, bus: EventBus, partner_id: uuid.UUID, records: list[Any]
) -> None:
    """One message on the partner's subject through the real consumer path."""
    subject = usage_subject(partner_id)
    spec = ConsumerSpec(
        durable=f"usage-limits-{uuid.uuid4().hex[:12]}",
        stream="USAGE",
        subjects=[subject],
        max_deliver=2,
        backoff=[0.01],
    )
    await bus.publish(subject, json.dumps({"records": records}).encode(), msg_id=str(uuid.uuid4()))
    worker = EventConsumer(bus, monitoring.db, spec, UsageBatches(monitoring.settings))
    await bus.js.add_consumer(spec.stream, spec.config())
    sub = await bus.js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    try:
        for msg in await sub.fetch(1, timeout=5):
            await worker.process(msg)
    finally:
        await sub.unsubscribe()


async def test_a_stream_batch_at_the_limits_is_kept_and_its_refusals_listed(
    monitoring: RunningMonitoring, bus: EventBus, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    good = [usage_record(customer, T0, MOST) for _ in range(3)]
    last_day = {
        **usage_record(customer, T0),
        **OUT_OF_TIME["start on the last day of the calendar"][1],
    }
    first_day = {
        **usage_record(customer, T0),
        **OUT_OF_TIME["start before the calendar's start in UTC"][1],
    }
    too_dear = usage_record(customer, T0, "1000000000000")

    await _handle(
        monitoring, bus, partner_id, [good[0], last_day, good[1], first_day, too_dear, good[2]]
    )

    assert await _rows(monitoring.db, "SELECT count(*), sum(cost) FROM usage_records") == [
        (3, Decimal(MOST) * 3)
    ]
    assert await _rows(monitoring.db, "SELECT cost FROM customer_days") == [(Decimal(MOST) * 3,)]
    refused = await _rows(
        monitoring.db, "SELECT position, errors FROM usage_rejections ORDER BY position"
    )
    assert [(position, [e["loc"] for e in errors]) for position, errors in refused] == [
        (1, [["usage_start"]]),
        (3, [["usage_start"]]),
        (4, [["cost"]]),
    ]
    async with monitoring.db.session() as session:
        letters = (await session.execute(text("SELECT count(*) FROM dead_letters"))).scalar_one()
    assert letters == 0


# --- the reconciliation import ----------------------------------------------------------------

_COLUMNS = [
    "CustomerId",
    "SubscriptionId",
    "UsageDate",
    "MeterCategory",
    "Quantity",
    "BillingPreTaxTotal",
    "BillingCurrency",
]


def _export_row(tenant: uuid.UUID, day: str, cost: str) -> dict[str, str]:
    return {
        "CustomerId": str(tenant),
        "SubscriptionId": str(uuid.UUID(int=tenant.int ^ 7)),
        "UsageDate": day,
        "MeterCategory": "Virtual Machines",
        "Quantity": "24",
        "BillingPreTaxTotal": cost,
        "BillingCurrency": "EUR",
    }


@pytest.mark.parametrize("day", ["9999-12-31", "12/31/9999", "12/31/9999 11:59:59 PM"])
def test_an_export_row_on_the_calendars_last_day_is_a_row_error(day: str) -> None:
    with pytest.raises(RowError, match="UsageDate"):
        record_from_row(_export_row(uuid.uuid4(), day, "1"))


async def test_an_export_with_rows_at_the_limits_is_imported_and_they_refused_by_line(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, tmp_path: Path
) -> None:
    tenant = uuid.uuid4()
    async with monitoring.db.tenant_session(partner_id) as session:
        await CustomerRepository(session).record_approval(
            partner_id, uuid.uuid4(), risk_tier="low", vendor_tenant_id=tenant, approved_at=T0
        )
    rows = [
        _export_row(tenant, "2026-11-01", MOST),  # line 2
        _export_row(tenant, "12/31/9999", "1"),  # line 3: no next day to end on
        _export_row(tenant, "9998-06-01", "1"),  # line 4: far in the future
        _export_row(tenant, "1999-12-31", "1"),  # line 5: before usage is taken
        _export_row(tenant, "2026-11-01", "1000000000000"),  # line 6: costs too much
        _export_row(tenant, "11/01/2026", MOST),  # line 7
    ]
    export = tmp_path / "recon.csv"
    with export.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    async with httpx.AsyncClient(
        transport=monitoring.transport,
        base_url="http://monitoring",
        headers=monitoring.headers(partner_id),
    ) as http:
        state = await import_file(export, http, batch_size=3, retry_delays=())

    assert (state.accepted, state.duplicates, state.rejected_count, state.complete) == (
        2,
        0,
        4,
        True,
    )
    assert [r.line for r in state.rejected] == [3, 4, 5, 6]
    assert "UsageDate" in state.rejected[0].reasons[0]
    assert [r.reasons[0].split(":")[0] for r in state.rejected[1:]] == [
        "usage_start",
        "usage_start",
        "cost",
    ]
    assert await _rows(monitoring.db, "SELECT count(*), sum(cost) FROM usage_records") == [
        (2, Decimal(MOST) * 2)
    ]
