"""The vendor's partner API (Partner Center) over HTTP.

Wire protocol::

    GET   {provider_url}/v1/customers/{customer_tenant_id}/subscriptions/{subscription_id}
    PATCH {provider_url}/v1/customers/{customer_tenant_id}/subscriptions/{subscription_id}
          {"status": "suspended" | "active"}
    Authorization: Bearer <provider_token>       (when a token is configured)
    MS-RequestId: <one id per change, the same on every attempt>
    MS-CorrelationId: <one id per call, across its retries>
    If-Match: <the ETag of the version we change>   (PATCH)

    200 {"id": ..., "status": ..., "etag": ...?, ...} with an ETag header

A 412 (the resource changed since we read it) re-reads it and tries once more with the fresh
ETag; any other 4xx is :class:`VendorRejected`; 5xx, 429, timeouts and connection failures are
retried within the call (``RetryPolicy``), then raised as a transient :class:`AdapterError`.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import structlog

from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.adapters.http import RetryPolicy
from partnerguard.enforcement.provider.adapter import (
    VendorRejected,
    VendorStatus,
    VendorSubscription,
)

log = structlog.get_logger()

_PRECONDITION_FAILED = 412


class HttpVendorAdapter:
    """The vendor's partner API reached over a shared ``httpx.AsyncClient``."""

    name = "partner-center"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token
        self.policy = policy or RetryPolicy()

    def _url(self, customer_tenant_id: uuid.UUID, subscription_id: uuid.UUID) -> str:
        return f"{self._base}/v1/customers/{customer_tenant_id}/subscriptions/{subscription_id}"

    async def get_subscription(
        self, customer_tenant_id: uuid.UUID, subscription_id: uuid.UUID
    ) -> VendorSubscription:
        return await self._get(
            self._url(customer_tenant_id, subscription_id), correlation_id=uuid.uuid4()
        )

    async def set_status(
        self,
        customer_tenant_id: uuid.UUID,
        subscription_id: uuid.UUID,
        status: VendorStatus,
        *,
        request_id: uuid.UUID,
        etag: str | None,
    ) -> VendorSubscription:
        url = self._url(customer_tenant_id, subscription_id)
        correlation_id = uuid.uuid4()
        if etag is None:
            # Without a version to match, read it first: a change is never made blind.
            current = await self._get(url, correlation_id=correlation_id)
            if current.status == status:
                return current
            etag = current.etag
        response = await self._patch(url, status, request_id, correlation_id, etag)
        if response.status_code == _PRECONDITION_FAILED:
            log.info(
                "provider.etag_stale",
                subscription_id=str(subscription_id),
                request_id=str(request_id),
            )
            fresh = await self._get(url, correlation_id=correlation_id)
            if fresh.status == status:
                return fresh
            response = await self._patch(url, status, request_id, correlation_id, fresh.etag)
            if response.status_code == _PRECONDITION_FAILED:
                # Changed again between our read and write: worth another try later.
                raise AdapterError(self.name, "the subscription kept changing (HTTP 412 twice)")
        return self._subscription(response)

    async def _get(self, url: str, *, correlation_id: uuid.UUID) -> VendorSubscription:
        response = await self._send("GET", url, uuid.uuid4(), correlation_id)
        return self._subscription(response)

    async def _patch(
        self,
        url: str,
        status: VendorStatus,
        request_id: uuid.UUID,
        correlation_id: uuid.UUID,
        etag: str | None,
    ) -> httpx.Response:
        return await self._send(
            "PATCH", url, request_id, correlation_id, body={"status": status}, if_match=etag
        )

    async def _send(
        self,
        method: str,
        url: str,
        request_id: uuid.UUID,
        correlation_id: uuid.UUID,
        *,
        body: dict[str, Any] | None = None,
        if_match: str | None = None,
    ) -> httpx.Response:
        """The vendor's answer once it is final (2xx or 4xx other than 429); retries the rest
        within the policy, then raises a transient AdapterError."""
        headers = {
            "Accept": "application/json",
            "MS-RequestId": str(request_id),
            "MS-CorrelationId": str(correlation_id),
        }
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        if if_match is not None:
            headers["If-Match"] = if_match
        attempts = self.policy.attempts
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = await self._http.request(
                    method, url, json=body, headers=headers, timeout=self.policy.timeout_seconds
                )
            except httpx.TimeoutException:
                reason = "timed out"
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason = f"unreachable ({type(exc).__name__})"
            except httpx.HTTPError as exc:
                raise AdapterError(self.name, f"failed ({type(exc).__name__})") from exc
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                reason = f"answered HTTP {response.status_code}"
                retry_after = _retry_after(response)
            if attempt >= attempts:
                log.warning(
                    "provider.call_failed",
                    method=method,
                    request_id=str(request_id),
                    attempts=attempts,
                    reason=reason,
                )
                raise AdapterError(self.name, f"{reason} after {attempts} attempt(s)")
            delay = self.policy.delay(attempt, retry_after)
            log.info(
                "provider.call_retry",
                method=method,
                request_id=str(request_id),
                attempt=attempt,
                reason=reason,
                delay_seconds=round(delay, 3),
            )
            await asyncio.sleep(delay)

    def _subscription(self, response: httpx.Response) -> VendorSubscription:
        if not response.is_success:
            log.warning("provider.rejected", status=response.status_code)
            raise VendorRejected(
                self.name,
                f"answered HTTP {response.status_code}{_detail(response)}",
                status_code=response.status_code,
            )
        try:
            answer = response.json()
        except ValueError as exc:
            raise AdapterError(self.name, "answered something that is not JSON") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("status"), str):
            raise AdapterError(self.name, "answered without a subscription status")
        etag = response.headers.get("ETag") or answer.get("etag")
        return VendorSubscription(
            status=answer["status"], etag=etag if isinstance(etag, str) else None
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _detail(response: httpx.Response) -> str:
    """The vendor's short explanation, when its error body has one (never the whole body)."""
    try:
        answer = response.json()
    except ValueError:
        return ""
    if isinstance(answer, dict):
        for key in ("description", "detail", "message", "error"):
            value = answer.get(key)
            if isinstance(value, str) and value:
                return f": {value[:200]}"
    return ""
