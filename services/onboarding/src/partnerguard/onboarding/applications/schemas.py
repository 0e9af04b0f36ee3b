"""The public contract of customer applications: what a partner submits and what it reads back."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from partnerguard.common.events.types.common import CountryCode, IpAddress
from partnerguard.common.events.types.onboarding import RiskTier
from partnerguard.onboarding.models import ApplicationStatus
from partnerguard.onboarding.scoring import InstrumentType, Outcome

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DomainName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=253,
        pattern=r"^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    ),
    Field(description="A DNS domain name, e.g. `contoso.com`.", examples=["contoso.com"]),
]
E164 = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9][0-9]{6,14}$"),
    Field(description="Phone number in E.164 form.", examples=["+4930901820"]),
]
CardBin = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6,8}$"),
    Field(description="The card's first 6 to 8 digits (BIN/IIN), never the full number."),
]

_CARD_TYPES = {InstrumentType.CREDIT_CARD, InstrumentType.DEBIT_CARD, InstrumentType.PREPAID_CARD}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddressIn(_In):
    line1: Text200
    line2: Text200 | None = None
    city: Text200
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    region: Text200 | None = None


class CompanyIn(_In):
    name: Text200
    domain: DomainName | None = None
    country: CountryCode
    address: AddressIn
    registration_number: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = None


class ContactIn(_In):
    name: Text200
    email: EmailStr = Field(max_length=254)
    phone: E164

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class PaymentInstrumentIn(_In):
    type: InstrumentType
    card_bin: CardBin | None = None
    card_country: CountryCode | None = Field(
        default=None, description="The card's issuing country, when the payment processor says."
    )

    @model_validator(mode="after")
    def _bin_for_cards_only(self) -> PaymentInstrumentIn:
        if self.type in _CARD_TYPES and self.card_bin is None:
            raise ValueError("a card instrument needs card_bin")
        if self.type not in _CARD_TYPES and (self.card_bin or self.card_country):
            raise ValueError("card_bin and card_country are only for card instruments")
        return self


class SignupContextIn(_In):
    ip: IpAddress = Field(description="The address the signup form was submitted from.")
    user_agent: Annotated[str, StringConstraints(max_length=500)] | None = None
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    form_fill_seconds: float | None = Field(
        default=None, ge=0, le=86_400, description="Time the person took to fill the form."
    )
    ip_country: CountryCode | None = Field(
        default=None, description="The IP address's country, when the caller knows it."
    )


class CollectionsAcceptanceIn(_In):
    """The customer's acceptance of the partner's collections policy."""

    policy_version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    accepted_by: Text200 = Field(description="Name or e-mail of who accepted, as entered.")
    accepted_at: AwareDatetime | None = Field(
        default=None, description="When it was accepted; defaults to now."
    )
    ip_address: IpAddress
    user_agent: Annotated[str, StringConstraints(max_length=500)] | None = None


class ApplicationIn(_In):
    """A customer application, as the partner's signup system saw it."""

    company: CompanyIn
    contact: ContactIn
    vendor_tenant_id: uuid.UUID | None = Field(
        default=None, description="The vendor's customer tenant ID (a GUID), when known."
    )
    payment_instrument: PaymentInstrumentIn | None = None
    signup: SignupContextIn
    collections_acceptance: CollectionsAcceptanceIn | None = Field(
        default=None, description="Send it here if the customer accepted during signup."
    )


class ReasonOut(BaseModel):
    code: str
    detail: str
    points: int
    hard: bool = False


class AssessmentOut(BaseModel):
    score: int = Field(ge=0, le=100)
    outcome: Outcome
    hard_reject: bool
    risk_tier: RiskTier
    prepayment_required: bool
    reasons: list[ReasonOut]
    policy_version: int = Field(description="0 is the built-in default policy.")
    scored_at: datetime


class CustomerOut(BaseModel):
    """A customer under onboarding: what was submitted, how it scored, where it stands."""

    customer_id: uuid.UUID
    application_id: uuid.UUID
    status: ApplicationStatus
    company: dict[str, Any]
    contact: dict[str, Any]
    vendor_tenant_id: uuid.UUID | None
    payment_instrument: dict[str, Any] | None
    signup: dict[str, Any]
    assessment: AssessmentOut | None
    pending_requirements: list[str] = Field(
        description="What must still happen before approval: `sms`, `email`, `mfa`, "
        "`collections_policy`."
    )
    mfa_enforced: bool | None
    phone_contact_confirmed: bool | None
    collections_policy_version: str | None
    claimed_by: str | None
    override_requested_by: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    created_at: datetime
    updated_at: datetime


class HistoryEntryOut(BaseModel):
    action: str
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus | None
    actor: str
    reason: str | None
    details: dict[str, Any]
    at: datetime


class CustomerFilters(BaseModel):
    status: ApplicationStatus | None = None
    outcome: Outcome | None = None
    country: CountryCode | None = None
    email_domain: str | None = None
    vendor_tenant_id: uuid.UUID | None = None
    submitted_from: AwareDatetime | None = None
    submitted_to: AwareDatetime | None = None
