"""The rule from holds to a subscription's desired status, on its own (no I/O)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.enforcement.holds.status import (
    Cover,
    DesiredStatus,
    Wanted,
    changes,
    covers,
    desired_status,
)

CUSTOMER = uuid.UUID(int=1)
OTHER_CUSTOMER = uuid.UUID(int=2)
SUBSCRIPTIONS = [uuid.UUID(int=100 + n) for n in range(3)]


def test_no_holds_wants_the_subscription_active() -> None:
    assert desired_status(CUSTOMER, SUBSCRIPTIONS[0], []) is DesiredStatus.ACTIVE


def test_a_customer_hold_suspends_every_subscription_of_the_customer() -> None:
    hold = Cover(CUSTOMER, None, active=True)
    for subscription in SUBSCRIPTIONS:
        assert desired_status(CUSTOMER, subscription, [hold]) is DesiredStatus.SUSPENDED


def test_a_subscription_hold_suspends_only_that_subscription() -> None:
    hold = Cover(CUSTOMER, SUBSCRIPTIONS[0], active=True)
    assert desired_status(CUSTOMER, SUBSCRIPTIONS[0], [hold]) is DesiredStatus.SUSPENDED
    assert desired_status(CUSTOMER, SUBSCRIPTIONS[1], [hold]) is DesiredStatus.ACTIVE


def test_a_released_hold_suspends_nothing() -> None:
    hold = Cover(CUSTOMER, None, active=False)
    assert desired_status(CUSTOMER, SUBSCRIPTIONS[0], [hold]) is DesiredStatus.ACTIVE


def test_another_customers_hold_does_not_cover() -> None:
    hold = Cover(OTHER_CUSTOMER, None, active=True)
    assert not covers(hold, CUSTOMER, SUBSCRIPTIONS[0])
    assert desired_status(CUSTOMER, SUBSCRIPTIONS[0], [hold]) is DesiredStatus.ACTIVE


def test_changes_lists_only_subscriptions_whose_status_moves() -> None:
    subscriptions = [
        Wanted(uuid.UUID(int=1000 + n), CUSTOMER, sub, "active" if n else "suspended")
        for n, sub in enumerate(SUBSCRIPTIONS)
    ]
    hold = Cover(CUSTOMER, SUBSCRIPTIONS[1], active=True)
    assert changes(subscriptions, [hold]) == {
        subscriptions[0].key: DesiredStatus.ACTIVE,
        subscriptions[1].key: DesiredStatus.SUSPENDED,
    }


covers_strategy = st.builds(
    Cover,
    customer_id=st.sampled_from([CUSTOMER, OTHER_CUSTOMER]),
    subscription_id=st.none() | st.sampled_from(SUBSCRIPTIONS),
    active=st.booleans(),
)


@given(holds=st.lists(covers_strategy, max_size=8), subscription=st.sampled_from(SUBSCRIPTIONS))
def test_suspended_exactly_when_an_active_hold_covers_it(
    holds: list[Cover], subscription: uuid.UUID
) -> None:
    covering = [
        h
        for h in holds
        if h.active and h.customer_id == CUSTOMER and h.subscription_id in (None, subscription)
    ]
    expected = DesiredStatus.SUSPENDED if covering else DesiredStatus.ACTIVE
    assert desired_status(CUSTOMER, subscription, holds) is expected


@given(holds=st.lists(covers_strategy, max_size=8), data=st.data())
def test_releasing_holds_in_any_order_reinstates_only_after_the_last_covering_one(
    holds: list[Cover], data: st.DataObject
) -> None:
    subscription = SUBSCRIPTIONS[0]
    in_force = [Cover(h.customer_id, h.subscription_id, True) for h in holds]
    order = data.draw(st.permutations(range(len(in_force))))
    released: set[int] = set()
    for index in order:
        released.add(index)
        now = [
            Cover(h.customer_id, h.subscription_id, i not in released)
            for i, h in enumerate(in_force)
        ]
        still_covering = any(
            i not in released and covers(h, CUSTOMER, subscription) for i, h in enumerate(in_force)
        )
        assert (desired_status(CUSTOMER, subscription, now) is DesiredStatus.SUSPENDED) == (
            still_covering
        )
    assert desired_status(CUSTOMER, subscription, []) is DesiredStatus.ACTIVE


@given(
    holds=st.lists(covers_strategy, max_size=8),
    current=st.lists(st.sampled_from(["active", "suspended"]), min_size=3, max_size=3),
)
def test_applying_changes_gives_the_rule_for_every_subscription_and_is_then_stable(
    holds: list[Cover], current: list[str]
) -> None:
    subscriptions = [
        Wanted(uuid.UUID(int=1000 + n), CUSTOMER, sub, current[n])
        for n, sub in enumerate(SUBSCRIPTIONS)
    ]
    moved = changes(subscriptions, holds)
    after = [
        Wanted(s.key, s.customer_id, s.subscription_id, moved.get(s.key, s.desired))
        for s in subscriptions
    ]
    for s in after:
        assert s.desired == desired_status(CUSTOMER, s.subscription_id, holds)
    assert changes(after, holds) == {}
