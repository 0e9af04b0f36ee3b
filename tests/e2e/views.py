"""What a partner reads back through the gateway: small fetchers the flows poll and assert on."""

from __future__ import annotations

from typing import Any

import httpx


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    """The JSON of a GET that must succeed."""
    response = await client.get(path, params={k: v for k, v in params.items() if v is not None})
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
    return response.json()


async def items(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a (short) list, one page of up to 200."""
    page: list[dict[str, Any]] = (await get(client, path, limit=200, **params))["items"]
    return page


async def found(client: httpx.AsyncClient, path: str) -> dict[str, Any] | None:
    """The object at ``path``, or None while it does not exist (404)."""
    response = await client.get(path)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def billing_account(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any] | None:
    """The customer's billing account, once billing has opened it."""
    accounts = await items(client, "/v1/billing/accounts", customer_id=customer_id)
    assert len(accounts) <= 1, accounts
    return accounts[0] if accounts else None


async def registry_entry(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any] | None:
    """The customer in enforcement's registry (with subscriptions and active holds)."""
    return await found(client, f"/v1/enforcement/customers/{customer_id}")
