"""HTTP: the calling partner's OAuth clients (role user_management_admin or global_admin).

Creating a client is deliberately not replayable with ``Idempotency-Key``: a replay would have
to keep the plain secret, which is shown once and never stored.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from partnerguard.common.auth import Caller
from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import RuntimeDep, SessionDep, caller_with
from partnerguard.gateway.access import RateLimited
from partnerguard.gateway.clients import service
from partnerguard.gateway.clients.schemas import ClientCreate, ClientOut, ClientWithSecret
from partnerguard.gateway.roles import Role
from partnerguard.gateway.settings import GatewaySettings

router = APIRouter(
    prefix="/v1/clients", tags=["clients"], responses=PROBLEM_RESPONSES, dependencies=[RateLimited]
)

Reader = Annotated[Caller, caller_with("gateway:read")]
Writer = Annotated[Caller, caller_with("gateway:write")]


def _with_secret(client: object, secret: str) -> ClientWithSecret:
    out = ClientOut.model_validate(client)
    return ClientWithSecret(
        **out.model_dump(exclude={"scopes"}),
        client_secret=secret,
        previous_secret_expires_at=getattr(client, "previous_secret_expires_at", None),
    )


@router.post("", status_code=201, response_model=ClientWithSecret, summary="Create a client")
async def create_client(
    body: ClientCreate, session: SessionDep, caller: Writer
) -> ClientWithSecret:
    role = Role(body.role)
    service.check_may_grant(caller, role)
    client, secret = await service.create_client(session, caller.partner_id, body.name, role)
    return _with_secret(client, secret)


@router.get("", response_model=Page[ClientOut], summary="List clients")
async def list_clients(
    session: SessionDep, caller: Reader, params: Annotated[PageParams, Depends(page_params)]
) -> Page[ClientOut]:
    rows = await service.list_clients(session, caller.partner_id, params.limit, params.after_id)
    return make_page([ClientOut.model_validate(r) for r in rows], params, lambda c: c.id)


@router.get("/{id}", response_model=ClientOut, summary="Get a client")
async def get_client(id: uuid.UUID, session: SessionDep, caller: Reader) -> ClientOut:  # noqa: A002
    return ClientOut.model_validate(await service.get_client(session, caller.partner_id, id))


@router.delete("/{id}", status_code=204, summary="Revoke a client and its tokens")
async def revoke_client(id: uuid.UUID, session: SessionDep, caller: Writer) -> Response:  # noqa: A002
    await service.revoke_client(session, caller.partner_id, id)
    return Response(status_code=204)


@router.post(
    "/{id}/secret",
    response_model=ClientWithSecret,
    summary="Rotate a client's secret",
    description="The new secret is shown once. The old one keeps working for the configured "
    "overlap (CLIENT_SECRET_OVERLAP_SECONDS), so deployments can roll over.",
)
async def rotate_secret(
    id: uuid.UUID,  # noqa: A002
    session: SessionDep,
    caller: Writer,
    runtime: RuntimeDep,
) -> ClientWithSecret:
    settings = runtime.settings
    assert isinstance(settings, GatewaySettings)
    existing = await service.get_client(session, caller.partner_id, id)
    service.check_may_grant(caller, Role(existing.role))
    client, secret = await service.rotate_client_secret(
        session,
        caller.partner_id,
        id,
        timedelta(seconds=settings.client_secret_overlap_seconds),
    )
    return _with_secret(client, secret)
