"""A migrated gateway database per test, cloned from a template built once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres
from partnerguard.common.db.engine import Database
from partnerguard.gateway.settings import GatewaySettings
from partnerguard.gateway.spec import SPEC
from tests.support.gateway import RunningGateway, gateway_settings, running_gateway
from tests.support.servers import (
    Roles,
    cloned_database,
    create_roles,
    create_template,
)


@pytest.fixture(scope="session")
async def gateway_roles(pg: EmbeddedPostgres) -> Roles:
    return await create_roles(pg.url, "gw")


@pytest.fixture(scope="session")
async def gateway_template(pg: EmbeddedPostgres, gateway_roles: Roles) -> str:
    await create_template(pg, "gateway_tpl", gateway_roles, SPEC.migrations, [])
    return "gateway_tpl"


@pytest.fixture
async def gateway_db(
    pg: EmbeddedPostgres, gateway_roles: Roles, gateway_template: str
) -> AsyncIterator[Database]:
    """A fresh gateway database, reached as the app role (RLS applies) and the sweep role."""
    async with cloned_database(pg, gateway_template, gateway_roles) as database:
        yield database


@pytest.fixture
def gw_settings(nats_server: EmbeddedNats) -> GatewaySettings:
    """Settings for an in-process gateway; tests change them with ``model_copy(update=...)``."""
    return gateway_settings(nats_url=nats_server.url)


@pytest.fixture
async def gw(gateway_db: Database, gw_settings: GatewaySettings) -> AsyncIterator[RunningGateway]:
    """A running gateway on a fresh database."""
    async with running_gateway(gateway_db, gw_settings) as running:
        yield running
