"""Each activity rule fires on its planted pattern, with the evidence, and stays silent on the ordinary."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from partnerguard.common.ids import new_id
from partnerguard.monitoring.detection.config import (
    ActivityRules,
    DetectionConfig,
    ImpossibleTravel,
    MassChange,
)
from partnerguard.monitoring.models import Alert
from tests.support.monitoring import RunningMonitoring
from tests.support.monitoring_activity import (
    activity_entry,
    alerts_of,
    post_activity,
    save_detection_config,
)

NOW = datetime.now(UTC).replace(microsecond=0)
STRANGER = "svc-sync@contoso.example"


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


async def raised(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> list[tuple[str, str]]:
    return [(a.rule or "", a.severity) for a in await alerts_of(monitoring.db, partner_id)]


async def only_alert(monitoring: RunningMonitoring, partner_id: uuid.UUID, rule: str) -> Alert:
    alerts = await alerts_of(monitoring.db, partner_id)
    assert [alert.rule for alert in alerts] == [rule]
    return alerts[0]


# --- rules on one entry -----------------------------------------------------------------------


async def test_disabling_mfa_raises_an_alert_with_the_entry_as_evidence(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    entry = activity_entry(
        customer, ago(minutes=5), entry_id="mfa-1", operation="disable strong AUTHENTICATION",
        resource="user:bob@contoso.example", ip="198.51.100.4",
    )  # fmt: skip
    answer = await post_activity(monitoring, partner_id, [entry])

    alert = await only_alert(monitoring, partner_id, "mfa_disabled")
    assert answer["alerts"] == [str(alert.id)]
    assert alert.kind == "activity_rule"
    assert alert.severity == "high"
    assert alert.customer_id == customer
    assert alert.evidence == {
        "entry_id": "mfa-1",
        "actor": "alice@contoso.example",
        "operation": "disable strong AUTHENTICATION",
        "resource": "user:bob@contoso.example",
        "ip": "198.51.100.4",
        "country": "FR",
        "occurred_at": ago(minutes=5).isoformat(),
    }
    events = await monitoring.events(partner_id, "monitoring.alert.raised")
    assert len(events) == 1
    assert events[0]["data"]["alert_id"] == str(alert.id)
    assert events[0]["data"]["rule"] == "mfa_disabled"
    assert events[0]["customerid"] == str(customer)


async def test_a_failed_attempt_to_disable_mfa_and_ordinary_operations_raise_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    answer = await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(customer, ago(minutes=9), operation="Disable Strong Authentication",
                           result="failure"),
            activity_entry(customer, ago(minutes=8), operation="Enable Strong Authentication"),
            activity_entry(customer, ago(minutes=7), operation="Update user"),
            activity_entry(customer, ago(minutes=6), operation="Add member to role",
                           role="Reader"),
            activity_entry(customer, ago(minutes=5), operation="Add application password",
                           result="failure"),
        ],
    )  # fmt: skip
    assert answer["accepted"] == 5
    assert answer["alerts"] == []
    assert await monitoring.events(partner_id, "monitoring.alert.raised") == []


async def test_created_credentials_raise_an_alert(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [activity_entry(customer, ago(minutes=3), operation="Add service principal credentials",
                        resource="app:payroll-sync")],
    )  # fmt: skip
    alert = await only_alert(monitoring, partner_id, "credentials_created")
    assert alert.evidence["operation"] == "Add service principal credentials"
    assert alert.evidence["resource"] == "app:payroll-sync"


async def test_granting_a_privileged_role_raises_an_alert_naming_the_role(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [activity_entry(customer, ago(minutes=3), operation="add MEMBER to role",
                        role="security administrator")],
    )  # fmt: skip
    alert = await only_alert(monitoring, partner_id, "privileged_role_granted")
    assert alert.severity == "high"
    assert alert.evidence["role"] == "security administrator"
    assert "security administrator" in alert.summary


async def test_a_new_global_admin_is_critical_and_not_also_a_privileged_role(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [activity_entry(customer, ago(minutes=3), operation="Add member to role",
                        role="Global Administrator", resource="user:mallory@contoso.example")],
    )  # fmt: skip
    alert = await only_alert(monitoring, partner_id, "new_global_admin")
    assert alert.severity == "critical"
    assert alert.evidence["role"] == "Global Administrator"


async def test_removing_a_privileged_role_raises_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [activity_entry(customer, ago(minutes=3), operation="Remove member from role",
                        role="Global Administrator")],
    )  # fmt: skip
    assert await raised(monitoring, partner_id) == []


async def test_a_resent_batch_raises_nothing_new(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    batch = [
        activity_entry(customer, ago(minutes=4), operation="Disable per-user MFA"),
        activity_entry(customer, ago(minutes=3), operation="Add member to role",
                       role="Company Administrator"),
    ]  # fmt: skip
    first = await post_activity(monitoring, partner_id, batch)
    again = await post_activity(monitoring, partner_id, batch)
    assert len(first["alerts"]) == 2
    assert again["alerts"] == []
    assert again["duplicates"] == 2
    assert len(await monitoring.events(partner_id, "monitoring.alert.raised")) == 2


async def test_a_disabled_rule_stays_silent(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    defaults = ActivityRules()
    rules = defaults.model_copy(
        update={"mfa_disabled": defaults.mfa_disabled.model_copy(update={"enabled": False})}
    )
    await save_detection_config(monitoring.db, partner_id, DetectionConfig(activity=rules))
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [activity_entry(customer, ago(minutes=3), operation="Disable Strong Authentication")],
    )
    assert await raised(monitoring, partner_id) == []


# --- new country ------------------------------------------------------------------------------


async def test_acting_from_a_new_country_after_learning_raises_an_alert(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(customer, ago(days=30), country="FR"),
            activity_entry(customer, ago(days=25), country="BE"),
            activity_entry(customer, ago(days=1), country="FR"),
        ],
    )
    assert await raised(monitoring, partner_id) == []

    newcomer = activity_entry(
        customer, ago(hours=2), entry_id="from-br", country="BR", actor="bob@contoso.example"
    )
    answer = await post_activity(monitoring, partner_id, [newcomer])
    alert = await only_alert(monitoring, partner_id, "new_country")
    assert answer["alerts"] == [str(alert.id)]
    assert alert.severity == "medium"
    assert alert.evidence["country"] == "BR"
    assert alert.evidence["entry_id"] == "from-br"
    assert alert.evidence["actor"] == "bob@contoso.example"
    assert alert.evidence["known_countries"] == "BE,FR"
    assert alert.evidence["first_activity_at"] == ago(days=30).isoformat()
    assert alert.evidence["learning_days"] == 7

    # Once seen, the country is usual: later activity from it is no news.
    await post_activity(
        monitoring, partner_id, [activity_entry(customer, ago(hours=1), country="BR")]
    )
    assert len(await alerts_of(monitoring.db, partner_id)) == 1


async def test_a_new_customers_first_countries_are_learnt_not_alerted(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring, partner_id, [activity_entry(customer, ago(days=3), country="FR")]
    )
    await post_activity(
        monitoring, partner_id, [activity_entry(customer, ago(days=2), country="DE")]
    )
    await post_activity(
        monitoring, partner_id, [activity_entry(customer, ago(days=1), country="DE")]
    )
    assert await raised(monitoring, partner_id) == []


async def test_a_history_sent_at_once_is_judged_as_it_happened(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(customer, ago(days=30), country="FR"),
            activity_entry(customer, ago(days=27), country="DE"),
            activity_entry(customer, ago(days=20), entry_id="late-pl", country="PL"),
        ],
    )
    alert = await only_alert(monitoring, partner_id, "new_country")
    assert alert.evidence["entry_id"] == "late-pl"
    assert alert.evidence["known_countries"] == "DE,FR"


async def test_sign_ins_from_usual_countries_and_failed_ones_from_new_countries_are_silent(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(monitoring, partner_id, [activity_entry(customer, ago(days=40))])
    await post_activity(
        monitoring,
        partner_id,
        [
            *[activity_entry(customer, ago(hours=h), country="FR") for h in range(1, 6)],
            activity_entry(customer, ago(minutes=30), country="KP", actor=STRANGER,
                           result="failure"),
        ],
    )  # fmt: skip
    assert await raised(monitoring, partner_id) == []
    # A failed sign-in did not make the country usual.
    await post_activity(
        monitoring,
        partner_id,
        [activity_entry(customer, ago(minutes=5), country="KP", actor=STRANGER)],
    )
    assert [a.evidence["country"] for a in await alerts_of(monitoring.db, partner_id)] == ["KP"]


async def test_countries_are_per_customer(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    seasoned, other = new_id(), new_id()
    await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(seasoned, ago(days=30), country="FR"),
            activity_entry(other, ago(days=30), country="FR"),
            activity_entry(other, ago(days=25), country="JP"),
        ],
    )
    await post_activity(
        monitoring, partner_id, [activity_entry(seasoned, ago(hours=1), country="JP")]
    )
    alert = await only_alert(monitoring, partner_id, "new_country")
    assert alert.customer_id == seasoned


# --- impossible travel ------------------------------------------------------------------------


async def test_two_countries_an_hour_apart_are_impossible_travel(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    answer = await post_activity(
        monitoring,
        partner_id,
        # Listed out of order: the batch is compared by when things happened.
        [
            activity_entry(customer, ago(hours=2), entry_id="washington", country="US"),
            activity_entry(customer, ago(hours=3), entry_id="paris", country="FR"),
        ],
    )
    alert = await only_alert(monitoring, partner_id, "impossible_travel")
    assert answer["alerts"] == [str(alert.id)]
    evidence: dict[str, Any] = alert.evidence
    assert evidence["actor"] == "alice@contoso.example"
    assert (evidence["from_country"], evidence["to_country"]) == ("FR", "US")
    assert (evidence["from_entry_id"], evidence["to_entry_id"]) == ("paris", "washington")
    assert 6000 < evidence["distance_km"] < 6400
    assert evidence["elapsed_minutes"] == 60.0
    assert evidence["speed_kmh"] == evidence["distance_km"]
    assert evidence["max_speed_kmh"] == 900.0


async def test_travel_at_a_plausible_speed_is_silent(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(customer, ago(hours=20), country="FR"),
            activity_entry(customer, ago(hours=19), country="FR"),
            # Paris to Washington in 10 hours: a flight.
            activity_entry(customer, ago(hours=9), country="US"),
            activity_entry(customer, ago(hours=8, minutes=50), country="US"),
        ],
    )
    # Brussels and Paris in 5 minutes: too close for country points to tell.
    await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(customer, ago(hours=5), country="BE", actor="bob@contoso.example"),
            activity_entry(customer, ago(hours=4, minutes=55), country="FR", actor="bob@contoso.example"),
        ],
    )  # fmt: skip
    assert await raised(monitoring, partner_id) == []


async def test_two_actors_in_two_countries_are_not_travel(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(customer, ago(hours=2), country="FR", actor="alice@contoso.example"),
            activity_entry(customer, ago(hours=2), country="JP", actor="bob@contoso.example"),
            activity_entry(customer, ago(hours=1), country="AU", actor="carol@contoso.example",
                           result="failure"),
            activity_entry(customer, ago(hours=1), country="US", actor="dave@contoso.example"),
        ],
    )  # fmt: skip
    assert await raised(monitoring, partner_id) == []


async def test_a_failed_sign_in_far_away_is_not_travel(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(customer, ago(hours=2), country="FR"),
            activity_entry(customer, ago(hours=1, minutes=30), country="CN", result="failure"),
            activity_entry(customer, ago(hours=1), country="FR"),
        ],
    )
    assert await raised(monitoring, partner_id) == []


async def test_an_earlier_entry_arriving_late_is_compared_with_the_later_one(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [activity_entry(customer, ago(hours=1), entry_id="tokyo", country="JP")],
    )
    await post_activity(
        monitoring,
        partner_id,
        [activity_entry(customer, ago(hours=3), entry_id="paris", country="FR")],
    )
    alert = await only_alert(monitoring, partner_id, "impossible_travel")
    assert (alert.evidence["from_entry_id"], alert.evidence["to_entry_id"]) == ("paris", "tokyo")
    assert alert.evidence["elapsed_minutes"] == 120.0


async def test_an_entry_arriving_between_two_is_compared_with_both_neighbours(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring,
        partner_id,
        [
            activity_entry(customer, ago(hours=30), entry_id="paris-1", country="FR"),
            activity_entry(customer, ago(hours=1), entry_id="paris-2", country="FR"),
        ],
    )
    # Sydney between them: a long day's flight after the first Paris is possible, two hours
    # before the second is not.
    await post_activity(
        monitoring,
        partner_id,
        [activity_entry(customer, ago(hours=3), entry_id="sydney", country="AU")],
    )
    alerts = await alerts_of(monitoring.db, partner_id, "impossible_travel")
    assert [(a.evidence["from_entry_id"], a.evidence["to_entry_id"]) for a in alerts] == [
        ("sydney", "paris-2")
    ]


async def test_travel_is_one_alert_per_actor_countries_and_day(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    config = DetectionConfig(
        activity=ActivityRules(impossible_travel=ImpossibleTravel(max_speed_kmh=500))
    )
    await save_detection_config(monitoring.db, partner_id, config)
    customer = new_id()
    start = datetime.combine(NOW.date() - timedelta(days=2), datetime.min.time(), UTC)
    bouncing = [
        activity_entry(customer, start + timedelta(hours=h), country="FR" if h % 2 else "US")
        for h in range(1, 7)
    ]
    answer = await post_activity(monitoring, partner_id, bouncing)
    assert len(answer["alerts"]) == 1
    assert (await only_alert(monitoring, partner_id, "impossible_travel")).evidence[
        "max_speed_kmh"
    ] == 500.0


# --- mass change ------------------------------------------------------------------------------


def creations(
    customer: uuid.UUID, start: datetime, count: int, spacing: timedelta
) -> list[dict[str, Any]]:
    return [
        activity_entry(customer, start + i * spacing, operation="Create virtual machine",
                       resource=f"vm-{i}", country=None)
        for i in range(count)
    ]  # fmt: skip


async def test_mass_creation_raises_one_alert_with_the_count(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    start = datetime.combine(NOW.date() - timedelta(days=1), datetime.min.time(), UTC)
    burst = creations(customer, start + timedelta(minutes=1), 60, timedelta(seconds=5))
    answer = await post_activity(monitoring, partner_id, burst)

    alert = await only_alert(monitoring, partner_id, "mass_change")
    assert answer["alerts"] == [str(alert.id)]
    assert alert.severity == "high"
    assert alert.evidence["change"] == "create"
    assert alert.evidence["count"] == 50
    assert alert.evidence["threshold"] == 50
    assert alert.evidence["window_minutes"] == 10
    crossing = start + timedelta(minutes=1, seconds=5 * 49)
    assert alert.evidence["window_end"] == crossing.isoformat()
    assert alert.dedup_key.endswith(start.isoformat())
    assert len(await monitoring.events(partner_id, "monitoring.alert.raised")) == 1


async def test_mass_deletion_across_batches_raises_an_alert(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    config = DetectionConfig(activity=ActivityRules(mass_change=MassChange(threshold=10)))
    await save_detection_config(monitoring.db, partner_id, config)
    customer = new_id()
    start = ago(hours=3)
    deletions = [
        activity_entry(customer, start + timedelta(seconds=20 * i), country=None,
                       operation="Microsoft.Compute/virtualMachines/DELETE")
        for i in range(10)
    ]  # fmt: skip
    first = await post_activity(monitoring, partner_id, deletions[:6])
    assert first["alerts"] == []
    # The rest arrive later and complete the window.
    second = await post_activity(monitoring, partner_id, deletions[6:])
    alert = await only_alert(monitoring, partner_id, "mass_change")
    assert second["alerts"] == [str(alert.id)]
    assert alert.evidence["change"] == "delete"
    assert alert.evidence["count"] == 10


async def test_a_few_creations_and_creations_spread_over_hours_are_silent(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    await post_activity(
        monitoring, partner_id, creations(customer, ago(hours=30), 5, timedelta(seconds=10))
    )
    await post_activity(
        monitoring, partner_id, creations(customer, ago(hours=20), 60, timedelta(minutes=2))
    )
    failed = [
        {**entry, "result": "failure"}
        for entry in creations(customer, ago(hours=2), 60, timedelta(seconds=1))
    ]
    await post_activity(monitoring, partner_id, failed)
    assert await raised(monitoring, partner_id) == []


async def test_a_resent_burst_raises_nothing_new(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    customer = new_id()
    # At the start of a 10-minute slot: a burst whose crossings straddle a slot boundary
    # rightly raises one alert per slot, which is not what this test is about.
    start = ago(hours=5).replace(minute=1, second=0, microsecond=0)
    burst = creations(customer, start, 55, timedelta(seconds=2))
    await post_activity(monitoring, partner_id, burst)
    again = await post_activity(monitoring, partner_id, burst)
    more = await post_activity(
        monitoring, partner_id, creations(customer, start, 3, timedelta(seconds=1))
    )
    assert again["alerts"] == []
    assert more["alerts"] == []
    assert len(await monitoring.events(partner_id, "monitoring.alert.raised")) == 1


async def test_mass_change_counts_per_customer(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    start = ago(hours=4)
    spread = [
        entry for _ in range(10) for entry in creations(new_id(), start, 10, timedelta(seconds=1))
    ]
    await post_activity(monitoring, partner_id, spread)
    assert await raised(monitoring, partner_id) == []
