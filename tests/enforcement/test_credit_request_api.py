"""The one-time compromise credit request over HTTP: each eligibility rule and deadline edge."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from tests.enforcement.test_cases_api import CASES, add_customer, file_credit, open_case, today
from tests.support.enforcement import RunningEnforcement


async def test_an_eligible_request_is_recorded_and_shown_filed(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, tenant_id, subs = await add_customer(enforcement, partner_id)
    first_usage = today() - timedelta(days=5)
    case = await open_case(
        enforcement, partner_id, customer_id, first_fraudulent_usage_on=first_usage.isoformat()
    )

    response = await file_credit(enforcement, partner_id, case["id"], subs)

    assert response.status_code == 201, response.text
    credit = response.json()["credit"]
    assert credit["requested"] is True
    assert credit["request"]["vendor_tenant_id"] == str(tenant_id)
    assert credit["request"]["subscription_ids"] == [str(s) for s in subs]
    assert credit["request"]["vendor_reference"] == "MS-123"
    assert credit["eligible"] is False
    assert credit["ineligible_reasons"] == ["credit_already_requested_for_tenant"]
    assert response.json()["timeline"][-1]["kind"] == "credit_requested"
    audit = await enforcement.http.get(
        "/v1/enforcement/audit", params={"subject_type": "case", "subject_id": case["id"]},
        headers=enforcement.headers(partner_id),
    )  # fmt: skip
    assert audit.json()["items"][0]["action"] == "case.credit_requested"


async def test_filing_on_day_60_is_accepted(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, subs = await add_customer(enforcement, partner_id)
    first_usage = today() - timedelta(days=60)
    case = await open_case(
        enforcement, partner_id, customer_id, first_fraudulent_usage_on=first_usage.isoformat()
    )
    assert case["credit"]["days_left"] == 0
    assert (await file_credit(enforcement, partner_id, case["id"], subs)).status_code == 201


async def test_filing_on_day_61_is_refused_with_the_reason(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, subs = await add_customer(enforcement, partner_id)
    first_usage = today() - timedelta(days=61)
    case = await open_case(
        enforcement, partner_id, customer_id, first_fraudulent_usage_on=first_usage.isoformat()
    )
    assert case["credit"]["days_left"] == -1
    assert case["credit"]["ineligible_reasons"] == ["filing_window_closed"]

    response = await file_credit(enforcement, partner_id, case["id"], subs)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "filing_window_closed" in response.json()["detail"]
    shown = await enforcement.http.get(
        f"{CASES}/{case['id']}", headers=enforcement.headers(partner_id)
    )
    assert shown.json()["credit"]["requested"] is False


async def test_a_late_discovery_within_the_window_is_still_eligible(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    # Discovered (opened) 58 days after the activity began: only the first usage date counts.
    customer_id, _, subs = await add_customer(enforcement, partner_id)
    first_usage = today() - timedelta(days=58)
    case = await open_case(
        enforcement, partner_id, customer_id, first_fraudulent_usage_on=first_usage.isoformat()
    )
    assert case["credit"]["eligible"] is True
    assert (await file_credit(enforcement, partner_id, case["id"], subs)).status_code == 201


async def test_activity_before_2023_04_01_is_refused(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, subs = await add_customer(enforcement, partner_id)
    case = await open_case(
        enforcement, partner_id, customer_id, first_fraudulent_usage_on="2023-03-31"
    )
    response = await file_credit(enforcement, partner_id, case["id"], subs)
    assert response.status_code == 422
    assert "activity_before_2023_04_01" in response.json()["detail"]


async def test_activity_on_2023_04_01_is_in_the_program_but_long_past_its_window(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, subs = await add_customer(enforcement, partner_id)
    case = await open_case(
        enforcement, partner_id, customer_id, first_fraudulent_usage_on="2023-04-01"
    )
    assert case["credit"]["deadline"] == "2023-05-31"
    assert case["credit"]["ineligible_reasons"] == ["filing_window_closed"]
    response = await file_credit(enforcement, partner_id, case["id"], subs)
    assert response.status_code == 422
    assert "activity_before_2023_04_01" not in response.json()["detail"]


async def test_a_legacy_subscription_is_refused_and_named(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, subs = await add_customer(
        enforcement, partner_id, commerce=("new_commerce", "legacy")
    )
    case = await open_case(
        enforcement, partner_id, customer_id,
        first_fraudulent_usage_on=(today() - timedelta(days=2)).isoformat(),
    )  # fmt: skip
    response = await file_credit(enforcement, partner_id, case["id"], subs)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "legacy_subscription" in detail
    assert str(subs[1]) in detail
    assert str(subs[0]) not in detail
    # The new-commerce one alone may be filed.
    assert (await file_credit(enforcement, partner_id, case["id"], subs[:1])).status_code == 201


async def test_a_customer_with_only_legacy_subscriptions_is_shown_ineligible(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id, commerce=("legacy",))
    case = await open_case(
        enforcement, partner_id, customer_id,
        first_fraudulent_usage_on=(today() - timedelta(days=2)).isoformat(),
    )  # fmt: skip
    assert case["credit"]["ineligible_reasons"] == ["no_new_commerce_subscription"]


async def test_a_second_request_for_the_same_tenant_from_another_case_is_a_conflict(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, tenant_id, subs = await add_customer(enforcement, partner_id)
    first_usage = (today() - timedelta(days=4)).isoformat()
    first = await open_case(
        enforcement, partner_id, customer_id, first_fraudulent_usage_on=first_usage
    )
    second = await open_case(
        enforcement, partner_id, customer_id, first_fraudulent_usage_on=first_usage
    )
    assert (await file_credit(enforcement, partner_id, first["id"], subs)).status_code == 201

    again = await file_credit(enforcement, partner_id, second["id"], subs)

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    shown = await enforcement.http.get(
        f"{CASES}/{second['id']}", headers=enforcement.headers(partner_id)
    )
    assert shown.json()["credit"]["requested"] is False
    assert shown.json()["credit"]["ineligible_reasons"] == ["credit_already_requested_for_tenant"]
    # Filing twice from the same case is refused the same way.
    assert (await file_credit(enforcement, partner_id, first["id"], subs)).status_code == 409


async def test_another_partner_may_file_for_the_same_tenant(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    # Once per tenant is per partner: two partners never see each other's requests.
    tenant = uuid.uuid4()
    first_usage = (today() - timedelta(days=4)).isoformat()
    for partner in (partner_id, uuid.uuid4()):
        customer_id, _, subs = await add_customer(enforcement, partner, tenant=tenant)
        case = await open_case(
            enforcement, partner, customer_id, first_fraudulent_usage_on=first_usage
        )
        assert (await file_credit(enforcement, partner, case["id"], subs)).status_code == 201


async def test_an_unverified_or_fraud_case_is_refused(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    first_usage = (today() - timedelta(days=4)).isoformat()
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"verified": False}, "compromise_not_verified"),
        ({"kind": "fraud"}, "not_account_compromise"),
    ]
    for extra, reason in refusals:
        customer_id, _, subs = await add_customer(enforcement, partner_id)
        case = await open_case(
            enforcement, partner_id, customer_id, first_fraudulent_usage_on=first_usage, **extra
        )
        response = await file_credit(enforcement, partner_id, case["id"], subs)
        assert response.status_code == 422
        assert reason in response.json()["detail"]


async def test_subscriptions_of_another_customer_are_refused(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, _ = await add_customer(enforcement, partner_id)
    _, _, others = await add_customer(enforcement, partner_id)
    case = await open_case(
        enforcement, partner_id, customer_id,
        first_fraudulent_usage_on=(today() - timedelta(days=1)).isoformat(),
    )  # fmt: skip
    response = await file_credit(enforcement, partner_id, case["id"], others)
    assert response.status_code == 422
    assert str(others[0]) in response.json()["detail"]
    empty = await enforcement.http.post(
        f"{CASES}/{case['id']}/credit-request", json={"subscription_ids": []},
        headers=enforcement.headers(partner_id),
    )  # fmt: skip
    assert empty.status_code == 422


async def test_the_fraud_window_is_frozen_once_the_request_is_filed(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id, _, subs = await add_customer(enforcement, partner_id)
    case = await open_case(
        enforcement, partner_id, customer_id,
        first_fraudulent_usage_on=(today() - timedelta(days=1)).isoformat(),
    )  # fmt: skip
    await file_credit(enforcement, partner_id, case["id"], subs)
    response = await enforcement.http.post(
        f"{CASES}/{case['id']}/fraud-window",
        json={"first_fraudulent_usage_on": (today() - timedelta(days=3)).isoformat()},
        headers=enforcement.headers(partner_id),
    )
    assert response.status_code == 409
    closed = await enforcement.http.post(
        f"{CASES}/{case['id']}/close", json={"outcome": "credit_granted"},
        headers=enforcement.headers(partner_id),
    )  # fmt: skip
    assert closed.status_code == 200
