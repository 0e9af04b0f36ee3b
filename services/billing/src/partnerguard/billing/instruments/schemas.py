"""The public contract of payment instruments, BIN ranges and the instrument policy.

No model here has a field for a full card number, and every request model forbids unknown
fields: a ``card_number`` sent by mistake is refused (422) before anything is stored or logged.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from partnerguard.billing.instruments.bins import CARD_CLASSES, Funding
from partnerguard.billing.models import InstrumentClass
from partnerguard.common.events.types.billing import InstrumentRejection
from partnerguard.common.events.types.common import CountryCode

# A run of 12 or more digits in free text is most likely a card number pasted in by mistake.
_DIGIT_RUN = re.compile(r"[0-9][0-9 -]{10,}[0-9]")


def _no_card_number(value: str) -> str:
    if any(sum(c.isdigit() for c in run) >= 12 for run in _DIGIT_RUN.findall(value)):
        raise ValueError("must not contain a card number")
    return value


FreeText = Annotated[str, AfterValidator(_no_card_number)]
Brand = Annotated[
    FreeText, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=40)
]
HolderName = Annotated[
    FreeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Note = Annotated[FreeText, StringConstraints(strip_whitespace=True, max_length=500)]
Reason = Annotated[FreeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
CardBin = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6,8}$"),
    Field(description="The card's first 6 to 8 digits (its BIN/IIN).", examples=["510510"]),
]
Last4 = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}$"),
    Field(description="The card's last 4 digits.", examples=["5100"]),
]
BinPrefix = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,8}$"),
    Field(description="1 to 8 leading digits of a card number.", examples=["510510"]),
]


class InstrumentStatus(StrEnum):
    ACCEPTED = "accepted"
    # Refused by the partner's instrument policy; kept as evidence.
    REJECTED = "rejected"
    REMOVED = "removed"


class InstrumentIn(BaseModel):
    """Register a payment instrument. Cards carry their BIN and last 4 digits, never the number."""

    model_config = ConfigDict(extra="forbid")

    type: InstrumentClass = Field(
        description="What the caller says it is; a card's BIN range may classify it otherwise."
    )
    card_bin: CardBin | None = Field(default=None, description="Cards only (required).")
    card_last4: Last4 | None = Field(default=None, description="Cards only (required).")
    brand: Brand | None = Field(default=None, description="Cards only, e.g. `visa`.")
    country: CountryCode | None = Field(
        default=None, description="Issuing country (cards) or bank country (bank debit)."
    )
    holder_name: HolderName | None = Field(default=None, description="Cards and bank debit.")
    iban_last4: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{4}$")] | None = Field(
        default=None, description="Bank debit only: the last 4 characters of the IBAN."
    )

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> Self:
        given = self.model_fields_set
        if self.type in CARD_CLASSES:
            if self.card_bin is None or self.card_last4 is None:
                raise ValueError("a card needs card_bin and card_last4")
            misplaced = given & {"iban_last4"}
        elif self.type is InstrumentClass.BANK_DEBIT:
            misplaced = given & {"card_bin", "card_last4", "brand"}
        else:
            misplaced = given & {
                "card_bin",
                "card_last4",
                "brand",
                "country",
                "holder_name",
                "iban_last4",
            }
        if misplaced:
            raise ValueError(f"{', '.join(sorted(misplaced))} do not apply to {self.type.value}")
        return self


class InstrumentOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    customer_id: uuid.UUID
    type: InstrumentClass = Field(description="As classified: a card's BIN range decides.")
    declared_type: InstrumentClass = Field(description="What the caller said it was.")
    classified_by: str | None = Field(
        description="The BIN range that classified it (`partner:<prefix>`, `operator:<prefix>`"
        " or `default:<prefix>`); null when the declared type stood."
    )
    status: InstrumentStatus
    rejection_reason: InstrumentRejection | None = None
    rejection_detail: str | None = None
    card_bin: str | None = None
    card_last4: str | None = None
    card_brand: str | None = None
    country: str | None = None
    holder_name: str | None = None
    iban_last4: str | None = None
    created_at: datetime
    removed_at: datetime | None = None


class BinRangeIn(BaseModel):
    """One of the partner's own BIN ranges, searched before the operator's and built-in ones."""

    model_config = ConfigDict(extra="forbid")

    prefix: BinPrefix
    funding: Funding
    brand: Brand | None = None
    country: CountryCode | None = None
    note: Note | None = Field(default=None, description="Why the range is listed.")


class BinRangeOut(BaseModel):
    id: uuid.UUID
    prefix: str
    funding: Funding
    brand: str | None
    country: str | None
    note: str | None
    created_at: datetime


class PolicyException(BaseModel):
    """Classes the policy refuses but this customer may use, until ``expires_on`` (inclusive)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    allow: list[InstrumentClass] = Field(min_length=1, max_length=len(InstrumentClass))
    reason: Reason = Field(description="Why the exception was granted: kept as evidence.")
    expires_on: date | None = Field(
        default=None, description="Last day the exception applies; null for no end."
    )


class InstrumentPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refused: list[InstrumentClass] = Field(
        max_length=len(InstrumentClass), description="Classes refused for every customer."
    )
    exceptions: list[PolicyException] = Field(default_factory=list, max_length=10_000)


class InstrumentPolicyOut(BaseModel):
    refused: list[InstrumentClass]
    exceptions: list[PolicyException]
    is_default: bool = Field(description="True until the partner saves a policy of its own.")
    updated_by: str | None = None
    updated_at: datetime | None = None
