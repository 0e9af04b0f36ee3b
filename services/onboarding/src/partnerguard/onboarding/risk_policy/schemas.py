"""The risk policy's contract: the policy in force, a new version, and a replay of a proposal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from partnerguard.onboarding.scoring import RiskPolicy

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class RiskPolicyOut(BaseModel):
    version: int = Field(description="0 is the built-in default, before the partner saves one.")
    policy: RiskPolicy
    note: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None


class RiskPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: RiskPolicy
    note: Note | None = Field(default=None, description="Why this version: kept with it.")


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: RiskPolicy = Field(description="The proposed policy; nothing is saved.")
    since: AwareDatetime | None = Field(
        default=None, description="Replay applications submitted since then (default: all)."
    )
    limit: int = Field(
        default=1000, ge=1, le=10_000, description="At most this many, the most recent first."
    )
    changes_limit: int = Field(default=100, ge=0, le=1000)
