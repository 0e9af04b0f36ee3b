"""Payment instruments over HTTP: classification, refusal, the gate, BIN ranges, isolation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from partnerguard.billing.models import Instrument, Payment
from partnerguard.common.db.engine import Database
from tests.support.billing import RunningBilling, running_billing

CARD_DEFAULTS: dict[str, Any] = {"card_last4": "4242"}


def instruments_url(account_id: str) -> str:
    return f"/v1/billing/accounts/{account_id}/instruments"


async def register(
    billing: RunningBilling, partner_id: uuid.UUID, account_id: str, **body: Any
) -> httpx.Response:
    if body.get("type", "").endswith("_card"):
        body = {**CARD_DEFAULTS, **body}
    return await billing.http.post(
        instruments_url(account_id), json=body, headers=billing.headers(partner_id)
    )


async def registered(
    billing: RunningBilling, partner_id: uuid.UUID, account_id: str, **body: Any
) -> dict[str, Any]:
    response = await register(billing, partner_id, account_id, **body)
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def account_status(billing: RunningBilling, partner_id: uuid.UUID, account_id: str) -> str:
    got = await billing.http.get(
        f"/v1/billing/accounts/{account_id}", headers=billing.headers(partner_id)
    )
    status: str = got.json()["status"]
    return status


async def stored_instruments(db: Database, partner_id: uuid.UUID) -> list[Instrument]:
    async with db.sweep_session() as session:
        rows = await session.execute(select(Instrument).where(Instrument.partner_id == partner_id))
        return list(rows.scalars())


async def post_payment(
    db: Database, account: dict[str, Any], partner_id: uuid.UUID, amount: int
) -> None:
    """A posted, unallocated payment (the prepayment), written as the payments module would."""
    async with db.sweep_session() as session:
        session.add(
            Payment(
                partner_id=partner_id,
                account_id=uuid.UUID(account["id"]),
                customer_id=uuid.UUID(account["customer_id"]),
                amount=amount,
                currency=account["currency"],
                method="bank_transfer",
                invoice_hints=[],
                status="posted",
                posted_at=datetime.now(UTC),
                allocated=0,
                recorded_by="test",
            )
        )


# An unlisted BIN: the declared type stands.
UNLISTED = "123456"


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"type": "credit_card", "card_bin": UNLISTED}, "accepted", None),
        ({"type": "debit_card", "card_bin": UNLISTED}, "accepted", None),
        ({"type": "prepaid_card", "card_bin": UNLISTED}, "rejected", "prepaid_card"),
        ({"type": "stored_value"}, "rejected", "stored_value"),
        ({"type": "bank_debit", "iban_last4": "3000", "country": "DE"}, "accepted", None),
        ({"type": "bank_transfer"}, "accepted", None),
        ({"type": "invoice_terms"}, "accepted", None),
    ],
)
async def test_each_class_is_judged_by_the_default_policy(
    billing: RunningBilling,
    partner_id: uuid.UUID,
    body: dict[str, Any],
    status: str,
    reason: str | None,
) -> None:
    account = await billing.open_account(partner_id)
    instrument = await registered(billing, partner_id, account["id"], **body)

    assert instrument["status"] == status
    assert instrument["type"] == body["type"]
    assert instrument["declared_type"] == body["type"]
    assert instrument["rejection_reason"] == reason
    assert instrument["customer_id"] == account["customer_id"]
    rejected = await billing.events(partner_id, "billing.instrument.rejected")
    assert len(rejected) == (1 if reason else 0)
    if reason:
        assert rejected[0]["data"]["reason"] == reason
        assert rejected[0]["data"]["account_id"] == account["id"]
        assert rejected[0]["data"]["detail"] == instrument["rejection_detail"]


async def test_a_credit_card_whose_bin_is_prepaid_is_rejected_as_prepaid_without_card_data_in_the_event(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    # 510510 is a prepaid range of the built-in sample table.
    instrument = await registered(
        billing, partner_id, account["id"], type="credit_card", card_bin="51051051",
        card_last4="5100", holder_name="Pat Doe",
    )  # fmt: skip

    assert instrument["status"] == "rejected"
    assert instrument["type"] == "prepaid_card"
    assert instrument["declared_type"] == "credit_card"
    assert instrument["classified_by"] == "default:510510"
    assert instrument["rejection_reason"] == "prepaid_card"
    assert instrument["card_brand"] == "mastercard"
    (event,) = await billing.events(partner_id, "billing.instrument.rejected")
    assert event["data"]["instrument_type"] == "card"
    assert event["data"]["reason"] == "prepaid_card"
    assert event["customerid"] == account["customer_id"]
    text = json.dumps(event)
    assert "51051051" not in text
    assert "5100" not in text
    assert "Pat Doe" not in text
    got = await billing.http.get(
        f"{instruments_url(account['id'])}/{instrument['id']}", headers=billing.headers(partner_id)
    )
    assert got.json() == instrument
    assert await account_status(billing, partner_id, account["id"]) == "pending"
    assert await billing.events(partner_id, "billing.account.cleared") == []


async def test_a_debit_card_whose_bin_is_credit_is_classified_credit(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    instrument = await registered(
        billing, partner_id, account["id"], type="debit_card", card_bin="424242"
    )
    assert (instrument["type"], instrument["status"]) == ("credit_card", "accepted")
    assert instrument["classified_by"] == "default:424242"


async def add_range(
    billing: RunningBilling, partner_id: uuid.UUID, prefix: str, funding: str, **extra: Any
) -> dict[str, Any]:
    response = await billing.http.post(
        "/v1/billing/bin-ranges",
        json={"prefix": prefix, "funding": funding, **extra},
        headers=billing.headers(partner_id),
    )
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def test_the_longest_matching_prefix_decides_across_partner_and_built_in_ranges(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    await add_range(billing, partner_id, "51051012", "credit")
    await add_range(billing, partner_id, "4", "prepaid")

    specific = await registered(
        billing, partner_id, account["id"], type="credit_card", card_bin="51051012"
    )
    built_in = await registered(
        billing, partner_id, account["id"], type="credit_card", card_bin="51051099"
    )
    broad = await registered(
        billing, partner_id, account["id"], type="credit_card", card_bin="411111"
    )
    longer_default = await registered(
        billing, partner_id, account["id"], type="credit_card", card_bin="424242"
    )

    assert (specific["type"], specific["classified_by"]) == ("credit_card", "partner:51051012")
    assert (built_in["type"], built_in["classified_by"]) == ("prepaid_card", "default:510510")
    assert (broad["type"], broad["classified_by"]) == ("prepaid_card", "partner:4")
    assert (longer_default["type"], longer_default["classified_by"]) == (
        "credit_card",
        "default:424242",
    )


async def test_a_partner_range_on_a_built_in_prefix_overrides_it(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    await add_range(
        billing, partner_id, "510510", "credit", note="Issuer confirmed: corporate credit"
    )

    instrument = await registered(
        billing, partner_id, account["id"], type="credit_card", card_bin="510510"
    )

    assert instrument["status"] == "accepted"
    assert instrument["classified_by"] == "partner:510510"
    other = uuid.uuid4()
    other_account = await billing.open_account(other)
    elsewhere = await registered(
        billing, other, other_account["id"], type="credit_card", card_bin="510510"
    )
    assert elsewhere["status"] == "rejected"


async def test_the_operators_table_overrides_the_built_in_one_and_the_partner_overrides_both(
    billing: RunningBilling, partner_id: uuid.UUID, tmp_path: Path
) -> None:
    table = tmp_path / "bins.csv"
    table.write_text(
        "prefix,funding,brand,country\n510510,credit,mastercard,US\n777777,prepaid,visa,GB\n"
    )
    settings = billing.settings.model_copy(update={"bin_table_path": str(table)})
    async with running_billing(billing.db, billing.issuer, settings) as operated:
        account = await operated.open_account(partner_id)
        was_prepaid = await registered(
            operated, partner_id, account["id"], type="credit_card", card_bin="510510"
        )
        listed = await registered(
            operated, partner_id, account["id"], type="debit_card", card_bin="77777712"
        )
        await add_range(operated, partner_id, "777777", "debit")
        partners = await registered(
            operated, partner_id, account["id"], type="debit_card", card_bin="77777712"
        )

    assert (was_prepaid["status"], was_prepaid["classified_by"]) == ("accepted", "operator:510510")
    assert (listed["status"], listed["type"], listed["country"]) == (
        "rejected",
        "prepaid_card",
        "GB",
    )
    assert (partners["status"], partners["classified_by"]) == ("accepted", "partner:777777")


async def test_an_unusable_operator_table_refuses_registration_and_stores_nothing(
    billing: RunningBilling, partner_id: uuid.UUID, tmp_path: Path
) -> None:
    table = tmp_path / "bins.csv"
    table.write_text("prefix,funding\n510510,credit\n")
    settings = billing.settings.model_copy(update={"bin_table_path": str(table)})
    async with running_billing(billing.db, billing.issuer, settings) as operated:
        account = await operated.open_account(partner_id)
        response = await register(
            operated, partner_id, account["id"], type="credit_card", card_bin="510510"
        )
        bank = await register(operated, partner_id, account["id"], type="bank_transfer")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert bank.status_code == 201  # no card, no table needed
    assert [i.instrument_class for i in await stored_instruments(billing.db, partner_id)] == [
        "bank_transfer"
    ]


async def set_policy(billing: RunningBilling, partner_id: uuid.UUID, **body: Any) -> None:
    response = await billing.http.put(
        "/v1/billing/instrument-policy",
        json={"refused": ["prepaid_card", "stored_value"], **body},
        headers=billing.headers(partner_id),
    )
    assert response.status_code == 200, response.text


async def test_an_exception_allows_prepaid_for_its_customer_only(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    excepted = await billing.open_account(partner_id)
    other = await billing.open_account(partner_id)
    await set_policy(billing, partner_id, exceptions=[
        {"customer_id": excepted["customer_id"], "allow": ["prepaid_card"], "reason": "Vetted"},
    ])  # fmt: skip

    allowed = await registered(
        billing, partner_id, excepted["id"], type="prepaid_card", card_bin=UNLISTED
    )
    refused = await registered(
        billing, partner_id, other["id"], type="prepaid_card", card_bin=UNLISTED
    )
    stored = await registered(billing, partner_id, excepted["id"], type="stored_value")

    assert allowed["status"] == "accepted"
    assert refused["status"] == "rejected"
    assert stored["status"] == "rejected"
    assert await account_status(billing, partner_id, excepted["id"]) == "cleared"


async def test_an_exception_no_longer_applies_after_its_expiry_date(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    expired = await billing.open_account(partner_id)
    last_day = await billing.open_account(partner_id)
    today = datetime.now(UTC).date()
    await set_policy(billing, partner_id, exceptions=[
        {"customer_id": expired["customer_id"], "allow": ["prepaid_card"], "reason": "Trial",
         "expires_on": (today - timedelta(days=1)).isoformat()},
        {"customer_id": last_day["customer_id"], "allow": ["prepaid_card"], "reason": "Trial",
         "expires_on": today.isoformat()},
    ])  # fmt: skip

    after = await registered(
        billing, partner_id, expired["id"], type="prepaid_card", card_bin=UNLISTED
    )
    on = await registered(
        billing, partner_id, last_day["id"], type="prepaid_card", card_bin=UNLISTED
    )

    assert after["status"] == "rejected"
    assert on["status"] == "accepted"


async def test_an_accepted_instrument_clears_an_account_without_prepayment(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    await registered(billing, partner_id, account["id"], type="credit_card", card_bin="424242")

    assert await account_status(billing, partner_id, account["id"]) == "cleared"
    (cleared,) = await billing.events(partner_id, "billing.account.cleared")
    assert cleared["data"]["account_id"] == account["id"]
    assert cleared["data"]["instrument_type"] == "card"
    assert cleared["data"]["prepayment_received"] is None
    # A second instrument does not clear it twice.
    await registered(billing, partner_id, account["id"], type="bank_transfer")
    assert len(await billing.events(partner_id, "billing.account.cleared")) == 1


async def test_an_accepted_instrument_leaves_the_account_pending_until_the_prepayment_posts(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    waiting = await billing.open_account(
        partner_id, prepayment_required=True, prepayment_amount=50_000
    )
    await registered(billing, partner_id, waiting["id"], type="bank_transfer")
    assert await account_status(billing, partner_id, waiting["id"]) == "pending"
    assert await billing.events(partner_id, "billing.account.cleared") == []

    paid = await billing.open_account(
        partner_id, prepayment_required=True, prepayment_amount=50_000
    )
    await post_payment(billing.db, paid, partner_id, 50_000)
    await registered(billing, partner_id, paid["id"], type="invoice_terms")
    assert await account_status(billing, partner_id, paid["id"]) == "cleared"
    (cleared,) = await billing.events(partner_id, "billing.account.cleared")
    assert cleared["data"]["prepayment_received"] == {"amount": 50_000, "currency": "USD"}


async def test_a_card_number_is_refused_and_never_stored_or_logged(
    billing: RunningBilling, partner_id: uuid.UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    account = await billing.open_account(partner_id)
    number = "5105105105105100"
    for body in [
        {"type": "credit_card", "card_bin": "510510", "card_last4": "5100", "card_number": number},
        {"type": "credit_card", "card_bin": number, "card_last4": "5100"},
        {"type": "credit_card", "card_bin": "510510", "card_last4": "5100",
         "holder_name": f"Pat {number}"},
        {"type": "credit_card", "card_bin": "510510", "card_last4": "5100",
         "holder_name": "5105 1051 0510 5100"},
    ]:  # fmt: skip
        response = await billing.http.post(
            instruments_url(account["id"]),
            json=body,
            headers=billing.headers(partner_id, **{"Idempotency-Key": str(uuid.uuid4())}),
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert number not in response.text
        assert "5105 1051" not in response.text
    assert await stored_instruments(billing.db, partner_id) == []
    assert await billing.events(partner_id, "billing.instrument.rejected") == []
    captured = capsys.readouterr()
    assert number not in captured.out + captured.err


async def test_bad_instrument_input_is_problem_json_and_stores_nothing(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    for body in [
        {"type": "cheque"},
        {"type": "credit_card", "card_last4": "4242"},
        {"type": "credit_card", "card_bin": "424242"},
        {"type": "credit_card", "card_bin": "42424", "card_last4": "4242"},
        {"type": "credit_card", "card_bin": "424242424", "card_last4": "4242"},
        {"type": "credit_card", "card_bin": "424242", "card_last4": "42a2"},
        {"type": "credit_card", "card_bin": "424242", "card_last4": "4242", "country": "us"},
        {"type": "credit_card", "card_bin": "424242", "card_last4": "4242", "iban_last4": "1234"},
        {"type": "bank_transfer", "card_bin": "424242", "card_last4": "4242"},
        {"type": "stored_value", "holder_name": "Pat"},
        {"type": "bank_debit", "card_bin": "424242"},
        {"type": "bank_debit", "iban_last4": "12"},
        {},
    ]:
        response = await billing.http.post(
            instruments_url(account["id"]), json=body, headers=billing.headers(partner_id)
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert await stored_instruments(billing.db, partner_id) == []
    assert await billing.events(partner_id, "billing.instrument.rejected") == []
    assert await billing.events(partner_id, "billing.account.cleared") == []


async def test_bank_debit_keeps_its_iban_last4_and_country(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    instrument = await registered(
        billing, partner_id, account["id"], type="bank_debit", iban_last4="3000", country="DE",
        holder_name="Contoso GmbH",
    )  # fmt: skip
    assert instrument["iban_last4"] == "3000"
    assert instrument["card_last4"] is None
    assert (instrument["country"], instrument["holder_name"]) == ("DE", "Contoso GmbH")


async def test_a_retried_registration_with_the_same_key_is_replayed_and_stored_once(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    headers = billing.headers(partner_id, **{"Idempotency-Key": "register-1"})
    body = {"type": "prepaid_card", "card_bin": UNLISTED, "card_last4": "0001"}
    first = await billing.http.post(instruments_url(account["id"]), json=body, headers=headers)
    again = await billing.http.post(instruments_url(account["id"]), json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(await stored_instruments(billing.db, partner_id)) == 1
    assert len(await billing.events(partner_id, "billing.instrument.rejected")) == 1


async def test_instruments_are_listed_per_account_by_status_and_paged(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    other = await billing.open_account(partner_id)
    made = [
        await registered(billing, partner_id, account["id"], type="bank_transfer"),
        await registered(billing, partner_id, account["id"], type="stored_value"),
        await registered(billing, partner_id, account["id"], type="invoice_terms"),
    ]
    await registered(billing, partner_id, other["id"], type="bank_transfer")
    headers = billing.headers(partner_id)
    url = instruments_url(account["id"])

    first = (await billing.http.get(f"{url}?limit=2", headers=headers)).json()
    second = (
        await billing.http.get(f"{url}?limit=2&cursor={first['next_cursor']}", headers=headers)
    ).json()
    rejected = (await billing.http.get(f"{url}?status=rejected", headers=headers)).json()

    assert [i["id"] for i in first["items"] + second["items"]] == [i["id"] for i in made]
    assert second["next_cursor"] is None
    assert [i["id"] for i in rejected["items"]] == [made[1]["id"]]


async def test_removing_an_instrument_keeps_it_as_removed_and_a_rejected_one_cannot_be_removed(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    accepted = await registered(billing, partner_id, account["id"], type="bank_transfer")
    rejected = await registered(billing, partner_id, account["id"], type="stored_value")
    headers = billing.headers(partner_id)
    url = instruments_url(account["id"])

    removed = await billing.http.delete(f"{url}/{accepted['id']}", headers=headers)
    again = await billing.http.delete(f"{url}/{accepted['id']}", headers=headers)
    refused = await billing.http.delete(f"{url}/{rejected['id']}", headers=headers)

    assert removed.status_code == 200
    assert removed.json()["status"] == "removed"
    assert removed.json()["removed_at"] is not None
    assert again.json() == removed.json()
    assert refused.status_code == 409
    got = await billing.http.get(f"{url}/{rejected['id']}", headers=headers)
    assert got.json()["status"] == "rejected"
    # The account stays cleared: removal does not take back the clearance.
    assert await account_status(billing, partner_id, account["id"]) == "cleared"


async def test_another_partners_account_and_instruments_are_not_found(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    instrument = await registered(billing, partner_id, account["id"], type="bank_transfer")
    sibling = await billing.open_account(partner_id)
    other = billing.headers(uuid.uuid4())
    url = instruments_url(account["id"])

    assert (
        await billing.http.post(url, json={"type": "bank_transfer"}, headers=other)
    ).status_code == 404
    assert (await billing.http.get(url, headers=other)).status_code == 404
    assert (await billing.http.get(f"{url}/{instrument['id']}", headers=other)).status_code == 404
    assert (
        await billing.http.delete(f"{url}/{instrument['id']}", headers=other)
    ).status_code == 404
    # Under another account of the same partner it is not found either.
    misplaced = f"{instruments_url(sibling['id'])}/{instrument['id']}"
    assert (
        await billing.http.get(misplaced, headers=billing.headers(partner_id))
    ).status_code == 404
    assert len(await stored_instruments(billing.db, partner_id)) == 1


async def test_registering_needs_write_scope_and_reading_needs_read_scope(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    account = await billing.open_account(partner_id)
    url = instruments_url(account["id"])
    read_only = billing.headers(partner_id, scopes=["billing:read"])
    foreign = billing.headers(partner_id, scopes=["onboarding:write"])

    assert (
        await billing.http.post(url, json={"type": "bank_transfer"}, headers=read_only)
    ).status_code == 403
    assert (await billing.http.get(url, headers=foreign)).status_code == 403
    assert (await billing.http.get(url, headers=read_only)).status_code == 200
    ranges = "/v1/billing/bin-ranges"
    body = {"prefix": "4", "funding": "credit"}
    assert (await billing.http.post(ranges, json=body, headers=read_only)).status_code == 403
    assert (await billing.http.get(ranges, headers=foreign)).status_code == 403
    assert await stored_instruments(billing.db, partner_id) == []


# --- the partner's BIN ranges -------------------------------------------------------------------


async def test_bin_ranges_are_added_listed_and_deleted(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    headers = billing.headers(partner_id)
    first = await add_range(
        billing, partner_id, "510510", "credit", brand="MasterCard", country="US", note="Checked"
    )
    second = await add_range(billing, partner_id, "4", "debit")

    assert (first["brand"], first["country"], first["note"]) == ("mastercard", "US", "Checked")
    listed = (await billing.http.get("/v1/billing/bin-ranges", headers=headers)).json()
    assert [r["id"] for r in listed["items"]] == [first["id"], second["id"]]

    deleted = await billing.http.delete(f"/v1/billing/bin-ranges/{first['id']}", headers=headers)
    assert deleted.status_code == 204
    again = await billing.http.delete(f"/v1/billing/bin-ranges/{first['id']}", headers=headers)
    assert again.status_code == 404
    listed = (await billing.http.get("/v1/billing/bin-ranges", headers=headers)).json()
    assert [r["id"] for r in listed["items"]] == [second["id"]]


async def test_a_duplicate_prefix_is_a_conflict_and_bad_ranges_are_refused(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    headers = billing.headers(partner_id)
    await add_range(billing, partner_id, "510510", "credit")
    duplicate = await billing.http.post(
        "/v1/billing/bin-ranges", json={"prefix": "510510", "funding": "debit"}, headers=headers
    )
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"
    for body in [
        {"prefix": "", "funding": "credit"},
        {"prefix": "123456789", "funding": "credit"},
        {"prefix": "12ab", "funding": "credit"},
        {"prefix": "1234", "funding": "charge"},
        {"prefix": "1234", "funding": "credit", "country": "usa"},
        {"prefix": "1234", "funding": "credit", "note": "card 5105105105105100"},
        {"prefix": "1234"},
    ]:
        response = await billing.http.post("/v1/billing/bin-ranges", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    listed = (await billing.http.get("/v1/billing/bin-ranges", headers=headers)).json()
    assert [(r["prefix"], r["funding"]) for r in listed["items"]] == [("510510", "credit")]


async def test_another_partners_bin_ranges_are_not_listed_and_not_deletable(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    mine = await add_range(billing, partner_id, "510510", "credit")
    other = billing.headers(uuid.uuid4())
    listed = (await billing.http.get("/v1/billing/bin-ranges", headers=other)).json()
    assert listed["items"] == []
    deleted = await billing.http.delete(f"/v1/billing/bin-ranges/{mine['id']}", headers=other)
    assert deleted.status_code == 404
    # The other partner may list the same prefix as its own.
    theirs = await billing.http.post(
        "/v1/billing/bin-ranges", json={"prefix": "510510", "funding": "prepaid"}, headers=other
    )
    assert theirs.status_code == 201
