"""The policies API's contract: rule sets in, versions and replay reports out."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from partnerguard.enforcement.policies.rules import Mode, Rule, RuleSet


class PolicyIn(RuleSet):
    """A new version of the partner's rules; it replaces the one in force as a whole."""

    note: str | None = Field(default=None, max_length=1000, description="Why it changed.")


class PolicyOut(BaseModel):
    version: int = Field(description="0 is the default policy, in force until one is saved.")
    rules: list[Rule]
    note: str | None = None
    created_by: str = Field(description="The client that saved it; `system` for the defaults.")
    created_at: datetime | None = Field(default=None, description="Absent for the defaults.")


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: RuleSet = Field(description="The proposed rules (nothing is saved).")
    since: AwareDatetime = Field(description="Replay events that occurred at or after this.")
    limit: int = Field(default=500, ge=1, le=5000, description="At most this many events.")


class PlannedEffect(BaseModel):
    rule: str
    effect: str = Field(
        description="`<action>:<detail>:<mode>`, e.g. `place_hold:misuse:customer:automatic`.",
        examples=["place_hold:nonpayment:customer:automatic"],
    )
    mode: Mode


class ReplayChange(BaseModel):
    event_id: uuid.UUID
    event_type: str
    customer_id: uuid.UUID | None
    occurred_at: datetime
    current: list[PlannedEffect]
    proposed: list[PlannedEffect]


class ReplayOut(BaseModel):
    current_version: int
    events_replayed: int
    events_changed: int
    current_actions: int = Field(description="Actions the policy in force calls for.")
    proposed_actions: int = Field(description="Actions the proposed policy would call for.")
    changes: list[ReplayChange] = Field(
        description="Events where the proposed policy would act differently, oldest first."
    )
