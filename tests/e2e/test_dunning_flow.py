"""Bill and dun: an unpaid invoice ages through every dunning step to a suspension at the
vendor; a payment the customer only reports pauses dunning, and once it posts the customer is
in good standing again and its subscription is reinstated.

Days pass the way the billing API lets a partner make them pass: the invoice is dated in the
past, and dunning is run for the dates it would have run on (catch-up runs).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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
from tests.e2e.views import get, items, registry_entry
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

PARTNER = "dunning"
AMOUNT = 120_000  # minor units of the account's currency (USD)
# The default dunning policy: days after the due date.
SCHEDULE = (
    (1, "reminder"),
    (7, "warning"),
    (14, "final_notice"),
    (30, "suspension_request"),
)
# Past the default termination step (day 60), which a reported payment must hold back.
DAYS_OVERDUE = 61


async def test_an_unpaid_invoice_is_dunned_to_suspension_and_a_posted_payment_reinstates(
    platform: Platform,
) -> None:
    outside = platform.outside
    today = datetime.now(UTC).date()
    due = today - timedelta(days=DAYS_OVERDUE)
    async with platform.client(PARTNER) as partner:
        customer = await approved_customer(partner, outside, "late-payer")
        subscription = await add_subscription(partner, outside, customer, "Microsoft 365 E3")
        # Notices go to the customer's accounts payable address.
        patched = await partner.patch(
            f"/v1/billing/accounts/{customer.account_id}",
            json={"billing_email": customer.applicant.email},
        )
        assert patched.status_code == 200, patched.text
        invoice = await issue_invoice(partner, customer.account_id, AMOUNT, due)

        # Each step on its own day after the due date, each run doing exactly that step.
        runs = [await run_dunning(partner, due + timedelta(days=day)) for day, _ in SCHEDULE]
        delinquent = await get(partner, f"/v1/billing/accounts/{customer.account_id}")
        suspended = await eventually(
            lambda: subscription_states(partner, outside, customer),
            lambda states: states == {subscription: SUSPENDED},
            "the delinquent customer's subscription to be suspended at the vendor",
        )
        hold_entry = await registry_entry(partner, customer.customer_id)

        # The customer says it paid: dunning waits, even though termination is due today.
        reported = await record_payment(partner, invoice, "reported")
        paused = await run_dunning(partner, today)
        while_reported = await subscription_states(partner, outside, customer)

        # The money arrives.
        posted = await partner.post(f"/v1/billing/payments/{reported['id']}/post")
        assert posted.status_code == 200, posted.text
        await eventually(
            lambda: subscription_states(partner, outside, customer),
            lambda states: states == {subscription: ACTIVE},
            "the subscription to be reinstated at the vendor once the payment posted",
        )
        settled = await get(partner, f"/v1/billing/invoices/{invoice['id']}")
        in_good_standing = await get(partner, f"/v1/billing/accounts/{customer.account_id}")
        actions = await items(partner, "/v1/billing/dunning/actions", invoice_id=invoice["id"])
        holds = await items(partner, "/v1/enforcement/holds", customer_id=customer.customer_id)
        notices = await eventually(
            lambda: items(partner, "/v1/billing/dunning/notices", account_id=customer.account_id),
            lambda found: len(found) >= len(SCHEDULE) and all(n["status"] == "sent" for n in found),
            "a sent notice for every dunning step",
        )

    # Billing: one step per run, on its day; delinquent from the due date on.
    assert [run["steps"] for run in runs] == [{step: 1} for _, step in SCHEDULE]
    assert [(a["step"], a["days_overdue"]) for a in actions] == [
        (step, day) for day, step in SCHEDULE
    ]
    assert delinquent["delinquent_since"] == due.isoformat()
    assert runs[-1]["accounts_made_delinquent"] == 1
    # Enforcement: the delinquency became a nonpayment hold, carried out at the vendor.
    assert hold_entry is not None
    assert [h["reason"] for h in hold_entry["active_holds"]] == ["nonpayment"]
    assert suspended == {subscription: SUSPENDED}

    # The reported payment paused dunning: no termination, nothing lifted before it posted.
    assert reported["status"] == "reported"
    assert date.fromisoformat(reported["expected_by"]) > today
    assert paused["steps_executed"] == 0
    assert "termination_request" not in [a["step"] for a in actions]
    assert while_reported == {subscription: SUSPENDED}

    # The posted payment settled the invoice, ended the delinquency and lifted the hold.
    assert posted.json()["status"] == "posted"
    assert settled["status"] == "paid"
    assert settled["balance"] == {"amount": 0, "currency": "USD"}
    assert in_good_standing["delinquent_since"] is None
    assert [(h["reason"], h["status"]) for h in holds] == [("nonpayment", "released")]
    assert [change.status for change in outside.provider.changes_of(subscription)] == [
        "suspended",
        "active",
    ]

    # The customer was told at every step, by e-mail.
    assert [n["step"] for n in notices] == [step for _, step in SCHEDULE]
    subjects = [mail.subject for mail in outside.mail.to(customer.applicant.email)]
    assert sorted(s for s in subjects if s.endswith("USD overdue")) == sorted(
        f"{title}: 1200.00 USD overdue"
        for title in (
            "Payment reminder",
            "Payment overdue",
            "Final notice before suspension",
            "Service suspension for non-payment",
        )
    )
