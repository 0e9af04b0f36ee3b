"""The collections policy's contract: a version as a partner publishes it, and as it reads it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

# Letters, digits, dot, hyphen, underscore: a version is addressed in a URL path
# (``/versions/{version}``) and quoted in acceptances and events, so it must survive both as is.
Version = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
    Field(
        description="The partner's name for this version: 1 to 64 letters, digits, `.`, `-` "
        "or `_`, starting with a letter or digit.",
        examples=["2026-11"],
    ),
]
Days = Annotated[int, Field(ge=0, le=365)]


class CollectionsPolicyIn(BaseModel):
    """A new version of the policy: its text, as customers accept it, and the terms dunning applies."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "version": "2026-11",
                    "text": "Invoices are due 30 days after issue. ...",
                    "payment_terms_days": 30,
                    "grace_days": 7,
                    "suspension_day": 30,
                }
            ]
        },
    )

    version: Version
    text: str = Field(
        min_length=1, max_length=20_000, description="The policy as customers read and accept it."
    )
    payment_terms_days: Days = Field(description="Days from invoice to due date.")
    grace_days: Days = Field(
        description="Days after the due date before dunning escalates beyond reminders."
    )
    suspension_day: int = Field(
        ge=1,
        le=365,
        description="The day after the due date on which access is suspended for nonpayment; "
        "after the grace period (greater than `grace_days`).",
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # Kept as written (it is the legal text customers accept); only refused when empty.
        if not value.strip():
            raise ValueError("the policy text cannot be blank")
        return value

    @model_validator(mode="after")
    def _suspension_after_grace(self) -> CollectionsPolicyIn:
        if self.suspension_day <= self.grace_days:
            raise ValueError(
                "suspension_day must be later than grace_days: access is suspended only after "
                "the grace period has ended"
            )
        return self


class CollectionsPolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    version: str
    text: str
    payment_terms_days: int
    grace_days: int
    suspension_day: int
    published_by: str = Field(description="The client that published it.")
    published_at: datetime
