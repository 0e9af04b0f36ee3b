"""The cases API's contract: cases, their timeline, the credit view and its request."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from partnerguard.common.events.types.enforcement import CaseKind, CaseOutcome
from partnerguard.enforcement.cases.credit import Ineligibility

Note = Annotated[str, Field(min_length=1, max_length=1000)]


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class EntryKind(StrEnum):
    """What a timeline entry records. Callers add evidence, notes and verifications; the rest
    are written by the service as the case moves."""

    OPENED = "opened"
    EVIDENCE = "evidence"
    NOTE = "note"
    VERIFICATION = "verification"
    FRAUD_WINDOW = "fraud_window"
    CREDIT_REQUESTED = "credit_requested"
    REMINDER = "reminder"
    CLOSED = "closed"


class AddableEntryKind(StrEnum):
    EVIDENCE = "evidence"
    NOTE = "note"
    VERIFICATION = "verification"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseIn(_Strict):
    kind: CaseKind
    customer_id: uuid.UUID
    vendor_tenant_id: uuid.UUID | None = Field(
        default=None,
        description="The vendor's customer tenant ID; taken from the registry when omitted.",
    )
    summary: str | None = Field(default=None, max_length=2000)
    first_fraudulent_usage_on: date | None = Field(
        default=None, description="First usage date of the fraudulent activity (starts the clock)."
    )
    verified: bool = Field(
        default=True,
        description="Opening an account-compromise case asserts the compromise is verified; send "
        "false to open it unverified and verify it later with a `verification` entry.",
    )


class EntryIn(_Strict):
    kind: AddableEntryKind
    note: Note
    data: dict[str, JsonValue] = Field(
        default_factory=dict, description="Structured evidence (links, IDs, excerpts)."
    )


class FraudWindowIn(_Strict):
    first_fraudulent_usage_on: date


class CreditRequestIn(_Strict):
    subscription_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    vendor_reference: str | None = Field(
        default=None, max_length=200, description="The vendor's reference for the submission."
    )


class CloseIn(_Strict):
    outcome: CaseOutcome
    note: Note | None = None


class EntryOut(BaseModel):
    id: uuid.UUID
    kind: EntryKind
    actor: str
    detail: dict[str, JsonValue]
    at: AwareDatetime


class CreditRequestOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    vendor_tenant_id: uuid.UUID
    subscription_ids: list[uuid.UUID]
    submitted_by: str
    submitted_at: AwareDatetime
    vendor_reference: str | None


class CreditView(BaseModel):
    """The one-time credit as of today (UTC)."""

    first_fraudulent_usage_on: date | None
    deadline: date | None = Field(description="Last day to file: first usage + 60 days.")
    days_left: int | None = Field(description="Days from today to the deadline (negative: late).")
    eligible: bool = Field(description="Whether the request could be filed today.")
    ineligible_reasons: list[Ineligibility]
    requested: bool = Field(description="Whether this case filed the request.")
    request: CreditRequestOut | None = None
    reminders_sent: list[int]


class CaseOut(BaseModel):
    id: uuid.UUID
    kind: CaseKind
    status: CaseStatus
    customer_id: uuid.UUID
    vendor_tenant_id: uuid.UUID | None
    summary: str | None
    source_event_id: uuid.UUID | None
    verified: bool
    credit: CreditView
    outcome: CaseOutcome | None
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None


class CaseDetail(CaseOut):
    timeline: list[EntryOut]
