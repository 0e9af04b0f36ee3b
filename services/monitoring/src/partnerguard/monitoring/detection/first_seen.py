"""First-seen resource types and regions (no I/O here).

Every footprint the detector looks at is marked reported, alerted or not. Footprints first seen
during the customer's learning period (its first ``learning_days`` days from the first usage,
and in any case its first hour of usage) set what is usual and alert nothing. The others alert
grouped: one alert per kind and UTC day of first sight, listing every value, so a customer
deploying ten new resource types at once is one alert, not ten.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from partnerguard.common.events.types.monitoring import AlertKind
from partnerguard.monitoring.alerts.raising import Finding
from partnerguard.monitoring.detection.config import FirstSeen
from partnerguard.monitoring.models import FootprintKind

# The kinds this detector owns (activity countries belong to the activity rules).
KINDS = (FootprintKind.RESOURCE_TYPE.value, FootprintKind.REGION.value)


@dataclass(frozen=True)
class Sighting:
    kind: str
    value: str
    first_seen_at: datetime


@dataclass(frozen=True)
class FirstSeenGroup:
    """New values of one kind first seen on one UTC day, sorted by value."""

    kind: str
    day: date
    sightings: tuple[Sighting, ...]

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(sighting.value for sighting in self.sightings)


def learning_ends(first_usage: datetime, learning_days: int) -> datetime:
    return first_usage + timedelta(days=learning_days)


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def is_new(sighting: Sighting, first_usage: datetime, learning_days: int) -> bool:
    """Whether ``sighting`` came after the learning period (and after the first hour of usage)."""
    return sighting.first_seen_at >= learning_ends(first_usage, learning_days) and _hour(
        sighting.first_seen_at
    ) > _hour(first_usage)


def group_first_seen(
    sightings: Iterable[Sighting], first_usage: datetime, learning_days: int
) -> list[FirstSeenGroup]:
    """The sightings that alert, grouped by kind and day of first sight."""
    groups: defaultdict[tuple[str, date], list[Sighting]] = defaultdict(list)
    for sighting in sightings:
        if is_new(sighting, first_usage, learning_days):
            groups[(sighting.kind, sighting.first_seen_at.astimezone(UTC).date())].append(sighting)
    return [
        FirstSeenGroup(kind, day, tuple(sorted(members, key=lambda s: s.value)))
        for (kind, day), members in sorted(groups.items())
    ]


def first_seen_key(customer_id: uuid.UUID, group: FirstSeenGroup) -> str:
    """A value is first seen once per customer: its own key; a group's key digests its values."""
    if len(group.sightings) == 1:
        return f"first_seen:{customer_id}:{group.kind}:{group.sightings[0].value}"
    digest = hashlib.sha256("\n".join(group.values).encode()).hexdigest()[:16]
    return f"first_seen:{customer_id}:{group.kind}:{group.day.isoformat()}:{digest}"


def first_seen_finding(
    customer_id: uuid.UUID, group: FirstSeenGroup, first_usage: datetime, config: FirstSeen
) -> Finding:
    noun = "resource type" if group.kind == FootprintKind.RESOURCE_TYPE else group.kind
    values = ", ".join(group.values)
    plural = "s" if len(group.sightings) > 1 else ""
    return Finding(
        kind=AlertKind.FIRST_SEEN_RESOURCE,
        severity=config.severity,
        summary=f"First use of {noun}{plural} {values} on {group.day.isoformat()}",
        dedup_key=first_seen_key(customer_id, group),
        customer_id=customer_id,
        rule=group.kind,
        evidence={
            "kind": group.kind,
            "values": ",".join(group.values),
            "count": len(group.sightings),
            "first_seen_at": min(s.first_seen_at for s in group.sightings).isoformat(),
            "first_usage_at": first_usage.isoformat(),
            "learning_days": config.learning_days,
            "learning_ended_at": learning_ends(first_usage, config.learning_days).isoformat(),
        },
    )
