"""A migrated billing database per test, cloned from a template built once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from partnerguard.billing.settings import BillingSettings
from partnerguard.billing.spec import SPEC
from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres
from partnerguard.common.db.engine import Database
from tests.support.billing import RunningBilling, billing_settings, running_billing
from tests.support.jwks import Issuer
from tests.support.servers import Roles, cloned_database, create_roles, create_template


@pytest.fixture(scope="session")
async def billing_roles(pg: EmbeddedPostgres) -> Roles:
    return await create_roles(pg.url, "bl")


@pytest.fixture(scope="session")
async def billing_template(pg: EmbeddedPostgres, billing_roles: Roles) -> str:
    await create_template(pg, "billing_tpl", billing_roles, SPEC.migrations, [])
    return "billing_tpl"


@pytest.fixture
async def billing_db(
    pg: EmbeddedPostgres, billing_roles: Roles, billing_template: str
) -> AsyncIterator[Database]:
    """A fresh billing database, reached as the app role (RLS applies) and the sweep role."""
    async with cloned_database(pg, billing_template, billing_roles) as database:
        yield database


@pytest.fixture
def bl_settings(issuer: Issuer, nats_server: EmbeddedNats) -> BillingSettings:
    """Settings for an in-process billing API; tests change them with ``model_copy``."""
    return billing_settings(issuer, nats_server.url)


@pytest.fixture
async def billing(
    billing_db: Database, issuer: Issuer, bl_settings: BillingSettings
) -> AsyncIterator[RunningBilling]:
    async with running_billing(billing_db, issuer, bl_settings) as running:
        yield running
