"""The activity rules' decisions, without I/O: which entries fire which rule, and the finding.

Every rule looks at successful entries only: a failed attempt to disable MFA or to grant a
role changed nothing, and a failed sign-in is not where the customer acts from. The service
(``service.py``) fetches what the rules need to see and raises what they find.
"""

from __future__ import annotations

import hashlib
import uuid
from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from partnerguard.common.events.types.monitoring import AlertKind, EvidenceValue
from partnerguard.monitoring.activity.geo import (
    Point,
    haversine_km,
    is_impossible_travel,
    speed_kmh,
)
from partnerguard.monitoring.alerts.raising import Finding
from partnerguard.monitoring.detection.config import (
    ActivityRules,
    ImpossibleTravel,
    MassChange,
    NewCountry,
    OperationRule,
    RoleRule,
)

MFA_DISABLED = "mfa_disabled"
CREDENTIALS_CREATED = "credentials_created"
PRIVILEGED_ROLE_GRANTED = "privileged_role_granted"
NEW_GLOBAL_ADMIN = "new_global_admin"
NEW_COUNTRY = "new_country"
IMPOSSIBLE_TRAVEL = "impossible_travel"
MASS_CHANGE = "mass_change"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Activity:
    """One stored activity-log entry, as the rules see it."""

    entry_id: str
    customer_id: uuid.UUID
    actor: str
    operation: str
    succeeded: bool
    occurred_at: datetime
    resource: str | None = None
    role: str | None = None
    ip: str | None = None
    country: str | None = None


def _folded(text: str) -> str:
    return text.strip().casefold()


def operation_is(operation: str, operations: Iterable[str]) -> bool:
    """Whether ``operation`` is one of ``operations``, ignoring case and surrounding blanks."""
    folded = _folded(operation)
    return any(folded == _folded(candidate) for candidate in operations)


def operation_contains(operation: str, fragments: Iterable[str]) -> bool:
    """Whether ``operation`` contains any of ``fragments``, ignoring case (as SQL's ILIKE does)."""
    lowered = operation.lower()
    return any(fragment.strip().lower() in lowered for fragment in fragments if fragment.strip())


def _grants(entry: Activity, rule: RoleRule) -> bool:
    return (
        rule.enabled
        and entry.role is not None
        and operation_is(entry.operation, rule.operations)
        and operation_is(entry.role, rule.roles)
    )


def entry_rules(entry: Activity, rules: ActivityRules) -> list[str]:
    """The rules that ``entry`` fires on its own (by its operation and role).

    A grant of a global-admin role fires ``new_global_admin`` and not also
    ``privileged_role_granted``, even when a partner lists the role under both."""
    if not entry.succeeded:
        return []
    fired = []
    if rules.mfa_disabled.enabled and operation_is(entry.operation, rules.mfa_disabled.operations):
        fired.append(MFA_DISABLED)
    if _grants(entry, rules.new_global_admin):
        fired.append(NEW_GLOBAL_ADMIN)
    elif _grants(entry, rules.privileged_role_granted):
        fired.append(PRIVILEGED_ROLE_GRANTED)
    if rules.credentials_created.enabled and operation_is(
        entry.operation, rules.credentials_created.operations
    ):
        fired.append(CREDENTIALS_CREATED)
    return fired


def _entry_evidence(entry: Activity) -> dict[str, EvidenceValue]:
    evidence: dict[str, EvidenceValue] = {
        "entry_id": entry.entry_id,
        "actor": entry.actor,
        "operation": entry.operation,
        "occurred_at": entry.occurred_at.isoformat(),
    }
    optional = {
        "role": entry.role,
        "resource": entry.resource,
        "ip": entry.ip,
        "country": entry.country,
    }
    evidence.update({key: value for key, value in optional.items() if value is not None})
    return evidence


_ENTRY_SUMMARIES = {
    MFA_DISABLED: "MFA disabled by {actor}: {operation}",
    CREDENTIALS_CREATED: "Credentials created by {actor}: {operation}",
    PRIVILEGED_ROLE_GRANTED: "Privileged role {role} granted by {actor}",
    NEW_GLOBAL_ADMIN: "New global administrator ({role}) granted by {actor}",
}


