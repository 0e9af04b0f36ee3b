"""The CloudEvents 1.0 envelope (JSON format) with PartnerGuard's extension attributes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from partnerguard.common.ids import new_id


class CloudEvent(BaseModel):
    """One event as it travels on NATS and to webhooks.

    ``partnerid``, ``customerid`` and ``traceparent`` are CloudEvents extension attributes
    (lower-case alphanumerics, per the spec's naming rule).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID = Field(default_factory=new_id)
    source: str
    type: str
    subject: str | None = None
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    partnerid: uuid.UUID
    customerid: uuid.UUID | None = None
    traceparent: str | None = None


P = TypeVar("P", bound=BaseModel)


class Event(BaseModel, Generic[P]):
    """An envelope whose data has been validated against its catalog payload model."""

    model_config = ConfigDict(frozen=True)

    envelope: CloudEvent
    data: P

    @property
    def id(self) -> uuid.UUID:
        return self.envelope.id

    @property
    def partner_id(self) -> uuid.UUID:
        return self.envelope.partnerid

    @property
    def customer_id(self) -> uuid.UUID | None:
        return self.envelope.customerid
