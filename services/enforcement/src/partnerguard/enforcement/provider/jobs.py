"""The provider's periodic work: the operation runner and the reconciler."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

import structlog

from partnerguard.common.adapters.http import RetryPolicy, new_http_client
from partnerguard.common.runtime import PeriodicJob, Runtime
from partnerguard.enforcement.provider.adapter import VendorAdapter
from partnerguard.enforcement.provider.http import HttpVendorAdapter
from partnerguard.enforcement.provider.local import LocalAdapter
from partnerguard.enforcement.provider.operations import run_due_operations
from partnerguard.enforcement.provider.reconcile import reconcile
from partnerguard.enforcement.settings import EnforcementSettings

log = structlog.get_logger()

RUNNER_JOB = "provider-operations"
RECONCILE_JOB = "provider-reconcile"
# Where the process's vendor adapter is kept (runtime.extras) while it runs.
VENDOR = "vendor_adapter"
# Calls one change may make: a read when no ETag is known, the change, and one re-read and
# retry after a stale ETag.
_CALLS_PER_CHANGE = 4


def lease_seconds(settings: EnforcementSettings) -> float:
    """How long a runner keeps an operation it is carrying out: more than its longest call."""
    policy = retry_policy(settings)
    per_call = (
        policy.attempts * policy.timeout_seconds + policy.retries * policy.max_backoff_seconds
    )
    return _CALLS_PER_CHANGE * per_call + 30.0


def retry_policy(settings: EnforcementSettings) -> RetryPolicy:
    return RetryPolicy(
        timeout_seconds=settings.provider_timeout_seconds, retries=settings.provider_retries
    )


@asynccontextmanager
async def vendor_adapter(settings: EnforcementSettings) -> AsyncIterator[VendorAdapter]:
    """The vendor's partner API when ``provider_url`` is set, else the local adapter; its HTTP
    client (and the connections it keeps alive) lasts as long as the context."""
    if settings.provider_url is None:
        if settings.environment != "dev":
            log.warning("provider.local_adapter_in_use", environment=settings.environment)
        yield LocalAdapter()
        return
    async with new_http_client("enforcement") as http:
        yield HttpVendorAdapter(
            http,
            base_url=settings.provider_url,
            token=settings.provider_token,
            policy=retry_policy(settings),
        )


def provider_lifespan(
    settings: EnforcementSettings,
) -> Callable[[Runtime], AbstractAsyncContextManager[None]]:
    """Opens the process's vendor adapter once, for every run of the provider's jobs."""

    @asynccontextmanager
    async def open_adapter(runtime: Runtime) -> AsyncIterator[None]:
        async with vendor_adapter(settings) as adapter:
            runtime.extras[VENDOR] = adapter
            try:
                yield
            finally:
                del runtime.extras[VENDOR]

    return open_adapter


def provider_jobs(
    settings: EnforcementSettings, wake: asyncio.Event | None = None
) -> list[PeriodicJob]:
    """The operation runner (on every replica at once: they share the due operations) and,
    with a vendor API configured, the reconciler (one replica at a time). The local adapter
    has no vendor state to read back, so it gets no reconciler. Setting ``wake`` runs the
    runner at once (this process's event handlers do after a hold changed a subscription).
    Both use the adapter :func:`provider_lifespan` opened."""
    lease = lease_seconds(settings)

    planned_at = -math.inf

    async def run_operations(runtime: Runtime) -> None:
        # Holds plan their operations themselves; the runner's own planning (a backstop for
        # drift and anything a hold did not plan) need not run at every wake-up, only once per
        # interval, which keeps a busy runner from scanning subscriptions many times a second.
        nonlocal planned_at
        plan = time.monotonic() - planned_at >= settings.provider_interval_seconds
        if plan:
            planned_at = time.monotonic()
        adapter: VendorAdapter = runtime.extras[VENDOR]
        while not runtime.draining:
            attempted = await run_due_operations(
                runtime.db,
                adapter,
                datetime.now(UTC),
                batch=settings.provider_batch_size,
                max_attempts=settings.provider_max_attempts,
                retry_seconds=settings.provider_retry_seconds,
                lease_seconds=lease,
                plan=plan,
            )
            if attempted < settings.provider_batch_size:
                return  # nothing more due now (or the rest is another runner's)

    async def reconcile_subscriptions(runtime: Runtime) -> None:
        await reconcile(
            runtime.db,
            runtime.extras[VENDOR],
            datetime.now(UTC),
            limit=settings.provider_batch_size,
        )

    jobs = [
        PeriodicJob(
            RUNNER_JOB,
            settings.provider_interval_seconds,
            run_operations,
            singleton=False,
            wake=wake,
        )
    ]
    if settings.provider_url is not None:
        jobs.append(
            PeriodicJob(
                RECONCILE_JOB,
                settings.reconcile_interval_seconds,
                reconcile_subscriptions,
                singleton=True,
            )
        )
    return jobs