def entry_finding(rule_name: str, entry: Activity, rules: ActivityRules) -> Finding:
    """The alert for a rule that ``entry`` fired on its own: one per entry and rule."""
    rule: OperationRule | RoleRule = getattr(rules, rule_name)
    return Finding(
        kind=AlertKind.ACTIVITY_RULE,
        severity=rule.severity,
        rule=rule_name,
        customer_id=entry.customer_id,
        summary=_ENTRY_SUMMARIES[rule_name].format(
            actor=entry.actor, operation=entry.operation, role=entry.role
        ),
        evidence=_entry_evidence(entry),
        dedup_key=f"{rule_name}:{entry.entry_id}",
    )


# --- new country ------------------------------------------------------------------------------


def first_in_new_countries(entries: Iterable[Activity], known: Collection[str]) -> list[Activity]:
    """Of one customer's entries, the earliest successful one from each country not in ``known``."""
    first: dict[str, Activity] = {}
    for entry in sorted(entries, key=lambda e: (e.occurred_at, e.entry_id)):
        if entry.succeeded and entry.country and entry.country not in known:
            first.setdefault(entry.country, entry)
    return list(first.values())


def past_learning(first_activity: datetime, occurred_at: datetime, learning_days: int) -> bool:
    """Whether an entry at ``occurred_at`` comes after the customer's learning period.

    The customer's first ``learning_days`` after its first activity set what is usual; with no
    learning at all, the very first activity is still not "new" (nothing came before it)."""
    return occurred_at - first_activity > timedelta(days=learning_days)


def new_country_finding(
    entry: Activity, first_activity: datetime, known: Collection[str], rule: NewCountry
) -> Finding:
    """The alert for a customer acting from ``entry.country`` for the first time: once ever."""
    assert entry.country is not None
    return Finding(
        kind=AlertKind.ACTIVITY_RULE,
        severity=rule.severity,
        rule=NEW_COUNTRY,
        customer_id=entry.customer_id,
        summary=f"Activity from a new country, {entry.country}, by {entry.actor}",
        evidence={
            **_entry_evidence(entry),
            "known_countries": ",".join(sorted(known)),
            "first_activity_at": first_activity.isoformat(),
            "learning_days": rule.learning_days,
        },
        dedup_key=f"{NEW_COUNTRY}:{entry.customer_id}:{entry.country}",
    )


# --- impossible travel ------------------------------------------------------------------------


@dataclass(frozen=True)
class Travel:
    """Two entries of one actor from two countries, in time order, and what lies between them."""

    earlier: Activity
    later: Activity
    from_country: str
    to_country: str
    distance_km: float
    elapsed: timedelta
    speed_kmh: float | None


