"""Policies: the version in force, saving a new one, and replaying a proposal over past events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import Conflict, NotFound
from partnerguard.common.pagination import PageParams
from partnerguard.enforcement.audit.log import record
from partnerguard.enforcement.models import PolicyVersion
from partnerguard.enforcement.policies.defaults import DEFAULT_RULES, DEFAULT_VERSION
from partnerguard.enforcement.policies.replay import PastEvent, compare
from partnerguard.enforcement.policies.repository import PolicyRepository, ReceivedEventRepository
from partnerguard.enforcement.policies.rules import Rule
from partnerguard.enforcement.policies.schemas import PolicyIn, PolicyOut, ReplayIn, ReplayOut

log = structlog.get_logger()

_RULES = TypeAdapter(list[Rule])


@dataclass(frozen=True)
class PolicyInForce:
    version: int
    rules: Sequence[Rule]


def _out(row: PolicyVersion) -> PolicyOut:
    return PolicyOut(
        version=row.version,
        rules=_RULES.validate_python(row.rules),
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def default_policy() -> PolicyOut:
    return PolicyOut(version=DEFAULT_VERSION, rules=list(DEFAULT_RULES), created_by="system")


async def policy_in_force(session: AsyncSession, partner_id: uuid.UUID) -> PolicyInForce:
    """The newest saved version, or the defaults (version 0) when none was saved."""
    row = await PolicyRepository(session).latest(partner_id)
    if row is None:
        return PolicyInForce(DEFAULT_VERSION, DEFAULT_RULES)
    return PolicyInForce(row.version, _RULES.validate_python(row.rules))


async def current_policy(session: AsyncSession, partner_id: uuid.UUID) -> PolicyOut:
    row = await PolicyRepository(session).latest(partner_id)
    return default_policy() if row is None else _out(row)


async def get_version(session: AsyncSession, partner_id: uuid.UUID, version: int) -> PolicyOut:
    if version == DEFAULT_VERSION:
        return default_policy()
    row = await PolicyRepository(session).by_version(partner_id, version)
    if row is None:
        raise NotFound(f"policy version {version} does not exist")
    return _out(row)


async def list_versions(
    session: AsyncSession, partner_id: uuid.UUID, params: PageParams
) -> tuple[list[PolicyOut], list[uuid.UUID]]:
    """Saved versions oldest first, and their row ids (the page's cursor keys)."""
    rows = await PolicyRepository(session).page(
        partner_id, limit=params.limit, after=params.after_id
    )
    return [_out(row) for row in rows], [row.id for row in rows]


async def save_policy(
    session: AsyncSession, partner_id: uuid.UUID, body: PolicyIn, *, actor: str, now: datetime
) -> PolicyOut:
    """Save ``body`` as the next version; it is in force for every event handled after commit."""
    repository = PolicyRepository(session)
    version = await repository.highest_version(partner_id) + 1
    row = await repository.insert_version(
        {
            "partner_id": partner_id,
            "version": version,
            "rules": [rule.model_dump(mode="json") for rule in body.rules],
            "note": body.note,
            "created_by": actor,
        }
    )
    if row is None:
        raise Conflict("another policy version was saved at the same time; read it and retry")
    await record(
        session,
        partner_id,
        actor=actor,
        action="policy.saved",
        subject_type="policy",
        subject_id=str(version),
        at=now,
        reason=body.note,
        evidence={"version": version, "rules": [rule.name for rule in body.rules]},
    )
    log.info("policy.saved", partner_id=str(partner_id), version=version, rules=len(body.rules))
    return _out(row)


async def replay_policy(session: AsyncSession, partner_id: uuid.UUID, body: ReplayIn) -> ReplayOut:
    """What ``body.policy`` would have done over the stored events, against the one in force."""
    in_force = await policy_in_force(session, partner_id)
    rows = await ReceivedEventRepository(session).since(partner_id, body.since, limit=body.limit)
    events = [
        PastEvent(
            event_id=row.event_id,
            event_type=row.event_type,
            customer_id=row.customer_id,
            data=row.data,
            occurred_at=row.occurred_at,
        )
        for row in rows
    ]
    return compare(in_force.rules, body.policy.rules, events, current_version=in_force.version)
