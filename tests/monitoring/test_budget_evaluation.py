"""Checking month-to-date spend against a budget: each threshold once a month, the forecast."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from partnerguard.monitoring.budgets.evaluation import evaluate_budget
from tests.support.monitoring import RunningMonitoring
from tests.support.monitoring_data import add_customer, add_hourly_spend

THRESHOLD = "monitoring.budget.threshold_reached"
ALERT = "monitoring.alert.raised"


def at(day: int, hour: int = 12, *, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


async def set_budget(
    monitoring: RunningMonitoring,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    amount: str = "1000",
    **extra: Any,
) -> dict[str, Any]:
    response = await monitoring.http.put(
        f"/v1/monitoring/customers/{customer_id}/budget",
        json={"amount": amount, "currency": "EUR", **extra},
        headers=monitoring.headers(partner_id),
    )
    assert response.status_code in (200, 201), response.text
    budget: dict[str, Any] = response.json()
    return budget


async def spend(
    monitoring: RunningMonitoring,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    when: datetime,
    cost: str,
    **extra: Any,
) -> None:
    await add_hourly_spend(monitoring.db, partner_id, customer_id, [(when, cost)], **extra)


async def evaluate(
    monitoring: RunningMonitoring,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    day: date,
    now: datetime,
) -> None:
    async with monitoring.db.sweep_session() as session:
        await evaluate_budget(session, partner_id, customer_id, day, now)


async def thresholds(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> list[tuple[str, int]]:
    return [
        (event["data"]["month"], event["data"]["threshold_percent"])
        for event in await monitoring.events(partner_id, THRESHOLD)
    ]


async def test_each_threshold_fires_once_as_spend_climbs(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer)
    for day, cost in [(1, "400"), (2, "200"), (3, "180"), (4, "120"), (5, "150"), (6, "1")]:
        await spend(monitoring, partner_id, customer, at(day), cost)
        # Evaluated twice, as a redelivered or concurrent round would: nothing doubles.
        await evaluate(monitoring, partner_id, customer, at(day).date(), at(day, 20))
        await evaluate(monitoring, partner_id, customer, at(day).date(), at(day, 21))

    assert await thresholds(monitoring, partner_id) == [
        ("2025-03", 50),  # 600 on the 2nd
        ("2025-03", 75),  # 780 on the 3rd
        ("2025-03", 90),  # 900 on the 4th
        ("2025-03", 100),  # 1050 on the 5th
    ]


async def test_a_new_month_reaches_its_thresholds_again(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer)
    await spend(monitoring, partner_id, customer, at(30), "600")
    await evaluate(monitoring, partner_id, customer, at(30).date(), at(30, 20))
    await spend(monitoring, partner_id, customer, at(2, month=4), "550")
    await evaluate(monitoring, partner_id, customer, at(2, month=4).date(), at(2, 20, month=4))

    assert await thresholds(monitoring, partner_id) == [("2025-03", 50), ("2025-04", 50)]


async def test_several_thresholds_crossed_at_once_each_fire_once_in_order(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer)
    await spend(monitoring, partner_id, customer, at(2), "950")
    await evaluate(monitoring, partner_id, customer, at(2).date(), at(2, 20))
    await evaluate(monitoring, partner_id, customer, at(2).date(), at(2, 21))

    assert await thresholds(monitoring, partner_id) == [
        ("2025-03", 50),
        ("2025-03", 75),
        ("2025-03", 90),
    ]


async def test_custom_thresholds_fire_and_the_defaults_do_not(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer, thresholds=[150, 20])
    await spend(monitoring, partner_id, customer, at(1), "250")
    await evaluate(monitoring, partner_id, customer, at(1).date(), at(1, 20))
    await spend(monitoring, partner_id, customer, at(20), "1300")
    await evaluate(monitoring, partner_id, customer, at(20).date(), at(20, 20))

    assert await thresholds(monitoring, partner_id) == [("2025-03", 20), ("2025-03", 150)]


async def test_threshold_event_carries_the_numbers_as_plain_decimals(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    budget = await set_budget(monitoring, partner_id, customer, amount="1000.50")
    await spend(monitoring, partner_id, customer, at(2), "600.25")
    await evaluate(monitoring, partner_id, customer, at(2).date(), at(2, 20))

    (event,) = await monitoring.events(partner_id, THRESHOLD)
    assert event["subject"] == str(customer)
    assert event["customerid"] == str(customer)
    assert event["data"] == {
        "budget_id": budget["id"],
        "customer_id": str(customer),
        "month": "2025-03",
        "threshold_percent": 50,
        "spent": "600.25",
        "budget": "1000.5",
        "currency": "EUR",
        "reached_at": "2025-03-02T20:00:00Z",
    }


async def test_month_to_date_counts_days_after_the_one_evaluated(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer)
    await spend(monitoring, partner_id, customer, at(2), "300")
    await spend(monitoring, partner_id, customer, at(25), "300")
    # Another month's spend is not this month's.
    await spend(monitoring, partner_id, customer, at(28, month=2), "5000")
    await evaluate(monitoring, partner_id, customer, at(2).date(), at(26))

    (event,) = await monitoring.events(partner_id, THRESHOLD)
    assert event["data"]["spent"] == "600"


async def test_spend_in_another_currency_is_ignored_with_a_warning(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer)
    await spend(monitoring, partner_id, customer, at(2), "5000", currency="USD")
    capsys.readouterr()
    await evaluate(monitoring, partner_id, customer, at(2).date(), at(20))

    assert await monitoring.events(partner_id, THRESHOLD) == []
    assert await monitoring.events(partner_id, ALERT) == []
    (warning,) = [
        line
        for line in capsys.readouterr().out.splitlines()
        if "budget.spend_in_other_currency_ignored" in line
    ]
    assert "warning" in warning
    assert "USD" in warning


async def test_concurrent_evaluations_announce_a_threshold_once(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer)
    await spend(monitoring, partner_id, customer, at(2), "800")
    await asyncio.gather(
        *(evaluate(monitoring, partner_id, customer, at(2).date(), at(2, 20)) for _ in range(3))
    )

    assert await thresholds(monitoring, partner_id) == [("2025-03", 50), ("2025-03", 75)]


async def test_a_customer_without_a_budget_raises_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await spend(monitoring, partner_id, customer, at(2), "1000000")
    await evaluate(monitoring, partner_id, customer, at(2).date(), at(5))

    assert await monitoring.events(partner_id) == []


async def test_another_partners_spend_never_counts_against_a_budget(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer, other = uuid.uuid4(), uuid.uuid4()
    await set_budget(monitoring, partner_id, customer)
    # The same customer id under another partner spends a lot (the sweep role sees both).
    await spend(monitoring, other, customer, at(2), "5000")
    await spend(monitoring, partner_id, customer, at(2), "10")
    await evaluate(monitoring, partner_id, customer, at(2).date(), at(2, 20))
    await evaluate(monitoring, other, customer, at(2).date(), at(2, 20))

    assert await monitoring.events(partner_id, THRESHOLD) == []
    assert await monitoring.events(other) == []


# --- the month-end forecast -------------------------------------------------------------------


async def test_forecast_alerts_when_the_run_rate_will_overrun_the_budget(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_customer(monitoring.db, partner_id, customer)
    await set_budget(monitoring, partner_id, customer, amount="3000")
    # 100 a day for three days of a 31-day month heads for 3100.
    for day in (1, 2, 3):
        await spend(monitoring, partner_id, customer, at(day), "100")
    await evaluate(monitoring, partner_id, customer, at(3).date(), at(3, 18))
    await spend(monitoring, partner_id, customer, at(4), "150")
    await evaluate(monitoring, partner_id, customer, at(4).date(), at(4, 18))

    (alert,) = await monitoring.events(partner_id, ALERT)
    data = alert["data"]
    assert data["kind"] == "budget_forecast"
    assert data["severity"] == "medium"
    assert data["customer_id"] == str(customer)
    assert data["raised_at"] == "2025-03-03T18:00:00Z"
    assert data["evidence"] == {
        "month": "2025-03",
        "currency": "EUR",
        "spent": "300",
        "budget": "3000",
        "run_rate": "100",
        "projected": "3100",
        "days_elapsed": 3,
        "days_in_month": 31,
    }
    assert await monitoring.events(partner_id, THRESHOLD) == []


async def test_forecast_counts_quiet_days_since_the_first(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer, amount="3000")
    # 400 on the 1st, seen on the 10th: 40 a day, 1240 by month end, within the budget.
    await spend(monitoring, partner_id, customer, at(1), "400")
    await evaluate(monitoring, partner_id, customer, at(1).date(), at(10))

    assert await monitoring.events(partner_id, ALERT) == []


async def test_forecast_stays_silent_when_the_run_rate_fits_the_budget(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer, amount="3100")
    for day in range(1, 11):
        await spend(monitoring, partner_id, customer, at(day), "100")
        await evaluate(monitoring, partner_id, customer, at(day).date(), at(day, 23))

    # Exactly on budget at month end is not an overrun.
    assert await monitoring.events(partner_id, ALERT) == []


async def test_forecast_waits_for_the_third_day(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer, amount="3000")
    await spend(monitoring, partner_id, customer, at(1), "300")
    await evaluate(monitoring, partner_id, customer, at(1).date(), at(1, 23))
    await spend(monitoring, partner_id, customer, at(2), "300")
    await evaluate(monitoring, partner_id, customer, at(2).date(), at(2, 23))
    assert await monitoring.events(partner_id, ALERT) == []

    await spend(monitoring, partner_id, customer, at(3), "1")
    await evaluate(monitoring, partner_id, customer, at(3).date(), at(3, 1))
    (alert,) = await monitoring.events(partner_id, ALERT)
    assert alert["data"]["evidence"]["days_elapsed"] == 3
    assert Decimal(alert["data"]["evidence"]["projected"]) > Decimal(3000)


async def test_forecast_is_silent_once_spend_is_over_budget(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer, amount="1000")
    for day in (1, 2, 3):
        await spend(monitoring, partner_id, customer, at(day), "400")
    await evaluate(monitoring, partner_id, customer, at(3).date(), at(3, 23))

    assert await monitoring.events(partner_id, ALERT) == []
    assert [t for _, t in await thresholds(monitoring, partner_id)] == [50, 75, 90, 100]


async def test_late_spend_in_a_closed_month_never_forecasts(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await set_budget(monitoring, partner_id, customer, amount="1000")
    await spend(monitoring, partner_id, customer, at(3), "900")
    # Evaluated in April: March is over, its projection is its spend.
    await evaluate(monitoring, partner_id, customer, at(3).date(), at(2, month=4))

    assert await monitoring.events(partner_id, ALERT) == []
    assert [t for _, t in await thresholds(monitoring, partner_id)] == [50, 75, 90]
