"""The access gate: allow full administrative access only when every required control is met."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from partnerguard.enforcement.access.controls import (
    ALL_CONTROLS,
    Control,
    CustomerFacts,
    Requirements,
    evaluate,
)
from partnerguard.enforcement.models import Customer, Hold
from tests.support.enforcement import RunningEnforcement

GRANTS = "/v1/enforcement/access-grants"


async def add_customer(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, **overrides: Any
) -> uuid.UUID:
    """A customer that meets every control unless ``overrides`` says otherwise."""
    customer_id = uuid.uuid4()
    values: dict[str, Any] = {
        "mfa_attested": True,
        "budget_set": True,
        "prepayment_cleared": True,
        "risk_tier": "low",
        "approved_at": datetime.now(UTC) - timedelta(days=45),
        **overrides,
    }
    async with enforcement.db.tenant_session(partner_id) as session:
        session.add(Customer(partner_id=partner_id, customer_id=customer_id, **values))
    return customer_id


async def add_hold(
    enforcement: RunningEnforcement,
    partner_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    subscription_id: uuid.UUID | None = None,
    status: str = "active",
) -> None:
    async with enforcement.db.tenant_session(partner_id) as session:
        session.add(
            Hold(
                partner_id=partner_id,
                customer_id=customer_id,
                subscription_id=subscription_id,
                reason="fraud",
                status=status,
                placed_by="test",
                placed_at=datetime.now(UTC),
            )
        )


async def ask(
    enforcement: RunningEnforcement, partner_id: uuid.UUID, customer_id: uuid.UUID, **body: Any
) -> dict[str, Any]:
    response = await enforcement.http.post(
        GRANTS,
        json={"customer_id": str(customer_id), "requested_by": "helpdesk", **body},
        headers=enforcement.headers(partner_id),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def missing(answer: dict[str, Any]) -> list[str]:
    return [m["control"] for m in answer["missing"]]


async def test_a_customer_meeting_every_control_is_allowed(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = await add_customer(enforcement, partner_id)
    answer = await ask(enforcement, partner_id, customer_id)
    assert answer["decision"] == "allow"
    assert answer["missing"] == []
    assert answer["controls"] == [c.value for c in ALL_CONTROLS]
    assert answer["evaluated_at"]


async def test_each_missing_control_denies_and_is_named(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"mfa_attested": False}, "mfa_attested"),
        ({"budget_set": False}, "budget_set"),
        ({"prepayment_cleared": False}, "prepayment_cleared"),
        ({"approved_at": datetime.now(UTC) - timedelta(days=29, hours=23)}, "account_age"),
        ({"approved_at": None}, "account_age"),
        ({"risk_tier": "high"}, "risk_tier"),
        ({"risk_tier": None}, "risk_tier"),
    ]
    for overrides, control in cases:
        customer_id = await add_customer(enforcement, partner_id, **overrides)
        answer = await ask(enforcement, partner_id, customer_id)
        assert answer["decision"] == "deny", control
        assert missing(answer) == [control]
        assert answer["missing"][0]["detail"]


async def test_an_active_hold_on_the_customer_or_a_subscription_denies(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    on_customer = await add_customer(enforcement, partner_id)
    await add_hold(enforcement, partner_id, on_customer)
    on_subscription = await add_customer(enforcement, partner_id)
    await add_hold(enforcement, partner_id, on_subscription, subscription_id=uuid.uuid4())
    for customer_id in (on_customer, on_subscription):
        answer = await ask(enforcement, partner_id, customer_id)
        assert missing(answer) == ["no_active_hold"]
        assert "fraud" in answer["missing"][0]["detail"]


async def test_a_released_hold_does_not_deny(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = await add_customer(enforcement, partner_id)
    await add_hold(enforcement, partner_id, customer_id, status="released")
    assert (await ask(enforcement, partner_id, customer_id))["decision"] == "allow"


async def test_every_missing_control_is_listed_at_once(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = await add_customer(
        enforcement, partner_id, mfa_attested=False, budget_set=False, risk_tier="high"
    )
    await add_hold(enforcement, partner_id, customer_id)
    answer = await ask(enforcement, partner_id, customer_id)
    assert missing(answer) == ["mfa_attested", "budget_set", "no_active_hold", "risk_tier"]


async def test_the_body_may_narrow_the_controls_and_change_the_thresholds(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = await add_customer(
        enforcement, partner_id, mfa_attested=False, risk_tier="high",
        approved_at=datetime.now(UTC) - timedelta(days=10),
    )  # fmt: skip
    narrowed = await ask(
        enforcement, partner_id, customer_id, controls=["budget_set", "account_age", "risk_tier"],
        min_account_age_days=7, allowed_risk_tiers=["medium", "high"],
    )  # fmt: skip
    assert narrowed["decision"] == "allow"
    assert narrowed["controls"] == ["budget_set", "account_age", "risk_tier"]
    stricter = await ask(
        enforcement, partner_id, customer_id, controls=["account_age"], min_account_age_days=11
    )
    assert missing(stricter) == ["account_age"]
    nothing = await ask(enforcement, partner_id, customer_id, controls=[])
    assert nothing["decision"] == "allow"


async def test_each_evaluation_is_audited(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = await add_customer(enforcement, partner_id, budget_set=False)
    await ask(enforcement, partner_id, customer_id)
    response = await enforcement.http.get(
        "/v1/enforcement/audit",
        params={"subject_type": "customer", "subject_id": str(customer_id)},
        headers=enforcement.headers(partner_id),
    )
    (entry,) = response.json()["items"]
    assert entry["action"] == "access.deny"
    assert entry["evidence"]["requested_by"] == "helpdesk"
    assert entry["evidence"]["missing"][0]["control"] == "budget_set"


async def test_an_unknown_or_another_partners_customer_is_not_found(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    theirs = await add_customer(enforcement, uuid.uuid4())
    for customer_id in (uuid.uuid4(), theirs):
        response = await enforcement.http.post(
            GRANTS,
            json={"customer_id": str(customer_id), "requested_by": "helpdesk"},
            headers=enforcement.headers(partner_id),
        )
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_bad_input_and_missing_scope_are_refused(
    enforcement: RunningEnforcement, partner_id: uuid.UUID
) -> None:
    customer_id = await add_customer(enforcement, partner_id)
    for body in [
        {"customer_id": str(customer_id)},
        {"customer_id": str(customer_id), "requested_by": ""},
        {"customer_id": str(customer_id), "requested_by": "x", "controls": ["telepathy"]},
        {"customer_id": str(customer_id), "requested_by": "x", "min_account_age_days": -1},
        {"customer_id": str(customer_id), "requested_by": "x", "allowed_risk_tiers": ["none"]},
    ]:
        response = await enforcement.http.post(
            GRANTS, json=body, headers=enforcement.headers(partner_id)
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    read_only = enforcement.headers(partner_id, scopes=["enforcement:read"])
    response = await enforcement.http.post(
        GRANTS, json={"customer_id": str(customer_id), "requested_by": "x"}, headers=read_only
    )
    assert response.status_code == 403


NOW = datetime(2025, 6, 1, tzinfo=UTC)
facts_strategy = st.builds(
    CustomerFacts,
    mfa_attested=st.booleans(),
    budget_set=st.booleans(),
    prepayment_cleared=st.booleans(),
    risk_tier=st.sampled_from([None, "low", "medium", "high"]),
    approved_at=st.one_of(
        st.none(), st.integers(min_value=0, max_value=400).map(lambda d: NOW - timedelta(days=d))
    ),
    active_hold_reasons=st.lists(st.sampled_from(["fraud", "nonpayment"]), max_size=3).map(tuple),
)


@given(facts=facts_strategy, required=st.sets(st.sampled_from(list(Control))))
def test_only_required_controls_can_be_missing_and_narrowing_never_adds_one(
    facts: CustomerFacts, required: set[Control]
) -> None:
    everything = {m.control for m in evaluate(facts, Requirements(), NOW)}
    narrowed = {m.control for m in evaluate(facts, Requirements(controls=required), NOW)}
    assert narrowed == everything & required
