"""Provisioning: one database and three roles per service, and what each role may do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from partnerguard.cli.embedded import EmbeddedPostgres
from partnerguard.cli.platform import discover_services
from partnerguard.cli.provision import ServiceDatabase, provision, redact, url_with
from partnerguard.common.migrations import upgrade


@pytest.fixture(scope="module")
async def provisioned(password_pg: EmbeddedPostgres) -> dict[str, ServiceDatabase]:
    """Billing and monitoring provisioned; billing migrated (kernel tables) as its owner."""
    databases = await provision(password_pg.url, ["billing", "monitoring"])
    billing = next(s for s in discover_services() if s.name == "billing")
    await asyncio.to_thread(upgrade, databases["billing"].owner_url, billing.migrations)
    return databases


@pytest.fixture
async def as_app(provisioned: dict[str, ServiceDatabase]) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(provisioned["billing"].app_url)
    yield conn
    await conn.close()


async def test_app_role_cannot_create_tables_in_public(as_app: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_app.execute("CREATE TABLE sneaky (id int)")


async def test_app_role_does_not_own_the_kernel_tables_but_may_use_them(
    as_app: asyncpg.Connection, provisioned: dict[str, ServiceDatabase]
) -> None:
    owner = await as_app.fetchval(
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = $1",
        "outbox_events",
    )
    assert owner == provisioned["billing"].roles.owner
    # Granted through the owner's default privileges; RLS hides every row without a partner.
    assert await as_app.fetchval("SELECT count(*) FROM outbox_events") == 0


async def test_only_the_sweep_role_bypasses_row_level_security(
    as_app: asyncpg.Connection, provisioned: dict[str, ServiceDatabase]
) -> None:
    roles = provisioned["billing"].roles
    rows = await as_app.fetch(
        "SELECT rolname, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = ANY($1::text[])",
        [roles.owner, roles.app, roles.sweep],
    )
    flags = {row["rolname"]: (row["rolbypassrls"], row["rolsuper"]) for row in rows}
    assert flags == {
        roles.owner: (False, False),
        roles.app: (False, False),
        roles.sweep: (True, False),
    }


async def test_a_service_role_cannot_connect_to_another_service_database(
    provisioned: dict[str, ServiceDatabase],
) -> None:
    url = provisioned["billing"].app_url.rsplit("/", 1)[0] + "/partnerguard_monitoring"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(url)


async def test_provisioning_again_succeeds_and_replaces_the_passwords(
    password_pg: EmbeddedPostgres,
) -> None:
    first = (await provision(password_pg.url, ["rotation"]))["rotation"]
    second = (await provision(password_pg.url, ["rotation"]))["rotation"]

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(first.app_url)
    conn = await asyncpg.connect(second.app_url)
    try:
        assert await conn.fetchval("SELECT current_user") == second.roles.app
    finally:
        await conn.close()


def test_service_urls_keep_the_server_address_and_options() -> None:
    url = url_with(
        "postgresql+asyncpg://admin:secret@db.example:6432/postgres?sslmode=require",
        user="partnerguard_billing_app",
        password="p@ss/word",
        database="partnerguard_billing",
    )

    assert url == (
        "postgresql://partnerguard_billing_app:p%40ss%2Fword@db.example:6432"
        "/partnerguard_billing?sslmode=require"
    )
    assert redact(url) == "postgresql://db.example:6432/partnerguard_billing"
