"""The delivery job: send what is due, record every attempt, retry on schedule, give up on
endpoints that stay down.

Any number of workers may run it. Each claims due deliveries with ``FOR UPDATE SKIP LOCKED``
and leases them (moves them out of reach for :data:`CLAIM_LEASE`) in a short transaction,
sends without holding any lock, and records the outcomes in a second short transaction. A
worker that dies mid-attempt lets its lease run out and the delivery goes again: at least once,
and receivers drop repeats by ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.engine import Database
from partnerguard.common.events.types.gateway import WebhookDisabledReason
from partnerguard.common.ids import new_id
from partnerguard.common.runtime import PeriodicJob, Runtime
from partnerguard.gateway.context import Gateway
from partnerguard.gateway.models import Webhook, WebhookAttempt
from partnerguard.gateway.sealing import Sealer, UnsealError
from partnerguard.gateway.settings import GatewaySettings
from partnerguard.gateway.webhooks.destinations import parse_url
from partnerguard.gateway.webhooks.repository import DeliveryRepository, WebhookRepository
from partnerguard.gateway.webhooks.schedule import CLAIM_LEASE, next_attempt_at, should_disable
from partnerguard.gateway.webhooks.service import LastFailure, disable
from partnerguard.gateway.webhooks.signing import seal_context, signature_headers
from partnerguard.gateway.webhooks.transport import AttemptResult, Timeouts, WebhookSender

log = structlog.get_logger()

BATCH_SIZE = 50
ATTEMPTS = Counter(
    "partnerguard_webhook_attempts_total", "Webhook delivery attempts, by outcome", ["outcome"]
)
ATTEMPT_SECONDS = Histogram("partnerguard_webhook_attempt_seconds", "Time of one webhook attempt")


@dataclass(frozen=True)
class Claimed:
    """One delivery taken by this worker, with what it needs to send it."""

    delivery_id: uuid.UUID
    webhook_id: uuid.UUID
    partner_id: uuid.UUID
    number: int
    url: str
    event_id: uuid.UUID
    body: str
    # The live signing secrets, newest first; None if they cannot be unsealed.
    secrets: tuple[str, ...] | None


async def deliver_due(
    db: Database,
    sealer: Sealer,
    settings: GatewaySettings,
    *,
    now: datetime | None = None,
    limit: int = BATCH_SIZE,
    timeouts: Timeouts | None = None,
) -> int:
    """Attempt up to ``limit`` deliveries due at ``now`` (default: the clock); how many it tried."""
    now = now or datetime.now(UTC)
    async with db.sweep_session() as session:
        claimed = await _claim(session, sealer, now, limit)
    if not claimed:
        return 0
    async with WebhookSender(
        allow_private=settings.webhooks_allow_private_urls, timeouts=timeouts
    ) as sender:
        results = await asyncio.gather(*(_attempt(sender, c, settings) for c in claimed))
    async with db.sweep_session() as session:
        await _record(session, list(zip(claimed, results, strict=True)), now)
    return len(claimed)


async def _claim(session: AsyncSession, sealer: Sealer, now: datetime, limit: int) -> list[Claimed]:
    claimed = []
    for delivery, webhook in await DeliveryRepository(session).claim_due(now, limit):
        delivery.next_attempt_at = now + CLAIM_LEASE
        claimed.append(
            Claimed(
                delivery_id=delivery.id,
                webhook_id=webhook.id,
                partner_id=delivery.partner_id,
                number=delivery.attempt_count + 1,
                url=webhook.url,
                event_id=delivery.event_id,
                body=delivery.body,
                secrets=_live_secrets(webhook, sealer, now),
            )
        )
    await session.flush()
    return claimed


def _live_secrets(webhook: Webhook, sealer: Sealer, now: datetime) -> tuple[str, ...] | None:
    context = seal_context(webhook.id)
    try:
        live = [sealer.unseal(webhook.sealed_secret, context).decode()]
        if (
            webhook.previous_sealed_secret is not None
            and webhook.previous_secret_expires_at is not None
            and webhook.previous_secret_expires_at > now
        ):
            live.append(sealer.unseal(webhook.previous_sealed_secret, context).decode())
    except UnsealError:
        log.error("webhook.secret_unreadable", webhook_id=str(webhook.id))
        return None
    return tuple(live)


async def _attempt(
    sender: WebhookSender, claimed: Claimed, settings: GatewaySettings
) -> AttemptResult:
    if claimed.secrets is None:
        return AttemptResult(None, "the signing secret cannot be read; rotate it", 0)
    if parse_url(claimed.url).scheme == "http" and not settings.webhooks_allow_http:
        return AttemptResult(None, "the URL must use https://", 0)
    # The signature's timestamp is the real send time: receivers compare it with their clock.
    headers = signature_headers(
        str(claimed.event_id), claimed.body, claimed.secrets, datetime.now(UTC)
    )
    result = await sender.post(claimed.url, claimed.body.encode(), headers)
    ATTEMPTS.labels("succeeded" if result.succeeded else "failed").inc()
    ATTEMPT_SECONDS.observe(result.duration_ms / 1000)
    return result


async def _record(
    session: AsyncSession, outcomes: Sequence[tuple[Claimed, AttemptResult]], now: datetime
) -> None:
    # Webhooks first, then deliveries, each in id order: the lock order every writer keeps.
    webhooks = await WebhookRepository(session).lock_many(
        sorted({c.webhook_id for c, _ in outcomes})
    )
    deliveries_repo = DeliveryRepository(session)
    deliveries = await deliveries_repo.lock_many([c.delivery_id for c, _ in outcomes])
    to_disable: dict[uuid.UUID, tuple[WebhookDisabledReason, AttemptResult]] = {}
    # Outcomes in the order they (about) happened: a later success clears earlier failures.
    for claimed, result in sorted(outcomes, key=lambda o: o[1].duration_ms):
        delivery = deliveries.get(claimed.delivery_id)
        webhook = webhooks.get(claimed.webhook_id)
        if delivery is None or webhook is None or delivery.attempt_count != claimed.number - 1:
            # Deleted meanwhile, or recorded by a worker that took over after our lease.
            continue
        await deliveries_repo.add_attempt(
            WebhookAttempt(
                id=new_id(),
                partner_id=delivery.partner_id,
                delivery_id=delivery.id,
                number=claimed.number,
                attempted_at=now,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
            )
        )
        delivery.attempt_count = claimed.number
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        if result.succeeded:
            delivery.status = "succeeded"
            delivery.completed_at = now
            delivery.next_attempt_at = None
            webhook.consecutive_failures = 0
            webhook.failing_since = None
            webhook.last_success_at = now
            to_disable.pop(webhook.id, None)
            continue
        webhook.consecutive_failures += 1
        webhook.failing_since = webhook.failing_since or now
        retry_at = next_attempt_at(claimed.number, now)
        if result.status_code == 410:
            # 410 Gone: the endpoint asked us to stop; retrying would not change its mind.
            retry_at = None
            to_disable[webhook.id] = (WebhookDisabledReason.ENDPOINT_GONE, result)
        elif retry_at is None and should_disable(webhook.failing_since, now):
            to_disable.setdefault(webhook.id, (WebhookDisabledReason.CONSECUTIVE_FAILURES, result))
        if retry_at is None:
            delivery.status = "failed"
            delivery.completed_at = now
            delivery.next_attempt_at = None
        else:
            delivery.status = "pending" if webhook.status == "enabled" else "paused"
            delivery.next_attempt_at = retry_at
        log.info(
            "webhook.attempt_failed",
            delivery_id=str(delivery.id),
            webhook_id=str(webhook.id),
            attempt=claimed.number,
            status_code=result.status_code,
            error=result.error,
            retry_at=retry_at.isoformat() if retry_at else None,
        )
    await session.flush()
    for webhook_id, (reason, result) in sorted(to_disable.items()):
        await disable(
            session,
            webhooks[webhook_id],
            reason,
            now,
            LastFailure(result.status_code, result.error),
        )


# Idle workers look for due deliveries this often; a new event waits at most about this long.
POLL_SECONDS = 0.5


async def run_deliveries(runtime: Runtime) -> None:
    """One round of the job: batches until what is due is done (or the process drains)."""
    gateway: Gateway = runtime.extras["gateway"]
    while not runtime.draining:
        tried = await deliver_due(runtime.db, gateway.keys.sealer, gateway.settings)
        if tried < BATCH_SIZE:
            return


# Not a singleton: workers split the due deliveries between them (SKIP LOCKED).
DELIVERY_JOB = PeriodicJob("webhook-delivery", POLL_SECONDS, run_deliveries, singleton=False)
