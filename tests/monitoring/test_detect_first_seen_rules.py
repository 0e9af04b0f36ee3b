"""First-seen decisions as pure functions: the learning period and the grouping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.common.events.types.monitoring import AlertKind, Severity
from partnerguard.monitoring.detection.config import FirstSeen
from partnerguard.monitoring.detection.first_seen import (
    FirstSeenGroup,
    Sighting,
    first_seen_finding,
    first_seen_key,
    group_first_seen,
    is_new,
)

CONFIG = FirstSeen()
CUSTOMER = uuid.UUID("0190d0d0-0000-7000-8000-000000000004")
FIRST = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def seen(kind: str, value: str, after: timedelta) -> Sighting:
    return Sighting(kind, value, FIRST + after)


def test_nothing_is_new_during_the_learning_period() -> None:
    assert not is_new(seen("region", "westeurope", timedelta(0)), FIRST, 3)
    assert not is_new(seen("region", "northeurope", timedelta(days=2, hours=23)), FIRST, 3)
    assert is_new(seen("region", "brazilsouth", timedelta(days=3)), FIRST, 3)


def test_without_learning_the_first_hour_of_usage_is_still_not_new() -> None:
    assert not is_new(seen("region", "westeurope", timedelta(minutes=20)), FIRST, 0)
    assert is_new(seen("region", "northeurope", timedelta(minutes=40)), FIRST, 0)


def test_new_values_are_grouped_by_kind_and_day() -> None:
    sightings = [
        seen("resource_type", "Standard_NC6", timedelta(days=10, hours=1)),
        seen("region", "koreacentral", timedelta(days=10, hours=2)),
        seen("resource_type", "Standard_NC24", timedelta(days=10, hours=3)),
        seen("resource_type", "Standard_D2_v3", timedelta(hours=1)),  # learning
        seen("resource_type", "Standard_HB120", timedelta(days=11)),
    ]
    groups = group_first_seen(sightings, FIRST, 3)
    assert [(g.kind, g.day.isoformat(), g.values) for g in groups] == [
        ("region", "2026-11-11", ("koreacentral",)),
        ("resource_type", "2026-11-11", ("Standard_NC24", "Standard_NC6")),
        ("resource_type", "2026-11-12", ("Standard_HB120",)),
    ]


def test_one_value_is_keyed_by_itself_and_a_group_by_its_values() -> None:
    one = FirstSeenGroup("region", FIRST.date(), (seen("region", "koreacentral", timedelta()),))
    assert first_seen_key(CUSTOMER, one) == f"first_seen:{CUSTOMER}:region:koreacentral"
    two = FirstSeenGroup(
        "region",
        FIRST.date(),
        (seen("region", "brazilsouth", timedelta()), seen("region", "koreacentral", timedelta())),
    )
    key = first_seen_key(CUSTOMER, two)
    assert key.startswith(f"first_seen:{CUSTOMER}:region:2026-11-01:")
    assert key == first_seen_key(CUSTOMER, two)
    other = FirstSeenGroup(
        "region", FIRST.date(), two.sightings[:1] + (seen("region", "x", timedelta()),)
    )
    assert first_seen_key(CUSTOMER, other) != key


def test_finding_lists_the_values() -> None:
    [group] = group_first_seen(
        [
            seen("resource_type", "Standard_NC6", timedelta(days=5, hours=2)),
            seen("resource_type", "Standard_NC24", timedelta(days=5, hours=1)),
        ],
        FIRST,
        3,
    )
    finding = first_seen_finding(CUSTOMER, group, FIRST, CONFIG)
    assert finding.kind is AlertKind.FIRST_SEEN_RESOURCE
    assert finding.severity is Severity.LOW
    assert finding.rule == "resource_type"
    assert finding.customer_id == CUSTOMER
    assert finding.evidence == {
        "kind": "resource_type",
        "values": "Standard_NC24,Standard_NC6",
        "count": 2,
        "first_seen_at": "2026-11-06T10:30:00+00:00",
        "first_usage_at": "2026-11-01T09:30:00+00:00",
        "learning_days": 3,
        "learning_ended_at": "2026-11-04T09:30:00+00:00",
    }


sightings = st.lists(
    st.builds(
        Sighting,
        st.sampled_from(["resource_type", "region"]),
        st.text("abcdefgh", min_size=1, max_size=6),
        st.integers(-2 * 24 * 60, 20 * 24 * 60).map(lambda m: FIRST + timedelta(minutes=m)),
    ),
    unique_by=lambda s: (s.kind, s.value),
    max_size=30,
)


@given(sightings, st.integers(0, 10))
def test_every_sighting_after_learning_is_in_exactly_one_group(
    found: list[Sighting], learning_days: int
) -> None:
    groups = group_first_seen(found, FIRST, learning_days)
    grouped = [s for g in groups for s in g.sightings]
    assert sorted(grouped, key=repr) == sorted(
        (s for s in found if is_new(s, FIRST, learning_days)), key=repr
    )
    for group in groups:
        assert all(s.kind == group.kind for s in group.sightings)
        assert all(s.first_seen_at.date() == group.day for s in group.sightings)
        assert all(
            s.first_seen_at >= FIRST + timedelta(days=learning_days) for s in group.sightings
        )
    assert len({first_seen_key(CUSTOMER, g) for g in groups}) == len(groups)