def impossible_travel(
    a: Activity, b: Activity, rule: ImpossibleTravel, points: Mapping[str, Point]
) -> Travel | None:
    """The travel between ``a`` and ``b`` when no journey explains it, else None.

    Both must be successful entries of one actor of one customer, from two countries whose
    points are known."""
    if a.customer_id != b.customer_id or a.actor != b.actor or a.entry_id == b.entry_id:
        return None
    if not (a.succeeded and b.succeeded) or not a.country or not b.country:
        return None
    if a.country == b.country or a.country not in points or b.country not in points:
        return None
    earlier, later = sorted((a, b), key=lambda e: (e.occurred_at, e.entry_id))
    distance = haversine_km(points[a.country], points[b.country])
    elapsed = later.occurred_at - earlier.occurred_at
    if not is_impossible_travel(
        distance,
        elapsed,
        max_speed_kmh=rule.max_speed_kmh,
        min_distance_km=rule.min_distance_km,
    ):
        return None
    assert earlier.country is not None
    assert later.country is not None
    return Travel(
        earlier,
        later,
        earlier.country,
        later.country,
        distance,
        elapsed,
        speed_kmh(distance, elapsed),
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def travel_finding(travel: Travel, rule: ImpossibleTravel) -> Finding:
    """The alert for impossible travel: one per actor, pair of countries and UTC day."""
    earlier, later = travel.earlier, travel.later
    evidence: dict[str, EvidenceValue] = {
        "actor": later.actor,
        "from_country": travel.from_country,
        "to_country": travel.to_country,
        "from_entry_id": earlier.entry_id,
        "to_entry_id": later.entry_id,
        "from_at": earlier.occurred_at.isoformat(),
        "to_at": later.occurred_at.isoformat(),
        "distance_km": round(travel.distance_km, 1),
        "elapsed_minutes": round(travel.elapsed.total_seconds() / 60, 1),
        "max_speed_kmh": rule.max_speed_kmh,
        "min_distance_km": rule.min_distance_km,
    }
    if travel.speed_kmh is not None:
        evidence["speed_kmh"] = round(travel.speed_kmh, 1)
    pair = "-".join(sorted((travel.from_country, travel.to_country)))
    day = later.occurred_at.astimezone(UTC).date().isoformat()
    return Finding(
        kind=AlertKind.ACTIVITY_RULE,
        severity=rule.severity,
        rule=IMPOSSIBLE_TRAVEL,
        customer_id=later.customer_id,
        summary=(
            f"Impossible travel by {later.actor}: {travel.from_country} to {travel.to_country}, "
            f"{travel.distance_km:.0f} km in {travel.elapsed.total_seconds() / 60:.0f} min"
        ),
        evidence=evidence,
        dedup_key=f"{IMPOSSIBLE_TRAVEL}:{later.customer_id}:{_digest(later.actor)}:{pair}:{day}",
    )


# --- mass change ------------------------------------------------------------------------------


class ChangeKind(StrEnum):
    CREATE = "create"
    DELETE = "delete"


def change_kinds(operation: str, rule: MassChange) -> list[ChangeKind]:
    """Whether ``operation`` creates or deletes resources (by the rule's fragments), or both."""
    kinds = []
    if operation_contains(operation, rule.create_operations):
        kinds.append(ChangeKind.CREATE)
    if operation_contains(operation, rule.delete_operations):
        kinds.append(ChangeKind.DELETE)
    return kinds


def window_floor(at: datetime, window: timedelta) -> datetime:
    """The start of the ``window``-long slot (counted from the Unix epoch) that holds ``at``."""
    slots = (at - _EPOCH) // window
    return _EPOCH + slots * window


@dataclass(frozen=True)
class Crossing:
    """A sliding window that reached the threshold: ``count`` changes in (``at`` - window, ``at``]."""

    at: datetime
    count: int
    slot: datetime


def mass_change_crossings(
    times: Sequence[datetime], new_times: Sequence[datetime], window: timedelta, threshold: int
) -> list[Crossing]:
    """The first crossing of ``threshold`` in each window-long slot, among windows holding a new change.

    ``times`` are all of a customer's changes of one kind around the new ones (at least from
    one window before the earliest new change to one window after the latest), ``new_times``
    the ones just received. A window is (t - window, t] for each change t; it counts when it
    holds at least one new change, since the others were judged when they arrived."""
    ordered = sorted(times)
    fresh = sorted(new_times)
    found: dict[datetime, Crossing] = {}
    for at in dict.fromkeys(ordered):
        count = bisect_right(ordered, at) - bisect_right(ordered, at - window)
        if count < threshold:
            continue
        latest_new = bisect_right(fresh, at) - 1
        if latest_new < 0 or fresh[latest_new] <= at - window:
            continue
        slot = window_floor(at, window)
        found.setdefault(slot, Crossing(at=at, count=count, slot=slot))
    return list(found.values())


def mass_change_finding(
    customer_id: uuid.UUID, kind: ChangeKind, crossing: Crossing, rule: MassChange
) -> Finding:
    """The alert for many changes of one kind: one per customer, kind and window-long slot."""
    window = timedelta(minutes=rule.window_minutes)
    verb = "created" if kind is ChangeKind.CREATE else "deleted"
    return Finding(
        kind=AlertKind.ACTIVITY_RULE,
        severity=rule.severity,
        rule=MASS_CHANGE,
        customer_id=customer_id,
        summary=(
            f"Mass change: {crossing.count} resources {verb} within {rule.window_minutes} min"
        ),
        evidence={
            "change": kind.value,
            "count": crossing.count,
            "threshold": rule.threshold,
            "window_minutes": rule.window_minutes,
            "window_start": (crossing.at - window).isoformat(),
            "window_end": crossing.at.isoformat(),
        },
        dedup_key=f"{MASS_CHANGE}:{kind.value}:{customer_id}:{crossing.slot.isoformat()}",
    )
