"""A migrated monitoring database per test, cloned from a template built once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres
from partnerguard.common.db.engine import Database
from partnerguard.monitoring.settings import MonitoringSettings
from partnerguard.monitoring.spec import SPEC
from tests.support.jwks import Issuer
from tests.support.monitoring import RunningMonitoring, monitoring_settings, running_monitoring
from tests.support.servers import Roles, cloned_database, create_roles, create_template


@pytest.fixture(scope="session")
async def monitoring_roles(pg: EmbeddedPostgres) -> Roles:
    return await create_roles(pg.url, "mn")


@pytest.fixture(scope="session")
async def monitoring_template(pg: EmbeddedPostgres, monitoring_roles: Roles) -> str:
    await create_template(pg, "monitoring_tpl", monitoring_roles, SPEC.migrations, [])
    return "monitoring_tpl"


@pytest.fixture
async def monitoring_db(
    pg: EmbeddedPostgres, monitoring_roles: Roles, monitoring_template: str
) -> AsyncIterator[Database]:
    """A fresh monitoring database, reached as the app role (RLS applies) and the sweep role."""
    async with cloned_database(pg, monitoring_template, monitoring_roles) as database:
        yield database


@pytest.fixture
def mn_settings(issuer: Issuer, nats_server: EmbeddedNats) -> MonitoringSettings:
    """Settings for an in-process monitoring API; tests change them with ``model_copy``."""
    return monitoring_settings(issuer, nats_server.url)


@pytest.fixture
async def monitoring(
    monitoring_db: Database, issuer: Issuer, mn_settings: MonitoringSettings
) -> AsyncIterator[RunningMonitoring]:
    async with running_monitoring(monitoring_db, issuer, mn_settings) as running:
        yield running
