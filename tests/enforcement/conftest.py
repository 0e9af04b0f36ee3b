"""A migrated enforcement database per test, cloned from a template built once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres
from partnerguard.common.db.engine import Database
from partnerguard.enforcement.settings import EnforcementSettings
from partnerguard.enforcement.spec import SPEC
from tests.support.enforcement import RunningEnforcement, enforcement_settings, running_enforcement
from tests.support.jwks import Issuer
from tests.support.servers import Roles, cloned_database, create_roles, create_template


@pytest.fixture(scope="session")
async def enforcement_roles(pg: EmbeddedPostgres) -> Roles:
    return await create_roles(pg.url, "en")


@pytest.fixture(scope="session")
async def enforcement_template(pg: EmbeddedPostgres, enforcement_roles: Roles) -> str:
    await create_template(pg, "enforcement_tpl", enforcement_roles, SPEC.migrations, [])
    return "enforcement_tpl"


@pytest.fixture
async def enforcement_db(
    pg: EmbeddedPostgres, enforcement_roles: Roles, enforcement_template: str
) -> AsyncIterator[Database]:
    """A fresh enforcement database, reached as the app role (RLS applies) and the sweep role."""
    async with cloned_database(pg, enforcement_template, enforcement_roles) as database:
        yield database


@pytest.fixture
def en_settings(issuer: Issuer, nats_server: EmbeddedNats) -> EnforcementSettings:
    """Settings for an in-process enforcement API; tests change them with ``model_copy``."""
    return enforcement_settings(issuer, nats_server.url)


@pytest.fixture
async def enforcement(
    enforcement_db: Database, issuer: Issuer, en_settings: EnforcementSettings
) -> AsyncIterator[RunningEnforcement]:
    async with running_enforcement(enforcement_db, issuer, en_settings) as running:
        yield running
