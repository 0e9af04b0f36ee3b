"""A migrated onboarding database per test, cloned from a template built once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres
from partnerguard.common.db.engine import Database
from partnerguard.onboarding.settings import OnboardingSettings
from partnerguard.onboarding.spec import SPEC
from tests.support.jwks import Issuer
from tests.support.onboarding import RunningOnboarding, onboarding_settings, running_onboarding
from tests.support.servers import Roles, cloned_database, create_roles, create_template


@pytest.fixture(scope="session")
async def onboarding_roles(pg: EmbeddedPostgres) -> Roles:
    return await create_roles(pg.url, "ob")


@pytest.fixture(scope="session")
async def onboarding_template(pg: EmbeddedPostgres, onboarding_roles: Roles) -> str:
    await create_template(pg, "onboarding_tpl", onboarding_roles, SPEC.migrations, [])
    return "onboarding_tpl"


@pytest.fixture
async def onboarding_db(
    pg: EmbeddedPostgres, onboarding_roles: Roles, onboarding_template: str
) -> AsyncIterator[Database]:
    """A fresh onboarding database, reached as the app role (RLS applies) and the sweep role."""
    async with cloned_database(pg, onboarding_template, onboarding_roles) as database:
        yield database


@pytest.fixture
def ob_settings(issuer: Issuer, nats_server: EmbeddedNats) -> OnboardingSettings:
    """Settings for an in-process onboarding API; tests change them with ``model_copy``."""
    return onboarding_settings(issuer, nats_server.url)


@pytest.fixture
async def onboarding(
    onboarding_db: Database, issuer: Issuer, ob_settings: OnboardingSettings
) -> AsyncIterator[RunningOnboarding]:
    async with running_onboarding(onboarding_db, issuer, ob_settings) as running:
        yield running
