"""The webhooks API contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from partnerguard.common.events.types.gateway import WebhookDisabledReason
from partnerguard.gateway.webhooks.destinations import MAX_URL_LENGTH, parse_url
from partnerguard.gateway.webhooks.filters import normalise_filters

WebhookStatus = Literal["enabled", "disabled"]
DeliveryStatus = Literal["pending", "succeeded", "failed", "paused"]

MAX_OVERLAP_SECONDS = 7 * 24 * 3600
DEFAULT_OVERLAP_SECONDS = 24 * 3600


def _check_url(value: str) -> str:
    parse_url(value)
    return value


WebhookUrl = Annotated[
    str,
    Field(
        max_length=MAX_URL_LENGTH,
        description="An https URL on a public address; it receives POSTed CloudEvents.",
        examples=["https://erp.example.com/hooks/partnerguard"],
    ),
    AfterValidator(_check_url),
]
EventTypeFilters = Annotated[
    list[str],
    Field(
        min_length=1,
        max_length=100,
        description=(
            "Which events to receive: catalog types (`billing.customer.delinquent`), a domain "
            "wildcard (`billing.*`) or `*` for all."
        ),
        examples=[["billing.customer.delinquent", "enforcement.*"]],
    ),
    AfterValidator(normalise_filters),
]
Description = Annotated[str, Field(max_length=500)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    event_types: EventTypeFilters
    description: Description | None = None


class WebhookUpdate(BaseModel):
    """Only the fields given change; a new URL is checked as at creation."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    event_types: EventTypeFilters | None = None
    description: Description | None = None


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(
        default=DEFAULT_OVERLAP_SECONDS,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="How long the old secret keeps signing beside the new one (0: stops now).",
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    description: str | None = None
    event_types: list[str]
    status: WebhookStatus
    disabled_reason: WebhookDisabledReason | None = None
    disabled_at: datetime | None = None
    consecutive_failures: int = Field(description="Failed attempts since the last success.")
    last_success_at: datetime | None = None
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="Until when the secret replaced by a rotation still signs."
    )
    created_at: datetime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(
        description="The signing secret (`whsec_...`), shown this once. Verify deliveries with "
        "any Standard Webhooks library.",
    )


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    attempted_at: datetime
    status_code: int | None = Field(default=None, description="The endpoint's HTTP status.")
    error: str | None = Field(default=None, description="Why no answer came, if none did.")
    duration_ms: int


class DeliveryOut(BaseModel):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID = Field(description="Sent as `webhook-id`; the same on every attempt.")
    event_type: str
    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime
    completed_at: datetime | None = None
    attempts: list[AttemptOut]
