"""The one rule that turns holds into a subscription's wanted status (pure: no I/O).

A subscription is wanted ``suspended`` exactly while at least one active hold covers it: a
customer hold covers every subscription of its customer, a subscription hold covers that one
subscription. With no active hold left it is wanted ``active`` again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class HoldStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"


class DesiredStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class Cover:
    """What the rule needs of a hold: its target and whether it is in force."""

    customer_id: uuid.UUID
    # None: every subscription of the customer.
    subscription_id: uuid.UUID | None
    active: bool


def covers(hold: Cover, customer_id: uuid.UUID, subscription_id: uuid.UUID) -> bool:
    """Whether ``hold`` (active or not) applies to the customer's subscription."""
    if hold.customer_id != customer_id:
        return False
    return hold.subscription_id is None or hold.subscription_id == subscription_id


def desired_status(
    customer_id: uuid.UUID, subscription_id: uuid.UUID, holds: Iterable[Cover]
) -> DesiredStatus:
    """``suspended`` iff an active hold covers the subscription, else ``active``."""
    held = any(hold.active and covers(hold, customer_id, subscription_id) for hold in holds)
    return DesiredStatus.SUSPENDED if held else DesiredStatus.ACTIVE


@dataclass(frozen=True)
class Wanted:
    """A subscription as the rule sees it: whose it is and the status it is wanted in now."""

    key: uuid.UUID
    customer_id: uuid.UUID
    subscription_id: uuid.UUID
    desired: str


def changes(
    subscriptions: Iterable[Wanted], holds: Iterable[Cover]
) -> dict[uuid.UUID, DesiredStatus]:
    """The subscriptions (by key) whose desired status the holds change, and to what."""
    in_force = [hold for hold in holds if hold.active]
    changed: dict[uuid.UUID, DesiredStatus] = {}
    for subscription in subscriptions:
        wanted = desired_status(subscription.customer_id, subscription.subscription_id, in_force)
        if wanted != subscription.desired:
            changed[subscription.key] = wanted
    return changed
