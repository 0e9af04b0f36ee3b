"""Onboard: onboarding decides every applicant; billing and enforcement set up the approved ones.

A clean company passes its SMS and e-mail codes, identity check and credit report and is
approved at once; a bot's burst of signups from one device is refused; a company whose credit
report fails goes to the review queue, where a person approves it on stricter terms.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.customers import (
    CUSTOMERS,
    accept_collections_policy,
    application,
    confirm_contact,
    new_applicant,
    onboard,
    publish_collections_policy,
    run_checks,
    set_up_downstream,
    submit,
)
from tests.e2e.platform import Platform
from tests.e2e.views import billing_account, get, items, registry_entry

pytestmark = pytest.mark.e2e

PARTNER = "onboarding"
BOT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0.0.0 Safari/537.36"
BURST = 8
# The default risk policy lets 3 other applications share a device within the hour.
DEVICE_ALLOWANCE = 3


async def submit_bot_burst(partner: httpx.AsyncClient) -> list[dict[str, Any]]:
    """A script signing up one company after another from one machine, in seconds each."""
    machine = new_applicant("bot")
    burst = []
    for _ in range(BURST):
        applicant = new_applicant("bot")
        body = application(
            applicant, user_agent=BOT, form_fill_seconds=2.0, device_id=machine.device_id
        )
        body["signup"]["ip"] = machine.ip
        burst.append(await submit(partner, body))
    return burst


async def review_and_approve(partner: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    path = f"{CUSTOMERS}/{customer_id}"
    claimed = await partner.post(f"{path}/claim", json={"reviewer": "rita@partner.example"})
    assert claimed.status_code == 200, claimed.text
    decided = await partner.post(
        f"{path}/decision",
        json={
            "reviewer": "rita@partner.example",
            "decision": "approve",
            "note": "called the CFO; the bureau's file is outdated",
        },
    )
    assert decided.status_code == 200, decided.text
    approved: dict[str, Any] = decided.json()
    return approved


async def test_onboarding_decides_each_applicant_and_sets_up_the_approved(
    platform: Platform,
) -> None:
    outside = platform.outside
    async with platform.client(PARTNER) as partner:
        await publish_collections_policy(partner)

        # A bot's burst: all from one device and address, headless, filled in two seconds.
        burst = await submit_bot_burst(partner)

        # A borderline company: everything checks out except its credit report.
        borderline = new_applicant("borderline")
        outside.credit.decide(borderline.registration_number, "failed")
        waiting = await submit(partner, application(borderline))
        await confirm_contact(partner, outside, waiting, borderline)
        rescored = await run_checks(partner, waiting)
        await accept_collections_policy(partner, waiting)
        queue = await items(partner, "/v1/onboarding/reviews")
        reviewed = await review_and_approve(partner, waiting["customer_id"])

        # A clean company, all the way through.
        clean = new_applicant("clean")
        approved = await onboard(partner, outside, clean)

        clean_account, clean_entry = await set_up_downstream(partner, approved)
        reviewed_account, reviewed_entry = await set_up_downstream(partner, reviewed)
        # Consumers take onboarding's events in order: a burst application approved by mistake
        # would have its account and registry entry by now.
        for refused in burst:
            assert await billing_account(partner, refused["customer_id"]) is None
            assert await registry_entry(partner, refused["customer_id"]) is None
        history = await get(partner, f"{CUSTOMERS}/{reviewed['customer_id']}/history")
        clean_history = await get(partner, f"{CUSTOMERS}/{approved['customer_id']}/history")
        checks = await get(partner, f"{CUSTOMERS}/{approved['customer_id']}/checks")

    # The bot: held for a person while it stays within the device allowance, then refused
    # outright; never approved.
    statuses = [customer["status"] for customer in burst]
    assert statuses == ["in_review"] * (DEVICE_ALLOWANCE + 1) + ["rejected"] * (
        BURST - DEVICE_ALLOWANCE - 1
    )
    for customer in burst:
        codes = {reason["code"] for reason in customer["assessment"]["reasons"]}
        assert {"bot_user_agent", "bot_fast_form"} <= codes, codes
    for customer in burst[DEVICE_ALLOWANCE + 1 :]:
        codes = {reason["code"] for reason in customer["assessment"]["reasons"]}
        assert "velocity_device" in codes, codes
        assert customer["assessment"]["outcome"] == "reject"

    # The borderline company: its failed credit report sent it to review, a person approved it.
    assert rescored["status"] == "in_review"
    assert [r["code"] for r in rescored["assessment"]["reasons"] if r["points"] > 0] == [
        "credit_failed"
    ]
    assert waiting["customer_id"] in [c["customer_id"] for c in queue]
    assert reviewed["status"] == "approved"
    assert reviewed["decided_by"] == "rita@partner.example"
    assert reviewed["assessment"]["risk_tier"] == "high"
    assert [(h["action"], h["to_status"], h["actor"]) for h in history][-2:] == [
        ("claimed", "in_review", "rita@partner.example"),
        ("status_changed", "approved", "rita@partner.example"),
    ]

    # The clean company: approved by the rules, on the best terms, the moment its last
    # requirement (the collections policy) was met.
    assert (clean_history[-1]["to_status"], clean_history[-1]["reason"]) == (
        "approved",
        "collections_policy_accepted",
    )
    assert approved["assessment"]["risk_tier"] == "low"
    assert approved["assessment"]["prepayment_required"] is False
    assert approved["pending_requirements"] == []
    assert {(c["kind"], c["result"]) for c in checks} >= {
        ("identity", "passed"),
        ("credit", "passed"),
    }

    # Billing opened both accounts on the terms of their risk tier ...
    assert clean_account["opened_by"] == "event"
    assert clean_account["risk_tier"] == "low"
    assert clean_account["prepayment_required"] is False
    assert clean_account["credit_limit"] == {"amount": 5_000_000, "currency": "USD"}
    assert clean_account["vendor_tenant_id"] == str(clean.vendor_tenant_id)
    assert reviewed_account["risk_tier"] == "high"
    assert reviewed_account["prepayment_required"] is True
    assert reviewed_account["prepayment"] == {"amount": 250_000, "currency": "USD"}
    assert reviewed_account["status"] == "pending"
    # ... and enforcement registered both, with their vendor tenants, nothing held.
    assert clean_entry["vendor_tenant_id"] == str(clean.vendor_tenant_id)
    assert clean_entry["risk_tier"] == "low"
    assert clean_entry["approved_at"] is not None
    assert clean_entry["active_holds"] == []
    assert reviewed_entry["vendor_tenant_id"] == str(borderline.vendor_tenant_id)
    assert reviewed_entry["risk_tier"] == "high"
