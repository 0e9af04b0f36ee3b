"""A partner's estate: one object of every kind a partner owns, made through the gateway the way
the partner's systems make them, and named by kind for the tests that point another partner at
them (see :mod:`tests.e2e.test_isolation`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.customers import POLICY_VERSION, add_subscription, approved_customer
from tests.e2e.invoices import issue_invoice, record_payment, run_dunning
from tests.e2e.outside import Outside
from tests.e2e.usage import send_usage, usage
from tests.e2e.views import get, items
from tests.support.polling import eventually, eventually_found

# The enforcement rule that makes an approval wait: the vendor's acceptable-use notice about a
# subscription asks a person before the subscription is held.
APPROVAL_RULE = {
    "name": "acceptable-use-needs-approval",
    "event_type": "monitoring.notification.received",
    "conditions": {"notification_kind": "acceptable_use_violation"},
    "action": {"type": "place_hold", "reason": "misuse", "target": "subscriptions"},
    "mode": "approval",
}


@dataclass(frozen=True)
class Estate:
    """The partner's objects: ``ids[kind]`` is the id (or version) of its one object of that kind."""

    partner: str
    ids: dict[str, str]

    def markers(self) -> set[str]:
        """Strings that only this partner's data holds: its ids, its customer's vendor tenant."""
        return {value for kind, value in self.ids.items() if not kind.endswith("_version")}

    def nowhere(self) -> dict[str, str]:
        """Ids of the same kinds that name nothing, of this partner's or anyone's."""
        return {kind: _nothing_like(value) for kind, value in self.ids.items()}


def _nothing_like(value: str) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        # A version: a number no partner reaches, or a name no one publishes.
        return "2147483647" if value.isdigit() else f"never-{uuid.uuid4().hex[:8]}"
    return str(uuid.uuid4())


async def build_estate(
    client: httpx.AsyncClient, outside: Outside, partner: str, partner_id: str
) -> Estate:
    """One object of every kind, and every asynchronous consequence of them settled: what the
    partner reads stays as it is until someone changes it."""
    today = datetime.now(UTC).date()
    customer = await approved_customer(client, outside, f"{partner}-estate")
    subscription = await add_subscription(client, outside, customer, "Azure plan")
    customer_path = f"/v1/onboarding/customers/{customer.customer_id}"
    verification, *_ = await get(client, f"{customer_path}/verifications")

    # Issued today, due in two weeks: nothing for dunning to do while the tests run.
    invoice = await issue_invoice(client, customer.account_id, 10_000, today + timedelta(days=14))
    payment = await record_payment(client, invoice, "reported")
    run = await run_dunning(client, today)
    instrument = await created(
        client.post(
            f"/v1/billing/accounts/{customer.account_id}/instruments",
            json={"type": "bank_debit", "holder_name": "Erika Mustermann", "iban_last4": "3000"},
        )
    )
    bin_range = await created(
        client.post("/v1/billing/bin-ranges", json={"prefix": "99999901", "funding": "prepaid"})
    )

    policy = await created(client.put("/v1/enforcement/policies", json={"rules": [APPROVAL_RULE]}))
    hold = await created(
        client.post(
            "/v1/enforcement/holds",
            json={"customer_id": customer.customer_id, "reason": "manual", "note": "estate"},
        )
    )
    case = await created(
        client.post(
            "/v1/enforcement/cases",
            json={"kind": "fraud", "customer_id": customer.customer_id, "summary": "estate"},
        )
    )

    notification = await created(
        client.post(
            "/v1/monitoring/notifications",
            json={
                "vendor_reference": f"AUP-{uuid.uuid4()}",
                "kind": "acceptable_use_violation",
                "violation": "spam",
                "vendor_tenant_id": str(customer.tenant),
                "subscription_ids": [str(subscription)],
                "summary": "Outbound spam from a VM",
            },
        )
    )
    yesterday = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    await send_usage(client, [usage(customer.tenant, subscription, yesterday, "2.50")])
    activity = await client.post(
        "/v1/monitoring/activity-logs",
        json={
            "entries": [
                {
                    "entry_id": str(uuid.uuid4()),
                    "customer_id": customer.customer_id,
                    "actor": f"admin@{customer.applicant.domain}",
                    "operation": "Update user",
                    "resource": f"finance@{customer.applicant.domain}",
                    "result": "success",
                    "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                }
            ]
        },
    )
    assert activity.status_code == 200, activity.text
    budget = await created(
        client.put(
            f"/v1/monitoring/customers/{customer.customer_id}/budget",
            json={"amount": "1000", "currency": "EUR"},
        )
    )

    entry = await created(
        client.post(
            "/v1/onboarding/lists/entries",
            json={
                "list": "block",
                "kind": "domain",
                "value": f"never-{uuid.uuid4().hex[:8]}.example",
                "reason": "estate",
            },
        )
    )
    api_client = await created(
        client.post("/v1/clients", json={"name": "estate reader", "role": "billing_admin"})
    )
    webhook = await created(
        client.post(
            "/v1/webhooks",
            json={
                "url": outside.webhooks.url(f"/{partner}"),
                # Nothing the tests do makes one: no delivery changes what the partner reads.
                "event_types": ["billing.customer.delinquent"],
            },
        )
    )

    approval = await eventually_found(
        lambda: pending_approval(client, customer.customer_id),
        "enforcement to ask for approval of the acceptable-use hold",
    )
    await eventually(
        lambda: get(client, f"/v1/enforcement/customers/{customer.customer_id}"),
        lambda entry: all(s["status"] == s["desired_status"] for s in entry["subscriptions"]),
        "the manual hold to be carried out at the vendor",
    )
    return Estate(
        partner,
        {
            "partner": partner_id,
            "customer": customer.customer_id,
            "tenant": str(customer.tenant),
            "domain": customer.applicant.domain,
            "subscription": str(subscription),
            "verification": verification["id"],
            "collections_policy_version": POLICY_VERSION,
            "list_entry": entry["id"],
            "account": customer.account_id,
            "instrument": instrument["id"],
            "bin_range": bin_range["id"],
            "invoice": invoice["id"],
            "payment": payment["id"],
            "dunning_run": run["id"],
            "hold": hold["id"],
            "case": case["id"],
            "approval": approval["id"],
            "enforcement_policy_version": str(policy["version"]),
            "budget": budget["id"],
            "notification": notification["id"],
            "alert": notification["alert_id"],
            "client": api_client["id"],
            "webhook": webhook["id"],
        },
    )


async def created(sending: Awaitable[httpx.Response]) -> dict[str, Any]:
    """The object a create (or a new version) answered with."""
    response = await sending
    assert response.status_code in (200, 201), f"{response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def pending_approval(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any] | None:
    found = await items(client, "/v1/enforcement/approvals", status="pending")
    mine = [a for a in found if a["customer_id"] == customer_id]
    return mine[0] if mine else None
