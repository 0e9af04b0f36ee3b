"""The public contract of SMS and e-mail verifications: start one, confirm its code, list them.

No code and no code hash ever leaves the service: the answers name the destination only masked.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class CodeChannel(StrEnum):
    """Where a one-time code is sent: the contact's phone or e-mail address."""

    SMS = "sms"
    EMAIL = "email"


class VerificationStatus(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"
    EXPIRED = "expired"


class StartVerificationIn(BaseModel):
    """Send a code to the contact; again while one is pending, it is a resend."""

    model_config = ConfigDict(extra="forbid")

    channel: CodeChannel = Field(
        description="`sms` sends to the contact's phone, `email` to the contact's e-mail address."
    )


class ConfirmCodeIn(BaseModel):
    """The code the customer entered."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[
        str,
        StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{4,10}$"),
        Field(description="The digits the customer received.", examples=["482913"]),
    ]


class VerificationOut(BaseModel):
    """One verification as the API shows it: never the code, never its hash."""

    id: uuid.UUID
    channel: CodeChannel
    destination: str = Field(
        description="The phone number or e-mail address, masked.",
        examples=["+49******820", "e***@contoso.example"],
    )
    status: VerificationStatus = Field(
        description="A pending verification whose code has expired shows as `expired`."
    )
    attempts: int = Field(description="Codes entered so far (resends do not reset it).")
    attempts_remaining: int
    sends: int = Field(description="Codes sent for this verification (the first and resends).")
    expires_at: datetime
    resend_available_at: datetime | None = Field(
        description="From when a resend is accepted; null once the verification is closed."
    )
    created_at: datetime
    completed_at: datetime | None
