"""Pooled connections a restarted (or meddling) server closed: one idle for a while is checked
before use and replaced; one in steady use fails one transaction and the pool is renewed."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from partnerguard.cli.embedded import EmbeddedPostgres
from partnerguard.common.db import engine as engine_module
from partnerguard.common.db.engine import Database


async def _backend(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate_every_connection(pg: EmbeddedPostgres, db: Database) -> int:
    admin = await asyncpg.connect(pg.url)
    try:
        return len(
            await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                db.engine.url.database,
            )
        )
    finally:
        await admin.close()


async def test_an_idle_connection_found_dead_is_replaced_before_use(
    db: Database, pg: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    first = await _backend(db)
    assert await _terminate_every_connection(pg, db) >= 1

    # The pooled connection is pinged, found dead and replaced: the caller sees nothing.
    assert await _backend(db) != first


async def test_a_busy_connection_found_dead_fails_one_transaction_and_the_pool_is_renewed(
    db: Database, pg: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = await _backend(db)
    assert await _terminate_every_connection(pg, db) >= 1

    with pytest.raises(DBAPIError) as failed:
        await _backend(db)
    assert failed.value.connection_invalidated
    assert await _backend(db) != first
