"""Billing accounts: opened by the partner or by onboarding's approval, read, listed, changed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from partnerguard.billing.accounts.handlers import onboarding_consumer
from partnerguard.common.bus.connection import EventBus
from partnerguard.common.events.types.onboarding import CustomerApproved, Decider, RiskTier
from tests.support.billing import RunningBilling
from tests.support.events import deliver


def approval(customer_id: uuid.UUID, *, tier: RiskTier, prepayment: bool) -> CustomerApproved:
    return CustomerApproved(
        customer_id=customer_id,
        application_id=uuid.uuid4(),
        risk_tier=tier,
        prepayment_required=prepayment,
        country="DE",
        decided_by=Decider.AUTOMATIC,
        approved_at=datetime.now(UTC),
    )


async def test_open_account_answers_it_pending_and_emits_opened(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(
        partner_id, credit_limit=100_000, prepayment_required=True, prepayment_amount=5_000
    )

    assert account["status"] == "pending"
    assert account["credit_limit"] == {"amount": 100_000, "currency": "USD"}
    assert account["prepayment"] == {"amount": 5_000, "currency": "USD"}
    assert account["credit_balance"] == {"amount": 0, "currency": "USD"}
    (opened,) = await billing.events(partner_id, "billing.account.opened")
    assert opened["data"]["account_id"] == account["id"]
    assert opened["data"]["exposure_limit"] == {"amount": 100_000, "currency": "USD"}
    assert opened["data"]["prepayment_required"] is True


async def test_second_account_for_a_customer_is_a_conflict(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    first = await billing.open_account(partner_id)
    again = await billing.http.post(
        "/v1/billing/accounts",
        json={"customer_id": first["customer_id"], "currency": "USD", "country": "US"},
        headers=billing.headers(partner_id),
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert len(await billing.events(partner_id, "billing.account.opened")) == 1


async def test_bad_account_input_is_problem_json_and_stores_nothing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    for body in [
        {"customer_id": str(uuid.uuid4()), "currency": "XYZ", "country": "US"},
        {"customer_id": str(uuid.uuid4()), "currency": "usd", "country": "US"},
        {"customer_id": str(uuid.uuid4()), "currency": "USD", "country": "US", "credit_limit": -1},
        {"customer_id": str(uuid.uuid4()), "currency": "USD", "country": "US",
         "prepayment_required": True},
        {"customer_id": "not-a-uuid", "currency": "USD", "country": "US"},
        {"customer_id": str(uuid.uuid4()), "currency": "USD", "country": "US", "credit_limit": 1.5},
    ]:  # fmt: skip
        response = await billing.http.post(
            "/v1/billing/accounts", json=body, headers=billing.headers(partner_id)
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    listed = await billing.http.get("/v1/billing/accounts", headers=billing.headers(partner_id))
    assert listed.json()["items"] == []
    assert await billing.events(partner_id) == []


async def test_another_partners_account_is_not_found_and_not_listed(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    other = uuid.uuid4()
    got = await billing.http.get(
        f"/v1/billing/accounts/{account['id']}", headers=billing.headers(other)
    )
    assert got.status_code == 404
    patched = await billing.http.patch(
        f"/v1/billing/accounts/{account['id']}",
        json={"credit_limit": 1},
        headers=billing.headers(other),
    )
    assert patched.status_code == 404
    listed = await billing.http.get("/v1/billing/accounts", headers=billing.headers(other))
    assert listed.json()["items"] == []


async def test_reading_needs_read_scope_and_opening_needs_write_scope(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    read_only = billing.headers(partner_id, scopes=["billing:read"])
    opened = await billing.http.post(
        "/v1/billing/accounts",
        json={"customer_id": str(uuid.uuid4()), "currency": "USD", "country": "US"},
        headers=read_only,
    )
    assert opened.status_code == 403
    other_service = billing.headers(partner_id, scopes=["onboarding:read"])
    listed = await billing.http.get("/v1/billing/accounts", headers=other_service)
    assert listed.status_code == 403


async def test_list_filters_by_customer_and_pages(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    accounts = [await billing.open_account(partner_id) for _ in range(3)]
    headers = billing.headers(partner_id)
    first = await billing.http.get("/v1/billing/accounts?limit=2", headers=headers)
    second = await billing.http.get(
        f"/v1/billing/accounts?limit=2&cursor={first.json()['next_cursor']}", headers=headers
    )
    ids = [a["id"] for a in first.json()["items"] + second.json()["items"]]
    assert ids == [a["id"] for a in accounts]
    assert second.json()["next_cursor"] is None
    one = await billing.http.get(
        f"/v1/billing/accounts?customer_id={accounts[1]['customer_id']}", headers=headers
    )
    assert [a["id"] for a in one.json()["items"]] == [accounts[1]["id"]]


async def test_change_terms_updates_limit_and_can_remove_it(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, credit_limit=1_000)
    url = f"/v1/billing/accounts/{account['id']}"
    headers = billing.headers(partner_id)
    changed = await billing.http.patch(
        url, json={"credit_limit": 2_500, "billing_email": "ap@contoso.example"}, headers=headers
    )
    assert changed.status_code == 200
    assert changed.json()["credit_limit"]["amount"] == 2_500
    assert changed.json()["billing_email"] == "ap@contoso.example"
    removed = await billing.http.patch(url, json={"remove_credit_limit": True}, headers=headers)
    assert removed.json()["credit_limit"] is None


async def test_requiring_prepayment_without_an_amount_is_refused_and_changes_nothing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    url = f"/v1/billing/accounts/{account['id']}"
    refused = await billing.http.patch(
        url, json={"prepayment_required": True}, headers=billing.headers(partner_id)
    )
    assert refused.status_code == 422
    after = await billing.http.get(url, headers=billing.headers(partner_id))
    assert after.json()["prepayment_required"] is False


async def test_approval_opens_an_account_on_the_tier_terms(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()
    consumer = onboarding_consumer(billing.settings)
    await deliver(
        bus, billing.db, consumer, approval(customer_id, tier=RiskTier.HIGH, prepayment=True),
        partner_id=partner_id, customer_id=customer_id,
    )  # fmt: skip

    listed = await billing.http.get(
        f"/v1/billing/accounts?customer_id={customer_id}", headers=billing.headers(partner_id)
    )
    (account,) = listed.json()["items"]
    assert account["opened_by"] == "event"
    assert account["risk_tier"] == "high"
    assert account["country"] == "DE"
    assert account["prepayment_required"] is True
    assert account["prepayment"]["amount"] == billing.settings.tier_prepayment_amounts["high"]
    assert account["credit_limit"]["amount"] == billing.settings.tier_credit_limits["high"]
    assert account["status"] == "pending"


async def test_a_redelivered_approval_opens_one_account(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    customer_id = uuid.uuid4()
    consumer = onboarding_consumer(billing.settings)
    event_id = uuid.uuid4()
    for _ in range(2):
        await deliver(
            bus, billing.db, consumer, approval(customer_id, tier=RiskTier.LOW, prepayment=False),
            partner_id=partner_id, customer_id=customer_id, event_id=event_id,
        )  # fmt: skip
    assert len(await billing.events(partner_id, "billing.account.opened")) == 1


async def test_approval_for_a_customer_the_partner_already_opened_keeps_the_partners_terms(
    billing: RunningBilling, bus: EventBus, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, credit_limit=42)
    customer_id = uuid.UUID(account["customer_id"])
    await deliver(
        bus, billing.db, onboarding_consumer(billing.settings),
        approval(customer_id, tier=RiskTier.HIGH, prepayment=True),
        partner_id=partner_id, customer_id=customer_id,
    )  # fmt: skip
    got = await billing.http.get(
        f"/v1/billing/accounts/{account['id']}", headers=billing.headers(partner_id)
    )
    assert got.json()["credit_limit"]["amount"] == 42
    assert got.json()["prepayment_required"] is False
