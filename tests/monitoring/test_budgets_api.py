"""The budget over HTTP: set (create or replace), read with how it stands, remove."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from partnerguard.monitoring.budgets.evaluation import evaluate_budget
from tests.support.monitoring import RunningMonitoring
from tests.support.monitoring_data import add_customer, add_hourly_spend

THRESHOLD = "monitoring.budget.threshold_reached"


def path(customer_id: uuid.UUID) -> str:
    return f"/v1/monitoring/customers/{customer_id}/budget"


async def put(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, customer_id: uuid.UUID, body: Any
) -> httpx.Response:
    return await monitoring.http.put(
        path(customer_id), json=body, headers=monitoring.headers(partner_id)
    )


async def get(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, customer_id: uuid.UUID, query: str = ""
) -> httpx.Response:
    return await monitoring.http.get(
        path(customer_id) + query, headers=monitoring.headers(partner_id)
    )


def this_morning() -> datetime:
    """The first hour of today (UTC): spend there is always in the current month and past."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def test_put_creates_with_default_thresholds_then_replaces(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    created = await put(monitoring, partner_id, customer, {"amount": "1000.00", "currency": "EUR"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["customer_id"] == str(customer)
    assert body["amount"] == "1000"
    assert body["currency"] == "EUR"
    assert body["thresholds"] == [50, 75, 90, 100]
    today = datetime.now(UTC)
    assert body["spend"]["month"] == f"{today:%Y-%m}"
    assert body["spend"]["spent"] == "0"
    assert body["spend"]["percent_used"] == "0.00"
    assert body["spend"]["thresholds_reached"] == []

    replaced = await put(
        monitoring,
        partner_id,
        customer,
        {"amount": "250.125", "currency": "EUR", "thresholds": [100, 10, 80]},
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["id"] == body["id"]
    assert replaced.json()["thresholds"] == [10, 80, 100]

    got = await get(monitoring, partner_id, customer)
    assert got.status_code == 200
    assert got.json()["amount"] == "250.125"
    assert got.json()["thresholds"] == [10, 80, 100]


async def test_a_budget_set_below_current_spend_alerts_at_once(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_customer(monitoring.db, partner_id, customer, currency="EUR")
    await add_hourly_spend(monitoring.db, partner_id, customer, [(this_morning(), "600")])

    response = await put(monitoring, partner_id, customer, {"amount": "500", "currency": "EUR"})

    assert response.status_code == 201, response.text
    status = response.json()["spend"]
    assert status["spent"] == "600"
    assert status["percent_used"] == "120.00"
    assert [r["threshold"] for r in status["thresholds_reached"]] == [50, 75, 90, 100]
    assert all(r["spent"] == "600" for r in status["thresholds_reached"])
    events = await monitoring.events(partner_id, THRESHOLD)
    assert [e["data"]["threshold_percent"] for e in events] == [50, 75, 90, 100]
    assert {e["data"]["budget_id"] for e in events} == {response.json()["id"]}


async def test_replacing_keeps_reached_thresholds_and_rearms_those_a_new_amount_moves(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_hourly_spend(monitoring.db, partner_id, customer, [(this_morning(), "600")])
    await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "EUR"})
    # The same budget again: 50 % stays reached, nothing is announced twice.
    await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "EUR"})
    assert len(await monitoring.events(partner_id, THRESHOLD)) == 1

    raised = await put(monitoring, partner_id, customer, {"amount": "2000", "currency": "EUR"})
    assert raised.json()["spend"]["thresholds_reached"] == []
    await add_hourly_spend(monitoring.db, partner_id, customer, [(this_morning(), "500")])
    now = datetime.now(UTC)
    async with monitoring.db.sweep_session() as session:
        await evaluate_budget(session, partner_id, customer, now.date(), now)

    events = await monitoring.events(partner_id, THRESHOLD)
    assert [(e["data"]["threshold_percent"], e["data"]["budget"]) for e in events] == [
        (50, "1000"),
        (50, "2000"),
    ]


async def test_get_shows_a_past_month_with_when_each_threshold_was_reached(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "EUR"})
    march = datetime(2025, 3, 10, 9, tzinfo=UTC)
    await add_hourly_spend(monitoring.db, partner_id, customer, [(march, "800"), (march, "0.5")])
    async with monitoring.db.sweep_session() as session:
        await evaluate_budget(session, partner_id, customer, march.date(), march)

    response = await get(monitoring, partner_id, customer, "?month=2025-03")

    assert response.status_code == 200
    status = response.json()["spend"]
    assert status["month"] == "2025-03"
    assert status["spent"] == "800.5"
    assert status["percent_used"] == "80.05"
    assert status["thresholds_reached"] == [
        {"threshold": 50, "reached_at": "2025-03-10T09:00:00Z", "spent": "800.5"},
        {"threshold": 75, "reached_at": "2025-03-10T09:00:00Z", "spent": "800.5"},
    ]
    # A month that is over projects its own spend.
    assert status["forecast"] == {
        "days_elapsed": 31,
        "days_in_month": 31,
        "run_rate": "25.82258065",
        "projected": "800.5",
        "projected_over_budget": False,
    }
    current = await get(monitoring, partner_id, customer)
    assert current.json()["spend"]["spent"] == "0"


async def test_get_forecasts_the_current_month_from_its_run_rate(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    morning = this_morning()
    await add_hourly_spend(monitoring.db, partner_id, customer, [(morning, "100")])
    await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "EUR"})

    forecast = (await get(monitoring, partner_id, customer)).json()["spend"]["forecast"]

    next_month = (morning.replace(day=28) + timedelta(days=4)).replace(day=1)
    days_in_month = (next_month - morning.replace(day=1)).days
    assert forecast["days_elapsed"] == morning.day
    assert forecast["days_in_month"] == days_in_month
    assert forecast["projected_over_budget"] == (100 * days_in_month > 1000 * morning.day)


async def test_a_future_month_has_no_forecast(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "EUR"})
    response = await get(monitoring, partner_id, customer, "?month=2999-01")
    assert response.status_code == 200
    assert response.json()["spend"]["forecast"] is None


async def test_a_budget_in_another_currency_than_the_usage_is_refused(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_customer(monitoring.db, partner_id, customer, currency="EUR")

    response = await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "USD"})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "EUR" in response.json()["detail"]
    assert (await get(monitoring, partner_id, customer)).status_code == 404
    assert await monitoring.events(partner_id) == []


BAD_BUDGETS: list[Any] = [
    {"amount": "abc", "currency": "EUR"},
    {"amount": "-5", "currency": "EUR"},
    {"amount": "0", "currency": "EUR"},
    {"amount": "1.123456789", "currency": "EUR"},
    {"amount": "1000000000000", "currency": "EUR"},
    {"amount": 100, "currency": "EUR"},
    {"amount": 100.5, "currency": "EUR"},
    {"amount": "1e3", "currency": "EUR"},
    {"amount": "NaN", "currency": "EUR"},
    {"currency": "EUR"},
    {"amount": "100", "currency": "eur"},
    {"amount": "100", "currency": "EURO"},
    {"amount": "100"},
    {"amount": "100", "currency": "EUR", "thresholds": []},
    {"amount": "100", "currency": "EUR", "thresholds": [0]},
    {"amount": "100", "currency": "EUR", "thresholds": [-10]},
    {"amount": "100", "currency": "EUR", "thresholds": [1001]},
    {"amount": "100", "currency": "EUR", "thresholds": [50, 50]},
    {"amount": "100", "currency": "EUR", "thresholds": list(range(1, 12))},
    {"amount": "100", "currency": "EUR", "thresholds": ["50"]},
    {"amount": "100", "currency": "EUR", "thresholds": [True]},
    {"amount": "100", "currency": "EUR", "thresholds": [50.5]},
    {"amount": "100", "currency": "EUR", "period": "weekly"},
    [],
]


async def test_bad_budget_input_is_problem_json_and_stores_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    for body in BAD_BUDGETS:
        response = await put(monitoring, partner_id, customer, body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 422

    assert (await get(monitoring, partner_id, customer)).status_code == 404
    # Not even the customer registry heard of it.
    spend = await monitoring.http.get(
        f"/v1/monitoring/customers/{customer}/spend?from=2026-01-01&to=2026-01-02",
        headers=monitoring.headers(partner_id),
    )
    assert spend.status_code == 404
    assert await monitoring.events(partner_id) == []


async def test_a_bad_month_is_problem_json(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "EUR"})
    for month in ("2026-13", "2026-1", "0000-01", "march"):
        response = await get(monitoring, partner_id, customer, f"?month={month}")
        assert response.status_code == 422, month
        assert response.headers["content-type"] == "application/problem+json"


async def test_delete_removes_the_budget_and_a_new_one_starts_afresh(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_hourly_spend(monitoring.db, partner_id, customer, [(this_morning(), "600")])
    first = await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "EUR"})

    deleted = await monitoring.http.delete(path(customer), headers=monitoring.headers(partner_id))
    assert deleted.status_code == 204
    assert (await get(monitoring, partner_id, customer)).status_code == 404
    again = await monitoring.http.delete(path(customer), headers=monitoring.headers(partner_id))
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"

    second = await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "EUR"})
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert len(await monitoring.events(partner_id, THRESHOLD)) == 2


async def test_a_customer_without_a_budget_is_not_found(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_customer(monitoring.db, partner_id, customer)
    response = await get(monitoring, partner_id, customer)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_another_partners_budget_is_not_found_and_untouched(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer, other = uuid.uuid4(), uuid.uuid4()
    mine = await put(monitoring, partner_id, customer, {"amount": "1000", "currency": "EUR"})

    assert (await get(monitoring, other, customer)).status_code == 404
    deleted = await monitoring.http.delete(path(customer), headers=monitoring.headers(other))
    assert deleted.status_code == 404
    # The other partner setting a budget for the same id makes its own, not a change to mine.
    theirs = await put(monitoring, other, customer, {"amount": "5", "currency": "USD"})
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    got = await get(monitoring, partner_id, customer)
    assert got.json()["amount"] == "1000"
    assert got.json()["currency"] == "EUR"


async def test_budgets_need_the_monitoring_scopes(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    read_only = monitoring.headers(partner_id, scopes=["monitoring:read"])
    write_only = monitoring.headers(partner_id, scopes=["monitoring:write"])
    body = {"amount": "1000", "currency": "EUR"}

    assert (
        await monitoring.http.put(path(customer), json=body, headers=read_only)
    ).status_code == 403
    assert (await monitoring.http.delete(path(customer), headers=read_only)).status_code == 403
    assert (await put(monitoring, partner_id, customer, body)).status_code == 201
    forbidden = await monitoring.http.get(path(customer), headers=write_only)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    assert (await monitoring.http.get(path(customer))).status_code == 401
