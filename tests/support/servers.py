"""Real PostgreSQL and NATS for the test session, and per-test databases cloned from a template."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from partnerguard.common.db.engine import Database, make_engine
from partnerguard.common.migrations import upgrade
from partnerguard.common.settings import normalise_database_url

# Durability off for speed: these servers hold throwaway test data.
FAST_PG = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

_counter = itertools.count()


@dataclass(frozen=True)
class Roles:
    owner: str
    app: str
    sweep: str


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    pg = EmbeddedPostgres(data_dir, port=free_port(), settings=FAST_PG)
    pg.start()
    return pg


def start_nats(data_dir: Path) -> EmbeddedNats:
    nats = EmbeddedNats(data_dir, port=free_port())
    nats.start()
    return nats


async def create_roles(admin_url: str, prefix: str) -> Roles:
    roles = Roles(f"{prefix}_owner", f"{prefix}_app", f"{prefix}_sweep")
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE ROLE {roles.owner} LOGIN")
        await conn.execute(f"CREATE ROLE {roles.app} LOGIN")
        await conn.execute(f"CREATE ROLE {roles.sweep} LOGIN BYPASSRLS")
    finally:
        await conn.close()
    return roles


async def create_template(
    pg: EmbeddedPostgres, name: str, roles: Roles, migrations: Path | None, extra_sql: list[str]
) -> None:
    """A database migrated as the owner role, with the app and sweep roles granted DML only."""
    admin = await asyncpg.connect(pg.url)
    try:
        await admin.execute(f"CREATE DATABASE {name} OWNER {roles.owner}")
    finally:
        await admin.close()
    conn = await asyncpg.connect(pg.url_for(name))
    try:
        await conn.execute(f"""
            REVOKE ALL ON SCHEMA public FROM PUBLIC;
            GRANT USAGE, CREATE ON SCHEMA public TO {roles.owner};
            GRANT USAGE ON SCHEMA public TO {roles.app}, {roles.sweep};
            ALTER DEFAULT PRIVILEGES FOR ROLE {roles.owner} IN SCHEMA public
                GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {roles.app}, {roles.sweep};
            ALTER DEFAULT PRIVILEGES FOR ROLE {roles.owner} IN SCHEMA public
                GRANT USAGE, SELECT ON SEQUENCES TO {roles.app}, {roles.sweep};
        """)
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade, pg.url_for(name, roles.owner), migrations)
    if extra_sql:
        conn = await asyncpg.connect(pg.url_for(name, roles.owner))
        try:
            for statement in extra_sql:
                await conn.execute(statement)
        finally:
            await conn.close()


async def clone_database(pg: EmbeddedPostgres, template: str, owner: str) -> str:
    name = f"{template}_{next(_counter)}"
    conn = await asyncpg.connect(pg.url)
    try:
        await conn.execute(
            f"CREATE DATABASE {name} TEMPLATE {template} OWNER {owner} STRATEGY WAL_LOG"
        )
    finally:
        await conn.close()
    return name


async def drop_database(pg: EmbeddedPostgres, name: str) -> None:
    conn = await asyncpg.connect(pg.url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


# The next copy of each template, made while the test before runs: a copy takes about a
# third of a second, longer than most tests, and tests of one template run one after another.
_next_copies: dict[tuple[int, str], asyncio.Task[str]] = {}


async def _fresh_copy(pg: EmbeddedPostgres, template: str, owner: str) -> str:
    key = (pg.port, template)
    ready = _next_copies.pop(key, None)
    name = None
    if ready is not None:
        try:
            name = await ready
        except Exception:  # noqa: BLE001 - a failed prefetch is made again, below
            name = None
    if name is None:
        name = await clone_database(pg, template, owner)
    _next_copies[key] = asyncio.ensure_future(clone_database(pg, template, owner))
    return name


@asynccontextmanager
async def cloned_database(
    pg: EmbeddedPostgres, template: str, roles: Roles
) -> AsyncIterator[Database]:
    """A fresh copy of ``template`` as a service sees it: the app role (RLS applies) and the
    sweep role; dropped afterwards."""
    name = await _fresh_copy(pg, template, roles.owner)

    def engine(role: str) -> AsyncEngine:
        return make_engine(normalise_database_url(pg.url_for(name, role)), application_name="t")

    database = Database(engine(roles.app), engine(roles.sweep))
    try:
        yield database
    finally:
        await database.dispose()
        await drop_database(pg, name)
