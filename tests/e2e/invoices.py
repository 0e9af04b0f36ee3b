"""Billing as a partner's ERP drives it: invoices, dunning runs, payments."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

TERMS_DAYS = 14


async def issue_invoice(
    client: httpx.AsyncClient, account_id: str, amount: int, due: date
) -> dict[str, Any]:
    """A one-line USD invoice on Net 14 terms, dated so that it falls due on ``due``."""
    response = await client.post(
        "/v1/billing/invoices",
        json={
            "account_id": account_id,
            "currency": "USD",
            "lines": [{"description": "Azure plan", "quantity": "1", "unit_amount": amount}],
            "terms_days": TERMS_DAYS,
            "issued_on": (due - timedelta(days=TERMS_DAYS)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    invoice: dict[str, Any] = response.json()
    assert invoice["due_on"] == due.isoformat(), invoice
    return invoice


async def run_dunning(client: httpx.AsyncClient, as_of: date) -> dict[str, Any]:
    """The partner's dunning run for ``as_of`` (a past day catches up on what was due then)."""
    response = await client.post("/v1/billing/dunning/runs", json={"as_of": as_of.isoformat()})
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


async def record_payment(
    client: httpx.AsyncClient, invoice: dict[str, Any], status: str
) -> dict[str, Any]:
    """The customer's bank transfer of the invoice's total: ``reported`` (the customer says it
    paid) or ``posted`` (the money is in)."""
    response = await client.post(
        "/v1/billing/payments",
        json={
            "account_id": invoice["account_id"],
            "amount": invoice["total"],
            "method": "bank_transfer",
            "reference": invoice["number"],
            "invoice_ids": [invoice["id"]],
            "status": status,
        },
    )
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment
