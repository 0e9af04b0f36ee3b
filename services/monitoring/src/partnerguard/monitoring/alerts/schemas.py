"""The public contract of alerts: read, filter, acknowledge, resolve, and precision per detector."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from partnerguard.common.events.types.monitoring import (
    AlertKind,
    AlertResolution,
    EvidenceValue,
    Severity,
)
from partnerguard.monitoring.models import AlertStatus

Actor = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class AlertOut(BaseModel):
    id: uuid.UUID
    kind: AlertKind
    severity: Severity
    rule: str | None = Field(description="The rule or detector variant that fired.")
    customer_id: uuid.UUID | None
    subscription_ids: list[uuid.UUID]
    summary: str
    evidence: dict[str, EvidenceValue] = Field(description="The numbers that fired the alert.")
    status: AlertStatus
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: AlertResolution | None
    note: str | None
    created_at: datetime
    updated_at: datetime


class AlertFilters(BaseModel):
    status: AlertStatus | None = None
    kind: AlertKind | None = None
    severity: Severity | None = None
    customer_id: uuid.UUID | None = None
    rule: str | None = None
    raised_from: datetime | None = None
    raised_to: datetime | None = None


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Actor = Field(description="Who is looking into it.")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: AlertResolution
    actor: Actor = Field(description="Who closed it.")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class DetectorPrecision(BaseModel):
    kind: AlertKind
    rule: str | None
    confirmed: int
    false_positive: int
    open: int = Field(description="Alerts not resolved yet (open or acknowledged).")
    precision: float | None = Field(
        description="confirmed / (confirmed + false_positive); null when none was resolved."
    )


class PrecisionReport(BaseModel):
    raised_from: datetime | None = Field(
        serialization_alias="from", description="Alerts raised from then (inclusive)."
    )
    raised_to: datetime | None = Field(
        serialization_alias="to", description="Alerts raised before then (exclusive)."
    )
    detectors: list[DetectorPrecision]
