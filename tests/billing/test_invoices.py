"""Invoices: issued with priced lines and net terms, listed, credited, voided, written off and
disputed, always in the account's currency and never across partners."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tests.support.billing import RunningBilling

INVOICES = "/v1/billing/invoices"


def today() -> date:
    return datetime.now(UTC).date()


def invoice_body(account_id: str, total: int = 10_000, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "currency": "USD",
        "lines": [{"description": "Azure plan", "quantity": "1", "unit_amount": total}],
        "terms_days": 30,
    }
    body.update(overrides)
    return body


async def issue(
    billing: RunningBilling, partner_id: uuid.UUID, account_id: str, total: int = 10_000, **kw: Any
) -> dict[str, Any]:
    response = await billing.http.post(
        INVOICES, json=invoice_body(account_id, total, **kw), headers=billing.headers(partner_id)
    )
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def get_invoice(
    billing: RunningBilling, partner_id: uuid.UUID, invoice_id: str
) -> dict[str, Any]:
    response = await billing.http.get(
        f"{INVOICES}/{invoice_id}", headers=billing.headers(partner_id)
    )
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


async def listed(billing: RunningBilling, partner_id: uuid.UUID, **params: str) -> list[str]:
    response = await billing.http.get(INVOICES, params=params, headers=billing.headers(partner_id))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_issue_prices_lines_half_up_sets_due_date_and_emits_issued(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    body = invoice_body(
        account["id"],
        number="2026-0001",
        lines=[
            {"description": "Seats", "quantity": "1.5", "unit_amount": 333},  # 499.5 → 500
            {"description": "Storage", "quantity": "0.333333", "unit_amount": 3},  # 0.999999 → 1
            {"description": "Compute", "quantity": "2", "unit_amount": 10_000},
            {"description": "Discount", "quantity": "0.5", "unit_amount": -1},  # -0.5 → -1
        ],
        terms_days=14,
        issued_on="2026-11-20",
        period_start="2026-10-01",
        period_end="2026-10-31",
        memo="October",
    )
    response = await billing.http.post(INVOICES, json=body, headers=billing.headers(partner_id))

    assert response.status_code == 201, response.text
    invoice = response.json()
    assert [line["amount"] for line in invoice["lines"]] == [500, 1, 20_000, -1]
    assert [line["quantity"] for line in invoice["lines"]] == ["1.5", "0.333333", "2", "0.5"]
    assert invoice["total"] == {"amount": 20_500, "currency": "USD"}
    assert invoice["balance"] == {"amount": 20_500, "currency": "USD"}
    assert invoice["status"] == "open"
    assert invoice["issued_on"] == "2026-11-20"
    assert invoice["due_on"] == "2026-12-04"
    assert invoice["written_off"] is None
    assert await get_invoice(billing, partner_id, invoice["id"]) == invoice
    (issued,) = await billing.events(partner_id, "billing.invoice.issued")
    assert issued["subject"] == invoice["id"]
    assert issued["data"] == {
        "invoice_id": invoice["id"],
        "account_id": account["id"],
        "customer_id": account["customer_id"],
        "number": "2026-0001",
        "total": {"amount": 20_500, "currency": "USD"},
        "issued_on": "2026-11-20",
        "due_on": "2026-12-04",
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
    }
    assert await billing.events(partner_id, "billing.invoice.settled") == []


async def test_issue_defaults_to_today_and_generates_a_unique_number(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    first = await issue(billing, partner_id, account["id"], terms_days=0)
    second = await issue(billing, partner_id, account["id"])

    assert first["issued_on"] == today().isoformat()
    assert first["due_on"] == today().isoformat()
    assert second["due_on"] == (today() + timedelta(days=30)).isoformat()
    assert first["number"].startswith("INV-")
    assert first["number"] != second["number"]


async def test_invoice_in_another_currency_is_refused_and_nothing_is_stored(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    response = await billing.http.post(
        INVOICES,
        json=invoice_body(account["id"], currency="EUR"),
        headers=billing.headers(partner_id),
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "currency" in response.json()["detail"]
    assert await listed(billing, partner_id) == []
    assert await billing.events(partner_id, "billing.invoice.issued") == []


async def test_bad_invoice_input_is_problem_json_and_changes_nothing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    line = {"description": "x", "quantity": "1", "unit_amount": 100}
    bad: list[dict[str, Any]] = [
        invoice_body(account["id"], lines=[{**line, "unit_amount": 1.5}]),
        invoice_body(account["id"], lines=[{**line, "unit_amount": 100.0}]),
        invoice_body(account["id"], lines=[{**line, "unit_amount": "100"}]),
        invoice_body(account["id"], lines=[{**line, "quantity": 1.5}]),
        invoice_body(account["id"], lines=[{**line, "quantity": "1.1234567"}]),
        invoice_body(account["id"], lines=[{**line, "quantity": "0"}]),
        invoice_body(account["id"], lines=[{**line, "quantity": "-1"}]),
        invoice_body(account["id"], lines=[{**line, "quantity": "1e3"}]),
        invoice_body(account["id"], lines=[{**line, "description": " "}]),
        invoice_body(account["id"], lines=[{**line, "colour": "red"}]),
        invoice_body(account["id"], lines=[]),
        invoice_body(account["id"], lines=[line] * 501),
        invoice_body(account["id"], lines=[{**line, "unit_amount": -100}]),  # total ≤ 0
        invoice_body(account["id"], lines=[{**line, "unit_amount": 10**15}, line]),  # too big
        invoice_body(account["id"], terms_days=366),
        invoice_body(account["id"], terms_days=-1),
        invoice_body(account["id"], terms_days="30"),
        invoice_body(account["id"], currency="usd"),
        invoice_body(account["id"], currency="XYZ"),
        invoice_body(account["id"], number=" padded"),
        invoice_body(account["id"], number="x" * 65),
        invoice_body(account["id"], period_start="2026-10-31", period_end="2026-10-01"),
        invoice_body(account["id"], issued_on="2026-13-01"),
        invoice_body(account["id"], issued_on=(today() + timedelta(days=5)).isoformat()),
        invoice_body(account["id"], extra="field"),
        invoice_body("not-a-uuid"),
    ]
    for body in bad:
        response = await billing.http.post(INVOICES, json=body, headers=billing.headers(partner_id))
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    unknown = await billing.http.post(
        INVOICES, json=invoice_body(str(uuid.uuid4())), headers=billing.headers(partner_id)
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert await listed(billing, partner_id) == []
    assert await billing.events(partner_id, "billing.invoice.issued") == []


async def test_a_number_already_used_is_a_conflict(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    other = await billing.open_account(partner_id)
    await issue(billing, partner_id, account["id"], number="A-1")
    again = await billing.http.post(
        INVOICES, json=invoice_body(other["id"], number="A-1"), headers=billing.headers(partner_id)
    )

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert len(await listed(billing, partner_id)) == 1
    assert len(await billing.events(partner_id, "billing.invoice.issued")) == 1


async def test_numbers_are_per_partner(billing: RunningBilling, partner_id: uuid.UUID) -> None:
    other_partner = uuid.uuid4()
    mine = await billing.open_account(partner_id)
    theirs = await billing.open_account(other_partner)
    await issue(billing, partner_id, mine["id"], number="A-1")
    await issue(billing, other_partner, theirs["id"], number="A-1")


async def test_replaying_an_issue_with_its_key_answers_the_same_and_issues_once(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    headers = billing.headers(partner_id, **{"Idempotency-Key": "inv-1"})
    body = invoice_body(account["id"])
    first = await billing.http.post(INVOICES, json=body, headers=headers)
    again = await billing.http.post(INVOICES, json=body, headers=headers)
    changed = await billing.http.post(INVOICES, json={**body, "terms_days": 7}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert changed.status_code == 422
    assert await listed(billing, partner_id) == [first.json()["id"]]
    assert len(await billing.events(partner_id, "billing.invoice.issued")) == 1


async def test_list_filters_by_account_customer_status_and_overdue_and_pages(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    other = await billing.open_account(partner_id)
    overdue = await issue(billing, partner_id, account["id"], issued_on="2026-01-01", terms_days=10)
    current = await issue(billing, partner_id, account["id"])
    theirs = await issue(billing, partner_id, other["id"], issued_on="2026-01-01", terms_days=0)
    voided = await issue(billing, partner_id, other["id"], issued_on="2026-01-01", terms_days=0)
    response = await billing.http.post(
        f"{INVOICES}/{voided['id']}/void",
        json={"reason": "typo"},
        headers=billing.headers(partner_id),
    )
    assert response.status_code == 200

    assert await listed(billing, partner_id, account_id=account["id"]) == [
        overdue["id"],
        current["id"],
    ]
    assert await listed(billing, partner_id, customer_id=other["customer_id"]) == [
        theirs["id"],
        voided["id"],
    ]
    assert await listed(billing, partner_id, status="void") == [voided["id"]]
    assert await listed(billing, partner_id, overdue_as_of="2026-01-11") == [theirs["id"]]
    assert await listed(billing, partner_id, overdue_as_of="2026-01-12") == [
        overdue["id"],
        theirs["id"],
    ]
    first = await billing.http.get(
        INVOICES, params={"limit": 3}, headers=billing.headers(partner_id)
    )
    page = first.json()
    assert len(page["items"]) == 3
    rest = await billing.http.get(
        INVOICES,
        params={"limit": 3, "cursor": page["next_cursor"]},
        headers=billing.headers(partner_id),
    )
    assert [i["id"] for i in page["items"] + rest.json()["items"]] == [
        overdue["id"],
        current["id"],
        theirs["id"],
        voided["id"],
    ]
    assert rest.json().get("next_cursor") is None
    bad = await billing.http.get(
        INVOICES, params={"status": "lost"}, headers=billing.headers(partner_id)
    )
    assert bad.status_code == 422


async def test_credit_note_reduces_the_balance_and_a_full_credit_settles_it_paid(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 10_000)
    url = f"{INVOICES}/{invoice['id']}/credit-notes"
    first = await billing.http.post(
        url, json={"amount": 4_000, "reason": "SLA credit"}, headers=billing.headers(partner_id)
    )
    assert first.status_code == 201, first.text
    assert first.json()["amount"] == {"amount": 4_000, "currency": "USD"}
    partly = await get_invoice(billing, partner_id, invoice["id"])
    assert partly["status"] == "open"
    assert partly["balance"]["amount"] == 6_000
    assert partly["credited"]["amount"] == 4_000

    rest = await billing.http.post(
        url, json={"amount": 6_000, "reason": "goodwill"}, headers=billing.headers(partner_id)
    )
    assert rest.status_code == 201
    settled = await get_invoice(billing, partner_id, invoice["id"])
    assert settled["status"] == "paid"
    assert settled["balance"]["amount"] == 0
    assert settled["settled_at"] is not None
    assert [n["reason"] for n in settled["credit_notes"]] == ["SLA credit", "goodwill"]
    notes = await billing.events(partner_id, "billing.credit_note.issued")
    assert [(n["data"]["amount"]["amount"], n["data"]["reason"]) for n in notes] == [
        (4_000, "SLA credit"),
        (6_000, "goodwill"),
    ]
    (settled_event,) = await billing.events(partner_id, "billing.invoice.settled")
    assert settled_event["data"]["status"] == "paid"
    assert settled_event["data"]["credited"] == {"amount": 10_000, "currency": "USD"}
    more = await billing.http.post(
        url, json={"amount": 1, "reason": "again"}, headers=billing.headers(partner_id)
    )
    assert more.status_code == 409


async def test_bad_credit_notes_are_refused_and_change_nothing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], 10_000)
    url = f"{INVOICES}/{invoice['id']}/credit-notes"
    for body in [
        {"amount": 10_001, "reason": "too much"},
        {"amount": 0, "reason": "nothing"},
        {"amount": -5, "reason": "negative"},
        {"amount": 10.5, "reason": "float"},
        {"amount": "100", "reason": "string"},
        {"amount": 100, "reason": ""},
        {"amount": 100},
        {"amount": 100, "reason": "x", "extra": 1},
    ]:
        response = await billing.http.post(url, json=body, headers=billing.headers(partner_id))
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    after = await get_invoice(billing, partner_id, invoice["id"])
    assert after["credited"]["amount"] == 0
    assert after["credit_notes"] == []
    assert await billing.events(partner_id, "billing.credit_note.issued") == []


async def test_void_cancels_an_unpaid_invoice_and_refuses_a_paid_one(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    unpaid = await issue(billing, partner_id, account["id"], 10_000)
    paid_some = await issue(billing, partner_id, account["id"], 10_000, terms_days=60)
    payment = await billing.http.post(
        "/v1/billing/payments",
        json={
            "account_id": account["id"],
            "amount": {"amount": 12_000, "currency": "USD"},
            "method": "bank_transfer",
            "status": "posted",
        },
        headers=billing.headers(partner_id),
    )
    assert payment.status_code == 201, payment.text
    # The payment paid `unpaid` in full (oldest due first) and 2,000 of `paid_some`.
    refused = await billing.http.post(
        f"{INVOICES}/{paid_some['id']}/void",
        json={"reason": "wrong customer"},
        headers=billing.headers(partner_id),
    )
    assert refused.status_code == 409
    assert (await get_invoice(billing, partner_id, paid_some["id"]))["status"] == "partially_paid"

    fresh = await issue(billing, partner_id, account["id"], 5_000)
    voided = await billing.http.post(
        f"{INVOICES}/{fresh['id']}/void",
        json={"reason": "issued twice"},
        headers=billing.headers(partner_id),
    )
    assert voided.status_code == 200, voided.text
    body = voided.json()
    assert body["status"] == "void"
    assert body["balance"]["amount"] == 0
    assert body["written_off"]["amount"] == 5_000
    assert body["settled_reason"] == "issued twice"
    settled = await billing.events(partner_id, "billing.invoice.settled")
    assert [(e["data"]["invoice_id"], e["data"]["status"]) for e in settled] == [
        (unpaid["id"], "paid"),
        (fresh["id"], "void"),
    ]
    for action, json in [
        ("void", {"reason": "again"}),
        ("write-off", {"reason": "again"}),
        ("credit-notes", {"amount": 1, "reason": "again"}),
        ("dispute", {"reason": "again"}),
    ]:
        response = await billing.http.post(
            f"{INVOICES}/{fresh['id']}/{action}", json=json, headers=billing.headers(partner_id)
        )
        assert response.status_code == 409, action


async def test_write_off_makes_the_balance_uncollectible_and_closes_it(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, credit_limit=50_000)
    invoice = await issue(billing, partner_id, account["id"], 8_000)
    response = await billing.http.post(
        f"{INVOICES}/{invoice['id']}/write-off",
        json={"reason": "customer insolvent"},
        headers=billing.headers(partner_id),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "uncollectible"
    assert body["balance"]["amount"] == 0
    assert body["written_off"]["amount"] == 8_000
    (settled,) = await billing.events(partner_id, "billing.invoice.settled")
    assert settled["data"]["status"] == "uncollectible"
    assert settled["data"]["paid"]["amount"] == 0
    again = await billing.http.post(
        f"{INVOICES}/{invoice['id']}/write-off",
        json={"reason": "again"},
        headers=billing.headers(partner_id),
    )
    assert again.status_code == 409
    assert await listed(billing, partner_id, overdue_as_of="2100-01-01") == []


async def test_write_off_brings_a_delinquent_account_back_to_good_standing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"], issued_on="2026-01-01", terms_days=0)
    async with billing.db.sweep_session() as session:
        await session.execute(
            text("UPDATE accounts SET delinquent_since = '2026-01-01' WHERE id = :id"),
            {"id": account["id"]},
        )
    response = await billing.http.post(
        f"{INVOICES}/{invoice['id']}/write-off",
        json={"reason": "bankrupt"},
        headers=billing.headers(partner_id),
    )
    assert response.status_code == 200

    (restored,) = await billing.events(partner_id, "billing.customer.in_good_standing")
    assert restored["data"]["account_id"] == account["id"]
    assert restored["data"]["last_payment_id"] is None
    got = await billing.http.get(
        f"/v1/billing/accounts/{account['id']}", headers=billing.headers(partner_id)
    )
    assert got.json()["delinquent_since"] is None


async def test_dispute_marks_the_invoice_until_resolved(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"])
    url = f"{INVOICES}/{invoice['id']}/dispute"
    disputed = await billing.http.post(
        url, json={"reason": "never ordered"}, headers=billing.headers(partner_id)
    )
    assert disputed.status_code == 200, disputed.text
    assert disputed.json()["disputed_at"] is not None
    assert disputed.json()["dispute_reason"] == "never ordered"
    twice = await billing.http.post(url, json={"reason": "x"}, headers=billing.headers(partner_id))
    assert twice.status_code == 409
    empty = await billing.http.post(url, json={"reason": ""}, headers=billing.headers(partner_id))
    assert empty.status_code == 422

    resolved = await billing.http.post(f"{url}/resolve", headers=billing.headers(partner_id))
    assert resolved.status_code == 200
    assert resolved.json()["disputed_at"] is None
    assert resolved.json()["dispute_reason"] is None
    again = await billing.http.post(f"{url}/resolve", headers=billing.headers(partner_id))
    assert again.status_code == 409


async def test_issuing_past_the_credit_limit_raises_the_exposure_event(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id, credit_limit=10_000)
    await issue(billing, partner_id, account["id"], 10_000)
    assert await billing.events(partner_id, "billing.exposure.limit_exceeded") == []
    await issue(billing, partner_id, account["id"], 1)

    (exceeded,) = await billing.events(partner_id, "billing.exposure.limit_exceeded")
    assert exceeded["data"]["exposure"] == {"amount": 10_001, "currency": "USD"}


async def test_another_partners_invoice_is_not_found_on_every_route_and_not_listed(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"])
    intruder = billing.headers(uuid.uuid4())
    base = f"{INVOICES}/{invoice['id']}"
    assert (await billing.http.get(base, headers=intruder)).status_code == 404
    for path, json in [
        ("/credit-notes", {"amount": 1, "reason": "x"}),
        ("/void", {"reason": "x"}),
        ("/write-off", {"reason": "x"}),
        ("/dispute", {"reason": "x"}),
        ("/dispute/resolve", None),
    ]:
        response = await billing.http.post(base + path, json=json, headers=intruder)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    issued_elsewhere = await billing.http.post(
        INVOICES, json=invoice_body(account["id"]), headers=intruder
    )
    assert issued_elsewhere.status_code == 404
    listed_elsewhere = await billing.http.get(
        INVOICES, params={"account_id": account["id"]}, headers=intruder
    )
    assert listed_elsewhere.json()["items"] == []
    assert (await get_invoice(billing, partner_id, invoice["id"]))["status"] == "open"


async def test_reading_needs_read_scope_and_changing_needs_write_scope(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    invoice = await issue(billing, partner_id, account["id"])
    reader = billing.headers(partner_id, scopes=["billing:read"])
    writer = billing.headers(partner_id, scopes=["billing:write"])
    base = f"{INVOICES}/{invoice['id']}"

    assert (await billing.http.get(base, headers=writer)).status_code == 403
    assert (await billing.http.get(INVOICES, headers=writer)).status_code == 403
    assert (await billing.http.get(base, headers=reader)).status_code == 200
    denied = await billing.http.post(INVOICES, json=invoice_body(account["id"]), headers=reader)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    for path, json in [
        ("/credit-notes", {"amount": 1, "reason": "x"}),
        ("/void", {"reason": "x"}),
        ("/write-off", {"reason": "x"}),
        ("/dispute", {"reason": "x"}),
        ("/dispute/resolve", None),
    ]:
        response = await billing.http.post(base + path, json=json, headers=reader)
        assert response.status_code == 403, path
    assert len(await listed(billing, partner_id)) == 1
