"""HTTP: registry — customers and their subscriptions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep
from partnerguard.enforcement.deps import Reader, Writer
from partnerguard.enforcement.holds.schemas import HoldOut
from partnerguard.enforcement.holds.service import active_holds_of
from partnerguard.enforcement.holds.status import DesiredStatus
from partnerguard.enforcement.registry import service
from partnerguard.enforcement.registry.schemas import (
    CustomerDetailOut,
    CustomerIn,
    CustomerOut,
    SubscriptionIn,
    SubscriptionOut,
)

router = APIRouter(prefix="/v1/enforcement", tags=["registry"], responses=PROBLEM_RESPONSES)


def _actor(client_id: str) -> str:
    return f"client:{client_id}"


@router.post(
    "/customers",
    status_code=201,
    response_model=CustomerOut,
    responses={200: {"model": CustomerOut, "description": "The customer was known: updated."}},
    summary="Record a customer and its controls",
    description="Customers are also recorded from onboarding, billing and monitoring events. "
    "Fields left out stay as they are; an approval older than the one recorded changes "
    "nothing. 201 when new, 200 when known. Send an `Idempotency-Key` to retry safely.",
)
async def upsert_customer(
    body: CustomerIn, caller: Writer, session: SessionDep, idem: IdempotencyDep
) -> JSONResponse:
    customer, created = await service.upsert_customer(
        session, caller.partner_id, body, actor=_actor(caller.client_id), now=datetime.now(UTC)
    )
    return await idem.respond(CustomerOut.of(customer), 201 if created else 200)


@router.get("/customers", response_model=Page[CustomerOut], summary="List customers")
async def list_customers(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    vendor_tenant_id: Annotated[
        uuid.UUID | None, Query(description="Only the customer of this tenant.")
    ] = None,
) -> Page[CustomerOut]:
    rows = await service.list_customers(
        session,
        caller.partner_id,
        vendor_tenant_id=vendor_tenant_id,
        limit=params.limit,
        after=params.after_id,
    )
    page = make_page(rows, params, lambda c: c.id)
    return Page(items=[CustomerOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerDetailOut,
    summary="Get a customer with its subscriptions and active holds",
)
async def get_customer(
    customer_id: uuid.UUID, caller: Reader, session: SessionDep
) -> CustomerDetailOut:
    customer = await service.get_customer(session, caller.partner_id, customer_id)
    subscriptions = await service.subscriptions_of(session, caller.partner_id, customer_id)
    holds = await active_holds_of(session, caller.partner_id, customer_id)
    return CustomerDetailOut(
        **CustomerOut.of(customer).model_dump(),
        subscriptions=[SubscriptionOut.of(s) for s in subscriptions],
        active_holds=[HoldOut.of(h) for h in holds],
    )


@router.post(
    "/customers/{customer_id}/subscriptions",
    status_code=201,
    response_model=SubscriptionOut,
    responses={200: {"model": SubscriptionOut, "description": "Already registered: updated."}},
    summary="Register a customer's subscription",
    description="A subscription registered while a hold covers it starts wanted `suspended`. "
    "One registered to another customer is a 409. 201 when new, 200 when known.",
)
async def register_subscription(
    customer_id: uuid.UUID,
    body: SubscriptionIn,
    caller: Writer,
    session: SessionDep,
    idem: IdempotencyDep,
) -> JSONResponse:
    subscription, created = await service.register_subscription(
        session,
        caller.partner_id,
        customer_id,
        body,
        actor=_actor(caller.client_id),
        now=datetime.now(UTC),
    )
    return await idem.respond(SubscriptionOut.of(subscription), 201 if created else 200)


@router.get("/subscriptions", response_model=Page[SubscriptionOut], summary="List subscriptions")
async def list_subscriptions(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
    status: Annotated[
        str | None,
        Query(min_length=1, max_length=40, description="The vendor's status, e.g. `suspended`."),
    ] = None,
    desired_status: Annotated[
        DesiredStatus | None, Query(description="What the holds want.")
    ] = None,
) -> Page[SubscriptionOut]:
    rows = await service.list_subscriptions(
        session,
        caller.partner_id,
        customer_id=customer_id,
        status=status,
        desired_status=desired_status.value if desired_status else None,
        limit=params.limit,
        after=params.after_id,
    )
    page = make_page(rows, params, lambda s: s.id)
    return Page(items=[SubscriptionOut.of(s) for s in page.items], next_cursor=page.next_cursor)
