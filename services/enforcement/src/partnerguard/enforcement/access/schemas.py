"""The access gate's contract: a request for full administrative access and the decision."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from partnerguard.common.events.types.onboarding import RiskTier
from partnerguard.enforcement.access.controls import (
    ALL_CONTROLS,
    DEFAULT_MIN_ACCOUNT_AGE_DAYS,
    Control,
)


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class AccessGrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    requested_by: str = Field(
        min_length=1, max_length=200, description="Who asks for the access (a user or a system)."
    )
    controls: list[Control] | None = Field(
        default=None,
        description="The controls to require instead of all of them (an empty list requires none).",
    )
    min_account_age_days: int = Field(
        default=DEFAULT_MIN_ACCOUNT_AGE_DAYS,
        ge=0,
        le=3650,
        description="Days since approval the account must have (for `account_age`).",
    )
    allowed_risk_tiers: list[RiskTier] = Field(
        default_factory=lambda: [RiskTier.LOW, RiskTier.MEDIUM],
        description="Risk tiers that may be given access (for `risk_tier`).",
    )


class MissingControl(BaseModel):
    control: Control
    detail: str


class AccessGrantOut(BaseModel):
    customer_id: uuid.UUID
    requested_by: str
    decision: Decision
    missing: list[MissingControl] = Field(description="The required controls not met; [] on allow.")
    controls: list[Control] = Field(
        default_factory=lambda: list(ALL_CONTROLS), description="The controls evaluated."
    )
    evaluated_at: AwareDatetime
