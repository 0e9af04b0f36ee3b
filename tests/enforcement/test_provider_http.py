"""The HTTP vendor adapter against a local fake of the vendor's partner API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.adapters.http import RetryPolicy
from partnerguard.enforcement.provider.adapter import VendorRejected
from partnerguard.enforcement.provider.http import HttpVendorAdapter
from partnerguard.enforcement.provider.local import LocalAdapter
from tests.support.vendor_fake import FakePartnerCenter

TOKEN = "vendor-token-for-tests"  # noqa: S105 - a test fake's token


@pytest.fixture
def vendor() -> Iterator[FakePartnerCenter]:
    with FakePartnerCenter(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def adapter_for(
    http: httpx.AsyncClient,
    vendor: FakePartnerCenter,
    *,
    retries: int = 0,
    timeout: float = 5.0,
    token: str | None = TOKEN,
) -> HttpVendorAdapter:
    policy = RetryPolicy(
        timeout_seconds=timeout, retries=retries, backoff_seconds=0.01, max_backoff_seconds=0.02
    )
    return HttpVendorAdapter(http, base_url=vendor.base_url, token=token, policy=policy)


def known(vendor: FakePartnerCenter, status: str = "active") -> tuple[uuid.UUID, uuid.UUID, str]:
    tenant, subscription = uuid.uuid4(), uuid.uuid4()
    etag = vendor.add_subscription(tenant, subscription, status)
    return tenant, subscription, etag


async def test_get_reads_status_and_etag(
    vendor: FakePartnerCenter, http: httpx.AsyncClient
) -> None:
    tenant, subscription, etag = known(vendor, "suspended")

    found = await adapter_for(http, vendor).get_subscription(tenant, subscription)

    assert (found.status, found.etag) == ("suspended", etag)
    (request,) = vendor.received("GET")
    assert request.path == f"/v1/customers/{tenant}/subscriptions/{subscription}"
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    assert request.header("MS-CorrelationId")


async def test_set_status_sends_request_id_and_if_match(
    vendor: FakePartnerCenter, http: httpx.AsyncClient
) -> None:
    tenant, subscription, etag = known(vendor)
    request_id = uuid.uuid4()

    changed = await adapter_for(http, vendor).set_status(
        tenant, subscription, "suspended", request_id=request_id, etag=etag
    )

    assert changed.status == "suspended"
    assert changed.etag == vendor.etag_of(tenant, subscription) != etag
    (patch,) = vendor.received("PATCH")
    assert patch.body == {"status": "suspended"}
    assert patch.header("MS-RequestId") == str(request_id)
    assert patch.header("If-Match") == etag


async def test_set_status_without_an_etag_reads_it_first(
    vendor: FakePartnerCenter, http: httpx.AsyncClient
) -> None:
    tenant, subscription, etag = known(vendor)

    await adapter_for(http, vendor).set_status(
        tenant, subscription, "suspended", request_id=uuid.uuid4(), etag=None
    )

    assert [r.method for r in vendor.requests] == ["GET", "PATCH"]
    assert vendor.received("PATCH")[0].header("If-Match") == etag


async def test_a_repeated_request_id_changes_nothing_twice(
    vendor: FakePartnerCenter, http: httpx.AsyncClient
) -> None:
    tenant, subscription, etag = known(vendor)
    adapter, request_id = adapter_for(http, vendor), uuid.uuid4()

    first = await adapter.set_status(
        tenant, subscription, "suspended", request_id=request_id, etag=etag
    )
    again = await adapter.set_status(
        tenant, subscription, "suspended", request_id=request_id, etag=etag
    )

    assert again == first
    assert len(vendor.changes_of(subscription)) == 1


async def test_server_errors_are_retried_within_the_call(
    vendor: FakePartnerCenter, http: httpx.AsyncClient
) -> None:
    tenant, subscription, etag = known(vendor)
    vendor.fail_next(2, status=503)

    changed = await adapter_for(http, vendor, retries=2).set_status(
        tenant, subscription, "suspended", request_id=uuid.uuid4(), etag=etag
    )

    assert changed.status == "suspended"
    patches = vendor.received("PATCH")
    assert len(patches) == 3
    assert len({p.header("MS-RequestId") for p in patches}) == 1
    assert len(vendor.changes_of(subscription)) == 1


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_beyond_the_retries_are_transient(
    vendor: FakePartnerCenter, http: httpx.AsyncClient, status: int
) -> None:
    tenant, subscription, etag = known(vendor)
    vendor.fail_next(1, status=status)

    with pytest.raises(AdapterError) as raised:
        await adapter_for(http, vendor).set_status(
            tenant, subscription, "suspended", request_id=uuid.uuid4(), etag=etag
        )

    assert not isinstance(raised.value, VendorRejected)
    assert vendor.status_of(tenant, subscription) == "active"


async def test_a_timeout_is_transient(vendor: FakePartnerCenter, http: httpx.AsyncClient) -> None:
    tenant, subscription, etag = known(vendor)
    vendor.hang_next(1, seconds=3.0)

    with pytest.raises(AdapterError, match="timed out") as raised:
        await adapter_for(http, vendor, timeout=0.3).set_status(
            tenant, subscription, "suspended", request_id=uuid.uuid4(), etag=etag
        )

    assert not isinstance(raised.value, VendorRejected)


@pytest.mark.parametrize("status", [400, 403, 404, 409])
async def test_client_errors_are_permanent(
    vendor: FakePartnerCenter, http: httpx.AsyncClient, status: int
) -> None:
    tenant, subscription, etag = known(vendor)
    vendor.fail_next(1, status=status)

    with pytest.raises(VendorRejected) as raised:
        await adapter_for(http, vendor, retries=2).set_status(
            tenant, subscription, "suspended", request_id=uuid.uuid4(), etag=etag
        )

    assert raised.value.status_code == status
    assert len(vendor.requests) == 1  # not repeated


async def test_a_wrong_token_is_refused(vendor: FakePartnerCenter, http: httpx.AsyncClient) -> None:
    tenant, subscription, _ = known(vendor)

    with pytest.raises(VendorRejected) as raised:
        await adapter_for(http, vendor, token="forged-4711").get_subscription(  # noqa: S106
            tenant, subscription
        )

    assert raised.value.status_code == 401
    assert "forged-4711" not in str(raised.value)


async def test_an_unknown_subscription_is_refused(
    vendor: FakePartnerCenter, http: httpx.AsyncClient
) -> None:
    with pytest.raises(VendorRejected) as raised:
        await adapter_for(http, vendor).get_subscription(uuid.uuid4(), uuid.uuid4())

    assert raised.value.status_code == 404


async def test_a_stale_etag_is_refreshed_once(
    vendor: FakePartnerCenter, http: httpx.AsyncClient
) -> None:
    tenant, subscription, stale = known(vendor)
    vendor.touch(tenant, subscription)

    changed = await adapter_for(http, vendor).set_status(
        tenant, subscription, "suspended", request_id=uuid.uuid4(), etag=stale
    )

    assert changed.status == "suspended"
    assert [r.method for r in vendor.requests] == ["PATCH", "GET", "PATCH"]
    first, second = vendor.received("PATCH")
    assert first.header("MS-RequestId") == second.header("MS-RequestId")
    assert second.header("If-Match") != stale


async def test_a_stale_etag_with_the_change_already_made_is_not_patched_again(
    vendor: FakePartnerCenter, http: httpx.AsyncClient
) -> None:
    tenant, subscription, stale = known(vendor)
    vendor.change_in_portal(tenant, subscription, "suspended")

    changed = await adapter_for(http, vendor).set_status(
        tenant, subscription, "suspended", request_id=uuid.uuid4(), etag=stale
    )

    assert changed.status == "suspended"
    assert [r.method for r in vendor.requests] == ["PATCH", "GET"]


async def test_an_etag_stale_twice_is_transient(
    vendor: FakePartnerCenter, http: httpx.AsyncClient
) -> None:
    tenant, subscription, etag = known(vendor)
    vendor.script(412, None, 412)  # the change, the re-read, the second try

    with pytest.raises(AdapterError, match="412") as raised:
        await adapter_for(http, vendor).set_status(
            tenant, subscription, "suspended", request_id=uuid.uuid4(), etag=etag
        )

    assert not isinstance(raised.value, VendorRejected)
    assert [r.method for r in vendor.requests] == ["PATCH", "GET", "PATCH"]
    assert vendor.status_of(tenant, subscription) == "active"


async def test_the_local_adapter_records_the_change_at_once() -> None:
    adapter, tenant, subscription = LocalAdapter(), uuid.uuid4(), uuid.uuid4()

    first = await adapter.set_status(
        tenant, subscription, "suspended", request_id=uuid.uuid4(), etag=None
    )
    second = await adapter.set_status(
        tenant, subscription, "active", request_id=uuid.uuid4(), etag=first.etag
    )

    assert first.status == "suspended"
    assert second.status == "active"
    assert first.etag != second.etag
    assert await adapter.get_subscription(tenant, subscription) == second


async def test_the_local_adapter_does_not_pretend_to_know_other_subscriptions() -> None:
    with pytest.raises(VendorRejected):
        await LocalAdapter().get_subscription(uuid.uuid4(), uuid.uuid4())
