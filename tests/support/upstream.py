"""A stand-in "onboarding" service on a real uvicorn server, for the gateway's proxy tests.

It is built on the kernel like every service, verifies tokens itself against the gateway's keys,
and keeps its items in memory, per partner: what a test checks is the gateway's behaviour.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from partnerguard.cli.embedded import free_port
from partnerguard.common.auth import Caller, KeySource, TokenVerifier, TrustedIssuer
from partnerguard.common.errors import NotFound
from partnerguard.common.runtime import Runtime, ServiceDefinition, create_app
from partnerguard.common.settings import ServiceSettings
from partnerguard.common.web.deps import caller_with


class ItemIn(BaseModel):
    name: str


class Item(BaseModel):
    id: uuid.UUID
    name: str


@dataclass
class UpstreamState:
    items: dict[uuid.UUID, dict[uuid.UUID, Item]] = field(default_factory=dict)
    calls: int = 0
    last_headers: dict[str, str] = field(default_factory=dict)


def _router(state: UpstreamState) -> APIRouter:
    router = APIRouter(prefix="/v1/onboarding")

    @router.post("/items", status_code=201, response_model=Item)
    async def create_item(
        body: ItemIn, request: Request, caller: Annotated[Caller, caller_with("onboarding:write")]
    ) -> Item:
        state.calls += 1
        state.last_headers = dict(request.headers)
        item = Item(id=uuid.uuid4(), name=body.name)
        state.items.setdefault(caller.partner_id, {})[item.id] = item
        return item

    @router.get("/items/{item_id}", response_model=Item)
    async def get_item(
        item_id: uuid.UUID,
        request: Request,
        caller: Annotated[Caller, caller_with("onboarding:read")],
    ) -> Item:
        state.calls += 1
        state.last_headers = dict(request.headers)
        item = state.items.get(caller.partner_id, {}).get(item_id)
        if item is None:
            raise NotFound("no such item")
        return item

    @router.get("/items/{item_id}/audit", response_model=Item)
    async def audit_item(
        item_id: uuid.UUID, caller: Annotated[Caller, caller_with("onboarding:write")]
    ) -> Item:
        """A read that needs the write scope: only the service's document says so."""
        state.calls += 1
        item = state.items.get(caller.partner_id, {}).get(item_id)
        if item is None:
            raise NotFound("no such item")
        return item

    @router.get("/slow")
    async def slow(caller: Annotated[Caller, caller_with("onboarding:read")]) -> dict[str, Any]:
        state.calls += 1
        await asyncio.sleep(3)
        return {}

    @router.get("/stream")
    async def stream(
        caller: Annotated[Caller, caller_with("onboarding:read")],
    ) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"x" * 16384

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    return router


@dataclass
class Upstream:
    url: str
    state: UpstreamState
    server: uvicorn.Server


@asynccontextmanager
async def running_upstream(issuer: str, keys: KeySource, nats_url: str) -> AsyncIterator[Upstream]:
    state = UpstreamState()
    settings = ServiceSettings(
        service_name="onboarding",
        auth_issuer=issuer,
        auth_audience="partnerguard:onboarding",
        nats_url=nats_url,
        log_json=False,
        log_level="WARNING",
        shutdown_grace_seconds=1.0,
    )
    definition = ServiceDefinition(
        name="onboarding", title="Onboarding (test)", settings=settings, routers=[_router(state)]
    )
    verifier = TokenVerifier(
        [
            TrustedIssuer(
                issuer=issuer, jwks_url=f"{issuer}/jwks", audience="partnerguard:onboarding"
            )
        ],
        key_sources={issuer: keys},
    )
    app: FastAPI = create_app(definition, runtime=Runtime(definition, verifier=verifier))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 10
    # uvicorn exposes a flag, not an event, for "listening".
    while not server.started:  # noqa: ASYNC110
        if task.done() or asyncio.get_running_loop().time() > deadline:
            raise RuntimeError("the upstream did not start")
        await asyncio.sleep(0.02)
    try:
        yield Upstream(f"http://127.0.0.1:{port}", state, server)
    finally:
        server.should_exit = True
        await task
