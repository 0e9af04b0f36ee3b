"""Usage over HTTP: each record accepted, a duplicate or refused with why, and the aggregates."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from partnerguard.common.db.engine import Database
from partnerguard.monitoring.customers.repository import CustomerRepository
from tests.support.monitoring import RunningMonitoring, usage_record
from tests.support.monitoring_data import add_customer

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


async def _rows(db: Database, query: str, **params: Any) -> list[Any]:
    async with db.sweep_session() as session:
        return list((await session.execute(text(query), params)).all())


async def test_a_batch_is_stored_and_counted_in_each_aggregate(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    records = [
        usage_record(customer, T0, "1.25"),
        usage_record(customer, T0 + timedelta(minutes=30), "0.75"),
        usage_record(customer, T0 + timedelta(hours=1), "2.00", resource_type="Standard_NC6"),
        usage_record(customer, T0 + timedelta(days=1), "3.5"),
    ]

    summary = await monitoring.ingest(partner_id, records)

    assert summary == {"accepted": 4, "duplicates": 0, "rejected": []}
    hourly = await _rows(
        monitoring.db,
        "SELECT hour, cost, heavy_cost, record_count FROM usage_hourly ORDER BY hour",
    )
    assert [(h, c, hc, n) for h, c, hc, n in hourly] == [
        (T0, Decimal("2.00"), Decimal("0"), 2),
        (T0 + timedelta(hours=1), Decimal("2.00"), Decimal("2.00"), 1),
        (T0 + timedelta(days=1), Decimal("3.5"), Decimal("0"), 1),
    ]
    days = await _rows(
        monitoring.db,
        "SELECT day, cost, heavy_cost, record_count, revision FROM customer_days ORDER BY day",
    )
    assert days == [
        (T0.date(), Decimal("4.00"), Decimal("2.00"), 3, 1),
        ((T0 + timedelta(days=1)).date(), Decimal("3.5"), Decimal("0"), 1, 1),
    ]
    # Days per subscription are the sums of its hours.
    subscription = uuid.UUID(int=customer.int ^ 1)
    by_subscription = await monitoring.http.get(
        f"/v1/monitoring/customers/{customer}/spend",
        params={"from": "2026-11-01", "to": "2026-11-30", "subscription_id": str(subscription)},
        headers=monitoring.headers(partner_id),
    )
    assert by_subscription.status_code == 200, by_subscription.text
    assert [
        (p["start"], p["cost"], p["record_count"]) for p in by_subscription.json()["points"]
    ] == [
        ("2026-11-02", "4", 3),
        ("2026-11-03", "3.5", 1),
    ]
    customers = await _rows(
        monitoring.db, "SELECT customer_id, currency, first_usage_at FROM customers"
    )
    assert customers == [(customer, "EUR", T0)]


async def test_labels_and_times_are_stored_exactly_as_sent(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    # Texts that mean something in an array literal, and a time in another offset.
    labels = ["NULL", "a,b", "{braces}", 'say "hi"', "back\\slash", "two  words", "Zürich ☁"]
    customer = uuid.uuid4()
    east = timezone(timedelta(hours=5, minutes=30))
    records = [
        usage_record(
            customer,
            T0.astimezone(east) + timedelta(microseconds=row),
            record_id=label,
            meter=label,
            meter_category=label,
            resource_type=label,
            region=label,
            unit=label,
        )
        for row, label in enumerate(labels)
    ]

    summary = await monitoring.ingest(partner_id, records)

    assert summary == {"accepted": len(labels), "duplicates": 0, "rejected": []}
    stored = await _rows(
        monitoring.db,
        "SELECT record_id, meter, meter_category, resource_type, region, unit, usage_start "
        "FROM usage_records ORDER BY usage_start",
    )
    assert stored == [
        (label, label, label, label, label, label, T0 + timedelta(microseconds=row))
        for row, label in enumerate(labels)
    ]
    categories = await _rows(monitoring.db, "SELECT meter_category FROM usage_hourly")
    assert sorted(category for (category,) in categories) == sorted(labels)


async def test_a_record_sent_again_is_a_duplicate_and_counts_once(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    first = usage_record(customer, T0, "5", record_id="rec-1")
    await monitoring.ingest(partner_id, [first])

    again = await monitoring.ingest(
        partner_id, [first, usage_record(customer, T0, "1", record_id="rec-2"), first]
    )

    assert again == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert await _rows(monitoring.db, "SELECT cost, record_count FROM customer_days") == [
        (Decimal("6"), 2)
    ]


async def test_the_same_record_id_from_another_partner_is_not_a_duplicate(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    other = uuid.uuid4()
    record = usage_record(uuid.uuid4(), T0, record_id="shared-id")

    assert (await monitoring.ingest(partner_id, [record]))["accepted"] == 1
    assert (await monitoring.ingest(other, [record]))["accepted"] == 1


async def test_bad_records_are_refused_one_by_one_and_the_good_ones_kept(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    now = datetime.now(UTC)
    good = [usage_record(customer, T0, "1"), usage_record(customer, T0, "2")]
    bad = [
        {**usage_record(customer, T0), "cost": "12.5 EUR"},
        {**usage_record(customer, T0), "cost": "1.123456789"},
        {**usage_record(customer, T0), "cost": "-3"},
        {**usage_record(customer, T0), "quantity": "1234567890123"},
        {**usage_record(customer, T0), "currency": "euro"},
        {**usage_record(customer, T0), "usage_end": (T0 - timedelta(hours=1)).isoformat()},
        usage_record(customer, now + timedelta(days=1)),
        {**usage_record(customer, T0), "usage_start": "2026-11-02T08:00:00"},
        {**usage_record(customer, T0), "surprise": 1},
        {**usage_record(customer, T0), "vendor_tenant_id": str(uuid.uuid4())},
        {k: v for k, v in usage_record(customer, T0).items() if k != "customer_id"},
        "not a record",
    ]
    batch = [good[0], *bad, good[1]]

    summary = await monitoring.ingest(partner_id, batch)

    assert summary["accepted"] == 2
    assert summary["duplicates"] == 0
    refused = {item["index"]: item for item in summary["rejected"]}
    assert sorted(refused) == list(range(1, len(bad) + 1))
    fields = {index: [e["loc"][0] for e in item["errors"]] for index, item in refused.items()}
    assert fields == {
        1: ["cost"],
        2: ["cost"],
        3: ["cost"],
        4: ["quantity"],
        5: ["currency"],
        6: ["usage_end"],
        7: ["usage_start"],
        8: ["usage_start"],
        9: ["surprise"],
        10: ["customer_id"],
        11: ["customer_id"],
        12: ["record"],
    }
    assert refused[1]["record_id"] == bad[0]["record_id"]
    assert refused[12]["record_id"] is None
    assert all(e["msg"] for item in refused.values() for e in item["errors"])
    assert await _rows(monitoring.db, "SELECT count(*) FROM usage_records") == [(2,)]
    assert await _rows(monitoring.db, "SELECT sum(cost) FROM usage_hourly") == [(Decimal("3"),)]


async def test_a_record_holding_a_nul_character_is_refused_alone(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    """PostgreSQL text cannot hold U+0000: the record with one is refused, not the batch."""
    customer = uuid.uuid4()
    good = usage_record(customer, T0, "4")
    in_a_label = {**usage_record(customer, T0), "region": "west\u0000europe"}
    in_the_id = {**usage_record(customer, T0), "record_id": "r\u00001"}
    in_a_key = {**usage_record(customer, T0), "ex\u0000tra": "x"}
    in_a_uuid = {**usage_record(customer, T0), "subscription_id": "\u0000"}

    summary = await monitoring.ingest(
        partner_id, [in_a_label, good, in_the_id, in_a_key, in_a_uuid]
    )

    assert summary["accepted"] == 1
    refused = {item["index"]: item for item in summary["rejected"]}
    assert {i: [e["loc"][0] for e in item["errors"]] for i, item in refused.items()} == {
        0: ["region"],
        2: ["record_id"],
        3: ["ex\ufffdtra"],
        4: ["subscription_id"],
    }
    assert refused[0]["errors"][0]["msg"] == "Value error, NUL characters (U+0000) are not accepted"
    assert refused[2]["record_id"] == "r\ufffd1"
    assert await _rows(monitoring.db, "SELECT sum(cost) FROM usage_hourly") == [(Decimal("4"),)]


async def test_a_customer_keeps_the_currency_of_its_first_usage(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await monitoring.ingest(partner_id, [usage_record(customer, T0, currency="EUR")])

    summary = await monitoring.ingest(
        partner_id,
        [usage_record(customer, T0, currency="USD"), usage_record(customer, T0, currency="EUR")],
    )

    assert summary["accepted"] == 1
    [refusal] = summary["rejected"]
    assert refusal["index"] == 0
    assert refusal["errors"][0]["loc"] == ["currency"]
    assert "EUR" in refusal["errors"][0]["msg"]


async def test_a_customers_first_usage_is_its_earliest_in_whatever_order_it_arrives(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    late, approved = uuid.uuid4(), uuid.uuid4()
    # Known from its approval alone: no currency, no usage yet.
    await add_customer(monitoring.db, partner_id, approved, risk_tier="low", currency=None)

    for start in (T0 + timedelta(days=1), T0, T0 + timedelta(days=2)):
        summary = await monitoring.ingest(
            partner_id,
            [usage_record(late, start, currency="USD"), usage_record(approved, start)],
        )
        assert summary["accepted"] == 2

    customers = await _rows(
        monitoring.db,
        "SELECT customer_id, currency, first_usage_at, risk_tier FROM customers",
    )
    assert sorted(customers) == sorted([(late, "USD", T0, None), (approved, "EUR", T0, "low")])


async def test_records_may_name_the_customer_by_its_vendor_tenant(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer, tenant = uuid.uuid4(), uuid.uuid4()
    async with monitoring.db.tenant_session(partner_id) as session:
        await CustomerRepository(session).record_approval(
            partner_id, customer, risk_tier="low", vendor_tenant_id=tenant, approved_at=T0
        )
    by_tenant = {**usage_record(customer, T0, "4"), "vendor_tenant_id": str(tenant)}
    del by_tenant["customer_id"]
    unknown = {**by_tenant, "record_id": "r-unknown", "vendor_tenant_id": str(uuid.uuid4())}

    summary = await monitoring.ingest(partner_id, [by_tenant, unknown])

    assert summary["accepted"] == 1
    assert [r["index"] for r in summary["rejected"]] == [1]
    assert summary["rejected"][0]["errors"][0]["loc"] == ["vendor_tenant_id"]
    assert await _rows(monitoring.db, "SELECT customer_id, cost FROM customer_days") == [
        (customer, Decimal("4"))
    ]


async def test_the_first_use_of_each_resource_type_and_region_is_recorded_once(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await monitoring.ingest(
        partner_id,
        [
            usage_record(customer, T0 + timedelta(hours=2), region="westeurope"),
            usage_record(customer, T0, region="westeurope"),
            usage_record(customer, T0 + timedelta(hours=1), region="eastus"),
        ],
    )
    await monitoring.ingest(partner_id, [usage_record(customer, T0 - timedelta(days=1))])

    seen = await _rows(
        monitoring.db, "SELECT kind, value, first_seen_at FROM footprints ORDER BY kind, value"
    )
    assert seen == [
        ("region", "eastus", T0 + timedelta(hours=1)),
        ("region", "westeurope", T0),
        ("resource_type", "Standard_D2_v3", T0),
    ]


async def test_gpu_and_high_core_compute_count_as_heavy(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await monitoring.ingest(
        partner_id,
        [
            usage_record(customer, T0, "10", resource_type="Standard_NC24ads_A100_v4"),
            usage_record(customer, T0, "7", resource_type="Standard_D64s_v5"),
            usage_record(customer, T0, "1", resource_type="Standard_B2s"),
            # Heavy by its meter alone.
            usage_record(customer, T0, "4", resource_type="Batch_Pool", meter="GPU Hours"),
            usage_record(customer, T0, "2", resource_type="Batch_Pool", meter="Node Hours"),
        ],
    )

    assert await _rows(monitoring.db, "SELECT cost, heavy_cost FROM customer_days") == [
        (Decimal("24"), Decimal("21"))
    ]


async def test_a_body_that_is_not_a_batch_is_refused_whole(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    record = usage_record(uuid.uuid4(), T0)
    headers = monitoring.headers(partner_id)
    bodies: list[Any] = [
        b"not json",
        b"[]",
        {"records": []},
        {"records": record},
        {"records": [record], "extra": True},
        {"records": [record] * (monitoring.settings.usage_batch_max + 1)},
    ]
    for body in bodies:
        kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
        response = await monitoring.http.post("/v1/monitoring/usage", headers=headers, **kwargs)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]

    assert await _rows(monitoring.db, "SELECT count(*) FROM usage_records") == [(0,)]
    assert await _rows(monitoring.db, "SELECT count(*) FROM customers") == [(0,)]


async def test_sending_usage_needs_the_write_scope(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    response = await monitoring.http.post(
        "/v1/monitoring/usage",
        json={"records": [usage_record(uuid.uuid4(), T0)]},
        headers=monitoring.headers(partner_id, scopes=["monitoring:read"]),
    )
    assert response.status_code == 403
    unauthenticated = await monitoring.http.post("/v1/monitoring/usage", json={"records": []})
    assert unauthenticated.status_code == 401
    assert await _rows(monitoring.db, "SELECT count(*) FROM usage_records") == [(0,)]


async def test_the_documented_body_is_the_batch_schema(monitoring: RunningMonitoring) -> None:
    spec = (await monitoring.http.get("/openapi.json")).json()
    body = spec["paths"]["/v1/monitoring/usage"]["post"]["requestBody"]["content"]
    schema = body["application/json"]["schema"]
    assert schema["properties"]["records"]["maxItems"] == 10_000
    assert "cost" in schema["properties"]["records"]["items"]["required"]


async def test_each_change_of_a_days_spend_is_published_once_for_billing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await monitoring.ingest(partner_id, [usage_record(customer, T0, "10.5")])
    await monitoring.ingest(partner_id, [usage_record(customer, T0 + timedelta(hours=1), "2")])

    assert await monitoring.evaluate() == 1
    [first] = await monitoring.events(partner_id, "monitoring.spend.daily")
    assert first["data"]["customer_id"] == str(customer)
    assert first["data"]["day"] == T0.date().isoformat()
    assert (first["data"]["cost"], first["data"]["currency"]) == ("12.5", "EUR")
    assert first["data"]["record_count"] == 2
    assert first["customerid"] == str(customer)

    assert await monitoring.evaluate() == 0  # nothing changed: nothing new
    await monitoring.ingest(partner_id, [usage_record(customer, T0 + timedelta(hours=2), "1")])
    await monitoring.evaluate()

    published = await monitoring.events(partner_id, "monitoring.spend.daily")
    assert [event["data"]["cost"] for event in published] == ["12.5", "13.5"]
    assert published[1]["data"]["computed_at"] > published[0]["data"]["computed_at"]


async def test_batches_re_sending_each_others_records_at_once_all_land(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    """Two batches sharing ids, in opposite orders and in flight together: every record
    counts once. (Ingestion inserts in id order so that such batches wait for each other
    rather than deadlock; the ingestion benchmark's concurrent clients are what show it.)"""
    customers = [uuid.uuid4() for _ in range(5)]
    shared = [
        usage_record(customers[n % 5], T0 + timedelta(minutes=n), "1", record_id=f"shared-{n:03d}")
        for n in range(500)
    ]
    own = [
        [usage_record(customers[n % 5], T0, "1", record_id=f"{side}-{n}") for n in range(50)]
        for side in ("a", "b")
    ]

    for _ in range(3):
        summaries = await asyncio.gather(
            monitoring.ingest(partner_id, [*shared, *own[0]]),
            monitoring.ingest(partner_id, [*reversed(shared), *own[1]]),
        )
        own = [[{**r, "record_id": r["record_id"] + "x"} for r in side] for side in own]
        assert sum(s["accepted"] + s["duplicates"] for s in summaries) == 2 * 550

    assert await _rows(monitoring.db, "SELECT count(*), sum(cost) FROM usage_records") == [
        (500 + 3 * 100, Decimal(800))
    ]
    assert await _rows(monitoring.db, "SELECT sum(cost) FROM customer_days") == [(Decimal(800),)]
