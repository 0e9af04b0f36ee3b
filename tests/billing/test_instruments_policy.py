"""The instrument refusal rule (pure) and the partner's instrument policy over HTTP."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.billing.instruments.policy import (
    DEFAULT_RULES,
    CustomerException,
    InstrumentRules,
    refusal_of,
)
from partnerguard.billing.models import InstrumentClass
from partnerguard.common.events.types.billing import InstrumentRejection
from tests.support.billing import RunningBilling

TODAY = date(2026, 11, 24)
CUSTOMER = uuid.UUID("0190d7e4-0000-7000-8000-000000000001")
OTHER = uuid.UUID("0190d7e4-0000-7000-8000-000000000002")


@pytest.mark.parametrize(
    ("instrument_class", "reason"),
    [
        (InstrumentClass.CREDIT_CARD, None),
        (InstrumentClass.DEBIT_CARD, None),
        (InstrumentClass.PREPAID_CARD, InstrumentRejection.PREPAID_CARD),
        (InstrumentClass.STORED_VALUE, InstrumentRejection.STORED_VALUE),
        (InstrumentClass.BANK_DEBIT, None),
        (InstrumentClass.BANK_TRANSFER, None),
        (InstrumentClass.INVOICE_TERMS, None),
    ],
)
def test_the_default_policy_refuses_prepaid_and_stored_value_only(
    instrument_class: InstrumentClass, reason: InstrumentRejection | None
) -> None:
    refusal = refusal_of(instrument_class, CUSTOMER, DEFAULT_RULES, TODAY)
    assert (refusal.reason if refusal else None) == reason
    if refusal:
        assert refusal.detail


def test_an_exception_allows_its_classes_for_its_customer_only() -> None:
    rules = InstrumentRules(
        exceptions=(
            CustomerException(CUSTOMER, frozenset({InstrumentClass.PREPAID_CARD}), "known"),
        )
    )
    assert refusal_of(InstrumentClass.PREPAID_CARD, CUSTOMER, rules, TODAY) is None
    assert refusal_of(InstrumentClass.STORED_VALUE, CUSTOMER, rules, TODAY) is not None
    assert refusal_of(InstrumentClass.PREPAID_CARD, OTHER, rules, TODAY) is not None


def test_an_exception_holds_through_its_last_day_and_not_after() -> None:
    exception = CustomerException(
        CUSTOMER, frozenset({InstrumentClass.PREPAID_CARD}), "trial", expires_on=TODAY
    )
    rules = InstrumentRules(exceptions=(exception,))
    assert refusal_of(InstrumentClass.PREPAID_CARD, CUSTOMER, rules, TODAY) is None
    later = TODAY + timedelta(days=1)
    assert refusal_of(InstrumentClass.PREPAID_CARD, CUSTOMER, rules, later) is not None


def test_a_partner_refusing_another_class_reports_it_policy_refused_with_the_class_named() -> None:
    rules = InstrumentRules(refused=frozenset({InstrumentClass.BANK_TRANSFER}))
    refusal = refusal_of(InstrumentClass.BANK_TRANSFER, CUSTOMER, rules, TODAY)
    assert refusal is not None
    assert refusal.reason is InstrumentRejection.POLICY_REFUSED
    assert "bank_transfer" in refusal.detail
    assert refusal_of(InstrumentClass.PREPAID_CARD, CUSTOMER, rules, TODAY) is None


class_sets = st.frozensets(st.sampled_from(list(InstrumentClass)))


@given(
    instrument_class=st.sampled_from(list(InstrumentClass)),
    refused=class_sets,
    allowed=class_sets,
    expires_in=st.none() | st.integers(-5, 5),
)
def test_only_refused_classes_are_refused_and_exceptions_touch_only_their_customer(
    instrument_class: InstrumentClass,
    refused: frozenset[InstrumentClass],
    allowed: frozenset[InstrumentClass],
    expires_in: int | None,
) -> None:
    expires_on = None if expires_in is None else TODAY + timedelta(days=expires_in)
    rules = InstrumentRules(
        refused=refused, exceptions=(CustomerException(CUSTOMER, allowed, "r", expires_on),)
    )
    other = refusal_of(instrument_class, OTHER, rules, TODAY)
    assert (other is not None) == (instrument_class in refused)
    mine = refusal_of(instrument_class, CUSTOMER, rules, TODAY)
    in_force = expires_in is None or expires_in >= 0
    excepted = in_force and instrument_class in allowed
    assert (mine is not None) == (instrument_class in refused and not excepted)


# --- over HTTP ----------------------------------------------------------------------------------

URL = "/v1/billing/instrument-policy"


async def test_a_partner_without_a_policy_reads_the_default(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    got = await billing.http.get(URL, headers=billing.headers(partner_id))
    assert got.status_code == 200
    assert got.json() == {
        "refused": ["prepaid_card", "stored_value"],
        "exceptions": [],
        "is_default": True,
        "updated_by": None,
        "updated_at": None,
    }


async def test_a_saved_policy_is_read_back_and_replaced_by_the_next_save(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    headers = billing.headers(partner_id)
    customer = str(uuid.uuid4())
    body = {
        "refused": ["prepaid_card", "stored_value", "bank_transfer"],
        "exceptions": [
            {
                "customer_id": customer,
                "allow": ["prepaid_card"],
                "reason": "Enterprise customer vetted by phone",
                "expires_on": "2027-01-31",
            }
        ],
    }
    saved = await billing.http.put(URL, json=body, headers=headers)
    assert saved.status_code == 200
    assert saved.json()["is_default"] is False
    got = (await billing.http.get(URL, headers=headers)).json()
    assert got["refused"] == ["bank_transfer", "prepaid_card", "stored_value"]
    assert got["exceptions"] == body["exceptions"]
    assert got["updated_by"]

    replaced = await billing.http.put(URL, json={"refused": []}, headers=headers)
    assert replaced.json()["refused"] == []
    assert replaced.json()["exceptions"] == []


async def test_a_bad_policy_is_problem_json_and_keeps_the_policy_in_force(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    headers = billing.headers(partner_id)
    customer = str(uuid.uuid4())
    for body in [
        {"refused": ["cheque"]},
        {"refused": ["prepaid_card"], "exceptions": [{"customer_id": customer, "allow": [],
                                                      "reason": "x"}]},
        {"refused": ["prepaid_card"], "exceptions": [{"customer_id": customer,
                                                      "allow": ["prepaid_card"], "reason": ""}]},
        {"refused": ["prepaid_card"], "exceptions": [{"customer_id": "nope",
                                                      "allow": ["prepaid_card"], "reason": "x"}]},
        {"refused": ["prepaid_card"], "exceptions": [{"customer_id": customer,
                                                      "allow": ["prepaid_card"], "reason": "x",
                                                      "expires_on": "31/01/2027"}]},
        {"refused": ["prepaid_card"], "unknown": True},
        {},
    ]:  # fmt: skip
        response = await billing.http.put(URL, json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    got = await billing.http.get(URL, headers=headers)
    assert got.json()["is_default"] is True


async def test_a_policy_belongs_to_its_partner_and_needs_the_scopes(
    billing: RunningBilling, partner_id: uuid.UUID
) -> None:
    saved = await billing.http.put(URL, json={"refused": []}, headers=billing.headers(partner_id))
    assert saved.status_code == 200
    other = await billing.http.get(URL, headers=billing.headers(uuid.uuid4()))
    assert other.json()["is_default"] is True

    read_only = billing.headers(partner_id, scopes=["billing:read"])
    assert (await billing.http.put(URL, json={"refused": []}, headers=read_only)).status_code == 403
    foreign = billing.headers(partner_id, scopes=["onboarding:read"])
    assert (await billing.http.get(URL, headers=foreign)).status_code == 403
