"""The partner's risk policy: versioned data, the default until a partner saves its own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict
from partnerguard.common.events.types.onboarding import RiskTier
from partnerguard.onboarding.applications.repository import ApplicationRepository
from partnerguard.onboarding.models import RiskPolicyVersion
from partnerguard.onboarding.risk_policy.repository import RiskPolicyRepository
from partnerguard.onboarding.scoring import (
    Assessment,
    Facts,
    Outcome,
    Reason,
    ReplayItem,
    ReplayReport,
    RiskPolicy,
    replay_policy,
)

# Version 0 is the built-in default a partner has before it saves a policy of its own.
DEFAULT_VERSION = 0


@dataclass(frozen=True)
class PolicyInForce:
    version: int
    policy: RiskPolicy


_DEFAULT = PolicyInForce(DEFAULT_VERSION, RiskPolicy())


async def policy_in_force(session: AsyncSession, partner_id: uuid.UUID) -> PolicyInForce:
    latest = await RiskPolicyRepository(session).latest_terms(partner_id)
    if latest is None:
        return _DEFAULT
    version, policy = latest
    return PolicyInForce(version, RiskPolicy.model_validate(policy))


async def save_policy(
    session: AsyncSession, partner_id: uuid.UUID, policy: RiskPolicy, actor: str, note: str | None
) -> RiskPolicyVersion:
    """Save ``policy`` as the partner's next version; it applies to applications scored from now."""
    repository = RiskPolicyRepository(session)
    # Two concurrent saves: the second waits on the lock, then takes the next number. With no
    # row to lock yet, the unique (partner, version) constraint refuses the loser instead.
    latest = await repository.lock_versions(partner_id)
    row = RiskPolicyVersion(
        partner_id=partner_id,
        version=latest + 1,
        policy=policy.model_dump(mode="json"),
        created_by=actor,
        note=note,
    )
    try:
        return await repository.add(row)
    except IntegrityError as exc:
        raise Conflict("another version was saved at the same moment; read it and retry") from exc


async def replay(
    session: AsyncSession,
    partner_id: uuid.UUID,
    proposed: RiskPolicy,
    since: datetime | None,
    limit: int,
    changes_limit: int,
) -> ReplayReport:
    """How ``proposed`` would have decided the partner's recent applications."""
    rows = await ApplicationRepository(session).scored_since(partner_id, since, limit)
    items = [
        ReplayItem(
            application_id=row.id,
            facts=Facts.model_validate(row.facts),
            current=Assessment(
                score=row.score or 0,
                outcome=Outcome(row.outcome or Outcome.REVIEW),
                reasons=tuple(Reason.model_validate(reason) for reason in row.reasons),
                hard_reject=row.hard_reject,
                risk_tier=RiskTier(row.risk_tier or RiskTier.HIGH),
                prepayment_required=bool(row.prepayment_required),
            ),
        )
        for row in rows
    ]
    return replay_policy(items, proposed, limit=changes_limit)
