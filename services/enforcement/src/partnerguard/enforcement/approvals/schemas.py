"""The approvals API's contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from partnerguard.enforcement.policies.rules import Plan


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Approval(BaseModel):
    by: str = Field(description="The client that approved.")
    at: datetime
    note: str | None = None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1000, description="Why; kept in the audit.")


class ApprovalOut(BaseModel):
    id: uuid.UUID
    status: ApprovalStatus
    action: str = Field(description="place_hold, release_hold, open_case or notify.")
    rule: str
    policy_version: int
    plan: Plan = Field(description="What is carried out once approved.")
    customer_id: uuid.UUID | None
    source_event_id: uuid.UUID | None
    required_approvals: int
    approvals: list[Approval]
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    expires_at: datetime | None
    created_at: datetime
