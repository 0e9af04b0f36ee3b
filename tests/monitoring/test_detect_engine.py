"""The usage detectors on a real database: each fires on a planted pattern with the numbers
that fired it, and stays silent on ordinary seasonal usage; disabled detectors are silent;
re-evaluating a day raises nothing new; one partner's data never reaches another's detectors.

History is written straight into the aggregates (marked evaluated); ``run_detectors`` is called
for the day under test as the evaluation job would call it, in one sweep transaction.
"""

from __future__ import annotations

import random
import statistics
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.monitoring import AlertKind, Severity
from partnerguard.monitoring.detection.config import (
    CryptoMining,
    DetectionConfig,
    FirstSeen,
    NewCustomerBurst,
    SpendAnomaly,
)
from partnerguard.monitoring.detection.engine import run_detectors
from partnerguard.monitoring.models import Alert, CustomerDay, Footprint
from partnerguard.monitoring.usage.spend import decimal_string
from tests.support.events import outbox_events
from tests.support.monitoring import RunningMonitoring, usage_record
from tests.support.monitoring_data import add_customer, add_footprint, add_hourly_spend

D = Decimal
MONDAY = date(2026, 11, 16)
NOW = datetime(2026, 11, 17, 2, tzinfo=UTC)
DEFAULTS = DetectionConfig()
RAISED = "monitoring.alert.raised"
# Two weeks of hour-of-day history instead of four keep the hourly tests' data small.
SHORT_HOURLY = DetectionConfig(spend_anomaly=SpendAnomaly(hourly_baseline_days=14))


def at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def noisy(rng: random.Random, base: float, spread: float = 0.1) -> str:
    return f"{base * (1 + rng.uniform(-spread, spread)):.2f}"


def office_days(first: date, last: date, seed: int = 1) -> list[tuple[datetime, str]]:
    """One record a day at noon: working days about 100, weekends about 20 (10 % noise)."""
    rng = random.Random(seed)
    return [
        (at(day, 12), noisy(rng, 100 if day.weekday() < 5 else 20)) for day in days(first, last)
    ]


def office_hours(first: date, last: date, seed: int = 2) -> list[tuple[datetime, str]]:
    """Every hour: about 8 from 9 to 17 on working days, about 1 otherwise (15 % noise)."""
    rng = random.Random(seed)
    return [
        (at(day, hour), noisy(rng, 8 if day.weekday() < 5 and 9 <= hour < 17 else 1, 0.15))
        for day in days(first, last)
        for hour in range(24)
    ]


def round_the_clock(first: date, last: date, cost: str) -> list[tuple[datetime, str]]:
    return [(at(day, hour), cost) for day in days(first, last) for hour in range(24)]


async def evaluate(
    db: Database,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    day: date = MONDAY,
    config: DetectionConfig = DEFAULTS,
) -> list[Alert]:
    """Run the detectors over one customer-day, as the evaluation job does."""
    async with db.sweep_session() as session:
        row = await session.get(CustomerDay, (partner_id, customer_id, day))
        assert row is not None
        return await run_detectors(session, row, config, NOW)


async def alerts_of(db: Database, partner_id: uuid.UUID) -> list[Alert]:
    async with db.sweep_session() as session:
        rows = await session.scalars(
            select(Alert).where(Alert.partner_id == partner_id).order_by(Alert.dedup_key)
        )
        return list(rows)


