"""Chaining: actions record pending entries; the chaining job (or a reader) appends them to each
partner's chain in the order they were recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from partnerguard.common.db.engine import Database
from partnerguard.enforcement.audit.jobs import CHAIN_JOB, audit_jobs
from partnerguard.enforcement.audit.log import chain_everything, chain_pending, record, verify
from partnerguard.enforcement.models import AuditEntry, PendingAuditEntry
from partnerguard.enforcement.settings import EnforcementSettings
from tests.support.enforcement import audit_log


async def write(db: Database, partner_id: uuid.UUID, *actions: str) -> None:
    """One transaction recording ``actions`` in order."""
    async with db.tenant_session(partner_id) as session:
        for action in actions:
            await record(
                session,
                partner_id,
                actor="tester",
                action=action,
                subject_type="thing",
                subject_id="t",
                at=datetime.now(UTC),
            )


async def counts(db: Database, partner_id: uuid.UUID) -> tuple[int, int]:
    """(chained, pending) entries of the partner."""
    async with db.tenant_session(partner_id) as session:
        chained = await session.scalar(select(func.count()).select_from(AuditEntry))
        pending = await session.scalar(select(func.count()).select_from(PendingAuditEntry))
    return int(chained or 0), int(pending or 0)


async def test_an_action_records_its_entry_pending_and_the_job_chains_every_partner(
    enforcement_db: Database,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await write(enforcement_db, first, "a1", "a2")
    await write(enforcement_db, second, "b1")
    assert await counts(enforcement_db, first) == (0, 2)

    assert await chain_everything(enforcement_db) == 3

    assert await counts(enforcement_db, first) == (2, 0)
    assert await counts(enforcement_db, second) == (1, 0)
    assert [e.action for e in await audit_log(enforcement_db, first)] == ["a1", "a2"]
    assert [e.seq for e in await audit_log(enforcement_db, second)] == [1]
    assert await chain_everything(enforcement_db) == 0


async def test_chaining_in_batches_extends_one_chain_in_recorded_order(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    await write(enforcement_db, partner_id, "1", "2", "3")
    await write(enforcement_db, partner_id, "4", "5")

    assert await chain_everything(enforcement_db, limit=2) == 5

    entries = await audit_log(enforcement_db, partner_id)
    assert [(e.seq, e.action) for e in entries] == [(n, str(n)) for n in range(1, 6)]
    # Each batch linked to the one before: the chain verifies as one.
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    async with enforcement_db.tenant_session(partner_id) as session:
        assert (await verify(session, partner_id)).intact


async def test_a_reader_chains_what_is_pending_so_it_sees_every_committed_action(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    await write(enforcement_db, partner_id, "x")
    async with enforcement_db.tenant_session(partner_id) as session:
        assert await chain_pending(session, partner_id, limit=None) == 1
        assert await chain_pending(session, partner_id, limit=None) == 0
    assert await counts(enforcement_db, partner_id) == (1, 0)


async def test_a_pending_entry_cannot_be_changed(
    enforcement_db: Database, partner_id: uuid.UUID
) -> None:
    await write(enforcement_db, partner_id, "original")
    with pytest.raises(DBAPIError, match="cannot be changed"):
        async with enforcement_db.tenant_session(partner_id) as session:
            await session.execute(text("UPDATE audit_pending SET action = 'forged'"))
    await chain_everything(enforcement_db)
    assert [e.action for e in await audit_log(enforcement_db, partner_id)] == ["original"]


def test_the_chaining_job_runs_on_one_replica_at_its_interval() -> None:
    (job,) = audit_jobs(EnforcementSettings(audit_chain_interval_seconds=0.5))
    assert (job.name, job.interval, job.singleton) == (CHAIN_JOB, 0.5, True)
