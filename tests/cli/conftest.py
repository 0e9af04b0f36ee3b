"""A PostgreSQL server that demands passwords, as an external one would, and fresh gateway
databases for the operator verbs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from partnerguard.cli.embedded import EmbeddedPostgres, free_port
from partnerguard.common.db.engine import Database, make_engine
from partnerguard.common.settings import normalise_database_url
from partnerguard.gateway.spec import SPEC
from tests.support.servers import (
    FAST_PG,
    Roles,
    clone_database,
    create_roles,
    create_template,
    drop_database,
)


@pytest.fixture(scope="session")
def password_pg(server_dir: Callable[[str], Path]) -> Iterator[EmbeddedPostgres]:
    """Trust only for the superuser; every other role must present a SCRAM password, so the
    tests prove the launcher's generated passwords are real, not waved through by ``trust``."""
    data_dir = server_dir("password-pg")
    hba = data_dir / "pg_hba.conf"
    hba.write_text(
        "local all postgres trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    server = EmbeddedPostgres(
        data_dir, port=free_port(), settings={**FAST_PG, "hba_file": str(hba)}
    )
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class GatewayDatabase:
    """A migrated gateway database: as the superuser (what ``partnerguard``'s verbs get) and as
    the application and sweep roles (what a running gateway uses)."""

    superuser_url: str
    app_url: str
    sweep_url: str

    def for_gateway(self) -> Database:
        return Database(
            make_engine(normalise_database_url(self.app_url), application_name="t"),
            make_engine(normalise_database_url(self.sweep_url), application_name="t"),
        )


@pytest.fixture(scope="session")
async def verbs_roles(pg: EmbeddedPostgres) -> Roles:
    return await create_roles(pg.url, "gwcli")


@pytest.fixture(scope="session")
async def verbs_template(pg: EmbeddedPostgres, verbs_roles: Roles) -> str:
    await create_template(pg, "gateway_cli_tpl", verbs_roles, SPEC.migrations, [])
    return "gateway_cli_tpl"


@pytest.fixture
async def gateway_database(
    pg: EmbeddedPostgres, verbs_roles: Roles, verbs_template: str
) -> AsyncIterator[GatewayDatabase]:
    """A fresh gateway database per test, cloned from one migrated once per session."""
    name = await clone_database(pg, verbs_template, verbs_roles.owner)
    yield GatewayDatabase(
        superuser_url=pg.url_for(name),
        app_url=pg.url_for(name, verbs_roles.app),
        sweep_url=pg.url_for(name, verbs_roles.sweep),
    )
    await drop_database(pg, name)
