"""The shapes of usage in and out: one record, a batch, and what became of each record."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    with_config,
)
from typing_extensions import TypedDict

from partnerguard.common.errors import FieldProblem
from partnerguard.common.events.types.common import CurrencyCode, DecimalString


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold one; a batch refuses only the record that has it.
    if "\x00" in value:
        raise ValueError("NUL characters (U+0000) are not accepted")
    return value


Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    AfterValidator(_no_nul),
]


class UsageRecordIn(BaseModel):
    """One rated usage record. The customer is named by its PartnerGuard id or by the vendor's
    tenant id (as the vendor's reconciliation files do); exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    record_id: Label = Field(
        description="The sender's id for the record; a record sent again with the same id is "
        "a duplicate and counts once."
    )
    customer_id: uuid.UUID | None = Field(default=None, description="PartnerGuard customer ID.")
    vendor_tenant_id: uuid.UUID | None = Field(
        default=None, description="The vendor's customer tenant ID, when customer_id is not given."
    )
    subscription_id: uuid.UUID = Field(description="The vendor's subscription ID (a GUID).")
    meter: Label = Field(description="The meter's name or id.", examples=["NC24ads A100 v4"])
    meter_category: Label = Field(examples=["Virtual Machines"])
    resource_type: Label = Field(examples=["Standard_NC24ads_A100_v4"])
    region: Label = Field(examples=["westeurope"])
    quantity: DecimalString = Field(
        description="Not negative; at most 12 digits before the point and 8 after."
    )
    unit: Label = Field(examples=["1 Hour"])
    cost: DecimalString = Field(
        description="Rated cost: not negative, at most 12 digits before the point and 8 after."
    )
    currency: CurrencyCode
    usage_start: AwareDatetime = Field(
        description="RFC 3339 with an offset; from 2000-01-01 on, and at most 5 minutes ahead "
        "of the server's clock. The record counts in this UTC hour and day."
    )
    usage_end: AwareDatetime = Field(description="Not before usage_start; at most 31 days after.")


RECORD = TypeAdapter(UsageRecordIn)


@with_config(ConfigDict(extra="forbid"))
class _Batch(TypedDict):
    records: list[UsageRecordIn]


# A whole body at once, for batches whose every record passes the schema.
BATCH = TypeAdapter(_Batch)

# The same record as msgspec reads it: the fast path of a batch (see ``ingest.read_batch``),
# several times cheaper than pydantic. It takes nothing that UsageRecordIn refuses, except what
# the fast path checks on the decoded columns (labels' whitespace, the id, decimal, time and
# currency formats); a batch with anything doubtful is read with UsageRecordIn instead.
_WireLabel = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class WireRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """UsageRecordIn as msgspec decodes it (never tracked by the cycle collector: it holds only
    strings)."""

    record_id: _WireLabel
    # Ids as text: they repeat, and each distinct one is parsed once (see ingest._uuids).
    subscription_id: str
    meter: _WireLabel
    meter_category: _WireLabel
    resource_type: _WireLabel
    region: _WireLabel
    quantity: str
    unit: _WireLabel
    cost: str
    currency: str
    usage_start: str
    usage_end: str
    customer_id: str | None = None
    vendor_tenant_id: str | None = None


class WireBatch(msgspec.Struct, forbid_unknown_fields=True):
    records: list[WireRecord]


WIRE_BATCH = msgspec.json.Decoder(WireBatch)


# The body of POST /usage, as documented: a batch is read raw and its records validated one by
# one (a body parsed as a whole would refuse every record for one bad one).
BATCH_SCHEMA = {
    "title": "UsageBatchIn",
    "type": "object",
    "required": ["records"],
    "additionalProperties": False,
    "properties": {
        "records": {
            "type": "array",
            "minItems": 1,
            "maxItems": 10_000,
            "items": UsageRecordIn.model_json_schema(),
        }
    },
}


class RejectedRecord(BaseModel):
    index: int = Field(description="The record's position in the batch (or line in a file).")
    record_id: str | None = None
    errors: list[FieldProblem] = Field(
        description="What is wrong: `loc` is the field path inside the record."
    )


class IngestSummary(BaseModel):
    """What became of a batch: every record is accepted, a duplicate, or rejected with why."""

    accepted: int = Field(description="New records stored and counted in the aggregates.")
    duplicates: int = Field(
        description="Records whose id was stored before (or earlier in the batch)."
    )
    rejected: list[RejectedRecord]


class StreamRejectionOut(BaseModel):
    """A record refused from a USAGE stream batch."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    batch: str = Field(description="The stream message: its Nats-Msg-Id, else stream:sequence.")
    position: int = Field(description="The record's position in the message's batch.")
    record_id: str | None
    errors: list[FieldProblem]
    created_at: datetime
