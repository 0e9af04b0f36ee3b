"""Gateway events: the partner-facing edge (webhooks)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import ClassVar

from pydantic import AnyHttpUrl, AwareDatetime, Field

from partnerguard.common.events.catalog import EventData


class WebhookDisabledReason(StrEnum):
    """Why deliveries to a webhook stopped."""

    CONSECUTIVE_FAILURES = "consecutive_failures"
    # The endpoint answered 410 Gone: it asked us to stop.
    ENDPOINT_GONE = "endpoint_gone"
    MANUAL = "manual"


class WebhookDisabled(EventData):
    """Emitted when a webhook is disabled and its deliveries stop until it is re-enabled."""

    event_type: ClassVar[str] = "gateway.webhook.disabled"

    webhook_id: uuid.UUID
    url: AnyHttpUrl
    reason: WebhookDisabledReason
    consecutive_failures: int = Field(ge=0, description="Failed deliveries in a row so far.")
    last_status_code: int | None = Field(
        default=None, ge=100, le=599, description="HTTP status of the last attempt, if any."
    )
    last_error: str | None = Field(
        default=None, max_length=500, description="Transport error of the last attempt, if any."
    )
    disabled_at: AwareDatetime
