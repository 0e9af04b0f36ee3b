"""The operation runner: makes each subscription's status at the vendor what its holds want.

A subscription's ``desired_status`` (set by holds, with ``revision`` bumped at every change) and
``status`` (the vendor's, as last confirmed) differ → one :class:`ProviderOperation` for that
revision carries the change out until the vendor confirms it. An operation for an older revision
still pending is ``superseded``. Every attempt of an operation sends the same ``MS-RequestId``,
derived from the subscription and revision, so a retry of a change the vendor already made (a
lost answer, a second replica) does not make it twice.

Any number of runners may work at once. Creating operations locks the subscription row
(``SKIP LOCKED``) and re-reads its operations in a fresh statement, so two runners never create
two for one revision. Carrying them out leases each due operation in a short transaction (an
attempt counted, ``next_attempt_at`` pushed past the call's longest duration), calls the vendor
with no transaction open, then records the outcome in a second short transaction — but only if
the lease is still this runner's; a runner that dies mid-call loses its lease to the next one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.db.engine import Database
from partnerguard.common.errors import is_unreachable
from partnerguard.common.events.types.enforcement import (
    ActionKind,
    HoldReason,
    SubscriptionReinstated,
    SubscriptionSuspended,
)
from partnerguard.enforcement.audit import log as audit
from partnerguard.enforcement.events import tell
from partnerguard.enforcement.models import ProviderOperation, Subscription
from partnerguard.enforcement.provider.adapter import (
    VendorAdapter,
    VendorRejected,
    VendorStatus,
    VendorSubscription,
)
from partnerguard.enforcement.provider.repository import (
    ACTIONABLE,
    FAILED,
    PENDING,
    ClaimedOperation,
    ProviderRepository,
)

log = structlog.get_logger()

RUNNER = "system:provider"
# However often the vendor fails, a pending operation is tried again at least hourly.
MAX_RETRY_DELAY_SECONDS = 3600.0
# Vendor calls in flight at once per runner.
_CONCURRENCY = 8
# The namespace of the MS-RequestId values (uuid5), fixed forever: ids must not change.
_REQUEST_NAMESPACE = uuid.UUID("6f1d3c1e-4b7a-5d2e-9c0f-2a8b7e5d4c31")

_TARGET: dict[str, VendorStatus] = {
    ActionKind.SUSPEND_SUBSCRIPTION.value: "suspended",
    ActionKind.REINSTATE_SUBSCRIPTION.value: "active",
}


# --- pure rules -------------------------------------------------------------------------------


def request_id_for(
    partner_id: uuid.UUID, subscription_id: uuid.UUID, revision: int, sequence: int = 0
) -> uuid.UUID:
    """The MS-RequestId of the ``sequence``-th operation (0-based) for a subscription revision:
    the same for every attempt and every replica; a fresh one only when the reconciler starts
    over after a give-up or a drift, so the vendor does not answer with the old result."""
    name = f"{partner_id}:{subscription_id}:{revision}"
    if sequence:
        name += f":{sequence}"
    return uuid.uuid5(_REQUEST_NAMESPACE, name)


def retry_delay(attempts: int, retry_seconds: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubled each time from
    ``retry_seconds``, never more than an hour."""
    exponent = min(max(attempts - 1, 0), 32)  # 2**32 already dwarfs the cap
    return min(retry_seconds * 2.0**exponent, MAX_RETRY_DELAY_SECONDS)


def action_for(desired_status: str) -> ActionKind:
    """The vendor action that brings a subscription to ``desired_status``."""
    if desired_status == "suspended":
        return ActionKind.SUSPEND_SUBSCRIPTION
    return ActionKind.REINSTATE_SUBSCRIPTION


# --- creating operations ----------------------------------------------------------------------


