"""The public contract of holds."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from partnerguard.common.events.types.enforcement import HoldReason, HoldTarget
from partnerguard.enforcement.holds.status import HoldStatus
from partnerguard.enforcement.models import Hold


class HoldIn(BaseModel):
    """Place a hold on a customer (every subscription) or on one of its subscriptions."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    subscription_id: uuid.UUID | None = Field(
        default=None, description="The vendor's subscription ID; absent to hold the whole customer."
    )
    reason: HoldReason
    note: str | None = Field(default=None, max_length=1000)


class HoldRelease(BaseModel):
    """Release a hold; the note says why, for the audit log."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000, pattern=r"\S")


class HoldOut(BaseModel):
    id: uuid.UUID
    target_type: HoldTarget
    customer_id: uuid.UUID
    subscription_id: uuid.UUID | None
    reason: HoldReason
    status: HoldStatus
    placed_by: str
    placed_at: datetime
    source_event_id: uuid.UUID | None
    note: str | None
    released_by: str | None
    released_at: datetime | None
    release_note: str | None

    @classmethod
    def of(cls, hold: Hold) -> HoldOut:
        return cls(
            id=hold.id,
            target_type=HoldTarget.CUSTOMER
            if hold.subscription_id is None
            else HoldTarget.SUBSCRIPTION,
            customer_id=hold.customer_id,
            subscription_id=hold.subscription_id,
            reason=HoldReason(hold.reason),
            status=HoldStatus(hold.status),
            placed_by=hold.placed_by,
            placed_at=hold.placed_at,
            source_event_id=hold.source_event_id,
            note=hold.note,
            released_by=hold.released_by,
            released_at=hold.released_at,
            release_note=hold.release_note,
        )
