"""The public contract of vendor notifications and their response clock."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from partnerguard.common.events.types.monitoring import (
    NotificationStage,
    VendorNotificationKind,
    ViolationKind,
)

Actor = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class NotificationIn(BaseModel):
    """A notice the vendor sent about a customer tenant."""

    model_config = ConfigDict(extra="forbid")

    vendor_reference: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ] = Field(
        description="The vendor's own ID for the notice, unique per partner. Sending the same "
        "reference again with the same content answers 200 with the stored notice and changes "
        "nothing; with other content it is a 409."
    )
    kind: VendorNotificationKind
    violation: ViolationKind | None = Field(
        default=None, description="Required for acceptable_use_violation, refused otherwise."
    )
    vendor_tenant_id: uuid.UUID = Field(description="The vendor's customer tenant ID (a GUID).")
    customer_id: uuid.UUID | None = Field(
        default=None,
        description="The customer concerned; when left out it is matched by `vendor_tenant_id` "
        "and may stay null.",
    )
    subscription_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    received_at: AwareDatetime | None = Field(
        default=None,
        description="When the vendor's notice arrived (default now; not in the future).",
    )
    respond_by: AwareDatetime | None = Field(
        default=None,
        description="The vendor's deadline for a response; it wins when earlier than the "
        "partner's configured one.",
    )
    first_fraudulent_usage_on: date | None = Field(
        default=None,
        description="Account compromise only: the first day of the fraudulent usage, when the "
        "vendor's notice says it. The compromise case enforcement opens then shows the one-time "
        "credit's deadline (60 calendar days from it) at once.",
    )

    @model_validator(mode="after")
    def _violation_matches_kind(self) -> Self:
        is_violation = self.kind is VendorNotificationKind.ACCEPTABLE_USE_VIOLATION
        if is_violation and self.violation is None:
            raise ValueError("violation is required for acceptable_use_violation notices")
        if not is_violation and self.violation is not None:
            raise ValueError("violation is given only for acceptable_use_violation notices")
        is_compromise = self.kind is VendorNotificationKind.ACCOUNT_COMPROMISE
        if self.first_fraudulent_usage_on is not None and not is_compromise:
            raise ValueError("first_fraudulent_usage_on is given only for account_compromise")
        return self


class TransitionIn(BaseModel):
    """Move a notice forward on its clock (one stage or several; never back)."""

    model_config = ConfigDict(extra="forbid")

    to: NotificationStage = Field(description="in_review, actioned or responded.")
    actor: Actor = Field(description="Who moved it (a person or system).")
    note: Note | None = Field(default=None, description="Why, or what was done.")

    @model_validator(mode="after")
    def _not_back_to_received(self) -> Self:
        if self.to is NotificationStage.RECEIVED:
            raise ValueError("a notice cannot be moved to received")
        return self


class TransitionOut(BaseModel):
    from_status: NotificationStage | None
    to_status: NotificationStage
    actor: str
    note: str | None
    at: datetime


class StageOut(BaseModel):
    stage: NotificationStage
    due_at: datetime
    reached_at: datetime | None = Field(
        description="When the notice reached this stage or moved past it."
    )
    met: bool | None = Field(
        description="Reached by its deadline (true), late or past due unreached (false), or "
        "not reached and still in time (null)."
    )
    announced_overdue: bool = Field(description="Whether monitoring.notification.overdue left.")


class NotificationOut(BaseModel):
    id: uuid.UUID
    vendor_reference: str
    kind: VendorNotificationKind
    violation: ViolationKind | None
    customer_id: uuid.UUID | None
    vendor_tenant_id: uuid.UUID
    subscription_ids: list[uuid.UUID]
    summary: str
    received_at: datetime
    first_fraudulent_usage_on: date | None
    status: NotificationStage
    review_by: datetime
    action_by: datetime
    respond_by: datetime = Field(
        description="The effective deadline: the earlier of the vendor's and the partner's."
    )
    overdue: bool = Field(description="Whether a stage not reached yet is past its deadline now.")
    overdue_stages: list[NotificationStage] = Field(
        description="Stages announced overdue (once each)."
    )
    alert_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class NotificationDetail(NotificationOut):
    stages: list[StageOut]
    history: list[TransitionOut] = Field(description="Every move of the clock, oldest first.")


class NotificationFilters(BaseModel):
    status: NotificationStage | None = None
    kind: VendorNotificationKind | None = None
    customer_id: uuid.UUID | None = None
    overdue: bool | None = None
