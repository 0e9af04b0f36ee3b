"""Engines and units of work for one service database.

Two roles, two engines: the application role (row-level security applies) serves requests
and event handlers; the sweep role (BYPASSRLS) serves jobs that span partners.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from partnerguard.common.db.connection import PartnerConnection
from partnerguard.common.db.rls import PARTNER_SETTING
from partnerguard.common.settings import ServiceSettings

# A pooled connection idle for longer than this is pinged before it is used again: a restarted
# server leaves its old connections dead. One in steady use is not: the asyncpg dialect's ping
# is three round trips (begin, select, rollback), which cost more than many a transaction.
# A connection that dies while in use fails its transaction (a 503, or an event redelivered)
# and SQLAlchemy then replaces every connection of the pool.
PING_AFTER_IDLE_SECONDS = 2.0


def make_engine(
    url: str,
    *,
    application_name: str,
    pool_size: int = 10,
    max_overflow: int = 10,
    statement_timeout_ms: int = 30_000,
) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={
            "connection_class": PartnerConnection,
            "timeout": 10,
            "command_timeout": max(statement_timeout_ms / 1000 + 5, 10),
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(statement_timeout_ms),
            },
        },
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a connection on checkout only when it sat in the pool for a while."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()
        # A partner set for a transaction that never ran a statement must not reach the next
        # one to use this connection.
        if isinstance(record.driver_connection, PartnerConnection):
            record.driver_connection.set_partner_on_begin(None)

    @event.listens_for(sync_engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool replaces the connection and tries again (up to three times).
            raise DisconnectionError("a pooled connection was found dead") from exc


class Database:
    """The service's engines and the one way to open a unit of work."""

    def __init__(self, app_engine: AsyncEngine, sweep_engine: AsyncEngine | None = None) -> None:
        self.engine = app_engine
        self.sweep_engine = sweep_engine or app_engine
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._sweep_sessions = async_sessionmaker(
            self.sweep_engine, expire_on_commit=False, autoflush=False
        )

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Database:
        common = {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_max_overflow,
            "statement_timeout_ms": settings.database_statement_timeout_ms,
        }
        app = make_engine(settings.app_url(), application_name=settings.service_name, **common)
        sweep = None
        if settings.sweep_url() != settings.app_url():
            sweep = make_engine(
                settings.sweep_url(),
                application_name=f"{settings.service_name}-sweep",
                pool_size=settings.database_sweep_pool_size,
                max_overflow=settings.database_sweep_max_overflow,
                statement_timeout_ms=settings.database_statement_timeout_ms,
            )
        return cls(app, sweep)

    @asynccontextmanager
    async def tenant_session(self, partner_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
        """One transaction scoped to one partner: commit on success, roll back on error."""
        async with self._sessions() as session, session.begin():
            await set_partner(session, partner_id)
            yield session

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One transaction with no partner set: tenant tables show no rows. For kernel tables."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def sweep_session(self) -> AsyncIterator[AsyncSession]:
        """One transaction as the sweep role, which sees every partner. Jobs only."""
        async with self._sweep_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def sweep_reads(self) -> AsyncIterator[AsyncConnection]:
        """A connection as the sweep role outside any transaction: each statement commits on
        its own. For one read that names its partner itself, asked so often that a unit of
        work's begin, partner setting and commit would cost more than the read."""
        async with self.sweep_engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def applied_revisions(self, version_tables: Sequence[str]) -> dict[str, set[str]]:
        """The revisions recorded in each Alembic version table (none for a missing table)."""
        applied: dict[str, set[str]] = {}
        async with self.engine.connect() as conn:
            for table in version_tables:
                found = await conn.scalar(text("SELECT to_regclass(:t)"), {"t": f"public.{table}"})
                if found is None:
                    applied[table] = set()
                    continue
                # ``table`` is one of the kernel's version-table names, never input.
                rows = await conn.execute(text(f"SELECT version_num FROM {table}"))  # noqa: S608
                applied[table] = {row[0] for row in rows}
        return applied

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.sweep_engine is not self.engine:
            await self.sweep_engine.dispose()


async def set_partner(session: AsyncSession, partner_id: uuid.UUID) -> None:
    """Set the partner for the current transaction; row-level security reads it.

    Before the transaction has begun, the setting goes with its ``BEGIN`` (``PartnerConnection``);
    once it has, it is a statement of its own.
    """
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if isinstance(driver, PartnerConnection) and not driver.is_in_transaction():
        driver.set_partner_on_begin(partner_id)
        return
    # Straight to the driver: the ORM's execution of a text statement cost more than the trip.
    await connection.exec_driver_sql(_SET_PARTNER, (str(partner_id),))


_SET_PARTNER = f"SELECT set_config('{PARTNER_SETTING}', $1, true)"
