"""The vendor's partner API as enforcement sees it: read a subscription, change its status.

Two implementations: :class:`~partnerguard.enforcement.provider.http.HttpVendorAdapter` speaks
the vendor's partner API (Partner Center) over HTTP; :class:`~partnerguard.enforcement.provider.
local.LocalAdapter` records every change as made at once (development, and partners who act on
the vendor's side themselves).

Errors: :class:`VendorRejected` (the vendor refused: 4xx other than 412 and 429) is permanent and
not retried; any other :class:`AdapterError` (unreachable, timed out, 5xx, 429) is transient.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

from partnerguard.common.adapters.errors import AdapterError

VendorStatus = Literal["suspended", "active"]


@dataclass(frozen=True)
class VendorSubscription:
    """A subscription's status at the vendor and the ETag of that version of the resource."""

    status: str
    etag: str | None


class VendorRejected(AdapterError):
    """The vendor refused the request (HTTP 4xx): repeating it would not help."""

    def __init__(self, provider: str, reason: str, *, status_code: int | None = None) -> None:
        super().__init__(provider, reason)
        self.status_code = status_code


class VendorAdapter(Protocol):
    """What the operation runner and the reconciler need of the vendor."""

    @property
    def name(self) -> str:
        """The adapter's name in logs and audit evidence."""
        ...

    async def get_subscription(
        self, customer_tenant_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> VendorSubscription:
        """The subscription as the vendor has it now; AdapterError if it cannot say."""
        ...

    async def set_status(
        self,
        customer_tenant_id: uuid.UUID,
        subscription_id: uuid.UUID,
        status: VendorStatus,
        *,
        request_id: uuid.UUID,
        etag: str | None,
    ) -> VendorSubscription:
        """Change the subscription's status; the same ``request_id`` on every attempt of one
        change, so the vendor makes it once. ``etag``: the version we believe is current."""
        ...
