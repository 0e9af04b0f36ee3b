"""The public contract of activity logs: batches of entries in, stored entries out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from partnerguard.common.errors import FieldProblem
from partnerguard.monitoring.activity.geo import country_points

# How far ahead of the server's clock an entry may be dated (clocks drift; the future does not log).
MAX_CLOCK_SKEW = timedelta(minutes=5)


def _text(max_length: int) -> object:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


class ActivityEntryIn(BaseModel):
    """One entry of a customer tenant's activity log (a sign-in, a change of settings, ...)."""

    model_config = ConfigDict(extra="forbid")

    entry_id: Annotated[str, _text(200)] = Field(
        description="The sender's id of the entry; a resent id is a duplicate."
    )
    customer_id: uuid.UUID | None = Field(
        default=None,
        description="The PartnerGuard customer; give exactly one of this and `vendor_tenant_id`.",
    )
    vendor_tenant_id: uuid.UUID | None = Field(
        default=None,
        description="The customer's tenant at the vendor (a GUID); must belong to a known customer.",
    )
    actor: Annotated[str, _text(320)] = Field(
        description="Who acted: a user principal name, an application or a service."
    )
    operation: Annotated[str, _text(200)] = Field(
        description="What was done, e.g. `Add member to role`."
    )
    resource: Annotated[str, _text(1000)] | None = Field(
        default=None, description="What it was done to."
    )
    role: Annotated[str, _text(200)] | None = Field(
        default=None, description="The role the operation granted or removed."
    )
    ip: IPvAnyAddress | None = Field(
        default=None, description="The IPv4 or IPv6 address acted from."
    )
    country: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 code (upper case) of the country acted from.",
        examples=["FR"],
    )
    result: Literal["success", "failure"]
    occurred_at: AwareDatetime = Field(
        description="RFC 3339 with an offset; at most 5 minutes ahead of the server's clock."
    )

    @field_validator("ip", "occurred_at", mode="before")
    @classmethod
    def _text_only(cls, value: object) -> object:
        # JSON numbers would pass as an integer address or a Unix time: neither is what was meant.
        if value is not None and not isinstance(value, str):
            raise ValueError("expected a string")
        return value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value not in country_points():
            raise ValueError(f"{value} is not an ISO 3166-1 alpha-2 country code")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _not_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = info.context.get("now") if isinstance(info.context, dict) else None
        if isinstance(now, datetime) and value > now + MAX_CLOCK_SKEW:
            raise ValueError("occurred_at is more than 5 minutes in the future")
        return value.astimezone(UTC)


def _entries_schema() -> dict[str, object]:
    return {
        "type": "array",
        "minItems": 1,
        "description": "Up to the service's batch limit (5,000 by default). Each entry is "
        "checked on its own: a bad one is listed in `rejected`, the others are kept.",
        "items": ActivityEntryIn.model_json_schema(),
    }


class ActivityBatchIn(BaseModel):
    """A batch of activity-log entries."""

    model_config = ConfigDict(extra="forbid")

    # Entries are validated one by one by the service, so one bad entry does not refuse the rest.
    entries: Annotated[
        list[JsonValue], Field(min_length=1), WithJsonSchema(_entries_schema(), mode="validation")
    ]


class EntryRejection(BaseModel):
    """An entry that was not stored, and why."""

    index: int = Field(description="Its position in `entries`, from 0.")
    entry_id: str | None = Field(description="Its `entry_id`, when it had a readable one.")
    errors: list[FieldProblem]


class ActivityBatchResult(BaseModel):
    """What became of a batch: `accepted` + `duplicates` + rejected = the entries sent."""

    accepted: int = Field(description="New entries stored and run through the rules.")
    duplicates: int = Field(description="Entries already stored (resent ids): not evaluated again.")
    rejected: list[EntryRejection]
    alerts: list[uuid.UUID] = Field(description="Ids of the alerts the new entries raised.")


class ActivityEntryOut(BaseModel):
    """A stored activity-log entry."""

    entry_id: str
    customer_id: uuid.UUID
    actor: str
    operation: str
    resource: str | None
    role: str | None
    ip: str | None
    country: str | None
    result: Literal["success", "failure"]
    occurred_at: datetime
    received_at: datetime


class ActivityFilters(BaseModel):
    """Which entries to list."""

    customer_id: uuid.UUID | None = None
    actor: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
