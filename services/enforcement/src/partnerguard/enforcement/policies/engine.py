"""The policy engine: an event in, the registry fed, the rules in force applied.

Automatic actions are carried out in the event's transaction; the others become pending
actions that wait for approval. ``carry_out`` is the one executor, also used by approvals.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Unprocessable
from partnerguard.common.events.types.billing import AccountCleared
from partnerguard.common.events.types.enforcement import ActionKind, ActionPendingApproval
from partnerguard.common.events.types.onboarding import CustomerApproved
from partnerguard.enforcement.audit.log import record
from partnerguard.enforcement.cases import service as cases
from partnerguard.enforcement.events import tell
from partnerguard.enforcement.holds import service as holds
from partnerguard.enforcement.models import PendingAction
from partnerguard.enforcement.policies.repository import (
    PendingActionRepository,
    ReceivedEventRepository,
)
from partnerguard.enforcement.policies.rules import (
    Decision,
    Mode,
    NotifyAction,
    OpenCaseAction,
    PlaceHoldAction,
    Plan,
    ReleaseHoldAction,
    decide,
)
from partnerguard.enforcement.policies.service import policy_in_force
from partnerguard.enforcement.registry import service as registry

log = structlog.get_logger()


async def handle_event(
    session: AsyncSession,
    partner_id: uuid.UUID,
    event_id: uuid.UUID,
    event_type: str,
    data: Mapping[str, object],
    customer_id: uuid.UUID | None,
    occurred_at: datetime,
    now: datetime,
    *,
    approval_ttl_hours: float = 72.0,
) -> list[Decision]:
    """Store the event once, feed the registry and apply the policy in force; the decisions
    taken ([] for a duplicate: an event already received has no second effect)."""
    stored = await ReceivedEventRepository(session).record(
        {
            "partner_id": partner_id,
            "event_id": event_id,
            "event_type": event_type,
            "customer_id": customer_id,
            "data": dict(data),
            "occurred_at": occurred_at,
        }
    )
    if not stored:
        log.info("policy.duplicate_event", partner_id=str(partner_id), event_id=str(event_id))
        return []
    await _feed_registry(session, partner_id, event_type, data, now)
    policy = await policy_in_force(session, partner_id)
    decisions = decide(policy.rules, event_type, data)
    if decisions and customer_id is None:
        # A notice that matched no customer: nothing to hold; monitoring keeps it for a person.
        log.warning("policy.no_customer", event_id=str(event_id), event_type=event_type)
        return []
    for decision in decisions:
        assert customer_id is not None
        if decision.mode is Mode.AUTOMATIC:
            await carry_out(
                session,
                partner_id,
                decision.plan,
                customer_id=customer_id,
                source_event_id=event_id,
                actor=f"policy:{decision.rule}",
                now=now,
            )
            await record(
                session,
                partner_id,
                actor=f"policy:{decision.rule}",
                action="policy.applied",
                subject_type="customer",
                subject_id=customer_id,
                at=now,
                reason=decision.effect(),
                evidence={
                    "policy_version": policy.version,
                    "event_id": str(event_id),
                    "event_type": event_type,
                },
            )
        else:
            await _request_approval(
                session,
                partner_id,
                decision,
                policy_version=policy.version,
                customer_id=customer_id,
                source_event_id=event_id,
                default_ttl_hours=approval_ttl_hours,
                now=now,
            )
    return decisions


async def _feed_registry(
    session: AsyncSession,
    partner_id: uuid.UUID,
    event_type: str,
    data: Mapping[str, object],
    now: datetime,
) -> None:
    # A budget threshold reached is not a budget set: budget_set stays with the API.
    if event_type == CustomerApproved.event_type:
        approved = CustomerApproved.model_validate(data)
        await registry.record_customer(
            session,
            partner_id,
            approved.customer_id,
            vendor_tenant_id=approved.vendor_tenant_id,
            risk_tier=approved.risk_tier.value,
            approved_at=approved.approved_at,
            now=now,
        )
    elif event_type == AccountCleared.event_type:
        cleared = AccountCleared.model_validate(data)
        await registry.set_controls(
            session, partner_id, cleared.customer_id, prepayment_cleared=True, now=now
        )


async def carry_out(
    session: AsyncSession,
    partner_id: uuid.UUID,
    plan: Plan,
    *,
    customer_id: uuid.UUID,
    source_event_id: uuid.UUID | None,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> None:
    """Do what ``plan`` says, now, as ``actor`` (a policy rule, or the approver)."""
    action = plan.action
    if isinstance(action, PlaceHoldAction):
        targets: tuple[uuid.UUID | None, ...] = plan.subscription_ids or (None,)
        for subscription_id in targets:
            await holds.place_hold(
                session,
                partner_id,
                customer_id=customer_id,
                subscription_id=subscription_id,
                reason=action.reason,
                actor=actor,
                now=now,
                source_event_id=source_event_id,
                # The event's summary may be longer than a hold's note can be.
                note=(note or plan.summary or "")[:1000] or None,
            )
    elif isinstance(action, ReleaseHoldAction):
        # Released only for its own reason; a release before its hold exists releases nothing.
        await holds.release_holds_for(
            session,
            partner_id,
            customer_id=customer_id,
            reason=action.reason,
            actor=actor,
            now=now,
            note=note,
        )
    elif isinstance(action, OpenCaseAction):
        await _open_case(
            session,
            partner_id,
            action,
            plan,
            customer_id=customer_id,
            source_event_id=source_event_id,
            actor=actor,
            now=now,
        )
    elif isinstance(action, NotifyAction):
        await record(
            session,
            partner_id,
            actor=actor,
            action="policy.notify",
            subject_type="customer",
            subject_id=customer_id,
            at=now,
            reason=action.message or plan.summary,
            evidence={"source_event_id": str(source_event_id) if source_event_id else None},
        )


async def _open_case(
    session: AsyncSession,
    partner_id: uuid.UUID,
    action: OpenCaseAction,
    plan: Plan,
    *,
    customer_id: uuid.UUID,
    source_event_id: uuid.UUID | None,
    actor: str,
    now: datetime,
) -> None:
    try:
        await cases.open_case_from_event(
            session,
            partner_id,
            kind=action.kind,
            customer_id=customer_id,
            vendor_tenant_id=plan.vendor_tenant_id,
            source_event_id=source_event_id,
            summary=plan.summary,
            first_fraudulent_usage_on=plan.first_fraudulent_usage_on,
            now=now,
            actor=actor,
        )
    except Unprocessable as exc:
        # No tenant known for the customer yet: a person opens the case; retrying won't help.
        await record(
            session,
            partner_id,
            actor=actor,
            action="policy.case_not_opened",
            subject_type="customer",
            subject_id=customer_id,
            at=now,
            reason=exc.detail,
            evidence={
                "kind": action.kind.value,
                "source_event_id": str(source_event_id) if source_event_id else None,
            },
        )


def _pending_kind(plan: Plan) -> ActionKind:
    # Rules allow approval for hold actions only (the event describes nothing else).
    if isinstance(plan.action, ReleaseHoldAction):
        return ActionKind.REINSTATE_SUBSCRIPTION
    return ActionKind.SUSPEND_SUBSCRIPTION


async def _request_approval(
    session: AsyncSession,
    partner_id: uuid.UUID,
    decision: Decision,
    *,
    policy_version: int,
    customer_id: uuid.UUID,
    source_event_id: uuid.UUID,
    default_ttl_hours: float,
    now: datetime,
) -> PendingAction | None:
    plan = decision.plan
    assert isinstance(plan.action, PlaceHoldAction | ReleaseHoldAction)
    expires_at = now + timedelta(hours=decision.approval_ttl_hours or default_ttl_hours)
    actor = f"policy:{decision.rule}"
    pending = await PendingActionRepository(session).insert_new(
        {
            "partner_id": partner_id,
            "action": plan.action.type,
            "rule": decision.rule,
            "policy_version": policy_version,
            "params": plan.model_dump(mode="json"),
            "customer_id": customer_id,
            "source_event_id": source_event_id,
            "status": "pending",
            "required_approvals": decision.approvals_required,
            "approvals": [],
            "expires_at": expires_at,
        }
    )
    if pending is None:
        return None
    await record(
        session,
        partner_id,
        actor=actor,
        action="approval.requested",
        subject_type="pending_action",
        subject_id=pending.id,
        at=now,
        reason=decision.effect(),
        evidence={
            "policy_version": policy_version,
            "customer_id": str(customer_id),
            "source_event_id": str(source_event_id),
            "required_approvals": decision.approvals_required,
        },
    )
    await tell(
        session,
        ActionPendingApproval(
            action_id=pending.id,
            action=_pending_kind(plan),
            customer_id=customer_id,
            subscription_id=plan.subscription_ids[0] if len(plan.subscription_ids) == 1 else None,
            reason=plan.action.reason,
            requested_by=actor,
            requested_at=now,
            expires_at=expires_at,
        ),
        partner_id=partner_id,
        subject=pending.id,
        customer_id=customer_id,
    )
    return pending
