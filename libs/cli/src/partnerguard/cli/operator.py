"""What the services' own operator code gets from the launcher.

A service adds verbs to ``partnerguard`` with an entry point in the group
``partnerguard.commands`` (name: the verb, value: a typer app), and a step for the platform's
first run with one in ``partnerguard.first_run`` (name: the service). Neither imports this
package: commands find a ``LauncherOperator`` as typer's context object (``ctx.obj``), which
opens the service's database (no token and no running service needed) and tells them the
environment the launcher gives the service; first-run steps are called with keywords.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Literal

import asyncpg
import typer
from alembic.script import ScriptDirectory

from partnerguard.cli.embedded import EmbeddedPostgres
from partnerguard.cli.platform import (
    GATEWAY,
    PlatformError,
    gateway_environment,
    load_configuration,
    provision_and_migrate,
)
from partnerguard.cli.private_files import PrivateFileError
from partnerguard.cli.provision import (
    CONNECT_TIMEOUT,
    database_name,
    on_database,
    plain_url,
    redact,
)
from partnerguard.cli.settings import LauncherSettings
from partnerguard.cli.supervisor import LinePrinter
from partnerguard.common.migrations import (
    KERNEL_MIGRATIONS,
    KERNEL_VERSION_TABLE,
    SERVICE_VERSION_TABLE,
)
from partnerguard.common.runtime import ServiceSpec

COMMAND_GROUP = "partnerguard.commands"

DatabaseState = Literal["missing", "behind", "current"]


@dataclass(frozen=True)
class CommandGroup:
    name: str
    app: typer.Typer


def discover_command_groups(reserved: Sequence[str]) -> tuple[list[CommandGroup], list[str]]:
    """Every installed service's verbs, and a problem line for each that could not be loaded
    (a broken service must not take ``partnerguard run`` or ``status`` down with it)."""
    groups: dict[str, CommandGroup] = {}
    problems: list[str] = []
    for entry_point in entry_points(group=COMMAND_GROUP):
        if entry_point.name in reserved or entry_point.name in groups:
            problems.append(f"the command group {entry_point.name!r} is taken; ignored")
            continue
        try:
            loaded = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of a plug-in is reported
            problems.append(f"the command group {entry_point.name!r} failed to load: {exc}")
            continue
        if not isinstance(loaded, typer.Typer):
            problems.append(f"entry point {entry_point.value} is not a typer app; ignored")
            continue
        groups[entry_point.name] = CommandGroup(entry_point.name, loaded)
    return list(groups.values()), problems


def embedded_is_running(pg: EmbeddedPostgres) -> bool:
    """Whether the embedded server of ``pg.data_dir`` serves on ``pg.port`` (the platform is up).

    Its ``postmaster.pid`` names its port; a server on the port without that file is someone
    else's, and a file without a server is left over from a crash.
    """
    try:
        with socket.create_connection(("127.0.0.1", pg.port), timeout=1.0):
            pass
    except OSError:
        return False
    pid_file = pg.data_dir / "pgdata" / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        lines = []
    if len(lines) < 4 or lines[3].strip() != str(pg.port):
        raise PlatformError(
            f"port 127.0.0.1:{pg.port} is taken by a server that is not the embedded PostgreSQL "
            f"of {pg.data_dir}; set PARTNERGUARD_PG_PORT, or DATABASE_URL to use that server"
        )
    return True


def migration_heads(migrations: Path) -> set[str]:
    return set(ScriptDirectory(str(migrations)).get_heads())


async def database_state(server_url: str, spec: ServiceSpec) -> DatabaseState:
    """Whether the service's database exists and both its histories are at their heads."""
    database = database_name(spec.name)
    conn = await asyncpg.connect(plain_url(server_url), timeout=CONNECT_TIMEOUT)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
    finally:
        await conn.close()
    if not exists:
        return "missing"
    conn = await asyncpg.connect(on_database(server_url, database), timeout=CONNECT_TIMEOUT)
    try:
        for table, migrations in (
            (KERNEL_VERSION_TABLE, KERNEL_MIGRATIONS),
            (SERVICE_VERSION_TABLE, spec.migrations),
        ):
            if not await conn.fetchval("SELECT to_regclass($1)", f"public.{table}"):
                return "behind"
            # ``table`` is one of the two version-table names above, never input.
            rows = await conn.fetch(f"SELECT version_num FROM {table}")  # noqa: S608
            applied = {row[0] for row in rows}
            if applied != migration_heads(migrations):
                return "behind"
    finally:
        await conn.close()
    return "current"


@contextmanager
def reported_failures() -> Iterator[None]:
    """A launcher failure ends the command with its message on stderr and exit code 1."""
    try:
        yield
    except (PlatformError, PrivateFileError) as error:
        typer.echo(f"partnerguard: {error}", err=True)
        raise typer.Exit(1) from None


@dataclass
class LauncherOperator:
    """``ctx.obj`` of every service command: the database and environment of a service.

    The server is ``DATABASE_URL`` when set, else the embedded one in the data folder: used as
    it is while the platform runs, else started for the command and stopped after it.
    """

    data_dir: Path

    def __post_init__(self) -> None:
        # Notes go to stderr: stdout carries the command's answer, parsed by scripts.
        self.printer = LinePrinter([], err=True)

    @contextmanager
    def database(self, service: str) -> Iterator[str]:
        """A URL of the service's database as the server's superuser (every partner visible)."""
        with reported_failures():
            settings, spec = self._configuration(service)
            with self._server(settings) as (server_url, ours):
                self._ensure_migrated(server_url, spec, ours)
                yield on_database(server_url, database_name(spec.name))

    def service_environment(self, service: str) -> dict[str, str]:
        """The variables ``partnerguard run`` sets for ``service`` beyond its database and NATS."""
        with reported_failures():
            settings, all_specs, _ = load_configuration([service])
            if service == GATEWAY:
                return gateway_environment(self.data_dir.resolve(), settings, all_specs)
            return {}

    def _configuration(self, service: str) -> tuple[LauncherSettings, ServiceSpec]:
        settings, _, specs = load_configuration([service])
        return settings, specs[0]

    @contextmanager
    def _server(self, settings: LauncherSettings) -> Iterator[tuple[str, bool]]:
        """The superuser URL, and whether the server was started for this command."""
        if settings.database_url is not None:
            yield settings.database_url.get_secret_value(), False
            return
        folder = self.data_dir.resolve() / "postgres"
        pg = EmbeddedPostgres(folder, port=settings.partnerguard_pg_port)
        if embedded_is_running(pg):
            yield pg.url, False
            return
        self.printer.note(f"starting the embedded PostgreSQL for this command (data in {folder})")
        try:
            pg.start()
        except (RuntimeError, OSError) as exc:
            pg.stop()
            raise PlatformError(f"PostgreSQL did not start: {exc}") from exc
        try:
            yield pg.url, True
        finally:
            pg.stop()

    def _ensure_migrated(self, server_url: str, spec: ServiceSpec, ours: bool) -> None:
        try:
            state = asyncio.run(database_state(server_url, spec))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise PlatformError(f"cannot reach PostgreSQL at {redact(server_url)}: {exc}") from exc
        if state == "current":
            return
        # Provisioning sets new role passwords: harmless when no service can be running on this
        # database (we started the server, or the database is new), fatal to one that is.
        if ours or state == "missing":
            provision_and_migrate(server_url, [spec], self.printer)
            return
        raise PlatformError(
            f"the {spec.name} database at {redact(server_url)} is not migrated to this version; "
            f"stop the platform and run `partnerguard migrate --service {spec.name}`"
        )