async def plan_operation(
    session: AsyncSession,
    subscription: Subscription,
    now: datetime,
    *,
    actor: str = RUNNER,
    restart_failed: bool = False,
) -> ProviderOperation | None:
    """With ``subscription`` locked: supersede its pending operations of older revisions, and
    create the operation its current revision needs, if any (none while one is pending; after
    a give-up only when ``restart_failed``). The operation created, audited."""
    repository = ProviderRepository(session)
    operations = await repository.open_operations(
        subscription.partner_id, subscription.subscription_id, subscription.revision
    )
    for operation in operations:
        if operation.status == PENDING and operation.revision != subscription.revision:
            operation.status = "superseded"
            operation.completed_at = now
            log.info(
                "provider.operation_superseded",
                operation_id=str(operation.id),
                subscription_id=str(subscription.subscription_id),
                revision=operation.revision,
                current_revision=subscription.revision,
            )
            await audit.record(
                session,
                subscription.partner_id,
                actor=actor,
                action="provider_operation.superseded",
                subject_type="subscription",
                subject_id=subscription.subscription_id,
                at=now,
                reason="the wanted status changed before the vendor confirmed this change",
                evidence={
                    "operation_id": str(operation.id),
                    "action": operation.action,
                    "revision": operation.revision,
                    "current_revision": subscription.revision,
                    "attempts": operation.attempts,
                },
            )
    if not _needs_change(subscription):
        return None
    current = [o for o in operations if o.revision == subscription.revision]
    latest = current[-1] if current else None
    if latest is not None and latest.status == PENDING:
        return None
    if latest is not None and latest.status == FAILED and not restart_failed:
        return None
    action = action_for(subscription.desired_status)
    operation = ProviderOperation(
        partner_id=subscription.partner_id,
        subscription_id=subscription.subscription_id,
        customer_id=subscription.customer_id,
        action=action.value,
        revision=subscription.revision,
        request_id=request_id_for(
            subscription.partner_id,
            subscription.subscription_id,
            subscription.revision,
            len(current),
        ),
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    await repository.add(operation)
    log.info(
        "provider.operation_created",
        operation_id=str(operation.id),
        subscription_id=str(subscription.subscription_id),
        action=action.value,
        revision=subscription.revision,
    )
    await audit.record(
        session,
        subscription.partner_id,
        actor=actor,
        action="provider_operation.requested",
        subject_type="subscription",
        subject_id=subscription.subscription_id,
        at=now,
        reason=f"wanted {subscription.desired_status}, the vendor has it {subscription.status}",
        evidence={
            "operation_id": str(operation.id),
            "action": action.value,
            "revision": subscription.revision,
            "request_id": str(operation.request_id),
            **({"restarts": str(latest.id)} if latest is not None else {}),
        },
    )
    return operation


def _needs_change(subscription: Subscription) -> bool:
    return (
        subscription.desired_status in ACTIONABLE
        and subscription.status in ACTIONABLE
        and subscription.desired_status != subscription.status
    )


async def create_operations(db: Database, now: datetime, *, batch: int) -> int:
    """Supersede stale operations and create the ones wanted; the number created."""
    async with db.sweep_session() as session:
        candidates = await ProviderRepository(session).subscriptions_needing_work(batch)
    created = 0
    for key in candidates:
        # One short transaction per subscription: its lock, its operations, its audit entries.
        async with db.sweep_session() as session:
            subscription = await ProviderRepository(session).lock_subscription(key)
            if subscription is None:
                continue  # another runner is on it
            if await plan_operation(session, subscription, now) is not None:
                created += 1
    return created


# --- carrying them out ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    result: VendorSubscription | None = None
    error: AdapterError | None = None


async def run_due_operations(
    db: Database,
    adapter: VendorAdapter,
    now: datetime,
    *,
    batch: int,
    max_attempts: int,
    retry_seconds: float,
    lease_seconds: float = 300.0,
    plan: bool = True,
) -> int:
    """Create the operations wanted (unless not ``plan``), then carry out up to ``batch`` due
    ones through ``adapter``; the number attempted. A transient failure waits ``retry_seconds`` doubled per
    attempt (at most an hour) and gives up after ``max_attempts``; a refusal fails at once.
    ``lease_seconds`` must exceed the longest an adapter call can take."""
    if plan:
        await create_operations(db, now, batch=batch)
    async with db.sweep_session() as session:
        claimed = await ProviderRepository(session).claim_due(
            now, batch, now + timedelta(seconds=lease_seconds)
        )
    if not claimed:
        return 0
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def attempt(operation: ClaimedOperation) -> None:
        async with gate:
            outcome = await _call_vendor(adapter, operation)
        # The vendor has answered: its answer is kept through a database restart rather than
        # dropped, which would leave the change unrecorded until the lease ran out.
        give_up_at = time.monotonic() + lease_seconds / 2
        delay = 0.5
        while True:
            try:
                async with db.sweep_session() as session:
                    await _record(
                        session,
                        operation,
                        outcome,
                        now,
                        adapter=adapter.name,
                        max_attempts=max_attempts,
                        retry_seconds=retry_seconds,
                    )
                return
            except (DBAPIError, ConnectionError) as exc:
                unreachable = not isinstance(exc, DBAPIError) or is_unreachable(exc)
                if not unreachable or time.monotonic() + delay > give_up_at:
                    raise
                log.warning(
                    "provider.record_retry",
                    operation_id=str(operation.id),
                    retry_in_seconds=delay,
                    error=repr(exc)[:300],
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    await asyncio.gather(*(attempt(operation) for operation in claimed))
    return len(claimed)


async def _call_vendor(adapter: VendorAdapter, operation: ClaimedOperation) -> _Outcome:
    tenant = operation.vendor_tenant_id
    if tenant is None:
        # The registry has no vendor tenant for the customer: our id is the best we have, and
        # the vendor's refusal (if any) will say so in the operation's last error.
        log.warning(
            "provider.vendor_tenant_unknown",
            customer_id=str(operation.customer_id),
            operation_id=str(operation.id),
        )
        tenant = operation.customer_id
    try:
        result = await adapter.set_status(
            tenant,
            operation.subscription_id,
            _TARGET[operation.action],
            request_id=operation.request_id,
            etag=operation.etag,
        )
    except AdapterError as exc:
        return _Outcome(error=exc)
    return _Outcome(result=result)


async def _record(
    session: AsyncSession,
    claimed: ClaimedOperation,
    outcome: _Outcome,
    now: datetime,
    *,
    adapter: str,
    max_attempts: int,
    retry_seconds: float,
) -> None:
    repository = ProviderRepository(session)
    # Subscription before operation, as plan_operation locks them: no deadlock between the two.
    subscription = await repository.lock_subscription_of(
        claimed.partner_id, claimed.subscription_id
    )
    operation = await repository.lock_operation(claimed.id)
    if operation is None or subscription is None:
        return
    ours = operation.status == PENDING and operation.attempts == claimed.attempts
    if not ours:
        # Superseded, or the lease ran out and another runner took over: the vendor's answer
        # is still the truth about the subscription, so the next operation starts from it.
        if outcome.result is not None:
            await _observe(session, subscription, outcome.result, now, claimed)
        return
    target = _TARGET[operation.action]
    if outcome.result is not None and outcome.result.status == target:
        await _succeed(session, operation, subscription, outcome.result, now, adapter=adapter)
        return
    if outcome.result is not None:
        await _observe(session, subscription, outcome.result, now, claimed)
        error: AdapterError = AdapterError(
            adapter, f"answered status {outcome.result.status!r} instead of {target!r}"
        )
    else:
        assert outcome.error is not None  # noqa: S101 - an outcome is a result or an error
        error = outcome.error
    operation.last_error = str(error)[:500]
    permanent = isinstance(error, VendorRejected)
    if permanent or operation.attempts >= max_attempts:
        await _fail(session, operation, now, permanent=permanent)
        return
    delay = retry_delay(operation.attempts, retry_seconds)
    operation.next_attempt_at = now + timedelta(seconds=delay)
    log.info(
        "provider.operation_retry",
        operation_id=str(operation.id),
        subscription_id=str(operation.subscription_id),
        attempts=operation.attempts,
        retry_in_seconds=delay,
        error=operation.last_error,
    )


async def _succeed(
    session: AsyncSession,
    operation: ProviderOperation,
    subscription: Subscription,
    result: VendorSubscription,
    now: datetime,
    *,
    adapter: str,
) -> None:
    previous = subscription.status
    operation.status = "succeeded"
    operation.completed_at = now
    operation.last_error = None
    subscription.status = result.status
    subscription.etag = result.etag
    evidence: dict[str, object] = {
        "operation_id": str(operation.id),
        "request_id": str(operation.request_id),
        "revision": operation.revision,
        "attempts": operation.attempts,
        "adapter": adapter,
        "previous_status": previous,
        "vendor_status": result.status,
        "etag": result.etag,
    }
    partner_id, customer_id = operation.partner_id, operation.customer_id
    if operation.action == ActionKind.SUSPEND_SUBSCRIPTION.value:
        holds = await ProviderRepository(session).active_holds_covering(
            partner_id, customer_id, operation.subscription_id
        )
        reasons = tuple(dict.fromkeys(HoldReason(hold.reason) for hold in holds))
        evidence["hold_ids"] = [str(hold.id) for hold in holds]
        evidence["reasons"] = [reason.value for reason in reasons]
        if holds:
            await tell(
                session,
                SubscriptionSuspended(
                    customer_id=customer_id,
                    subscription_id=operation.subscription_id,
                    action_id=operation.id,
                    hold_ids=tuple(hold.id for hold in holds),
                    reasons=reasons,
                    suspended_at=now,
                ),
                partner_id=partner_id,
                subject=operation.subscription_id,
                customer_id=customer_id,
            )
        else:
            # The event names the holds behind a suspension; with none left (released while
            # the call was under way) a reinstatement follows on the next revision.
            log.warning(
                "provider.suspended_without_holds",
                operation_id=str(operation.id),
                subscription_id=str(operation.subscription_id),
            )
        action = "subscription.suspended"
    else:
        await tell(
            session,
            SubscriptionReinstated(
                customer_id=customer_id,
                subscription_id=operation.subscription_id,
                action_id=operation.id,
                reinstated_at=now,
            ),
            partner_id=partner_id,
            subject=operation.subscription_id,
            customer_id=customer_id,
        )
        action = "subscription.reinstated"
    await audit.record(
        session,
        partner_id,
        actor=RUNNER,
        action=action,
        subject_type="subscription",
        subject_id=operation.subscription_id,
        at=now,
        reason="the vendor confirmed the change",
        evidence=evidence,
    )
    log.info(
        "provider.operation_succeeded",
        operation_id=str(operation.id),
        subscription_id=str(operation.subscription_id),
        action=operation.action,
        attempts=operation.attempts,
    )


async def _fail(
    session: AsyncSession, operation: ProviderOperation, now: datetime, *, permanent: bool
) -> None:
    operation.status = FAILED
    operation.completed_at = now
    reason = (
        "the vendor refused the change"
        if permanent
        else f"gave up after {operation.attempts} attempts"
    )
    log.warning(
        "provider.operation_failed",
        operation_id=str(operation.id),
        subscription_id=str(operation.subscription_id),
        attempts=operation.attempts,
        permanent=permanent,
        error=operation.last_error,
    )
    await audit.record(
        session,
        operation.partner_id,
        actor=RUNNER,
        action="provider_operation.failed",
        subject_type="subscription",
        subject_id=operation.subscription_id,
        at=now,
        reason=reason,
        evidence={
            "operation_id": str(operation.id),
            "action": operation.action,
            "request_id": str(operation.request_id),
            "revision": operation.revision,
            "attempts": operation.attempts,
            "error": operation.last_error,
        },
    )


async def _observe(
    session: AsyncSession,
    subscription: Subscription,
    result: VendorSubscription,
    now: datetime,
    claimed: ClaimedOperation,
) -> None:
    """Record what the vendor said the subscription is, outside a completed operation."""
    previous = subscription.status
    subscription.etag = result.etag
    if previous == result.status:
        return
    subscription.status = result.status
    await audit.record(
        session,
        subscription.partner_id,
        actor=RUNNER,
        action="subscription.status_observed",
        subject_type="subscription",
        subject_id=subscription.subscription_id,
        at=now,
        reason="the vendor answered a change that is no longer the current one",
        evidence={
            "operation_id": str(claimed.id),
            "previous_status": previous,
            "vendor_status": result.status,
            "etag": result.etag,
        },
    )
