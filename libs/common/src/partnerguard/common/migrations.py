"""Alembic, run programmatically: the kernel's history, then the service's, in one database.

Each service database holds two histories: the kernel tables (outbox, inbox, dead letters,
idempotency keys; version table ``alembic_version_kernel``) and the service's own
(``alembic_version``). Both run as the owner role, never as the application role.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from partnerguard.common.settings import normalise_database_url

KERNEL_MIGRATIONS = Path(__file__).parent / "kernel_migrations"
KERNEL_VERSION_TABLE = "alembic_version_kernel"
SERVICE_VERSION_TABLE = "alembic_version"

_FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"


def alembic_config(script_location: Path, url: str, version_table: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("file_template", _FILE_TEMPLATE)
    config.set_main_option("timezone", "UTC")
    config.attributes["url"] = normalise_database_url(url)
    config.attributes["version_table"] = version_table
    return config


def upgrade(owner_url: str, service_migrations: Path | None, revision: str = "head") -> None:
    """Bring a service database to ``revision``: kernel tables first, then the service's.

    Synchronous (Alembic drives its own event loop): call it from a thread in async code.
    """
    command.upgrade(alembic_config(KERNEL_MIGRATIONS, owner_url, KERNEL_VERSION_TABLE), "head")
    if service_migrations is not None:
        command.upgrade(
            alembic_config(service_migrations, owner_url, SERVICE_VERSION_TABLE), revision
        )


@dataclass(frozen=True)
class History:
    """What this code knows of one of a database's two migration histories."""

    table: str
    heads: frozenset[str]
    known: frozenset[str]

    def behind(self, applied: set[str]) -> bool:
        """Whether a database at ``applied`` lacks a migration this code needs.

        A revision this code does not know is a newer release's; migrations only add, so this
        code runs on it (the old pods of a rolling upgrade, after the new release migrated).
        """
        if applied - self.known:
            return False
        return applied != self.heads


def histories(service_migrations: Path) -> list[History]:
    """The kernel's history and the service's, read from the migration scripts."""
    result = []
    for table, location in (
        (KERNEL_VERSION_TABLE, KERNEL_MIGRATIONS),
        (SERVICE_VERSION_TABLE, service_migrations),
    ):
        script = ScriptDirectory.from_config(alembic_config(location, "", table))
        known = frozenset(r.revision for r in script.walk_revisions())
        result.append(History(table, frozenset(script.get_heads()), known))
    return result


def locate_migrations(package_dir: Path) -> Path:
    """A service's migrations: inside the installed package, or beside ``src/`` in a checkout."""
    for candidate in (package_dir / "migrations", package_dir.parents[2] / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError(f"no migrations found for {package_dir}")


def run_env(target_metadata: MetaData) -> None:
    """The body of every ``env.py``: run migrations online over asyncpg."""
    config = context.config
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    version_table = config.attributes.get("version_table", SERVICE_VERSION_TABLE)
    if not url:
        raise RuntimeError("no database URL given to the migrations")

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
