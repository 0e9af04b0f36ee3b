"""The service runtime: its workers relay and consume on their own, and it stops gracefully."""

from __future__ import annotations

import asyncio
import gc
import time
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.cli.embedded import EmbeddedNats
from partnerguard.common.auth import TokenVerifier, TrustedIssuer
from partnerguard.common.bus.consumer import ConsumerSpec, Handlers
from partnerguard.common.db.engine import Database
from partnerguard.common.events.envelope import Event
from partnerguard.common.ids import new_id
from partnerguard.common.runtime import (
    Consumer,
    PeriodicJob,
    Runtime,
    ServiceDefinition,
    create_app,
)
from partnerguard.common.settings import ServiceSettings
from tests.support.apps import AUDIENCE, widget_settings
from tests.support.jwks import Issuer
from tests.support.widgets import WidgetCreated, WidgetEffect, count_effects, router


async def test_workers_relay_and_consume_and_stop_within_the_grace_period(
    db: Database, nats_server: EmbeddedNats, issuer: Issuer, partner_id: uuid.UUID
) -> None:
    handled = asyncio.Event()
    job_runs: list[float] = []
    ticked_twice = asyncio.Event()
    handlers = Handlers()

    @handlers.on(WidgetCreated)
    async def record(session: AsyncSession, event: Event[WidgetCreated]) -> None:
        session.add(
            WidgetEffect(
                id=new_id(), partner_id=event.partner_id, widget_id=event.data.widget_id, seq=0
            )
        )
        handled.set()

    async def tick(runtime: Runtime) -> None:
        job_runs.append(time.monotonic())
        if len(job_runs) >= 2:
            ticked_twice.set()

    settings = ServiceSettings(
        service_name="widgets",
        nats_url=nats_server.url,
        auth_issuer=issuer.url,
        auth_jwks_url=issuer.jwks_url,
        auth_audience=AUDIENCE,
        run_workers=True,
        log_json=False,
        log_level="WARNING",
        shutdown_grace_seconds=5,
    )
    definition = ServiceDefinition(
        name="widgets",
        title="Widgets",
        settings=settings,
        routers=[router],
        consumers=[
            Consumer(
                ConsumerSpec(
                    durable=f"widgets-{partner_id.hex[:10]}",
                    stream="ONBOARDING",
                    subjects=[f"onboarding.{partner_id}.widget.created"],
                    fetch_timeout=0.2,
                ),
                handlers,
            )
        ],
        jobs=[PeriodicJob("tick", 0.1, tick)],
    )
    verifier = TokenVerifier(
        [TrustedIssuer(issuer=issuer.url, jwks_url=issuer.jwks_url, audience=AUDIENCE)]
    )
    runtime = Runtime(definition, db=db, verifier=verifier)
    app = create_app(definition, runtime=runtime)
    await runtime.start(with_workers=True)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://widgets"
        ) as client:
            ready = await _ready(client)
            assert ready.status_code == 200, ready.text
            token = issuer.token(partner_id, ["widgets:write"], audience=AUDIENCE)
            created = await client.post(
                "/v1/widgets", json={"name": "w"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert created.status_code == 201
            await asyncio.wait_for(handled.wait(), 10)
            await asyncio.wait_for(ticked_twice.wait(), 10)
    finally:
        started = time.monotonic()
        await runtime.stop()
        stopped_in = time.monotonic() - started
    assert stopped_in < 5
    assert runtime.draining
    async with db.tenant_session(partner_id) as session:
        assert await count_effects(session, uuid.UUID(created.json()["id"])) == 1


async def _ready(client: httpx.AsyncClient) -> httpx.Response:
    deadline = time.monotonic() + 10
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.05)


async def test_a_woken_job_runs_at_once_instead_of_at_the_end_of_its_interval(
    db: Database, nats_server: EmbeddedNats
) -> None:
    wake = asyncio.Event()
    runs: list[float] = []
    ran = asyncio.Event()

    async def work(runtime: Runtime) -> None:
        runs.append(time.monotonic())
        ran.set()

    definition = ServiceDefinition(
        name="wakeful",
        title="wakeful",
        settings=ServiceSettings(nats_url=nats_server.url, shutdown_grace_seconds=2.0),
        jobs=[PeriodicJob("hourly", 3600.0, work, singleton=False, wake=wake)],
    )
    runtime = Runtime(definition, db=db)
    await runtime.start(with_workers=True)
    try:
        await asyncio.wait_for(ran.wait(), 10)  # the first run, at start
        ran.clear()
        wake.set()
        await asyncio.wait_for(ran.wait(), 10)  # not an hour later
    finally:
        await runtime.stop()
    assert len(runs) == 2


async def test_a_started_service_is_frozen_out_of_full_collections(
    db: Database, issuer: Issuer
) -> None:
    """What lives once the service has started is moved out of the collector's sight, so a
    full collection under load walks only what requests made since."""
    definition = ServiceDefinition(
        name="widgets", title="Widgets", settings=widget_settings(issuer)
    )
    app = create_app(definition, runtime=Runtime(definition, db=db))
    gc.unfreeze()
    assert gc.get_freeze_count() == 0

    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()

    # The app, its routes and its runtime are among what was frozen.
    assert frozen > 10_000
