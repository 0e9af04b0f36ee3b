"""A partner's webhooks: registered, changed, rotated, disabled and enabled; events owed to them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.errors import NotFound, Unprocessable
from partnerguard.common.events.envelope import CloudEvent
from partnerguard.common.events.types.gateway import WebhookDisabled, WebhookDisabledReason
from partnerguard.common.ids import new_id
from partnerguard.common.outbox import emit
from partnerguard.gateway.models import Webhook, WebhookAttempt, WebhookDelivery
from partnerguard.gateway.sealing import Sealer
from partnerguard.gateway.settings import GatewaySettings
from partnerguard.gateway.webhooks.destinations import DestinationRefused, vet_url
from partnerguard.gateway.webhooks.filters import patterns_matching
from partnerguard.gateway.webhooks.repository import DeliveryRepository, WebhookRepository
from partnerguard.gateway.webhooks.schemas import WebhookUpdate
from partnerguard.gateway.webhooks.signing import new_secret, seal_context

log = structlog.get_logger()


async def check_destination(url: str, settings: GatewaySettings) -> None:
    """422 for a URL webhooks may not call (scheme, or an address that is not public)."""
    try:
        await vet_url(
            url,
            allow_http=settings.webhooks_allow_http,
            allow_private=settings.webhooks_allow_private_urls,
        )
    except DestinationRefused as exc:
        raise Unprocessable(f"webhook URL refused: {exc}") from exc


async def create_webhook(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    url: str,
    event_types: list[str],
    description: str | None,
    settings: GatewaySettings,
    sealer: Sealer,
) -> tuple[Webhook, str]:
    """A new webhook and its signing secret (returned this once, kept only sealed)."""
    await check_destination(url, settings)
    secret = new_secret()
    webhook_id = new_id()
    webhook = Webhook(
        id=webhook_id,
        partner_id=partner_id,
        url=url,
        description=description,
        event_types=event_types,
        status="enabled",
        sealed_secret=sealer.seal(secret.encode(), seal_context(webhook_id)),
        consecutive_failures=0,
    )
    await WebhookRepository(session).add(webhook)
    log.info("webhook.created", webhook_id=str(webhook_id), partner_id=str(partner_id))
    return webhook, secret


async def get_webhook(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> Webhook:
    webhook = await WebhookRepository(session).get(partner_id, id_)
    if webhook is None:
        raise NotFound("no such webhook")
    return webhook


async def _locked(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> Webhook:
    webhook = await WebhookRepository(session).get_for_update(partner_id, id_)
    if webhook is None:
        raise NotFound("no such webhook")
    return webhook


async def list_webhooks(
    session: AsyncSession,
    partner_id: uuid.UUID,
    limit: int,
    after: uuid.UUID | None,
    status: str | None = None,
) -> Sequence[Webhook]:
    return await WebhookRepository(session).page(partner_id, limit, after, status)


async def update_webhook(
    session: AsyncSession,
    partner_id: uuid.UUID,
    id_: uuid.UUID,
    changes: WebhookUpdate,
    settings: GatewaySettings,
) -> Webhook:
    """Change the fields given (URL, filters, description); a new URL is vetted as at creation."""
    webhook = await _locked(session, partner_id, id_)
    given = changes.model_fields_set
    if changes.url is not None and changes.url != webhook.url:
        await check_destination(changes.url, settings)
        webhook.url = changes.url
    if changes.event_types is not None:
        webhook.event_types = changes.event_types
    if "description" in given:
        webhook.description = changes.description
    await session.flush()
    log.info("webhook.updated", webhook_id=str(id_), partner_id=str(partner_id))
    return webhook


async def delete_webhook(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> None:
    """Delete a webhook with its deliveries; nothing more is sent to it."""
    webhook = await _locked(session, partner_id, id_)
    await WebhookRepository(session).remove(webhook)
    log.info("webhook.deleted", webhook_id=str(id_), partner_id=str(partner_id))


async def rotate_secret(
    session: AsyncSession,
    partner_id: uuid.UUID,
    id_: uuid.UUID,
    *,
    overlap: timedelta,
    sealer: Sealer,
) -> tuple[Webhook, str]:
    """A new secret; the current one keeps signing beside it for ``overlap`` (0: stops now)."""
    webhook = await _locked(session, partner_id, id_)
    secret = new_secret()
    if overlap > timedelta(0):
        webhook.previous_sealed_secret = webhook.sealed_secret
        webhook.previous_secret_expires_at = datetime.now(UTC) + overlap
    else:
        webhook.previous_sealed_secret = None
        webhook.previous_secret_expires_at = None
    webhook.sealed_secret = sealer.seal(secret.encode(), seal_context(webhook.id))
    await session.flush()
    log.info("webhook.secret_rotated", webhook_id=str(id_), partner_id=str(partner_id))
    return webhook, secret


async def enable_webhook(
    session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID, settings: GatewaySettings
) -> Webhook:
    """Deliver again: the URL is vetted anew, and deliveries paused meanwhile are due at once."""
    webhook = await _locked(session, partner_id, id_)
    if webhook.status == "enabled":
        return webhook
    await check_destination(webhook.url, settings)
    now = datetime.now(UTC)
    webhook.status = "enabled"
    webhook.disabled_reason = None
    webhook.disabled_at = None
    webhook.consecutive_failures = 0
    webhook.failing_since = None
    await session.flush()
    await DeliveryRepository(session).resume_paused(webhook.id, now)
    log.info("webhook.enabled", webhook_id=str(id_), partner_id=str(partner_id))
    return webhook


@dataclass(frozen=True)
class LastFailure:
    status_code: int | None = None
    error: str | None = None


async def disable(
    session: AsyncSession,
    webhook: Webhook,
    reason: WebhookDisabledReason,
    now: datetime,
    last: LastFailure | None = None,
) -> bool:
    """Stop delivering to a (locked) webhook, pause what it is owed, and say so in an event.
    False if it was disabled already."""
    if webhook.status == "disabled":
        return False
    webhook.status = "disabled"
    webhook.disabled_reason = reason.value
    webhook.disabled_at = now
    await session.flush()
    await DeliveryRepository(session).pause_pending([webhook.id])
    last = last or LastFailure()
    await emit(
        session,
        WebhookDisabled(
            webhook_id=webhook.id,
            url=webhook.url,
            reason=reason,
            consecutive_failures=webhook.consecutive_failures,
            last_status_code=last.status_code,
            last_error=last.error[:500] if last.error else None,
            disabled_at=now,
        ),
        partner_id=webhook.partner_id,
        subject=webhook.id,
    )
    log.warning(
        "webhook.disabled",
        webhook_id=str(webhook.id),
        partner_id=str(webhook.partner_id),
        reason=reason.value,
        consecutive_failures=webhook.consecutive_failures,
    )
    return True


async def disable_webhook(session: AsyncSession, partner_id: uuid.UUID, id_: uuid.UUID) -> Webhook:
    """Disabled by the partner: nothing is sent until it is enabled again."""
    webhook = await _locked(session, partner_id, id_)
    await disable(session, webhook, WebhookDisabledReason.MANUAL, datetime.now(UTC))
    return webhook


async def list_deliveries(
    session: AsyncSession,
    partner_id: uuid.UUID,
    webhook_id: uuid.UUID,
    limit: int,
    before: uuid.UUID | None,
    status: str | None = None,
) -> tuple[Sequence[WebhookDelivery], dict[uuid.UUID, list[WebhookAttempt]]]:
    """A page of a webhook's deliveries (newest first), each with its attempts."""
    await get_webhook(session, partner_id, webhook_id)
    repo = DeliveryRepository(session)
    deliveries = await repo.page(partner_id, webhook_id, limit, before, status)
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        for attempt in await repo.attempts_of(partner_id, [d.id for d in deliveries]):
            attempts[attempt.delivery_id].append(attempt)
    return deliveries, attempts


async def record_deliveries(
    session: AsyncSession, envelope: CloudEvent, now: datetime | None = None
) -> int:
    """Owe ``envelope`` to each enabled webhook of its partner whose filters select it.

    Runs in the consumer's transaction, beside the inbox record: a redelivered event adds
    nothing (the inbox, and the unique (webhook, event) key behind it).
    """
    partner_id = envelope.partnerid
    webhook_ids = await WebhookRepository(session).enabled_ids_matching(
        partner_id, patterns_matching(envelope.type)
    )
    if not webhook_ids:
        return 0
    added = await DeliveryRepository(session).add_for_event(
        partner_id,
        webhook_ids,
        event_id=envelope.id,
        event_type=envelope.type,
        body=envelope.model_dump_json(exclude_none=True),
        now=now or datetime.now(UTC),
    )
    log.info(
        "webhook.deliveries_owed",
        event_id=str(envelope.id),
        event_type=envelope.type,
        partner_id=str(partner_id),
        deliveries=added,
    )
    return added
