"""Dunning as partners use it: their policy (versioned), runs on demand, and what happened."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.billing.dunning.engine import SweepSummary, run_dunning_sweep
from partnerguard.billing.dunning.policy import (
    DEFAULT_POLICY,
    DEFAULT_VERSION,
    DunningPolicy,
    policy_from_stored,
    policy_to_stored,
)
from partnerguard.billing.dunning.repository import (
    DunningActionRepository,
    DunningNoticeRepository,
    DunningPolicyRepository,
    DunningRunRepository,
)
from partnerguard.billing.dunning.schemas import RunTrigger
from partnerguard.billing.models import (
    DunningAction,
    DunningNotice,
    DunningPolicyVersion,
    DunningRun,
)
from partnerguard.common.db.engine import Database
from partnerguard.common.errors import NotFound

log = structlog.get_logger()


@dataclass(frozen=True)
class PolicyInForce:
    version: int
    policy: DunningPolicy
    # None for the built-in default.
    row: DunningPolicyVersion | None


async def policy_in_force(session: AsyncSession, partner_id: uuid.UUID) -> PolicyInForce:
    """The partner's latest saved policy, or the built-in default (version 0)."""
    row = await DunningPolicyRepository(session).latest(partner_id)
    if row is None:
        return PolicyInForce(DEFAULT_VERSION, DEFAULT_POLICY, None)
    return PolicyInForce(row.version, policy_from_stored(row.steps, row.minimum_amount), row)


async def save_policy(
    session: AsyncSession, partner_id: uuid.UUID, policy: DunningPolicy, actor: str
) -> DunningPolicyVersion:
    """Save ``policy`` as the partner's next version; sweeps from now on apply it."""
    repository = DunningPolicyRepository(session)
    # Concurrent saves of one partner queue on the lock and take consecutive numbers.
    latest = await repository.lock_versions(partner_id)
    row = await repository.add(
        DunningPolicyVersion(
            partner_id=partner_id,
            version=latest + 1,
            steps=policy_to_stored(policy),
            minimum_amount=policy.minimum_amount,
            created_by=actor,
        )
    )
    log.info("dunning.policy_saved", partner_id=str(partner_id), version=row.version)
    return row


async def list_policy_versions(
    session: AsyncSession, partner_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
) -> Sequence[DunningPolicyVersion]:
    return await DunningPolicyRepository(session).page(partner_id, limit=limit, after=after)


async def request_run(
    db: Database,
    partner_id: uuid.UUID,
    *,
    as_of: date,
    requested_by: str,
    batch_size: int,
) -> SweepSummary:
    """Run dunning now for one partner, as of ``as_of`` (today, or a past day to catch up)."""
    return await run_dunning_sweep(
        db,
        as_of=as_of,
        partner_id=partner_id,
        trigger=RunTrigger.API,
        requested_by=requested_by,
        batch_size=batch_size,
    )


async def get_run(session: AsyncSession, partner_id: uuid.UUID, run_id: uuid.UUID) -> DunningRun:
    """The partner's run ``run_id``; ``NotFound`` for none, and for another partner's."""
    run = await DunningRunRepository(session).get(partner_id, run_id)
    if run is None:
        raise NotFound("no such dunning run")
    return run


async def list_runs(
    session: AsyncSession, partner_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
) -> Sequence[DunningRun]:
    return await DunningRunRepository(session).page(partner_id, limit=limit, after=after)


async def steps_by_kind(
    session: AsyncSession, runs: Sequence[DunningRun]
) -> dict[uuid.UUID, dict[str, int]]:
    """Per run: how many steps of each kind it executed."""
    if not runs:
        return {}
    return await DunningRunRepository(session).steps_by_kind([run.id for run in runs])


async def list_actions(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    invoice_id: uuid.UUID | None,
    account_id: uuid.UUID | None,
    run_id: uuid.UUID | None,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[tuple[DunningAction, str]]:
    """The partner's dunning actions (with their invoice's currency), oldest first."""
    return await DunningActionRepository(session).page(
        partner_id,
        invoice_id=invoice_id,
        account_id=account_id,
        run_id=run_id,
        limit=limit,
        after=after,
    )


async def list_notices(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    after: uuid.UUID | None,
) -> Sequence[DunningNotice]:
    return await DunningNoticeRepository(session).page(
        partner_id, account_id=account_id, status=status, limit=limit, after=after
    )
