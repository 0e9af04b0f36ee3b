"""The access gate: may a customer be given full administrative access now? Evaluated against
the registry and audited, never stored otherwise."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import NotFound
from partnerguard.enforcement.access.controls import (
    ALL_CONTROLS,
    CustomerFacts,
    Requirements,
    evaluate,
)
from partnerguard.enforcement.access.repository import AccessRepository
from partnerguard.enforcement.access.schemas import (
    AccessGrantIn,
    AccessGrantOut,
    Decision,
    MissingControl,
)
from partnerguard.enforcement.audit.log import record

log = structlog.get_logger()


async def evaluate_access(
    session: AsyncSession, partner_id: uuid.UUID, body: AccessGrantIn, actor: str, now: datetime
) -> AccessGrantOut:
    """Allow or deny full administrative access, with every required control the customer
    misses; ``NotFound`` for a customer the partner's registry does not hold. Audited."""
    repository = AccessRepository(session)
    customer = await repository.customer(partner_id, body.customer_id)
    if customer is None:
        raise NotFound("no such customer")
    facts = CustomerFacts(
        mfa_attested=customer.mfa_attested,
        budget_set=customer.budget_set,
        prepayment_cleared=customer.prepayment_cleared,
        risk_tier=customer.risk_tier,
        approved_at=customer.approved_at,
        active_hold_reasons=tuple(
            await repository.active_hold_reasons(partner_id, body.customer_id)
        ),
    )
    controls = ALL_CONTROLS if body.controls is None else tuple(dict.fromkeys(body.controls))
    need = Requirements(
        controls=controls,
        min_account_age_days=body.min_account_age_days,
        allowed_risk_tiers=frozenset(tier.value for tier in body.allowed_risk_tiers),
    )
    missing = evaluate(facts, need, now)
    decision = Decision.DENY if missing else Decision.ALLOW
    await record(
        session,
        partner_id,
        actor=actor,
        action=f"access.{decision.value}",
        subject_type="customer",
        subject_id=body.customer_id,
        at=now,
        reason=f"full administrative access requested by {body.requested_by}",
        evidence={
            "requested_by": body.requested_by,
            "controls": [c.value for c in controls],
            "min_account_age_days": body.min_account_age_days,
            "allowed_risk_tiers": sorted(need.allowed_risk_tiers),
            "missing": [{"control": m.control.value, "detail": m.detail} for m in missing],
        },
    )
    log.info(
        "access.evaluated",
        customer_id=str(body.customer_id),
        decision=decision.value,
        missing=[m.control.value for m in missing],
    )
    return AccessGrantOut(
        customer_id=body.customer_id,
        requested_by=body.requested_by,
        decision=decision,
        missing=[MissingControl(control=m.control, detail=m.detail) for m in missing],
        controls=[c for c in ALL_CONTROLS if c in controls],
        evaluated_at=now,
    )
