"""The activity rules' pure decisions: matching, distances, speeds and sliding windows."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from itertools import cycle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.monitoring.activity.geo import (
    EARTH_RADIUS_KM,
    Point,
    country_points,
    haversine_km,
    is_impossible_travel,
    speed_kmh,
)
from partnerguard.monitoring.activity.rules import (
    Activity,
    ChangeKind,
    change_kinds,
    entry_rules,
    first_in_new_countries,
    impossible_travel,
    mass_change_crossings,
    operation_contains,
    operation_is,
    past_learning,
    travel_finding,
    window_floor,
)
from partnerguard.monitoring.detection.config import (
    ActivityRules,
    ImpossibleTravel,
    MassChange,
    RoleRule,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CUSTOMER = uuid.UUID("01900000-0000-7000-8000-000000000001")
RULES = ActivityRules()

points = st.builds(
    Point,
    latitude=st.floats(min_value=-90, max_value=90),
    longitude=st.floats(min_value=-180, max_value=180),
)


def activity(
    operation: str = "Sign-in activity",
    *,
    at: datetime = T0,
    entry_id: str | None = None,
    actor: str = "alice@contoso.example",
    role: str | None = None,
    country: str | None = "FR",
    succeeded: bool = True,
) -> Activity:
    return Activity(
        entry_id=entry_id or str(uuid.uuid4()),
        customer_id=CUSTOMER,
        actor=actor,
        operation=operation,
        succeeded=succeeded,
        occurred_at=at,
        role=role,
        country=country,
    )


# --- geography --------------------------------------------------------------------------------


def test_paris_to_london_is_about_344_km() -> None:
    paris, london = Point(48.8566, 2.3522), Point(51.5074, -0.1278)
    assert haversine_km(paris, london) == pytest.approx(343.5, abs=1.5)


def test_antipodes_are_half_the_earth_apart() -> None:
    assert haversine_km(Point(0, 0), Point(0, 180)) == pytest.approx(math.pi * EARTH_RADIUS_KM)


@given(points, points)
def test_distance_is_symmetric_and_bounded(a: Point, b: Point) -> None:
    distance = haversine_km(a, b)
    assert distance == pytest.approx(haversine_km(b, a), abs=1e-6)
    assert 0 <= distance <= math.pi * EARTH_RADIUS_KM + 1e-6
    assert haversine_km(a, a) == pytest.approx(0, abs=1e-6)


@given(points, points, points)
def test_no_detour_is_shorter_than_the_direct_way(a: Point, b: Point, c: Point) -> None:
    assert haversine_km(a, c) <= haversine_km(a, b) + haversine_km(b, c) + 1e-6


def test_speed_is_distance_over_hours_and_none_without_time() -> None:
    assert speed_kmh(900, timedelta(minutes=30)) == 1800
    assert speed_kmh(900, timedelta(minutes=-30)) == 1800
    assert speed_kmh(900, timedelta(0)) is None


def test_impossible_travel_needs_speed_and_distance() -> None:
    limits = {"max_speed_kmh": 900.0, "min_distance_km": 500.0}
    assert is_impossible_travel(6000, timedelta(hours=1), **limits)
    assert not is_impossible_travel(6000, timedelta(hours=7), **limits)
    assert not is_impossible_travel(400, timedelta(minutes=1), **limits)
    assert is_impossible_travel(600, timedelta(0), **limits)
    assert not is_impossible_travel(0, timedelta(0), max_speed_kmh=900, min_distance_km=0)


@given(
    st.floats(min_value=0, max_value=20_100),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**6),
    st.floats(min_value=1, max_value=5_000),
)
def test_less_time_for_the_same_distance_is_never_more_plausible(
    distance: float, seconds: int, fewer: int, max_speed: float
) -> None:
    longer, shorter = timedelta(seconds=seconds), timedelta(seconds=min(seconds, fewer))
    limits = {"max_speed_kmh": max_speed, "min_distance_km": 100.0}
    if is_impossible_travel(distance, longer, **limits):
        assert is_impossible_travel(distance, shorter, **limits)


def test_every_country_has_a_point_on_earth() -> None:
    table = country_points()
    assert len(table) == 250
    assert {"FR", "US", "JP", "XK", "AQ"} <= set(table)
    for code, point in table.items():
        assert len(code) == 2
        assert code.isupper()
        assert -90 <= point.latitude <= 90
        assert -180 <= point.longitude <= 180


# --- matching ---------------------------------------------------------------------------------


@given(
    st.sampled_from(RULES.mfa_disabled.operations),
    st.lists(st.booleans(), min_size=1, max_size=40),
)
def test_operations_match_whatever_their_case(operation: str, upper: list[bool]) -> None:
    mixed = "".join(c.upper() if up else c.lower() for c, up in zip(operation, cycle(upper)))
    assert operation_is(f" {mixed} ", RULES.mfa_disabled.operations)
    assert not operation_is(mixed + "s", RULES.mfa_disabled.operations)


def test_operation_fragments_match_anywhere_ignoring_case() -> None:
    assert operation_contains("Microsoft.Compute/virtualMachines/DELETE", ["delete"])
    assert not operation_contains("Update virtual machine", ["create", "delete"])
    assert not operation_contains("anything", ["", "  "])


def test_mfa_and_credentials_fire_on_their_operations() -> None:
    assert entry_rules(activity("Disable Strong Authentication"), RULES) == ["mfa_disabled"]
    assert entry_rules(activity("create ACCESS key"), RULES) == ["credentials_created"]
    assert entry_rules(activity("Enable Strong Authentication"), RULES) == []


def test_a_failed_operation_fires_nothing() -> None:
    failed = activity("Disable Strong Authentication", succeeded=False)
    assert entry_rules(failed, RULES) == []


def test_a_role_grant_fires_by_operation_and_role() -> None:
    grant = "Add member to role"
    assert entry_rules(activity(grant, role="User Administrator"), RULES) == [
        "privileged_role_granted"
    ]
    assert entry_rules(activity(grant, role="global administrator"), RULES) == ["new_global_admin"]
    assert entry_rules(activity(grant, role="Reader"), RULES) == []
    assert entry_rules(activity(grant), RULES) == []
    assert entry_rules(activity("Remove member from role", role="Owner"), RULES) == []


def test_a_global_admin_listed_as_privileged_too_fires_only_new_global_admin() -> None:
    both = RULES.model_copy(
        update={
            "privileged_role_granted": RoleRule(roles=("Global Administrator", "Owner")),
        }
    )
    grant = activity("Add member to role", role="Global Administrator")
    assert entry_rules(grant, both) == ["new_global_admin"]
    without_admin_rule = both.model_copy(
        update={"new_global_admin": both.new_global_admin.model_copy(update={"enabled": False})}
    )
    assert entry_rules(grant, without_admin_rule) == ["privileged_role_granted"]


# --- new country ------------------------------------------------------------------------------


def test_the_first_entry_from_each_unknown_country_is_the_news() -> None:
    entries = [
        activity(at=T0 + timedelta(hours=3), entry_id="de-late", country="DE"),
        activity(at=T0 + timedelta(hours=1), entry_id="de-first", country="DE"),
        activity(at=T0, entry_id="fr", country="FR"),
        activity(at=T0, entry_id="es-failed", country="ES", succeeded=False),
        activity(at=T0, entry_id="nowhere", country=None),
    ]
    news = first_in_new_countries(entries, known={"FR"})
    assert [entry.entry_id for entry in news] == ["de-first"]


def test_learning_ends_after_its_days() -> None:
    assert not past_learning(T0, T0, 0)
    assert past_learning(T0, T0 + timedelta(seconds=1), 0)
    assert not past_learning(T0, T0 + timedelta(days=7), 7)
    assert past_learning(T0, T0 + timedelta(days=7, seconds=1), 7)
    assert not past_learning(T0, T0 - timedelta(days=30), 7)


# --- impossible travel ------------------------------------------------------------------------

TRAVEL = ImpossibleTravel()
COUNTRIES = sorted(country_points())


def test_paris_then_tokyo_within_an_hour_is_impossible() -> None:
    paris = activity(at=T0, entry_id="p", country="FR")
    tokyo = activity(at=T0 + timedelta(hours=1), entry_id="t", country="JP")
    travel = impossible_travel(tokyo, paris, TRAVEL, country_points())
    assert travel is not None
    assert (travel.earlier.entry_id, travel.later.entry_id) == ("p", "t")
    assert travel.distance_km == pytest.approx(9_700, rel=0.03)
    assert travel.speed_kmh == pytest.approx(travel.distance_km)


def test_travel_needs_one_actor_two_countries_and_two_successes() -> None:
    paris = activity(at=T0, country="FR")
    later = T0 + timedelta(hours=1)
    table = country_points()
    assert impossible_travel(paris, activity(at=later, country="FR"), TRAVEL, table) is None
    other_actor = activity(at=later, country="JP", actor="bob@contoso.example")
    assert impossible_travel(paris, other_actor, TRAVEL, table) is None
    failed = activity(at=later, country="JP", succeeded=False)
    assert impossible_travel(paris, failed, TRAVEL, table) is None
    assert impossible_travel(paris, activity(at=later, country=None), TRAVEL, table) is None
    assert impossible_travel(paris, paris, TRAVEL, table) is None


@given(
    st.sampled_from(COUNTRIES),
    st.sampled_from(COUNTRIES),
    st.integers(min_value=-48 * 3600, max_value=48 * 3600),
)
def test_travel_does_not_depend_on_which_entry_arrived_first(
    first: str, second: str, seconds: int
) -> None:
    a = activity(at=T0, entry_id="a", country=first)
    b = activity(at=T0 + timedelta(seconds=seconds), entry_id="b", country=second)
    one, other = (
        impossible_travel(a, b, TRAVEL, country_points()),
        impossible_travel(b, a, TRAVEL, country_points()),
    )
    assert one == other
    if one is not None:
        assert one.earlier.occurred_at <= one.later.occurred_at
        assert one.distance_km >= TRAVEL.min_distance_km


def test_travel_evidence_has_no_speed_when_no_time_passed() -> None:
    paris = activity(at=T0, entry_id="p", country="FR")
    tokyo = activity(at=T0, entry_id="t", country="JP")
    travel = impossible_travel(paris, tokyo, TRAVEL, country_points())
    assert travel is not None
    evidence = travel_finding(travel, TRAVEL).evidence
    assert evidence["elapsed_minutes"] == 0.0
    assert "speed_kmh" not in evidence


# --- mass change ------------------------------------------------------------------------------

WINDOW = timedelta(minutes=10)


def test_creations_and_deletions_are_told_apart() -> None:
    rule = MassChange()
    assert change_kinds("Create virtual machine", rule) == [ChangeKind.CREATE]
    assert change_kinds("Microsoft.Storage/storageAccounts/write", rule) == [ChangeKind.CREATE]
    assert change_kinds("Delete resource group", rule) == [ChangeKind.DELETE]
    assert change_kinds("Sign-in activity", rule) == []


def test_the_window_slot_is_counted_from_the_epoch() -> None:
    assert window_floor(T0 + timedelta(minutes=17, seconds=3), WINDOW) == T0 + timedelta(minutes=10)
    assert window_floor(T0, WINDOW) == T0


@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=1, max_value=1440),
)
def test_a_slot_holds_its_moment(seconds: int, minutes: int) -> None:
    at = datetime(1990, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    window = timedelta(minutes=minutes)
    slot = window_floor(at, window)
    assert slot <= at < slot + window
    assert window_floor(slot, window) == slot


def test_the_threshold_reached_in_a_window_is_a_crossing() -> None:
    times = [T0 + timedelta(minutes=i) for i in range(5)]
    crossings = mass_change_crossings(times, times, WINDOW, threshold=5)
    assert [(c.at, c.count, c.slot) for c in crossings] == [(times[4], 5, T0)]
    assert mass_change_crossings(times, times, WINDOW, threshold=6) == []


def test_a_window_is_open_at_its_start() -> None:
    # Exactly one window apart: the first is out of the last one's window.
    times = [T0, T0 + timedelta(minutes=5), T0 + WINDOW]
    assert mass_change_crossings(times, times, WINDOW, threshold=3) == []


def test_only_windows_holding_a_new_change_count() -> None:
    old = [T0 + timedelta(seconds=i) for i in range(10)]
    later = T0 + timedelta(hours=1)
    assert mass_change_crossings([*old, later], [later], WINDOW, threshold=5) == []
    # A late arrival inside the old burst is judged with it.
    inside = T0 + timedelta(seconds=3)
    assert len(mass_change_crossings([*old, inside], [inside], WINDOW, threshold=5)) == 1


def brute_force(
    times: list[datetime], new: list[datetime], window: timedelta, threshold: int
) -> set[datetime]:
    """Moments whose window holds the threshold and a new change, the slow obvious way."""
    return {
        t
        for t in times
        if sum(1 for u in times if t - window < u <= t) >= threshold
        and any(t - window < n <= t for n in new)
    }


@given(
    st.lists(st.integers(min_value=0, max_value=3 * 3600), min_size=1, max_size=60),
    st.data(),
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=2, max_value=8),
)
def test_crossings_agree_with_counting_every_window(
    offsets: list[int], data: st.DataObject, minutes: int, threshold: int
) -> None:
    times = [T0 + timedelta(seconds=s) for s in offsets]
    new = data.draw(st.lists(st.sampled_from(times), max_size=len(times)))
    window = timedelta(minutes=minutes)
    crossings = mass_change_crossings(times, new, window, threshold)
    over = brute_force(times, new, window, threshold)

    # One crossing per slot that holds an over-threshold moment: the earliest of them.
    slots = {window_floor(t, window) for t in over}
    assert sorted(c.slot for c in crossings) == sorted(slots)
    for crossing in crossings:
        assert crossing.at == min(t for t in over if window_floor(t, window) == crossing.slot)
        assert crossing.count == sum(1 for u in times if crossing.at - window < u <= crossing.at)
        assert crossing.count >= threshold
