"""A service's runtime: database, bus, token verifier and background work, owned and drained.

A service describes itself once (:class:`ServiceDefinition`); the same description builds its
API process (routers) and its worker process (outbox relay, event consumers, periodic jobs),
so operators scale them apart. In the embedded run one process may do both.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import func, select

from partnerguard.common.auth import TokenVerifier, TrustedIssuer
from partnerguard.common.bus.connection import EventBus
from partnerguard.common.bus.consumer import ConsumerSpec, EventConsumer, MessageHandler
from partnerguard.common.db.engine import Database
from partnerguard.common.errors import install_problem_handlers
from partnerguard.common.idempotency import install_idempotency, purge_expired_keys
from partnerguard.common.inbox import purge_inbox
from partnerguard.common.logging import configure_logging
from partnerguard.common.migrations import History, histories
from partnerguard.common.outbox import OutboxRelay
from partnerguard.common.settings import ServiceSettings
from partnerguard.common.web.deps import reject_nul_characters
from partnerguard.common.web.health import router as health_router
from partnerguard.common.web.middleware import RequestContextMiddleware

log = structlog.get_logger()

Role = Literal["api", "worker", "all"]


@dataclass(frozen=True)
class ServiceSpec:
    """What the ``partnerguard`` launcher knows of a service (entry point ``partnerguard.services``)."""

    name: str
    default_port: int
    api_app: str
    worker_app: str
    migrations: Path


@dataclass(frozen=True)
class Consumer:
    spec: ConsumerSpec
    handlers: MessageHandler


@dataclass(frozen=True)
class PeriodicJob:
    """Work run every ``interval`` seconds. ``singleton`` jobs run on one replica at a time.

    Setting ``wake`` runs the job at once instead of at the end of its interval: a handler
    that has just committed work for it says so (the interval stays the backstop, and the
    only way work from other processes is seen)."""

    name: str
    interval: float
    run: Callable[[Runtime], Awaitable[object]]
    singleton: bool = True
    wake: asyncio.Event | None = None


@dataclass
class ServiceDefinition:
    name: str
    title: str
    settings: ServiceSettings
    description: str = ""
    version: str = "0.1.0"
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[Consumer] = ()
    jobs: Sequence[PeriodicJob] = ()
    openapi_tags: list[dict[str, str]] = field(default_factory=list)
    # The service's own resources (caches, clients, background refreshers), entered after the
    # runtime has started and left before it stops, in every role.
    lifespan: Callable[[Runtime], AbstractAsyncContextManager[None]] | None = None
    # Its migrations: set, the process is not ready until its database has them all.
    migrations: Path | None = None


class Runtime:
    """Everything a service process owns; created per process, never a module global."""

    def __init__(
        self,
        definition: ServiceDefinition,
        *,
        db: Database | None = None,
        verifier: TokenVerifier | None = None,
    ) -> None:
        self.definition = definition
        self.settings = definition.settings
        self.db = db or Database.from_settings(self.settings)
        self.verifier = verifier or TokenVerifier(
            [
                TrustedIssuer(
                    issuer=self.settings.auth_issuer,
                    jwks_url=self.settings.auth_jwks_url,
                    audience=self.settings.auth_audience or f"partnerguard:{definition.name}",
                    algorithms=frozenset(self.settings.auth_algorithms),
                )
            ],
            leeway=self.settings.auth_leeway_seconds,
            min_refresh_interval=self.settings.auth_jwks_min_refresh_seconds,
        )
        self.bus: EventBus | None = None
        # A service's own process state (caches, clients), for its jobs and handlers to reach.
        self.extras: dict[str, Any] = {}
        self.draining = False
        self._histories: list[History] | None = None
        self._schema_current = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def schema_state(self) -> str:
        """``ok`` once the database holds every migration this code needs.

        A deployment may start pods before the release's migration job has run; they stay out
        of service (unready) until it has, instead of failing requests on missing columns.
        Once current, a schema only moves forward, so the answer is kept.
        """
        if self._schema_current or self.definition.migrations is None:
            return "ok"
        if self._histories is None:
            self._histories = await asyncio.to_thread(histories, self.definition.migrations)
        applied = await self.db.applied_revisions([h.table for h in self._histories])
        if any(h.behind(applied[h.table]) for h in self._histories):
            return f"behind: run `partnerguard setup-database {self.definition.name}`"
        self._schema_current = True
        return "ok"

    async def start(self, *, with_workers: bool) -> None:
        self._stop.clear()
        self._spawn("bus", self._connect_and_work(with_workers))

    async def stop(self) -> None:
        """Stop pulling, let in-flight work finish (bounded), then close connections."""
        self.draining = True
        self._stop.set()
        if self._tasks:
            done, pending = await asyncio.wait(
                self._tasks, timeout=self.settings.shutdown_grace_seconds
            )
            for task in pending:
                log.warning("runtime.task_cancelled", task=task.get_name())
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.bus is not None:
            await self.bus.close()
        await self.verifier.aclose()
        await self.db.dispose()

    def _spawn(self, name: str, coro: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("runtime.task_failed", task=name)

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def _connect_and_work(self, with_workers: bool) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                self.bus = await EventBus.connect(
                    self.settings.nats_url, name=f"{self.definition.name}-{id(self):x}"
                )
                await self.bus.ensure_streams(self.settings.nats_stream_replicas)
                break
            except Exception as exc:
                log.warning("runtime.nats_unavailable", error=repr(exc), retry_in=delay)
                if self.bus is not None:
                    await self.bus.close()
                    self.bus = None
                await _wait(self._stop, delay)
                delay = min(delay * 2, 5.0)
        if self.bus is None or not with_workers:
            return
        log.info("runtime.workers_starting", service=self.definition.name)
        relay = OutboxRelay(
            self.db,
            self.bus,
            service=self.definition.name,
            batch_size=self.settings.outbox_batch_size,
            poll_interval=self.settings.outbox_poll_interval_seconds,
        )
        self._spawn("outbox-relay", relay.run(self._stop))
        for consumer in self.definition.consumers:
            worker = EventConsumer(self.bus, self.db, consumer.spec, consumer.handlers)
            self._spawn(f"consumer:{consumer.spec.durable}", worker.run(self._stop))
        for job in (*self.definition.jobs, self._maintenance(relay)):
            self._spawn(f"job:{job.name}", self._periodic(job))

    def _maintenance(self, relay: OutboxRelay) -> PeriodicJob:
        async def purge(runtime: Runtime) -> None:
            await relay.pending()
            await relay.purge_sent(timedelta(days=7))
            await purge_inbox(runtime.db, timedelta(days=30))
            async with runtime.db.sweep_session() as session:
                await purge_expired_keys(session)

        return PeriodicJob("kernel-maintenance", 300.0, purge, singleton=True)

    async def _periodic(self, job: PeriodicJob) -> None:
        lock_key = int.from_bytes(
            hashlib.sha256(f"{self.definition.name}:{job.name}".encode()).digest()[:8],
            "big",
            signed=True,
        )
        while not self._stop.is_set():
            try:
                if job.singleton:
                    await self._run_singleton(job, lock_key)
                else:
                    await job.run(self)
            except Exception:
                log.exception("job.failed", job=job.name)
            await _wait_or_wake(self._stop, job.wake, job.interval)

    async def _run_singleton(self, job: PeriodicJob, lock_key: int) -> None:
        # A session-level advisory lock on a dedicated connection: one replica runs the job.
        async with self.db.sweep_engine.connect() as conn:
            if not await conn.scalar(select(func.pg_try_advisory_lock(lock_key))):
                return
            try:
                await job.run(self)
            finally:
                await conn.scalar(select(func.pg_advisory_unlock(lock_key)))


async def _wait_or_wake(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    if wake is None:
        await _wait(stop, seconds)
        return
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    # Cleared before the run: a wake during the run is kept for the next round.
    wake.clear()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def _freeze_what_lives_forever() -> None:
    """Move everything alive once the service has started (modules, the app, its schemas and
    compiled statements) out of the collector's sight.

    Python's full collections walk every tracked object. Requests in flight when a young
    collection runs are promoted to the old generation, so under load a full collection came
    every few seconds and walked the whole process for nothing: 60–95 ms of a worker's time
    each, with every request on it waiting (the onboarding benchmark's p99). Frozen, the
    same collections take about 5 ms. The objects frozen stay alive, as they would anyway.
    """
    gc.collect()
    gc.freeze()


def create_app(
    definition: ServiceDefinition, role: Role = "api", runtime: Runtime | None = None
) -> FastAPI:
    """Build the service's ASGI app. ``worker`` serves only health and metrics beside the workers."""
    settings = definition.settings
    configure_logging(definition.name, settings.log_level, settings.log_json)
    runtime = runtime or Runtime(definition)
    with_workers = role == "worker" or (role == "all") or (role == "api" and settings.run_workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start(with_workers=with_workers)
        _freeze_what_lives_forever()
        try:
            if definition.lifespan is None:
                log.info("service.started", role=role, workers=with_workers)
                yield
            else:
                async with definition.lifespan(runtime):
                    log.info("service.started", role=role, workers=with_workers)
                    yield
            log.info("service.stopping")
        finally:
            await runtime.stop()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
        openapi_tags=definition.openapi_tags or None,
        dependencies=[Depends(reject_nul_characters)],
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    install_idempotency(app)
    app.add_middleware(RequestContextMiddleware, service=definition.name)
    app.include_router(health_router)
    if role != "worker":
        for router in definition.routers:
            app.include_router(router)
    return app
