"""Recover: the vendor's notice of an account compromise, recorded in monitoring, makes
enforcement hold the customer and open a compromise case with the one-time credit's deadline
from the notice's date of the fraud; the case tracks the credit,
whose deadline is day 60 after the first usage date of the fraudulent activity, however late
that activity was discovered, and which can be requested once per customer tenant.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.customers import SUSPENDED, add_subscription, approved_customer, subscription_states
from tests.e2e.platform import Platform
from tests.e2e.views import get, items
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

PARTNER = "recover"
CASES = "/v1/enforcement/cases"


async def date_fraud(partner: httpx.AsyncClient, case_id: str, first_usage: str) -> dict[str, Any]:
    response = await partner.post(
        f"{CASES}/{case_id}/fraud-window", json={"first_fraudulent_usage_on": first_usage}
    )
    assert response.status_code == 200, response.text
    case: dict[str, Any] = response.json()
    return case


async def test_a_compromise_notice_opens_a_case_with_the_credit_deadline(
    platform: Platform,
) -> None:
    outside = platform.outside
    today = datetime.now(UTC).date()
    async with platform.client(PARTNER) as partner:
        customer = await approved_customer(partner, outside, "compromised")
        subscription = await add_subscription(partner, outside, customer, "Azure plan")

        received = await partner.post(
            "/v1/monitoring/notifications",
            json={
                "vendor_reference": f"PC-{uuid.uuid4()}",
                "kind": "account_compromise",
                "vendor_tenant_id": str(customer.tenant),
                "subscription_ids": [str(subscription)],
                "summary": "Sign-ins from an anonymising proxy created 40 GPU VMs",
                # As the vendor's notice dates it: the credit's deadline is tomorrow.
                "first_fraudulent_usage_on": (today - timedelta(days=59)).isoformat(),
            },
        )
        assert received.status_code == 201, received.text
        notice = received.json()

        (case,) = await eventually(
            lambda: items(partner, CASES, customer_id=customer.customer_id),
            lambda found: len(found) == 1,
            "enforcement to open a case for the compromised customer",
        )
        held = await eventually(
            lambda: subscription_states(partner, outside, customer),
            lambda states: states == {subscription: SUSPENDED},
            "the compromised customer's subscription to be suspended at the vendor",
        )
        holds = await items(partner, "/v1/enforcement/holds", customer_id=customer.customer_id)

        # The investigation finds earlier fraudulent usage: a date one day too early puts the
        # filing window out of reach, the right one leaves the deadline day, today.
        too_early = await date_fraud(partner, case["id"], (today - timedelta(days=61)).isoformat())
        dated = await date_fraud(partner, case["id"], (today - timedelta(days=60)).isoformat())
        reminded = await eventually(
            lambda: get(partner, f"{CASES}/{case['id']}"),
            lambda got: got["credit"]["reminders_sent"] == [1],
            "the credit clock's last-day reminder",
        )
        requested = await partner.post(
            f"{CASES}/{case['id']}/credit-request",
            json={"subscription_ids": [str(subscription)], "vendor_reference": "CR-1"},
        )
        again = await partner.post(
            f"{CASES}/{case['id']}/credit-request",
            json={"subscription_ids": [str(subscription)]},
        )
        moved = await partner.post(
            f"/v1/monitoring/notifications/{notice['id']}/transitions",
            json={"to": "actioned", "actor": "sam@partner.example", "note": "case opened"},
        )
        alert = await get(partner, f"/v1/monitoring/alerts/{notice['alert_id']}")

    # Monitoring recorded the notice against the customer, with its response clock and alert.
    assert notice["customer_id"] == customer.customer_id
    assert notice["status"] == "received"
    assert alert["kind"] == "vendor_notification"
    assert alert["severity"] == "critical"
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "actioned"

    # Enforcement held the customer at once and opened the case from the notice's event.
    assert [(h["reason"], h["status"]) for h in holds] == [("compromise", "active")]
    assert held == {subscription: SUSPENDED}
    assert case["kind"] == "account_compromise"
    assert case["status"] == "open"
    assert case["verified"] is True
    assert case["vendor_tenant_id"] == str(customer.tenant)
    assert case["source_event_id"] is not None
    # The notice dated the fraud: the case opened with its credit deadline, day 60.
    assert case["credit"]["deadline"] == (today + timedelta(days=1)).isoformat()
    assert case["credit"]["days_left"] == 1
    assert case["credit"]["eligible"] is True

    # Day 61 is late; day 60 is the deadline, and still in time.
    assert too_early["credit"]["deadline"] == (today - timedelta(days=1)).isoformat()
    assert too_early["credit"]["days_left"] == -1
    assert too_early["credit"]["eligible"] is False
    assert "filing_window_closed" in too_early["credit"]["ineligible_reasons"]
    assert dated["credit"]["deadline"] == today.isoformat()
    assert dated["credit"]["days_left"] == 0
    assert dated["credit"]["eligible"] is True
    assert reminded["credit"]["ineligible_reasons"] == []

    # Filed in time, once per customer tenant.
    assert requested.status_code == 201, requested.text
    assert requested.json()["credit"]["requested"] is True
    assert requested.json()["credit"]["request"]["vendor_tenant_id"] == str(customer.tenant)
    assert again.status_code == 409, again.text
