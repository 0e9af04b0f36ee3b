"""Each service's Alembic history builds exactly the tables its models declare.

Autogenerate compares a freshly migrated database with the models: any difference is a model
change without its migration (or the reverse), which would otherwise surface only in production.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from partnerguard.cli.embedded import EmbeddedPostgres
from partnerguard.common.settings import normalise_database_url
from tests.support.servers import create_roles, create_template, drop_database

SERVICES = ["gateway", "onboarding", "billing", "monitoring", "enforcement"]


def _diffs(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection)
    own = set(metadata.tables)
    # Kernel tables (outbox, inbox, idempotency keys ...) come from the kernel's own history.
    return [
        diff
        for diff in compare_metadata(context, metadata)
        if not (isinstance(diff, tuple) and diff[0] == "remove_table" and diff[1].name not in own)
        and not (
            isinstance(diff, tuple) and diff[0] == "remove_index" and diff[1].table.name not in own
        )
    ]


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_build_what_the_models_declare(pg: EmbeddedPostgres, service: str) -> None:
    spec = importlib.import_module(f"partnerguard.{service}.spec").SPEC
    metadata = importlib.import_module(f"partnerguard.{service}.models").Base.metadata
    roles = await create_roles(pg.url, f"mm_{service}")
    name = f"models_match_{service}"
    await create_template(pg, name, roles, spec.migrations, [])
    engine = create_async_engine(normalise_database_url(pg.url_for(name)))
    try:
        async with engine.connect() as connection:
            diffs = await connection.run_sync(_diffs, metadata)
    finally:
        await engine.dispose()
        await drop_database(pg, name)
    assert diffs == [], "\n".join(map(str, diffs))
