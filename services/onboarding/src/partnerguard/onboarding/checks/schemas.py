"""The public contract of checks: provider checks (identity, credit) and staff attestations."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from partnerguard.onboarding.applications.schemas import CustomerOut

Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class CheckKind(StrEnum):
    IDENTITY = "identity"
    CREDIT = "credit"
    MFA = "mfa"
    PHONE_CONTACT = "phone_contact"
    SANCTIONS = "sanctions"


class ProviderCheckIn(BaseModel):
    """Optional context for an identity check or credit report."""

    model_config = ConfigDict(extra="forbid")

    note: Note | None = Field(default=None, description="Why it is run; kept in the audit trail.")


class MfaAttestationIn(BaseModel):
    """Someone's statement that the customer's tenant enforces (or does not enforce) MFA."""

    model_config = ConfigDict(extra="forbid")

    enforced: bool
    attested_by: Person = Field(description="Who attests it (name or e-mail).")
    evidence: Note | None = Field(
        default=None, description="What it rests on, e.g. a screenshot reference or a policy id."
    )


class PhoneContactIn(BaseModel):
    """Staff reached (or failed to reach) the contact personally by phone."""

    model_config = ConfigDict(extra="forbid")

    confirmed: bool = Field(description="True: the contact confirmed the application.")
    staff: Person = Field(description="Who called.")
    note: Note | None = None


class CheckOut(BaseModel):
    """One check with the provider's whole answer, kept for audit."""

    id: uuid.UUID
    kind: CheckKind
    result: str = Field(description="`passed`, `failed` or `inconclusive`.")
    provider: str = Field(description="Who answered: a provider, `attestation` or `staff`.")
    reference: str | None = Field(description="The provider's id for the check.")
    raw: dict[str, Any] = Field(description="The provider's answer or the attestation as sent.")
    requested_by: str = Field(description="The API client that asked for it.")
    created_at: datetime


class CheckRecordedOut(BaseModel):
    """A new check and the customer as re-scored with it."""

    check: CheckOut
    customer: CustomerOut
