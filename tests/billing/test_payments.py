"""Payments: reported then posted, applied oldest invoice first with the rest kept as credit,
reversed or charged back (reopening what they paid), and safe under concurrent posting."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text

from partnerguard.billing.models import Instrument
from partnerguard.billing.payments import endpoints as payment_endpoints
from partnerguard.billing.payments.business_days import add_business_days
from partnerguard.billing.settings import BillingSettings
from partnerguard.common.db.engine import Database
from tests.support.billing import RunningBilling, running_billing
from tests.support.jwks import Issuer

PAYMENTS = "/v1/billing/payments"
INVOICES = "/v1/billing/invoices"


async def issue(
    billing: RunningBilling, partner_id: uuid.UUID, account_id: str, total: int, **kw: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "currency": "USD",
        "lines": [{"description": "Azure plan", "quantity": "1", "unit_amount": total}],
        "terms_days": 30,
        **kw,
    }
    response = await billing.http.post(INVOICES, json=body, headers=billing.headers(partner_id))
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


def payment_body(account_id: str, amount: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "amount": {"amount": amount, "currency": "USD"},
        "method": "bank_transfer",
    }
    body.update(overrides)
    return body


async def pay(
    billing: RunningBilling,
    partner_id: uuid.UUID,
    account_id: str,
    amount: int,
    status: str = "posted",
    **kw: Any,
) -> dict[str, Any]:
    response = await billing.http.post(
        PAYMENTS,
        json=payment_body(account_id, amount, status=status, **kw),
        headers=billing.headers(partner_id),
    )
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def act(
    billing: RunningBilling, partner_id: uuid.UUID, payment_id: str, action: str, **body: Any
) -> dict[str, Any]:
    response = await billing.http.post(
        f"{PAYMENTS}/{payment_id}/{action}",
        json=body or None,
        headers=billing.headers(partner_id),
    )
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


async def get(billing: RunningBilling, partner_id: uuid.UUID, path: str) -> dict[str, Any]:
    response = await billing.http.get(path, headers=billing.headers(partner_id))
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


async def invoice_state(
    billing: RunningBilling, partner_id: uuid.UUID, invoice: dict[str, Any]
) -> tuple[str, int, int]:
    got = await get(billing, partner_id, f"{INVOICES}/{invoice['id']}")
    return got["status"], got["paid"]["amount"], got["balance"]["amount"]


async def credit_balance(billing: RunningBilling, partner_id: uuid.UUID, account_id: str) -> int:
    account = await get(billing, partner_id, f"/v1/billing/accounts/{account_id}")
    amount: int = account["credit_balance"]["amount"]
    return amount


def freeze_now(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    monkeypatch.setattr(payment_endpoints, "_now", lambda: now)


# --- reported payments ---------------------------------------------------------------------------


async def test_a_reported_payment_is_expected_within_five_business_days_and_holds_no_credit(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 10_000)
    payment = await pay(
        billing,
        partner_id,
        account["id"],
        10_000,
        status="reported",
        reference="REM-42",
        invoice_ids=[invoice["id"]],
    )

    today = datetime.now(UTC).date()
    assert payment["status"] == "reported"
    assert payment["expected_by"] == add_business_days(today, 5, "US").isoformat()
    assert payment["allocated"]["amount"] == 0
    assert payment["unallocated"]["amount"] == 0
    assert payment["invoice_ids"] == [invoice["id"]]
    assert await invoice_state(billing, partner_id, invoice) == ("open", 0, 10_000)
    assert await credit_balance(billing, partner_id, account["id"]) == 0
    (reported,) = await billing.events(partner_id, "billing.payment.reported")
    assert reported["data"]["payment_id"] == payment["id"]
    assert reported["data"]["invoice_ids"] == [invoice["id"]]
    assert reported["data"]["reference"] == "REM-42"
    assert reported["data"]["expected_by"] == payment["expected_by"]
    assert await billing.events(partner_id, "billing.payment.posted") == []


async def test_expected_by_skips_the_weekend(
    billing: RunningBilling, partner_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await billing.open_account(partner_id, country="DE")
    # Thursday 2026-11-19: Fri 20, Mon 23, Tue 24, Wed 25, Thu 26.
    freeze_now(monkeypatch, datetime(2026, 11, 19, 15, 0, tzinfo=UTC))
    payment = await pay(billing, partner_id, account["id"], 500, status="reported")

    assert payment["expected_by"] == "2026-11-26"
    assert payment["reported_at"].startswith("2026-11-19T15:00:00")


async def test_expected_by_skips_the_countrys_holidays(
    billing: RunningBilling, partner_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    german = await billing.open_account(partner_id, country="DE")
    american = await billing.open_account(partner_id, country="US")
    # Wednesday before Christmas: Thu 24, (Fri 25, Sat 26 holidays; Sun 27), Mon 28 .. Thu 31.
    freeze_now(monkeypatch, datetime(2026, 12, 23, 9, 0, tzinfo=UTC))
    christmas = await pay(billing, partner_id, german["id"], 500, status="reported")
    # Wednesday before Thanksgiving: (Thu 26 holiday), Fri 27, Mon 30, Tue 1, Wed 2, Thu 3.
    freeze_now(monkeypatch, datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    thanksgiving = await pay(billing, partner_id, american["id"], 500, status="reported")
    # Germany works on Thanksgiving.
    german_thanksgiving = await pay(billing, partner_id, german["id"], 500, status="reported")

    assert christmas["expected_by"] == "2026-12-31"
    assert thanksgiving["expected_by"] == "2026-12-03"
    assert german_thanksgiving["expected_by"] == "2026-12-02"


async def test_the_posting_window_is_configurable(
    billing_db: Database,
    issuer: Issuer,
    bl_settings: BillingSettings,
    partner_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = bl_settings.model_copy(update={"payment_posting_business_days": 2})
    async with running_billing(billing_db, issuer, settings) as billing:
        account = await billing.open_account(partner_id)
        freeze_now(monkeypatch, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))  # a Friday
        payment = await pay(billing, partner_id, account["id"], 500, status="reported")

    assert payment["expected_by"] == "2026-11-24"


async def test_posting_a_reported_payment_applies_it_and_posting_twice_is_a_conflict(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 10_000)
    payment = await pay(billing, partner_id, account["id"], 10_000, status="reported")
    posted = await act(billing, partner_id, payment["id"], "post")

    assert posted["status"] == "posted"
    assert posted["posted_at"] is not None
    assert posted["allocated"]["amount"] == 10_000
    assert [a["invoice_id"] for a in posted["allocations"]] == [invoice["id"]]
    assert await invoice_state(billing, partner_id, invoice) == ("paid", 10_000, 0)
    again = await billing.http.post(
        f"{PAYMENTS}/{payment['id']}/post", headers=billing.headers(partner_id)
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    (event,) = await billing.events(partner_id, "billing.payment.posted")
    assert event["data"]["invoice_ids"] == [invoice["id"]]
    assert len(await billing.events(partner_id, "billing.invoice.settled")) == 1


# --- allocation ------------------------------------------------------------------------------------


async def test_a_posted_payment_pays_the_oldest_invoices_first(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    # Issued out of order: allocation follows due dates, not issue order.
    newest = await issue(billing, partner_id, account["id"], 3_000, terms_days=60)
    oldest = await issue(billing, partner_id, account["id"], 1_000, terms_days=10)
    middle = await issue(billing, partner_id, account["id"], 2_000, terms_days=30)
    payment = await pay(billing, partner_id, account["id"], 4_500, reference="batch")

    assert await invoice_state(billing, partner_id, oldest) == ("paid", 1_000, 0)
    assert await invoice_state(billing, partner_id, middle) == ("paid", 2_000, 0)
    assert await invoice_state(billing, partner_id, newest) == ("partially_paid", 1_500, 1_500)
    assert [(a["invoice_id"], a["amount"]["amount"]) for a in payment["allocations"]] == [
        (oldest["id"], 1_000),
        (middle["id"], 2_000),
        (newest["id"], 1_500),
    ]
    assert payment["allocated"]["amount"] == 4_500
    assert payment["unallocated"]["amount"] == 0
    (posted,) = await billing.events(partner_id, "billing.payment.posted")
    assert posted["data"]["invoice_ids"] == [oldest["id"], middle["id"], newest["id"]]
    assert posted["data"]["amount"] == {"amount": 4_500, "currency": "USD"}
    settled = await billing.events(partner_id, "billing.invoice.settled")
    assert [e["data"]["invoice_id"] for e in settled] == [oldest["id"], middle["id"]]
    assert {e["data"]["status"] for e in settled} == {"paid"}
    assert await credit_balance(billing, partner_id, account["id"]) == 0


async def test_the_payers_invoice_hint_is_kept_but_allocation_stays_oldest_first(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    older = await issue(billing, partner_id, account["id"], 1_000, terms_days=5)
    newer = await issue(billing, partner_id, account["id"], 1_000, terms_days=50)
    payment = await pay(billing, partner_id, account["id"], 1_000, invoice_ids=[newer["id"]])

    assert payment["invoice_ids"] == [newer["id"]]
    assert await invoice_state(billing, partner_id, older) == ("paid", 1_000, 0)
    assert await invoice_state(billing, partner_id, newer) == ("open", 0, 1_000)


async def test_a_partial_payment_leaves_the_invoice_partially_paid(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 10_000)
    await pay(billing, partner_id, account["id"], 2_500)

    assert await invoice_state(billing, partner_id, invoice) == ("partially_paid", 2_500, 7_500)
    assert await billing.events(partner_id, "billing.invoice.settled") == []
    await pay(billing, partner_id, account["id"], 7_500)
    assert await invoice_state(billing, partner_id, invoice) == ("paid", 10_000, 0)
    (settled,) = await billing.events(partner_id, "billing.invoice.settled")
    assert settled["data"]["paid"] == {"amount": 10_000, "currency": "USD"}


async def test_an_overpayment_is_credit_balance_applied_to_the_next_invoice(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    first = await issue(billing, partner_id, account["id"], 6_000)
    payment = await pay(billing, partner_id, account["id"], 10_000)

    assert payment["allocated"]["amount"] == 6_000
    assert payment["unallocated"]["amount"] == 4_000
    assert await credit_balance(billing, partner_id, account["id"]) == 4_000
    assert await invoice_state(billing, partner_id, first) == ("paid", 6_000, 0)

    covered = await issue(billing, partner_id, account["id"], 3_000)
    assert covered["status"] == "paid"
    assert [(a["payment_id"], a["amount"]["amount"]) for a in covered["allocations"]] == [
        (payment["id"], 3_000)
    ]
    assert await credit_balance(billing, partner_id, account["id"]) == 1_000
    partly = await issue(billing, partner_id, account["id"], 2_500)
    assert partly["status"] == "partially_paid"
    assert partly["balance"]["amount"] == 1_500
    assert await credit_balance(billing, partner_id, account["id"]) == 0
    settled = await billing.events(partner_id, "billing.invoice.settled")
    assert [e["data"]["invoice_id"] for e in settled] == [first["id"], covered["id"]]
    got = await get(billing, partner_id, f"{PAYMENTS}/{payment['id']}")
    assert got["allocated"]["amount"] == 10_000
    assert got["unallocated"]["amount"] == 0


async def test_credit_from_several_payments_is_spent_oldest_payment_first(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    early = await pay(billing, partner_id, account["id"], 1_000)
    late = await pay(billing, partner_id, account["id"], 1_000)
    invoice = await issue(billing, partner_id, account["id"], 1_500)

    assert [(a["payment_id"], a["amount"]["amount"]) for a in invoice["allocations"]] == [
        (early["id"], 1_000),
        (late["id"], 500),
    ]
    assert invoice["status"] == "paid"


# --- reversals -----------------------------------------------------------------------------------


async def test_a_reversal_reopens_the_invoices_the_payment_paid(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    first = await issue(billing, partner_id, account["id"], 1_000, terms_days=10)
    second = await issue(billing, partner_id, account["id"], 2_000, terms_days=20)
    third = await issue(billing, partner_id, account["id"], 3_000, terms_days=30)
    payment = await pay(billing, partner_id, account["id"], 4_000)
    reversed_ = await act(
        billing, partner_id, payment["id"], "reverse", reason="reversal", detail="R01 insufficient"
    )

    assert reversed_["status"] == "reversed"
    assert reversed_["reversal_reason"] == "reversal"
    assert reversed_["allocated"]["amount"] == 0
    assert all(a["reversed_at"] is not None for a in reversed_["allocations"])
    assert await invoice_state(billing, partner_id, first) == ("open", 0, 1_000)
    assert await invoice_state(billing, partner_id, second) == ("open", 0, 2_000)
    assert await invoice_state(billing, partner_id, third) == ("open", 0, 3_000)
    assert (await get(billing, partner_id, f"{INVOICES}/{first['id']}"))["settled_at"] is None
    (event,) = await billing.events(partner_id, "billing.payment.reversed")
    assert event["data"]["reason"] == "reversal"
    assert event["data"]["detail"] == "R01 insufficient"
    assert event["data"]["amount"] == {"amount": 4_000, "currency": "USD"}
    reopened = await billing.events(partner_id, "billing.invoice.reopened")
    assert [(e["data"]["invoice_id"], e["data"]["balance"]["amount"]) for e in reopened] == [
        (first["id"], 1_000),
        (second["id"], 2_000),
    ]
    assert {e["data"]["payment_id"] for e in reopened} == {payment["id"]}
    again = await billing.http.post(
        f"{PAYMENTS}/{payment['id']}/reverse",
        json={"reason": "reversal"},
        headers=billing.headers(partner_id),
    )
    assert again.status_code == 409
    repost = await billing.http.post(
        f"{PAYMENTS}/{payment['id']}/post", headers=billing.headers(partner_id)
    )
    assert repost.status_code == 409


async def test_a_chargeback_is_announced_with_its_reason(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 5_000)
    payment = await pay(billing, partner_id, account["id"], 5_000, method="card")
    await act(billing, partner_id, payment["id"], "reverse", reason="chargeback", detail="4837")

    (event,) = await billing.events(partner_id, "billing.payment.reversed")
    assert event["type"] == "billing.payment.reversed"
    assert event["data"]["reason"] == "chargeback"
    assert event["data"]["detail"] == "4837"
    assert event["data"]["payment_id"] == payment["id"]
    assert event["data"]["customer_id"] == account["customer_id"]
    assert await invoice_state(billing, partner_id, invoice) == ("open", 0, 5_000)
    (reopened,) = await billing.events(partner_id, "billing.invoice.reopened")
    assert reopened["data"]["invoice_id"] == invoice["id"]


async def test_a_reversal_also_takes_back_credit_applied_to_invoices_issued_later(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    before = await issue(billing, partner_id, account["id"], 1_000)
    payment = await pay(billing, partner_id, account["id"], 3_000)
    after = await issue(billing, partner_id, account["id"], 1_500)  # covered by the credit
    assert after["status"] == "paid"
    partly = await issue(billing, partner_id, account["id"], 1_000, terms_days=40)
    assert partly["status"] == "partially_paid"

    await act(billing, partner_id, payment["id"], "reverse", reason="chargeback")

    assert await invoice_state(billing, partner_id, before) == ("open", 0, 1_000)
    assert await invoice_state(billing, partner_id, after) == ("open", 0, 1_500)
    assert await invoice_state(billing, partner_id, partly) == ("open", 0, 1_000)
    assert await credit_balance(billing, partner_id, account["id"]) == 0
    reopened = await billing.events(partner_id, "billing.invoice.reopened")
    assert {e["data"]["invoice_id"] for e in reopened} == {before["id"], after["id"]}


async def test_after_a_reversal_other_credit_covers_the_reopened_invoices(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 1_000)
    bounced = await pay(billing, partner_id, account["id"], 1_000)
    spare = await pay(billing, partner_id, account["id"], 600)  # all credit
    await act(billing, partner_id, bounced["id"], "reverse", reason="reversal")

    assert await invoice_state(billing, partner_id, invoice) == ("partially_paid", 600, 400)
    assert await credit_balance(billing, partner_id, account["id"]) == 0
    got = await get(billing, partner_id, f"{PAYMENTS}/{spare['id']}")
    assert got["allocated"]["amount"] == 600


async def test_a_reported_payment_that_never_arrives_is_reversed_so_dunning_resumes(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 1_000)
    payment = await pay(billing, partner_id, account["id"], 1_000, status="reported")
    chargeback = await billing.http.post(
        f"{PAYMENTS}/{payment['id']}/reverse",
        json={"reason": "chargeback"},
        headers=billing.headers(partner_id),
    )
    assert chargeback.status_code == 409
    reversed_ = await act(
        billing, partner_id, payment["id"], "reverse", reason="reversal", detail="never arrived"
    )

    assert reversed_["status"] == "reversed"
    assert reversed_["allocations"] == []
    assert await invoice_state(billing, partner_id, invoice) == ("open", 0, 1_000)
    (event,) = await billing.events(partner_id, "billing.payment.reversed")
    assert event["data"]["reason"] == "reversal"
    assert await billing.events(partner_id, "billing.invoice.reopened") == []
    listed = await get(billing, partner_id, f"{PAYMENTS}?status=reported")
    assert listed["items"] == []


async def test_reversing_a_payment_to_a_written_off_invoice_keeps_it_closed(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 1_000)
    payment = await pay(billing, partner_id, account["id"], 400)
    response = await billing.http.post(
        f"{INVOICES}/{invoice['id']}/write-off",
        json={"reason": "gone"},
        headers=billing.headers(partner_id),
    )
    assert response.status_code == 200
    await act(billing, partner_id, payment["id"], "reverse", reason="reversal")

    got = await get(billing, partner_id, f"{INVOICES}/{invoice['id']}")
    assert got["status"] == "uncollectible"
    assert got["paid"]["amount"] == 0
    assert got["written_off"]["amount"] == 1_000
    assert await billing.events(partner_id, "billing.invoice.reopened") == []


# --- the gate and standing -------------------------------------------------------------------------


async def test_a_posted_prepayment_clears_an_account_with_an_accepted_instrument(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(
        partner_id, prepayment_required=True, prepayment_amount=5_000
    )
    async with billing.db.sweep_session() as session:
        session.add(
            Instrument(
                partner_id=partner_id,
                account_id=uuid.UUID(account["id"]),
                instrument_class="bank_transfer",
                declared_class="bank_transfer",
                status="accepted",
            )
        )
    await pay(billing, partner_id, account["id"], 3_000)
    assert (await get(billing, partner_id, f"/v1/billing/accounts/{account['id']}"))[
        "status"
    ] == "pending"
    await pay(billing, partner_id, account["id"], 2_000)

    got = await get(billing, partner_id, f"/v1/billing/accounts/{account['id']}")
    assert got["status"] == "cleared"
    assert got["prepayment_received"]["amount"] == 5_000
    assert got["credit_balance"]["amount"] == 5_000
    (cleared,) = await billing.events(partner_id, "billing.account.cleared")
    assert cleared["data"]["prepayment_received"] == {"amount": 5_000, "currency": "USD"}
    assert cleared["data"]["instrument_type"] == "bank_transfer"


async def test_without_an_instrument_a_prepayment_grows_but_the_account_stays_pending(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(
        partner_id, prepayment_required=True, prepayment_amount=5_000
    )
    reported = await pay(billing, partner_id, account["id"], 5_000, status="reported")
    got = await get(billing, partner_id, f"/v1/billing/accounts/{account['id']}")
    assert got["prepayment_received"]["amount"] == 0
    await act(billing, partner_id, reported["id"], "post")

    got = await get(billing, partner_id, f"/v1/billing/accounts/{account['id']}")
    assert got["status"] == "pending"
    assert got["prepayment_received"]["amount"] == 5_000
    assert await billing.events(partner_id, "billing.account.cleared") == []


async def test_a_payment_that_brings_a_delinquent_account_current_restores_good_standing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    overdue = await issue(billing, partner_id, account["id"], 7_000, issued_on="2026-01-05")
    older = await issue(billing, partner_id, account["id"], 3_000, issued_on="2026-01-01")
    async with billing.db.sweep_session() as session:
        await session.execute(
            text("UPDATE accounts SET delinquent_since = :d WHERE id = :id"),
            {"d": date(2026, 1, 31), "id": account["id"]},
        )
    partial = await pay(billing, partner_id, account["id"], 5_000)
    assert await billing.events(partner_id, "billing.customer.in_good_standing") == []
    assert await invoice_state(billing, partner_id, older) == ("paid", 3_000, 0)
    rest = await pay(billing, partner_id, account["id"], 5_000)

    assert partial["id"] != rest["id"]
    assert await invoice_state(billing, partner_id, overdue) == ("paid", 7_000, 0)
    (restored,) = await billing.events(partner_id, "billing.customer.in_good_standing")
    assert restored["data"]["account_id"] == account["id"]
    assert restored["data"]["last_payment_id"] == rest["id"]
    got = await get(billing, partner_id, f"/v1/billing/accounts/{account['id']}")
    assert got["delinquent_since"] is None
    assert got["credit_balance"]["amount"] == 0


# --- idempotency, bad input, isolation ------------------------------------------------------------


async def test_replaying_a_payment_with_its_key_answers_the_same_and_records_once(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 10_000)
    headers = billing.headers(partner_id, **{"Idempotency-Key": "pay-1"})
    body = payment_body(account["id"], 4_000, status="posted")
    first = await billing.http.post(PAYMENTS, json=body, headers=headers)
    again = await billing.http.post(PAYMENTS, json=body, headers=headers)
    changed = await billing.http.post(
        PAYMENTS, json=payment_body(account["id"], 5_000, status="posted"), headers=headers
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert changed.status_code == 422
    listed = await get(billing, partner_id, PAYMENTS)
    assert [p["id"] for p in listed["items"]] == [first.json()["id"]]
    assert await invoice_state(billing, partner_id, invoice) == ("partially_paid", 4_000, 6_000)
    assert len(await billing.events(partner_id, "billing.payment.posted")) == 1


async def test_bad_payment_input_is_problem_json_and_changes_nothing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    other = await billing.open_account(partner_id)
    theirs = await issue(billing, partner_id, other["id"], 1_000)
    a = account["id"]
    bad: list[dict[str, Any]] = [
        payment_body(a, 0),
        payment_body(a, -100),
        {**payment_body(a, 0), "amount": {"amount": 10.5, "currency": "USD"}},
        {**payment_body(a, 0), "amount": {"amount": 100.0, "currency": "USD"}},
        {**payment_body(a, 0), "amount": {"amount": "100", "currency": "USD"}},
        {**payment_body(a, 0), "amount": {"amount": True, "currency": "USD"}},
        {**payment_body(a, 0), "amount": 100},
        {**payment_body(a, 0), "amount": {"amount": 100, "currency": "EUR"}},  # not the account's
        {**payment_body(a, 0), "amount": {"amount": 100, "currency": "XYZ"}},
        {**payment_body(a, 0), "amount": {"amount": 100, "currency": "USD", "fx": 1}},
        payment_body(a, 100, method="gift_card"),
        payment_body(a, 100, status="reversed"),
        payment_body(a, 100, reference="x" * 141),
        payment_body(a, 100, invoice_ids=["nope"]),
        payment_body(a, 100, invoice_ids=[theirs["id"]]),  # another account's invoice
        payment_body(a, 100, invoice_ids=[str(uuid.uuid4())]),
        payment_body(a, 100, invoice_ids=[theirs["id"], theirs["id"]]),
        payment_body(a, 100, extra=True),
        payment_body("not-a-uuid", 100),
    ]
    for body in bad:
        response = await billing.http.post(PAYMENTS, json=body, headers=billing.headers(partner_id))
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    unknown = await billing.http.post(
        PAYMENTS, json=payment_body(str(uuid.uuid4()), 100), headers=billing.headers(partner_id)
    )
    assert unknown.status_code == 404
    assert (await get(billing, partner_id, PAYMENTS))["items"] == []
    assert await credit_balance(billing, partner_id, a) == 0
    assert await billing.events(partner_id, "billing.payment.reported") == []
    assert await billing.events(partner_id, "billing.payment.posted") == []


async def test_bad_reversals_are_refused_and_change_nothing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    payment = await pay(billing, partner_id, account["id"], 1_000)
    url = f"{PAYMENTS}/{payment['id']}/reverse"
    for body in [
        {},
        {"reason": "fraud"},
        {"reason": "reversal", "detail": "x" * 501},
        {"reason": "reversal", "extra": 1},
    ]:
        response = await billing.http.post(url, json=body, headers=billing.headers(partner_id))
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert (await get(billing, partner_id, f"{PAYMENTS}/{payment['id']}"))["status"] == "posted"
    assert await credit_balance(billing, partner_id, account["id"]) == 1_000
    assert await billing.events(partner_id, "billing.payment.reversed") == []


async def test_list_filters_by_account_and_status_and_pages(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    other = await billing.open_account(partner_id)
    posted = await pay(billing, partner_id, account["id"], 100)
    reported = await pay(billing, partner_id, account["id"], 200, status="reported")
    elsewhere = await pay(billing, partner_id, other["id"], 300)

    mine = await get(billing, partner_id, f"{PAYMENTS}?account_id={account['id']}")
    assert [p["id"] for p in mine["items"]] == [posted["id"], reported["id"]]
    by_status = await get(billing, partner_id, f"{PAYMENTS}?status=reported")
    assert [p["id"] for p in by_status["items"]] == [reported["id"]]
    by_customer = await get(billing, partner_id, f"{PAYMENTS}?customer_id={other['customer_id']}")
    assert [p["id"] for p in by_customer["items"]] == [elsewhere["id"]]
    page = await get(billing, partner_id, f"{PAYMENTS}?limit=2")
    rest = await get(billing, partner_id, f"{PAYMENTS}?limit=2&cursor={page['next_cursor']}")
    assert [p["id"] for p in page["items"] + rest["items"]] == [
        posted["id"],
        reported["id"],
        elsewhere["id"],
    ]


async def test_another_partners_payment_is_not_found_on_every_route_and_not_listed(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    payment = await pay(billing, partner_id, account["id"], 1_000, status="reported")
    intruder = billing.headers(uuid.uuid4())
    base = f"{PAYMENTS}/{payment['id']}"

    assert (await billing.http.get(base, headers=intruder)).status_code == 404
    for path, json in [("/post", None), ("/reverse", {"reason": "reversal"})]:
        response = await billing.http.post(base + path, json=json, headers=intruder)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    recorded = await billing.http.post(
        PAYMENTS, json=payment_body(account["id"], 100), headers=intruder
    )
    assert recorded.status_code == 404
    listed = await billing.http.get(
        PAYMENTS, params={"account_id": account["id"]}, headers=intruder
    )
    assert listed.json()["items"] == []
    assert (await get(billing, partner_id, base))["status"] == "reported"


async def test_reading_needs_read_scope_and_recording_needs_write_scope(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    payment = await pay(billing, partner_id, account["id"], 1_000, status="reported")
    reader = billing.headers(partner_id, scopes=["billing:read"])
    writer = billing.headers(partner_id, scopes=["billing:write"])
    base = f"{PAYMENTS}/{payment['id']}"

    assert (await billing.http.get(base, headers=writer)).status_code == 403
    assert (await billing.http.get(PAYMENTS, headers=writer)).status_code == 403
    assert (await billing.http.get(base, headers=reader)).status_code == 200
    for path, json in [
        (PAYMENTS, payment_body(account["id"], 100)),
        (base + "/post", None),
        (base + "/reverse", {"reason": "reversal"}),
    ]:
        response = await billing.http.post(path, json=json, headers=reader)
        assert response.status_code == 403, path
        assert response.headers["content-type"] == "application/problem+json"
    assert (await get(billing, partner_id, base))["status"] == "reported"


# --- concurrency ----------------------------------------------------------------------------------


async def test_concurrent_posts_to_one_account_never_over_allocate(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoices = [
        await issue(billing, partner_id, account["id"], total, terms_days=days)
        for total, days in [(2_500, 10), (4_000, 20), (3_000, 30)]
    ]
    amounts = [1_700, 2_300, 900, 3_100, 1_500, 2_000]  # 11,500 against 9,500 owed
    reported = [
        await pay(billing, partner_id, account["id"], amount, status="reported")
        for amount in amounts
    ]

    responses = await asyncio.gather(
        *(
            billing.http.post(f"{PAYMENTS}/{p['id']}/post", headers=billing.headers(partner_id))
            for p in reported
        )
    )

    assert [r.status_code for r in responses] == [200] * len(amounts)
    states = [await invoice_state(billing, partner_id, invoice) for invoice in invoices]
    assert states == [("paid", 2_500, 0), ("paid", 4_000, 0), ("paid", 3_000, 0)]
    payments = [await get(billing, partner_id, f"{PAYMENTS}/{p['id']}") for p in reported]
    allocated = sum(p["allocated"]["amount"] for p in payments)
    live = [a for p in payments for a in p["allocations"] if a["reversed_at"] is None]
    assert allocated == sum(a["amount"]["amount"] for a in live) == 9_500
    assert all(p["allocated"]["amount"] <= p["amount"]["amount"] for p in payments)
    assert await credit_balance(billing, partner_id, account["id"]) == 2_000
    assert len(await billing.events(partner_id, "billing.invoice.settled")) == 3
    posted = await billing.events(partner_id, "billing.payment.posted")
    assert len(posted) == len(amounts)
