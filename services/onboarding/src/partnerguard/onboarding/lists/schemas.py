"""The lists API contract: an entry as a partner adds it, and as it reads it back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from partnerguard.onboarding.lists.values import normalise_value
from partnerguard.onboarding.scoring.facts import ListKind, ListName

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

_VALUE_DESCRIPTION = (
    "What the entry matches, by kind: `email` an address (lower-cased); `domain` a DNS name "
    "(lower-cased; also matches its subdomains); `ip` an address or a CIDR range (host bits "
    "must be zero); `device` an opaque id of 1 to 200 characters (exact match); `bin` 6 to 8 "
    "digits (matches cards starting with them); `phone` E.164; `tenant` a GUID. Stored and "
    "returned in canonical form."
)


class ListEntryIn(BaseModel):
    """A new entry; ``value`` is validated for its ``kind`` and stored in canonical form."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "list": "block",
                    "kind": "ip",
                    "value": "203.0.113.0/24",
                    "reason": "Card-testing wave, case 4711",
                    "expires_at": "2027-01-01T00:00:00Z",
                }
            ]
        },
    )

    list: ListName
    kind: ListKind
    # Bounded before normalising, so a huge value is refused before any parsing work.
    value: str = Field(min_length=1, max_length=512, description=_VALUE_DESCRIPTION)
    reason: Reason = Field(description="Why it is listed: shown to reviewers with every hit.")
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the entry stops matching (in the future); never if absent."
    )

    @field_validator("value")
    @classmethod
    def _canonical_value(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        # Without a valid kind, the kind field already carries the error; nothing to check against.
        if not isinstance(kind, ListKind):
            return value
        return normalise_value(kind, value)

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return value


class ListEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    list: ListName
    kind: ListKind
    value: str = Field(description="The canonical form the entry matches by.")
    reason: str
    expires_at: datetime | None = None
    created_by: str = Field(description="The client that added it.")
    created_at: datetime
