"""What the rules engine looks at: one application's facts, gathered by the service.

Pure data, no I/O. The service collects the facts (the application itself, velocity counts,
list hits, screening and check results) and the engine turns them into an assessment. The
facts are stored with each assessment, so a proposed policy can be replayed over them later.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class InstrumentType(StrEnum):
    """The payment instrument the customer intends to pay with."""

    CREDIT_CARD = "credit_card"
    DEBIT_CARD = "debit_card"
    PREPAID_CARD = "prepaid_card"
    STORED_VALUE = "stored_value"
    BANK_DEBIT = "bank_debit"
    BANK_TRANSFER = "bank_transfer"
    INVOICE = "invoice"


class VelocityKey(StrEnum):
    """What velocity counts applications by."""

    IP = "ip"
    DEVICE = "device"
    EMAIL_DOMAIN = "email_domain"
    PHONE = "phone"
    CARD_BIN = "card_bin"


class ListKind(StrEnum):
    """What an allow- or block-list entry matches."""

    EMAIL = "email"
    DOMAIN = "domain"
    IP = "ip"  # an address or a CIDR range
    DEVICE = "device"
    BIN = "bin"
    PHONE = "phone"
    TENANT = "tenant"


class ListName(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"


class CheckResult(StrEnum):
    """Outcome of a check (verification, identity, credit), as the engine sees it."""

    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    EXPIRED = "expired"


class ListHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    list: ListName
    kind: ListKind
    value: str = Field(description="The entry that matched (an address, range, domain ...).")
    reason: str = ""


class SanctionsHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    party: str = Field(description="Which party matched: company or contact.")
    name: str = Field(description="The listed entity's name.")
    score: float = Field(ge=0, le=1)
    datasets: tuple[str, ...] = ()


class Facts(BaseModel):
    """Everything the rules read about one application at one moment."""

    model_config = ConfigDict(frozen=True)

    company_country: str = Field(description="ISO 3166-1 alpha-2, upper case.")
    company_domain: str | None = None
    contact_email: str
    contact_phone: str = Field(description="As entered; E.164 expected.")
    ip_country: str | None = None
    user_agent: str | None = None
    form_fill_seconds: float | None = None
    instrument_type: InstrumentType | None = None
    card_bin: str | None = None
    card_country: str | None = Field(
        default=None, description="The card's issuing country when the caller knows it."
    )
    # Other applications of the partner sharing this key within the policy's window.
    velocity: dict[VelocityKey, int] = Field(default_factory=dict)
    list_hits: tuple[ListHit, ...] = ()
    sanctions_hits: tuple[SanctionsHit, ...] = ()
    # Verification channel (sms, email) → its latest result.
    verifications: dict[str, CheckResult] = Field(default_factory=dict)
    mfa_enforced: bool | None = None
    identity: CheckResult | None = None
    credit: CheckResult | None = None
    # Staff reached the contact personally by phone: True confirmed, False could not confirm.
    phone_contact_confirmed: bool | None = None
