"""The clients API contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from partnerguard.gateway.roles import ROLE_SCOPES, Role

PartnerRoleName = Literal["global_admin", "billing_admin", "admin_agent", "user_management_admin"]


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["ERP integration"])
    role: PartnerRoleName = Field(description="The vendor partner role this client acts in.")


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: str = Field(description="The OAuth 2.0 client identifier.")
    partner_id: uuid.UUID
    name: str
    role: PartnerRoleName | Literal["platform_admin"]
    status: Literal["active", "revoked"]
    created_at: datetime
    revoked_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def scopes(self) -> list[str]:
        """What tokens of this client may be granted."""
        return sorted(ROLE_SCOPES[Role(self.role)])


class ClientWithSecret(ClientOut):
    client_secret: str = Field(description="Shown this once; only a hash is kept.")
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="Until when the replaced secret still works (after rotation)."
    )
