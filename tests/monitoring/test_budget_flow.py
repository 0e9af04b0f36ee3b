"""Budgets end to end in the service: usage sent over HTTP, the evaluation job, the events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.support.monitoring import RunningMonitoring, usage_record
from tests.support.monitoring_data import add_hourly_spend

THRESHOLD = "monitoring.budget.threshold_reached"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


async def forecast_alerts(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> list[dict[str, Any]]:
    return [
        event
        for event in await monitoring.events(partner_id, "monitoring.alert.raised")
        if event["data"]["kind"] == "budget_forecast"
    ]


async def test_ingested_usage_reaches_thresholds_and_forecasts_through_the_job(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    put = await monitoring.http.put(
        f"/v1/monitoring/customers/{customer}/budget",
        json={"amount": "1000", "currency": "EUR"},
        headers=monitoring.headers(partner_id),
    )
    assert put.status_code == 201, put.text
    await monitoring.ingest(
        partner_id,
        [
            usage_record(customer, at(1), "200"),
            usage_record(customer, at(2), "200"),
            usage_record(customer, at(3), "300"),
        ],
    )

    assert await monitoring.evaluate(now=at(3, 20)) == 3
    assert await monitoring.evaluate(now=at(3, 21)) == 0
    (reached,) = await monitoring.events(partner_id, THRESHOLD)
    assert reached["data"]["threshold_percent"] == 50
    assert reached["data"]["spent"] == "700"
    (forecast,) = await forecast_alerts(monitoring, partner_id)
    assert forecast["data"]["evidence"]["projected"] == "7233.33333333"
    assert forecast["data"]["evidence"]["days_elapsed"] == 3

    await monitoring.ingest(partner_id, [usage_record(customer, at(3, 10), "300")])
    assert await monitoring.evaluate(now=at(3, 22)) == 1

    events = await monitoring.events(partner_id, THRESHOLD)
    assert [(e["data"]["threshold_percent"], e["data"]["spent"]) for e in events] == [
        (50, "700"),
        (75, "1000"),
        (90, "1000"),
        (100, "1000"),
    ]
    assert len(await forecast_alerts(monitoring, partner_id)) == 1
    got = await monitoring.http.get(
        f"/v1/monitoring/customers/{customer}/budget?month=2025-03",
        headers=monitoring.headers(partner_id),
    )
    assert [r["threshold"] for r in got.json()["spend"]["thresholds_reached"]] == [50, 75, 90, 100]


async def test_history_already_evaluated_does_not_reach_thresholds_again(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await monitoring.http.put(
        f"/v1/monitoring/customers/{customer}/budget",
        json={"amount": "1000", "currency": "EUR"},
        headers=monitoring.headers(partner_id),
    )
    await add_hourly_spend(monitoring.db, partner_id, customer, [(at(1), "600")])
    await monitoring.evaluate(now=at(1, 20))
    # Late records for the same day move its total: the day is evaluated again, quietly.
    await add_hourly_spend(monitoring.db, partner_id, customer, [(at(1, 3), "10")])
    assert await monitoring.evaluate(now=at(1, 21)) == 1

    events = await monitoring.events(partner_id, THRESHOLD)
    assert [e["data"]["threshold_percent"] for e in events] == [50]
