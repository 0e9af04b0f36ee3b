"""The local adapter: no vendor API is configured, so every change counts as made at once."""

from __future__ import annotations

import uuid

import structlog

from partnerguard.enforcement.provider.adapter import (
    VendorRejected,
    VendorStatus,
    VendorSubscription,
)

log = structlog.get_logger()


class LocalAdapter:
    """Records each requested status as the vendor's, with a fresh ETag.

    It knows only what it was told in this process: reading a subscription it never changed is
    refused (so the reconciler never mistakes its ignorance for drift).
    """

    name = "local"

    def __init__(self) -> None:
        self._subscriptions: dict[tuple[uuid.UUID, uuid.UUID], VendorSubscription] = {}
        self._versions: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
        self._requests: dict[uuid.UUID, VendorSubscription] = {}

    async def get_subscription(
        self, customer_tenant_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> VendorSubscription:
        known = self._subscriptions.get((customer_tenant_id, subscription_id))
        if known is None:
            raise VendorRejected(
                self.name, "the local adapter does not know this subscription", status_code=404
            )
        return known

    async def set_status(
        self,
        customer_tenant_id: uuid.UUID,
        subscription_id: uuid.UUID,
        status: VendorStatus,
        *,
        request_id: uuid.UUID,
        etag: str | None,
    ) -> VendorSubscription:
        replayed = self._requests.get(request_id)
        if replayed is not None:
            return replayed
        key = (customer_tenant_id, subscription_id)
        version = self._versions.get(key, 0) + 1
        self._versions[key] = version
        changed = VendorSubscription(status=status, etag=f'"local-{version}"')
        self._subscriptions[key] = changed
        self._requests[request_id] = changed
        log.info(
            "provider.local_status_set",
            subscription_id=str(subscription_id),
            status=status,
            request_id=str(request_id),
        )
        return changed
