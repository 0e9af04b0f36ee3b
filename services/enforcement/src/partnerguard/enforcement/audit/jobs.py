"""The audit log's periodic work: chaining what was recorded since the last run."""

from __future__ import annotations

from partnerguard.common.runtime import PeriodicJob, Runtime
from partnerguard.enforcement.audit.log import chain_everything
from partnerguard.enforcement.settings import EnforcementSettings

CHAIN_JOB = "audit-chain"


def audit_jobs(settings: EnforcementSettings) -> list[PeriodicJob]:
    """The chainer, on one replica at a time (one writer per chain keeps the lock uncontended;
    a reader of the log chains its own partner's entries first in any case)."""

    async def chain(runtime: Runtime) -> None:
        await chain_everything(runtime.db)

    return [PeriodicJob(CHAIN_JOB, settings.audit_chain_interval_seconds, chain, singleton=True)]