async def footprints_of(
    db: Database, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> dict[tuple[str, str], bool]:
    async with db.sweep_session() as session:
        rows = await session.scalars(
            select(Footprint).where(
                Footprint.partner_id == partner_id, Footprint.customer_id == customer_id
            )
        )
        return {(row.kind, row.value): row.reported for row in rows}


def only(alerts: Iterable[Alert], kind: AlertKind, rule: str | None = None) -> Alert:
    [alert] = [a for a in alerts if a.kind == kind and (rule is None or a.rule == rule)]
    return alert


def kinds(alerts: Iterable[Alert]) -> set[str]:
    return {alert.kind for alert in alerts}


# --- spend anomaly, daily ---------------------------------------------------------------------


async def test_a_day_far_above_its_weekday_raises_a_daily_anomaly(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer, subscription = uuid.uuid4(), uuid.uuid4()
    history = office_days(MONDAY - timedelta(weeks=8), MONDAY - timedelta(days=1))
    await add_hourly_spend(
        monitoring_db, partner_id, customer, history, subscription_id=subscription, evaluated=True
    )
    await add_hourly_spend(
        monitoring_db, partner_id, customer, [(at(MONDAY, 12), "400")], subscription_id=subscription
    )

    raised = await evaluate(monitoring_db, partner_id, customer)

    alert = only(raised, AlertKind.SPEND_ANOMALY, "daily")
    mondays = [D(cost) for when, cost in history if when.weekday() == 0]
    expected_median = statistics.median(mondays)
    assert alert.customer_id == customer
    assert alert.subscription_ids == [subscription]
    assert alert.severity == Severity.MEDIUM
    assert alert.dedup_key == f"spend_anomaly:daily:{customer}:2026-11-16"
    assert alert.evidence["observed"] == "400"
    assert alert.evidence["median"] == decimal_string(expected_median)
    assert alert.evidence["baseline_points"] == 8
    assert alert.evidence["threshold"] == 3.5
    assert alert.evidence["z"] >= 3.5
    assert alert.evidence["weekday"] == "Monday"
    assert alert.id in {a.id for a in await alerts_of(monitoring_db, partner_id)}


async def test_ordinary_weeks_with_quiet_weekends_raise_nothing(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    first, last = MONDAY - timedelta(weeks=10), MONDAY + timedelta(days=6)
    await add_hourly_spend(
        monitoring_db, partner_id, customer, office_days(first, last, seed=3), evaluated=True
    )

    for day in days(MONDAY - timedelta(days=7), last):
        assert await evaluate(monitoring_db, partner_id, customer, day) == [], day

    assert await alerts_of(monitoring_db, partner_id) == []


async def test_a_new_customer_has_no_baseline_yet(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    history = office_days(MONDAY - timedelta(weeks=3), MONDAY - timedelta(days=1))
    await add_hourly_spend(monitoring_db, partner_id, customer, history, evaluated=True)
    await add_hourly_spend(monitoring_db, partner_id, customer, [(at(MONDAY, 12), "5000")])

    raised = await evaluate(monitoring_db, partner_id, customer)

    # Three earlier Mondays are fewer than min_points (4), and before them there was no customer.
    assert [a for a in raised if a.rule == "daily"] == []


# --- spend anomaly, hourly --------------------------------------------------------------------


async def test_a_night_spike_raises_an_hourly_anomaly(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    history = office_hours(MONDAY - timedelta(days=14), MONDAY - timedelta(days=1))
    await add_hourly_spend(monitoring_db, partner_id, customer, history, evaluated=True)
    today = [(when, cost) for when, cost in office_hours(MONDAY, MONDAY) if when.hour != 3]
    await add_hourly_spend(monitoring_db, partner_id, customer, [*today, (at(MONDAY, 3), "40")])

    raised = await evaluate(monitoring_db, partner_id, customer, config=SHORT_HOURLY)

    [alert] = raised
    nights = [D(c) for w, c in history if w.hour == 3 and w.weekday() < 5]
    assert (alert.kind, alert.rule) == (AlertKind.SPEND_ANOMALY, "hourly")
    assert alert.dedup_key == f"spend_anomaly:hourly:{customer}:2026-11-16T03:00Z"
    assert alert.subscription_ids == [uuid.UUID(int=customer.int ^ 1)]
    assert alert.evidence["hour"] == "2026-11-16T03:00Z"
    assert alert.evidence["observed"] == "40"
    assert alert.evidence["median"] == decimal_string(statistics.median(nights))
    assert alert.evidence["baseline_points"] == 10  # the working days of the two weeks before
    assert alert.evidence["threshold"] == 5.0
    assert alert.evidence["anomalous_hours"] == 1
    assert alert.evidence["day_kind"] == "working_day"


async def test_ordinary_office_hours_raise_nothing_on_working_days_or_weekends(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    history = office_hours(MONDAY - timedelta(days=21), MONDAY, seed=5)
    await add_hourly_spend(monitoring_db, partner_id, customer, history, evaluated=True)

    for day in days(MONDAY - timedelta(days=2), MONDAY):  # Saturday, Sunday, Monday
        assert await evaluate(monitoring_db, partner_id, customer, day, SHORT_HOURLY) == [], day


async def test_a_day_of_spikes_raises_one_alert_per_episode_and_a_few_at_most(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    history = office_hours(MONDAY - timedelta(days=14), MONDAY - timedelta(days=1))
    await add_hourly_spend(monitoring_db, partner_id, customer, history, evaluated=True)
    spikes = {1: "30", 3: "60", 4: "90", 20: "50", 22: "40"}
    await add_hourly_spend(
        monitoring_db, partner_id, customer, [(at(MONDAY, h), c) for h, c in spikes.items()]
    )

    raised = await evaluate(monitoring_db, partner_id, customer, config=SHORT_HOURLY)

    # Four episodes (01, 03-04, 20, 22): the three furthest above the usual are reported, 03-04
    # by its worst hour, 04:00.
    assert sorted(a.evidence["episode_start"] for a in raised) == [
        "2026-11-16T03:00Z",
        "2026-11-16T20:00Z",
        "2026-11-16T22:00Z",
    ]
    episode = next(a for a in raised if a.evidence["episode_start"] == "2026-11-16T03:00Z")
    assert episode.evidence["hour"] == "2026-11-16T04:00Z"
    assert episode.evidence["episode_hours"] == 2
    assert {a.evidence["anomalous_hours"] for a in raised} == {5}

    # More spikes later that day: the day has had its share.
    await add_hourly_spend(monitoring_db, partner_id, customer, [(at(MONDAY, 23), "500")])
    assert await evaluate(monitoring_db, partner_id, customer, config=SHORT_HOURLY) == []
    assert len(await alerts_of(monitoring_db, partner_id)) == 3


# --- new-customer burst -----------------------------------------------------------------------


async def test_a_high_risk_newcomer_spending_far_above_its_tier_raises_one_burst(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    first = MONDAY - timedelta(days=2)
    await add_customer(
        monitoring_db,
        partner_id,
        customer,
        risk_tier="high",
        approved_at=at(first) - timedelta(days=1),
    )
    spend = [(at(day, hour), "20") for day in days(first, MONDAY) for hour in (9, 13, 17, 21)]
    await add_hourly_spend(monitoring_db, partner_id, customer, spend)

    raised = await evaluate(monitoring_db, partner_id, customer)

    alert = only(raised, AlertKind.NEW_CUSTOMER_BURST)
    assert alert.severity == Severity.HIGH
    assert alert.dedup_key == f"new_customer_burst:{customer}"
    assert alert.subscription_ids == [uuid.UUID(int=customer.int ^ 1)]
    assert alert.evidence["observed"] == "240"
    assert alert.evidence["risk_tier"] == "high"
    assert alert.evidence["expected_daily_spend"] == "10"
    assert alert.evidence["days_elapsed"] == 3
    assert alert.evidence["threshold"] == "150"
    assert alert.evidence["first_usage_at"] == "2026-11-14T09:00:00+00:00"

    # Later days of the same first week raise no second burst.
    await add_hourly_spend(
        monitoring_db, partner_id, customer, [(at(MONDAY + timedelta(days=1), 9), "90")]
    )
    assert await evaluate(monitoring_db, partner_id, customer, MONDAY + timedelta(days=1)) == []
    assert await evaluate(monitoring_db, partner_id, customer) == []


async def test_a_low_risk_newcomer_spending_normally_raises_nothing(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    first = MONDAY - timedelta(days=6)
    await add_customer(monitoring_db, partner_id, customer, risk_tier="low", approved_at=at(first))
    await add_hourly_spend(
        monitoring_db, partner_id, customer, office_days(first, MONDAY), evaluated=True
    )

    for day in days(first, MONDAY):
        assert await evaluate(monitoring_db, partner_id, customer, day) == [], day


async def test_a_customer_monitoring_knows_nothing_of_is_held_to_the_unknown_tier(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_hourly_spend(monitoring_db, partner_id, customer, [(at(MONDAY, 8), "300")])

    alert = only(await evaluate(monitoring_db, partner_id, customer), AlertKind.NEW_CUSTOMER_BURST)

    assert alert.evidence["risk_tier"] == "unknown"
    assert alert.evidence["threshold"] == "100"


async def test_after_its_first_days_a_customer_no_longer_bursts(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_customer(monitoring_db, partner_id, customer, risk_tier="high")
    await add_hourly_spend(
        monitoring_db,
        partner_id,
        customer,
        [(at(MONDAY - timedelta(days=7), 9), "5")],
        evaluated=True,
    )
    await add_hourly_spend(monitoring_db, partner_id, customer, [(at(MONDAY, 9), "5000")])

    # Day 8 of usage: past first_days (7).
    assert kinds(await evaluate(monitoring_db, partner_id, customer)) <= {AlertKind.SPEND_ANOMALY}


# --- crypto-mining ----------------------------------------------------------------------------


async def established_customer(db: Database, partner_id: uuid.UUID, weeks: int = 3) -> uuid.UUID:
    """A customer with ``weeks`` of office usage in westeurope on ordinary VMs."""
    customer = uuid.uuid4()
    first = MONDAY - timedelta(weeks=weeks)
    await add_customer(db, partner_id, customer, risk_tier="low", first_usage_at=at(first, 12))
    await add_hourly_spend(
        db, partner_id, customer, office_days(first, MONDAY - timedelta(days=1)), evaluated=True
    )
    await add_footprint(db, partner_id, customer, "region", "westeurope", at(first, 12))
    await add_footprint(db, partner_id, customer, "resource_type", "Standard_D2_v3", at(first, 12))
    return customer


async def start_mining(
    db: Database,
    partner_id: uuid.UUID,
    customer: uuid.UUID,
    subscription: uuid.UUID,
    hourly: dict[int, str],
    region: str | None,
) -> None:
    await add_hourly_spend(
        db,
        partner_id,
        customer,
        [(at(MONDAY, hour), cost) for hour, cost in hourly.items()],
        heavy=True,
        subscription_id=subscription,
        meter_category="Virtual Machines GPU",
    )
    if region is not None:
        await add_footprint(db, partner_id, customer, "region", region, at(MONDAY, 0))


async def test_sudden_flat_gpu_use_in_a_new_region_is_critical_mining(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = await established_customer(monitoring_db, partner_id)
    gpu = uuid.uuid4()
    await start_mining(
        monitoring_db, partner_id, customer, gpu, dict.fromkeys(range(24), "12"), "koreacentral"
    )

    raised = await evaluate(monitoring_db, partner_id, customer)

    alert = only(raised, AlertKind.CRYPTO_MINING)
    assert alert.severity == Severity.CRITICAL
    assert alert.rule == "new_regions+flat_usage"
    assert alert.subscription_ids == [gpu]
    assert alert.dedup_key == f"crypto_mining:{customer}:2026-11-16"
    assert alert.evidence["heavy_cost"] == "288"
    assert alert.evidence["total_cost"] == "288"
    assert alert.evidence["heavy_share"] == 1.0
    assert alert.evidence["prior_heavy_cost"] == "0"
    assert alert.evidence["new_regions"] == "koreacentral"
    assert alert.evidence["active_hours"] == 24
    assert alert.evidence["cv"] == 0.0
    assert alert.evidence["window_start"] == "2026-11-16T00:00:00+00:00"
    assert alert.evidence["window_end"] == "2026-11-17T00:00:00+00:00"


async def test_sudden_flat_gpu_use_without_a_new_region_is_mining(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = await established_customer(monitoring_db, partner_id)
    await start_mining(
        monitoring_db, partner_id, customer, uuid.uuid4(), dict.fromkeys(range(2, 24), "12"), None
    )

    alert = only(await evaluate(monitoring_db, partner_id, customer), AlertKind.CRYPTO_MINING)

    assert (alert.rule, alert.severity) == ("flat_usage", Severity.HIGH)
    assert alert.evidence["active_hours"] == 22
    assert alert.evidence["new_regions"] == ""
    # The window ends with the latest hour of usage, 23:00.
    assert alert.evidence["window_end"] == "2026-11-17T00:00:00+00:00"


async def test_sudden_bursty_gpu_use_in_a_new_region_is_mining(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = await established_customer(monitoring_db, partner_id)
    bursts = {1: "10", 2: "45", 5: "5", 9: "30", 14: "60", 15: "8"}
    await start_mining(monitoring_db, partner_id, customer, uuid.uuid4(), bursts, "brazilsouth")

    alert = only(await evaluate(monitoring_db, partner_id, customer), AlertKind.CRYPTO_MINING)

    assert (alert.rule, alert.severity) == ("new_regions", Severity.HIGH)
    assert alert.evidence["active_hours"] == 6
    assert alert.evidence["window_end"] == "2026-11-16T16:00:00+00:00"


async def test_a_steady_vm_running_round_the_clock_is_not_mining(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    spend = round_the_clock(MONDAY - timedelta(days=15), MONDAY, "2.40")
    await add_hourly_spend(monitoring_db, partner_id, customer, spend, evaluated=True)

    assert await evaluate(monitoring_db, partner_id, customer) == []


async def test_a_customer_that_always_ran_gpus_is_not_mining(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    spend = round_the_clock(MONDAY - timedelta(days=15), MONDAY, "12")
    await add_hourly_spend(monitoring_db, partner_id, customer, spend, heavy=True, evaluated=True)
    await add_footprint(
        monitoring_db, partner_id, customer, "region", "koreacentral", at(MONDAY, 3)
    )

    assert await evaluate(monitoring_db, partner_id, customer) == []


# --- first-seen -------------------------------------------------------------------------------


async def test_new_resource_types_and_regions_after_learning_raise_one_alert_per_kind(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = await established_customer(monitoring_db, partner_id)
    await add_hourly_spend(monitoring_db, partner_id, customer, [(at(MONDAY, 12), "100")])
    for kind, value, hour in [
        ("resource_type", "Standard_NC6", 10),
        ("resource_type", "Standard_NC24", 11),
        ("region", "koreacentral", 12),
    ]:
        await add_footprint(
            monitoring_db, partner_id, customer, kind, value, at(MONDAY, hour), reported=False
        )

    raised = await evaluate(monitoring_db, partner_id, customer)

    types = only(raised, AlertKind.FIRST_SEEN_RESOURCE, "resource_type")
    assert types.severity == Severity.LOW
    assert types.evidence["values"] == "Standard_NC24,Standard_NC6"
    assert types.evidence["count"] == 2
    assert types.evidence["first_seen_at"] == "2026-11-16T10:00:00+00:00"
    region = only(raised, AlertKind.FIRST_SEEN_RESOURCE, "region")
    assert region.dedup_key == f"first_seen:{customer}:region:koreacentral"
    assert region.evidence["values"] == "koreacentral"
    assert all((await footprints_of(monitoring_db, partner_id, customer)).values())

    assert await evaluate(monitoring_db, partner_id, customer) == []


async def test_what_a_newcomer_uses_in_its_learning_days_is_marked_without_alerts(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    first = MONDAY - timedelta(days=1)
    await add_customer(monitoring_db, partner_id, customer, risk_tier="low")
    await add_hourly_spend(
        monitoring_db, partner_id, customer, [(at(first, 8), "5"), (at(MONDAY, 8), "5")]
    )
    await add_footprint(
        monitoring_db, partner_id, customer, "region", "westeurope", at(first, 8), reported=False
    )
    await add_footprint(
        monitoring_db, partner_id, customer, "region", "northeurope", at(MONDAY, 8), reported=False
    )

    assert await evaluate(monitoring_db, partner_id, customer) == []
    assert await footprints_of(monitoring_db, partner_id, customer) == {
        ("region", "westeurope"): True,
        ("region", "northeurope"): True,
    }


async def test_activity_countries_are_left_to_the_activity_rules(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = await established_customer(monitoring_db, partner_id)
    await add_hourly_spend(monitoring_db, partner_id, customer, [(at(MONDAY, 12), "100")])
    await add_footprint(
        monitoring_db, partner_id, customer, "activity_country", "KP", at(MONDAY, 3), reported=False
    )

    assert await evaluate(monitoring_db, partner_id, customer) == []
    assert (await footprints_of(monitoring_db, partner_id, customer))[
        ("activity_country", "KP")
    ] is False


# --- the engine -------------------------------------------------------------------------------


async def miner_with_new_resource(db: Database, partner_id: uuid.UUID) -> uuid.UUID:
    """An established customer that today runs GPUs round the clock in a new region: a daily and
    an hourly anomaly, crypto-mining and a first-seen resource type at once."""
    customer = await established_customer(db, partner_id, weeks=5)
    await start_mining(
        db, partner_id, customer, uuid.uuid4(), dict.fromkeys(range(24), "12"), "koreacentral"
    )
    await add_footprint(
        db,
        partner_id,
        customer,
        "resource_type",
        "Standard_NC24ads_A100_v4",
        at(MONDAY, 0),
        reported=False,
    )
    return customer


async def test_an_established_customer_turning_miner_trips_every_usage_detector(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = await miner_with_new_resource(monitoring_db, partner_id)

    raised = await evaluate(monitoring_db, partner_id, customer)

    # The GPUs' hours are two hourly episodes: noon, when the office VMs also run, is usual.
    assert sorted((a.kind, a.rule) for a in raised) == [
        (AlertKind.CRYPTO_MINING, "new_regions+flat_usage"),
        (AlertKind.FIRST_SEEN_RESOURCE, "resource_type"),
        (AlertKind.SPEND_ANOMALY, "daily"),
        (AlertKind.SPEND_ANOMALY, "hourly"),
        (AlertKind.SPEND_ANOMALY, "hourly"),
    ]
    hourly = sorted(a.evidence["episode_start"] for a in raised if a.rule == "hourly")
    assert hourly == ["2026-11-16T00:00Z", "2026-11-16T13:00Z"]
    assert all(a.customer_id == customer and a.partner_id == partner_id for a in raised)


@pytest.mark.parametrize(
    ("section", "kind"),
    [
        ("spend_anomaly", AlertKind.SPEND_ANOMALY),
        ("crypto_mining", AlertKind.CRYPTO_MINING),
        ("first_seen", AlertKind.FIRST_SEEN_RESOURCE),
    ],
)
async def test_a_disabled_detector_stays_silent(
    monitoring_db: Database, partner_id: uuid.UUID, section: str, kind: AlertKind
) -> None:
    customer = await miner_with_new_resource(monitoring_db, partner_id)
    sections = {
        "spend_anomaly": SpendAnomaly(enabled=False),
        "crypto_mining": CryptoMining(enabled=False),
        "first_seen": FirstSeen(enabled=False),
    }
    config = DetectionConfig.model_validate({section: sections[section]})

    raised = await evaluate(monitoring_db, partner_id, customer, config=config)

    assert kinds(raised) == {
        AlertKind.SPEND_ANOMALY,
        AlertKind.CRYPTO_MINING,
        AlertKind.FIRST_SEEN_RESOURCE,
    } - {kind}


async def test_a_disabled_burst_detector_stays_silent(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    await add_hourly_spend(monitoring_db, partner_id, customer, [(at(MONDAY, 8), "300")])
    config = DetectionConfig(new_customer_burst=NewCustomerBurst(enabled=False))

    assert await evaluate(monitoring_db, partner_id, customer, config=config) == []


async def test_first_sightings_while_first_seen_is_disabled_are_not_alerted_later(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = await miner_with_new_resource(monitoring_db, partner_id)
    disabled = DetectionConfig(first_seen=FirstSeen(enabled=False))
    await evaluate(monitoring_db, partner_id, customer, config=disabled)

    raised = await evaluate(monitoring_db, partner_id, customer)

    assert AlertKind.FIRST_SEEN_RESOURCE not in kinds(raised)
    assert all((await footprints_of(monitoring_db, partner_id, customer)).values())


async def test_re_evaluating_a_day_raises_nothing_new_and_announces_each_alert_once(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = await miner_with_new_resource(monitoring_db, partner_id)
    first = await evaluate(monitoring_db, partner_id, customer)

    again = await evaluate(monitoring_db, partner_id, customer)
    await add_hourly_spend(monitoring_db, partner_id, customer, [(at(MONDAY, 23), "1")], heavy=True)
    after_more_usage = await evaluate(monitoring_db, partner_id, customer)

    assert again == []
    assert after_more_usage == []
    stored = await alerts_of(monitoring_db, partner_id)
    assert sorted(a.id for a in stored) == sorted(a.id for a in first)
    events = await outbox_events(monitoring_db, partner_id, RAISED)
    assert sorted(uuid.UUID(e["data"]["alert_id"]) for e in events) == sorted(a.id for a in first)


async def test_another_partners_usage_never_reaches_the_baseline(
    monitoring_db: Database, partner_id: uuid.UUID
) -> None:
    customer = uuid.uuid4()
    other_partner = uuid.uuid4()
    history = office_days(MONDAY - timedelta(weeks=8), MONDAY - timedelta(days=1))
    await add_hourly_spend(monitoring_db, partner_id, customer, history, evaluated=True)
    # The same customer id at another partner, spending ten times as much every day.
    loud = [(when, str(D(cost) * 10)) for when, cost in history]
    await add_hourly_spend(monitoring_db, other_partner, customer, loud, evaluated=True)
    await add_footprint(
        monitoring_db,
        other_partner,
        customer,
        "region",
        "koreacentral",
        at(MONDAY, 1),
        reported=False,
    )
    await add_hourly_spend(monitoring_db, partner_id, customer, [(at(MONDAY, 12), "400")])

    alert = only(
        await evaluate(monitoring_db, partner_id, customer), AlertKind.SPEND_ANOMALY, "daily"
    )

    mondays = [D(cost) for when, cost in history if when.weekday() == 0]
    assert alert.evidence["median"] == decimal_string(statistics.median(mondays))
    assert alert.partner_id == partner_id
    assert await alerts_of(monitoring_db, other_partner) == []
    assert await footprints_of(monitoring_db, other_partner, customer) == {
        ("region", "koreacentral"): False
    }


async def test_the_evaluation_job_runs_the_detectors_on_ingested_usage(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = await established_customer(monitoring.db, partner_id, weeks=5)
    gpu = uuid.uuid4()
    records = [
        usage_record(
            customer,
            at(MONDAY, hour),
            "12.00",
            subscription_id=gpu,
            meter="NC24ads A100 v4",
            meter_category="Virtual Machines",
            resource_type="Standard_NC24ads_A100_v4",
            region="koreacentral",
        )
        for hour in range(24)
    ]
    await monitoring.ingest(partner_id, records)

    await monitoring.evaluate(now=NOW)

    raised = [e["data"] for e in await monitoring.events(partner_id, RAISED)]
    assert sorted((e["kind"], e["rule"]) for e in raised) == [
        ("crypto_mining", "new_regions+flat_usage"),
        ("first_seen_resource", "region"),
        ("first_seen_resource", "resource_type"),
        ("spend_anomaly", "daily"),
        ("spend_anomaly", "hourly"),
        ("spend_anomaly", "hourly"),
    ]
    mining = next(e for e in raised if e["kind"] == "crypto_mining")
    assert mining["severity"] == "critical"
    assert mining["subscription_ids"] == [str(gpu)]
    assert mining["customer_id"] == str(customer)
    assert mining["evidence"]["heavy_cost"] == "288"

    assert await monitoring.evaluate(now=NOW) == 0
    assert len(await monitoring.events(partner_id, RAISED)) == len(raised)
