"""Enforce: a crypto-mining alert turns into misuse holds that suspend the customer's
subscriptions at the vendor; the customer paying an overdue invoice lifts only the nonpayment
hold, never the misuse one; releasing the misuse holds reinstates the subscriptions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.customers import (
    ACTIVE,
    SUSPENDED,
    add_subscription,
    approved_customer,
    subscription_states,
)
from tests.e2e.invoices import issue_invoice, record_payment, run_dunning
from tests.e2e.platform import Platform
from tests.e2e.usage import mining_usage, send_usage
from tests.e2e.views import get, items
from tests.support.polling import eventually, eventually_found

pytestmark = pytest.mark.e2e

PARTNER = "enforce"
HOLDS = "/v1/enforcement/holds"


async def pending_approval(partner: httpx.AsyncClient, customer_id: str) -> dict[str, Any] | None:
    found = await items(partner, "/v1/enforcement/approvals", status="pending")
    mine = [a for a in found if a["customer_id"] == customer_id]
    return mine[0] if mine else None


def holds_by(found: list[dict[str, Any]], reason: str, status: str) -> list[dict[str, Any]]:
    return [h for h in found if h["reason"] == reason and h["status"] == status]


async def test_mining_suspends_at_the_vendor_and_only_its_release_reinstates(
    platform: Platform,
) -> None:
    outside = platform.outside
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # Approving suspensions is a right of its own: the approver's token carries nothing else.
    approver = platform.client(PARTNER, ["enforcement:approve"])
    async with platform.client(PARTNER) as partner, approver:
        customer = await approved_customer(partner, outside, "miner")
        office = await add_subscription(partner, outside, customer, "Azure plan")
        gpu = await add_subscription(partner, outside, customer, "Azure plan (GPU)")
        await send_usage(partner, mining_usage(customer, today, office, gpu))

        # The critical mining alert asks a person before suspending the GPU subscription.
        (alert,) = await eventually(
            lambda: items(
                partner,
                "/v1/monitoring/alerts",
                customer_id=customer.customer_id,
                kind="crypto_mining",
            ),
            lambda found: len(found) == 1,
            "a crypto-mining alert for the miner",
        )
        pending = await eventually_found(
            lambda: pending_approval(partner, customer.customer_id),
            "enforcement to ask for approval of the mining subscriptions' suspension",
        )
        approved = await approver.post(
            f"/v1/enforcement/approvals/{pending['id']}/approve",
            json={"note": "GPU spend from a region the customer never used"},
        )
        assert approved.status_code == 200, approved.text
        gpu_suspended = await eventually(
            lambda: subscription_states(partner, outside, customer),
            lambda states: states == {office: ACTIVE, gpu: SUSPENDED},
            "the GPU subscription to be suspended at the vendor",
        )

        # The analyst confirms the mining: the whole customer is held.
        resolved = await partner.post(
            f"/v1/monitoring/alerts/{alert['id']}/resolve",
            json={"resolution": "confirmed", "actor": "sam@partner.example", "note": "miner"},
        )
        assert resolved.status_code == 200, resolved.text
        all_suspended = await eventually(
            lambda: subscription_states(partner, outside, customer),
            lambda states: states == {office: SUSPENDED, gpu: SUSPENDED},
            "every subscription of the confirmed miner to be suspended at the vendor",
        )

        # The miner also stopped paying: dunning makes it delinquent, then it pays in full.
        invoice = await issue_invoice(
            partner, customer.account_id, 80_000, today.date() - timedelta(days=31)
        )
        dunned = await run_dunning(partner, today.date())
        await eventually(
            lambda: items(partner, HOLDS, customer_id=customer.customer_id),
            lambda found: len(holds_by(found, "nonpayment", "active")) == 1,
            "a nonpayment hold for the delinquent miner",
        )
        payment = await record_payment(partner, invoice, "posted")
        holds = await eventually(
            lambda: items(partner, HOLDS, customer_id=customer.customer_id),
            lambda found: len(holds_by(found, "nonpayment", "released")) == 1,
            "the nonpayment hold to be released once the payment posted",
        )
        # The release and what the holds want now are one transaction: this is final.
        after_payment = await subscription_states(partner, outside, customer)
        account = await get(partner, f"/v1/billing/accounts/{customer.account_id}")

        # Only releasing the misuse holds brings the subscriptions back.
        for hold in holds_by(holds, "misuse", "active"):
            released = await partner.post(
                f"{HOLDS}/{hold['id']}/release", json={"note": "customer removed the miners"}
            )
            assert released.status_code == 200, released.text
        reinstated = await eventually(
            lambda: subscription_states(partner, outside, customer),
            lambda states: states == {office: ACTIVE, gpu: ACTIVE},
            "both subscriptions to be reinstated at the vendor",
        )
        entry = await get(partner, f"/v1/enforcement/customers/{customer.customer_id}")
        alert_now = await get(partner, f"/v1/monitoring/alerts/{alert['id']}")

    assert alert["severity"] == "critical"
    assert alert["subscription_ids"] == [str(gpu)]
    assert pending["rule"] == "critical-crypto-mining"
    assert pending["plan"]["subscription_ids"] == [str(gpu)]
    assert approved.json()["status"] == "approved"
    assert gpu_suspended == {office: ACTIVE, gpu: SUSPENDED}
    assert alert_now["status"] == "resolved"
    assert alert_now["resolution"] == "confirmed"
    assert all_suspended == {office: SUSPENDED, gpu: SUSPENDED}

    # Misuse on the GPU subscription (approved) and on the customer (confirmed).
    misuse = holds_by(holds, "misuse", "active")
    assert sorted((h["target_type"], h["subscription_id"]) for h in misuse) == sorted(
        [("customer", None), ("subscription", str(gpu))]
    )
    # The payment cleared billing and lifted the nonpayment hold, and nothing else.
    assert dunned["accounts_made_delinquent"] == 1
    assert payment["status"] == "posted"
    assert account["delinquent_since"] is None
    assert after_payment == {office: SUSPENDED, gpu: SUSPENDED}
    assert [c.status for c in outside.provider.changes_of(office)] == ["suspended", "active"]
    assert [c.status for c in outside.provider.changes_of(gpu)] == ["suspended", "active"]
    assert reinstated == {office: ACTIVE, gpu: ACTIVE}
    assert entry["active_holds"] == []
