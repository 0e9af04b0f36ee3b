"""A customer's spend series per hour, day or month, from the usage aggregates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from tests.support.monitoring import RunningMonitoring
from tests.support.monitoring_data import add_customer, add_hourly_spend

SUB_A = uuid.UUID("00000000-0000-0000-0000-00000000000a")
SUB_B = uuid.UUID("00000000-0000-0000-0000-00000000000b")


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


async def series(
    monitoring: RunningMonitoring,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    query: str,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await monitoring.http.get(
        f"/v1/monitoring/customers/{customer_id}/spend?{query}",
        headers=headers or monitoring.headers(partner_id),
    )


def points(response: httpx.Response) -> list[tuple[str, str, int]]:
    assert response.status_code == 200, response.text
    return [(p["start"], p["cost"], p["record_count"]) for p in response.json()["points"]]


async def planted(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> uuid.UUID:
    """Two subscriptions, two meter categories, spend across February and March."""
    customer = uuid.uuid4()
    db = monitoring.db
    await add_hourly_spend(
        db,
        partner_id,
        customer,
        [(at(3, 1, 10), "1.5"), (at(3, 1, 10), "2"), (at(3, 1, 23), "4"), (at(3, 2, 0), "8")],
        subscription_id=SUB_A,
    )
    await add_hourly_spend(
        db, partner_id, customer, [(at(3, 1, 10), "0.25")], subscription_id=SUB_B,
        meter_category="Storage",
    )  # fmt: skip
    await add_hourly_spend(
        db, partner_id, customer, [(at(2, 27, 5), "100"), (at(4, 1, 0), "1000")],
        subscription_id=SUB_B,
    )  # fmt: skip
    return customer


async def test_hourly_series_lists_each_hour_with_spend(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = await planted(monitoring, partner_id)

    response = await series(
        monitoring, partner_id, customer, "from=2025-03-01&to=2025-03-01&granularity=hour"
    )

    # `to` is inclusive up to its last hour; the 2nd's midnight is outside.
    assert points(response) == [
        ("2025-03-01T10:00:00Z", "3.75", 3),
        ("2025-03-01T23:00:00Z", "4", 1),
    ]
    body = response.json()
    assert body["customer_id"] == str(customer)
    assert body["granularity"] == "hour"
    assert body["from"] == "2025-03-01"
    assert body["to"] == "2025-03-01"
    assert {p["currency"] for p in body["points"]} == {"EUR"}


async def test_daily_series_sums_each_day_and_includes_to(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = await planted(monitoring, partner_id)

    response = await series(monitoring, partner_id, customer, "from=2025-02-27&to=2025-03-02")

    assert response.json()["granularity"] == "day"
    assert points(response) == [
        ("2025-02-27", "100", 1),
        ("2025-03-01", "7.75", 4),
        ("2025-03-02", "8", 1),
    ]


async def test_monthly_series_counts_only_the_days_in_range(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = await planted(monitoring, partner_id)

    whole = await series(
        monitoring, partner_id, customer, "from=2025-01-01&to=2025-12-31&granularity=month"
    )
    assert points(whole) == [
        ("2025-02-01", "100", 1),
        ("2025-03-01", "15.75", 5),
        ("2025-04-01", "1000", 1),
    ]
    part = await series(
        monitoring, partner_id, customer, "from=2025-02-28&to=2025-03-01&granularity=month"
    )
    assert points(part) == [("2025-03-01", "7.75", 4)]


async def test_series_filter_by_subscription_and_meter_category(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = await planted(monitoring, partner_id)
    march = "from=2025-03-01&to=2025-03-31"

    by_sub = await series(monitoring, partner_id, customer, f"{march}&subscription_id={SUB_A}")
    assert points(by_sub) == [("2025-03-01", "7.5", 3), ("2025-03-02", "8", 1)]
    by_meter = await series(monitoring, partner_id, customer, f"{march}&meter_category=Storage")
    assert points(by_meter) == [("2025-03-01", "0.25", 1)]
    both = await series(
        monitoring,
        partner_id,
        customer,
        f"{march}&subscription_id={SUB_A}&meter_category=Storage&granularity=hour",
    )
    assert points(both) == []
    hourly = await series(
        monitoring, partner_id, customer, f"{march}&subscription_id={SUB_B}&granularity=hour"
    )
    assert points(hourly) == [("2025-03-01T10:00:00Z", "0.25", 1)]
    monthly = await series(
        monitoring,
        partner_id,
        customer,
        "from=2025-01-01&to=2025-12-31&granularity=month&meter_category=Virtual Machines",
    )
    assert points(monthly) == [
        ("2025-02-01", "100", 1),
        ("2025-03-01", "15.5", 4),
        ("2025-04-01", "1000", 1),
    ]
    # A filtered month counts only the hours of the range's days: the 2nd's midnight is out.
    part = await series(
        monitoring,
        partner_id,
        customer,
        f"from=2025-02-28&to=2025-03-01&granularity=month&subscription_id={SUB_A}",
    )
    assert points(part) == [("2025-03-01", "7.5", 3)]


async def test_a_registered_customer_without_usage_has_an_empty_series(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_customer(monitoring.db, partner_id, customer)
    response = await series(monitoring, partner_id, customer, "from=2025-03-01&to=2025-03-31")
    assert points(response) == []


async def test_bad_series_queries_are_problem_json(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = await planted(monitoring, partner_id)
    for query in [
        "from=2025-03-01&to=2025-03-02&granularity=week",
        "from=2025-03-02&to=2025-03-01",
        "from=2025-03-01&to=2025-04-01&granularity=hour",  # 32 days
        "from=2025-01-01&to=2026-02-05&granularity=day",  # 401 days
        "from=2020-01-01&to=2025-01-31&granularity=month",  # 61 months
        "to=2025-03-02",
        "from=2025-03-01",
        "from=2025-03-01&to=2025-02-30",
        "from=yesterday&to=2025-03-02",
        f"from=2025-03-01&to=2025-03-02&subscription_id={SUB_A}x",
        "from=2025-03-01&to=2025-03-02&meter_category=",
    ]:
        response = await series(monitoring, partner_id, customer, query)
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_longest_spans_are_accepted(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = await planted(monitoring, partner_id)
    for query in [
        "from=2025-03-01&to=2025-03-31&granularity=hour",
        "from=2025-01-01&to=2026-02-04&granularity=day",
        "from=2020-01-01&to=2024-12-31&granularity=month",
    ]:
        assert (await series(monitoring, partner_id, customer, query)).status_code == 200, query


async def test_unknown_and_other_partners_customers_are_not_found(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = await planted(monitoring, partner_id)
    other = uuid.uuid4()
    for who, whose in [(partner_id, uuid.uuid4()), (other, customer)]:
        response = await series(monitoring, who, whose, "from=2025-03-01&to=2025-03-31")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_series_needs_the_read_scope(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = await planted(monitoring, partner_id)
    response = await series(
        monitoring,
        partner_id,
        customer,
        "from=2025-03-01&to=2025-03-31",
        headers=monitoring.headers(partner_id, scopes=["monitoring:write"]),
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
