"""HTTP: the calling partner's webhooks and their deliveries (scopes ``gateway:read`` /
``gateway:write``: roles user_management_admin and global_admin)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from partnerguard.common.auth import Caller
from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep, caller_with
from partnerguard.gateway.access import RateLimited
from partnerguard.gateway.context import GatewayDep
from partnerguard.gateway.models import Webhook, WebhookAttempt, WebhookDelivery
from partnerguard.gateway.webhooks import service
from partnerguard.gateway.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryStatus,
    SecretRotation,
    WebhookCreate,
    WebhookOut,
    WebhookStatus,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(
    prefix="/v1/webhooks",
    tags=["webhooks"],
    responses=PROBLEM_RESPONSES,
    dependencies=[RateLimited],
)

Reader = Annotated[Caller, caller_with("gateway:read")]
Writer = Annotated[Caller, caller_with("gateway:write")]
Pages = Annotated[PageParams, Depends(page_params)]

_VERIFYING = (
    "Each delivery is a POST of the event as CloudEvents JSON "
    "(`Content-Type: application/cloudevents+json`), signed per Standard Webhooks: "
    "`webhook-id` (the event id: drop repeats), `webhook-timestamp` and `webhook-signature` "
    "(`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per live secret, space-separated). "
    "An answer other than 2xx is retried for more than 24 hours (after 5 s, 5 min, 30 min, 2 h, "
    "5 h, 10 h, 10 h), then the webhook is disabled and `gateway.webhook.disabled` is emitted; "
    "410 Gone disables it at once."
)


def _with_secret(webhook: Webhook, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**WebhookOut.model_validate(webhook).model_dump(), secret=secret)


@router.post(
    "",
    status_code=201,
    response_model=WebhookWithSecret,
    summary="Create a webhook",
    description="The URL must be https on a public address. The signing secret is shown once. "
    "A replay with the same `Idempotency-Key` answers the same webhook without its secret "
    "(only a seal of it is kept): rotate the secret if the first answer was lost. " + _VERIFYING,
)
async def create_webhook(
    body: WebhookCreate,
    session: SessionDep,
    caller: Writer,
    gateway: GatewayDep,
    idem: IdempotencyDep,
) -> JSONResponse:
    webhook, secret = await service.create_webhook(
        session,
        caller.partner_id,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        settings=gateway.settings,
        sealer=gateway.keys.sealer,
    )
    # The stored answer leaves the secret out; this answer alone carries it.
    await idem.respond(WebhookOut.model_validate(webhook), status_code=201)
    return JSONResponse(_with_secret(webhook, secret).model_dump(mode="json"), status_code=201)


@router.get("", response_model=Page[WebhookOut], summary="List webhooks")
async def list_webhooks(
    session: SessionDep,
    caller: Reader,
    params: Pages,
    status: Annotated[
        WebhookStatus | None, Query(description="Only webhooks in this state.")
    ] = None,
) -> Page[WebhookOut]:
    rows = await service.list_webhooks(
        session, caller.partner_id, params.limit, params.after_id, status
    )
    return make_page([WebhookOut.model_validate(r) for r in rows], params, lambda w: w.id)


@router.get("/{id}", response_model=WebhookOut, summary="Get a webhook")
async def get_webhook(id: uuid.UUID, session: SessionDep, caller: Reader) -> WebhookOut:  # noqa: A002
    return WebhookOut.model_validate(await service.get_webhook(session, caller.partner_id, id))


@router.patch(
    "/{id}",
    response_model=WebhookOut,
    summary="Change a webhook's URL, event types or description",
)
async def update_webhook(
    id: uuid.UUID,  # noqa: A002
    body: WebhookUpdate,
    session: SessionDep,
    caller: Writer,
    gateway: GatewayDep,
) -> WebhookOut:
    webhook = await service.update_webhook(session, caller.partner_id, id, body, gateway.settings)
    return WebhookOut.model_validate(webhook)


@router.delete("/{id}", status_code=204, summary="Delete a webhook and its deliveries")
async def delete_webhook(id: uuid.UUID, session: SessionDep, caller: Writer) -> Response:  # noqa: A002
    await service.delete_webhook(session, caller.partner_id, id)
    return Response(status_code=204)


@router.post(
    "/{id}/secret",
    response_model=WebhookWithSecret,
    summary="Rotate a webhook's signing secret",
    description="The new secret is shown once. For `overlap_seconds` (default a day) deliveries "
    "carry a signature by the old secret beside the new one, so the receiver can switch "
    "without rejecting anything.",
)
async def rotate_secret(
    id: uuid.UUID,  # noqa: A002
    session: SessionDep,
    caller: Writer,
    gateway: GatewayDep,
    body: SecretRotation | None = None,
) -> WebhookWithSecret:
    rotation = body or SecretRotation()
    webhook, secret = await service.rotate_secret(
        session,
        caller.partner_id,
        id,
        overlap=timedelta(seconds=rotation.overlap_seconds),
        sealer=gateway.keys.sealer,
    )
    return _with_secret(webhook, secret)


@router.post(
    "/{id}/enable",
    response_model=WebhookOut,
    summary="Enable a disabled webhook",
    description="The URL is checked again; deliveries held while it was disabled go out at once.",
)
async def enable_webhook(
    id: uuid.UUID,  # noqa: A002
    session: SessionDep,
    caller: Writer,
    gateway: GatewayDep,
) -> WebhookOut:
    webhook = await service.enable_webhook(session, caller.partner_id, id, gateway.settings)
    return WebhookOut.model_validate(webhook)


@router.post(
    "/{id}/disable",
    response_model=WebhookOut,
    summary="Disable a webhook",
    description="Nothing is sent until it is enabled again. Deliveries already owed wait for "
    "that; events in between are not delivered to it.",
)
async def disable_webhook(id: uuid.UUID, session: SessionDep, caller: Writer) -> WebhookOut:  # noqa: A002
    webhook = await service.disable_webhook(session, caller.partner_id, id)
    return WebhookOut.model_validate(webhook)


@router.get(
    "/{id}/deliveries",
    response_model=Page[DeliveryOut],
    summary="List a webhook's deliveries",
    description="Newest first, each with every attempt: status code, error and duration.",
)
async def list_deliveries(
    id: uuid.UUID,  # noqa: A002
    session: SessionDep,
    caller: Reader,
    params: Pages,
    status: Annotated[
        DeliveryStatus | None, Query(description="Only deliveries in this state.")
    ] = None,
) -> Page[DeliveryOut]:
    deliveries, attempts = await service.list_deliveries(
        session, caller.partner_id, id, params.limit, params.after_id, status
    )
    items = [_delivery_out(d, attempts[d.id]) for d in deliveries]
    return make_page(items, params, lambda d: d.id)


def _delivery_out(delivery: WebhookDelivery, attempts: Sequence[WebhookAttempt]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        completed_at=delivery.completed_at,
        attempts=[AttemptOut.model_validate(a) for a in attempts],
    )
