"""The public contract of dunning: the policy, runs, the actions they took and the notices."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from partnerguard.billing.dunning.policy import (
    MAX_DAY_OFFSET,
    MAX_MINIMUM_AMOUNT,
    DunningPolicy,
    PolicyError,
    ScheduledStep,
)
from partnerguard.common.events.types.billing import DunningStep
from partnerguard.common.events.types.common import Money


class RunTrigger(StrEnum):
    # The periodic sweep over every partner.
    SCHEDULE = "schedule"
    # A partner asked for a run (maybe for a past date, to catch up).
    API = "api"


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    # Gave up after the allowed attempts.
    FAILED = "failed"
    # The account has no billing e-mail: the step ran, nobody could be told.
    NO_RECIPIENT = "no_recipient"


class PolicyStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: DunningStep
    day_offset: int = Field(
        ge=1, le=MAX_DAY_OFFSET, description="Days after the invoice's due date."
    )


class DunningPolicyIn(BaseModel):
    """A new version of the partner's dunning policy."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "steps": [
                        {"step": "reminder", "day_offset": 3},
                        {"step": "final_notice", "day_offset": 14},
                        {"step": "suspension_request", "day_offset": 21},
                    ],
                    "minimum_amount": 1000,
                }
            ]
        },
    )

    steps: list[PolicyStep] = Field(
        min_length=1,
        max_length=len(DunningStep),
        description="In the order reminder, warning, final_notice, suspension_request, "
        "termination_request; steps may be left out, not reordered; offsets strictly increase.",
    )
    minimum_amount: int = Field(
        default=0,
        ge=0,
        le=MAX_MINIMUM_AMOUNT,
        description="Invoices owing less than this (minor units of their currency) are not dunned.",
    )

    @model_validator(mode="after")
    def _a_valid_schedule(self) -> Self:
        self.to_policy()
        return self

    def to_policy(self) -> DunningPolicy:
        try:
            return DunningPolicy(
                steps=tuple(ScheduledStep(s.step, s.day_offset) for s in self.steps),
                minimum_amount=self.minimum_amount,
            )
        except PolicyError as exc:
            raise ValueError(str(exc)) from exc


class DunningPolicyOut(BaseModel):
    version: int = Field(description="0 is the built-in default, until the partner saves one.")
    steps: list[PolicyStep]
    minimum_amount: int
    is_default: bool
    created_by: str | None = None
    created_at: datetime | None = None


class DunningRunIn(BaseModel):
    """Run dunning now for the caller's partner, as of today or a past date (catch-up)."""

    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(
        default=None,
        description="The day to dun as of (default today, UTC); never in the future.",
    )

    @field_validator("as_of")
    @classmethod
    def _not_in_the_future(cls, value: date | None) -> date | None:
        if value is not None and value > datetime.now(UTC).date():
            raise ValueError("as_of must not be in the future")
        return value


class DunningRunOut(BaseModel):
    id: uuid.UUID
    as_of: date
    trigger: RunTrigger
    requested_by: str | None
    started_at: datetime
    finished_at: datetime | None
    steps_executed: int
    steps: dict[DunningStep, int] = Field(description="Steps executed, by kind.")
    error: str | None


class DunningRunResult(DunningRunOut):
    """A run just done, with what it looked at."""

    invoices_examined: int = Field(description="Open invoices past due that the run walked.")
    accounts_made_delinquent: int


class DunningActionOut(BaseModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    account_id: uuid.UUID
    run_id: uuid.UUID
    step: DunningStep
    as_of: date
    days_overdue: int
    balance: Money = Field(description="What the invoice owed when the step ran.")
    created_at: datetime


class DunningNoticeOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    run_id: uuid.UUID
    step: DunningStep
    invoice_ids: list[uuid.UUID]
    amount_overdue: Money
    days_overdue: int
    recipient: str | None
    status: NoticeStatus
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime
