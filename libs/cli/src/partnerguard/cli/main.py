"""``partnerguard``: run the platform, migrate its databases, report its status, and the
services' own operator verbs (``partners``, ``clients``, ``keys`` ...), found as entry points."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import structlog
import typer
from pydantic import ValidationError

from partnerguard.cli import platform
from partnerguard.cli.database_setup import AdminSettings, setup_database
from partnerguard.cli.operator import LauncherOperator, discover_command_groups
from partnerguard.cli.platform import PlatformError
from partnerguard.cli.serving import ServeRole, ServeSettings, serve_argv, serve_environment
from partnerguard.common.settings import ServiceSettings

# Locals in tracebacks would print database URLs with their passwords.
app = typer.Typer(
    help="Operate PartnerGuard: run every service locally, migrate, check status, and manage "
    "partners, clients and signing keys straight on the databases (no token needed).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

DATA_DIR_HELP = "Folder of the embedded PostgreSQL and NATS data and the kept secrets."

# The same option after a command (``partnerguard run --data-dir X``) as before it.
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help=DATA_DIR_HELP + " Default: $PARTNERGUARD_DATA_DIR, else .data.",
        file_okay=False,
    ),
]


@app.callback()
def operator(
    ctx: typer.Context,
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir", envvar="PARTNERGUARD_DATA_DIR", help=DATA_DIR_HELP, file_okay=False
        ),
    ] = Path(".data"),
) -> None:
    """Options of every command."""
    # The services' verbs find it as ``ctx.obj``; a caller may hand in its own (tests point
    # the verbs at their database that way).
    if ctx.obj is None:
        ctx.obj = LauncherOperator(data_dir)
    _quiet_logs()


def _quiet_logs() -> None:
    """Service code logs as it works; in a command only warnings show, and on stderr, since
    stdout carries the answer a script parses."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def _data_dir(ctx: typer.Context, given: Path | None) -> Path:
    if given is not None:
        return given
    root: Path = ctx.find_root().params["data_dir"]
    return root


def _invalid(error: ValidationError) -> PlatformError:
    """Which variables are wrong and why, never their values (they hold passwords)."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in e['loc']).upper()}: {e['msg']}" for e in error.errors()
    )
    return PlatformError(f"invalid configuration: {problems}")


def _fail(error: PlatformError) -> typer.Exit:
    typer.echo(f"partnerguard: {error}", err=True)
    return typer.Exit(1)


@app.command()
def run(
    ctx: typer.Context,
    data_dir: DataDir = None,
    only: Annotated[
        str | None, typer.Option(help="Comma-separated services to run (default: all).")
    ] = None,
    ready_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for every /readyz before reporting.")
    ] = platform.READY_TIMEOUT,
) -> None:
    """Run the whole platform until Ctrl-C or SIGTERM.

    PostgreSQL and NATS are embedded unless DATABASE_URL / NATS_URL name external servers.

    Every service's database is provisioned and migrated, then one process per service runs.
    """
    try:
        code = platform.run_platform(
            _data_dir(ctx, data_dir), platform.parse_names(only), ready_timeout
        )
    except PlatformError as error:
        raise _fail(error) from None
    raise typer.Exit(code)


@app.command()
def migrate(
    ctx: typer.Context,
    data_dir: DataDir = None,
    service: Annotated[
        str | None, typer.Option(help="Only this service (or a comma-separated list).")
    ] = None,
) -> None:
    """Provision roles and databases and run the migrations, then stop."""
    try:
        code = platform.migrate_platform(_data_dir(ctx, data_dir), platform.parse_names(service))
    except PlatformError as error:
        raise _fail(error) from None
    raise typer.Exit(code)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    only: Annotated[
        str | None, typer.Option(help="Comma-separated services to check (default: all).")
    ] = None,
) -> None:
    """Ask every service's /readyz; exit 1 unless all are ready."""
    try:
        results = platform.platform_status(platform.parse_names(only))
    except PlatformError as error:
        raise _fail(error) from None
    all_ready = all(r.ready for r in results)
    if as_json:
        typer.echo(json.dumps({"ready": all_ready, "services": [asdict(r) for r in results]}))
    else:
        rows = [("SERVICE", "URL", "STATE")]
        rows += [(r.service, r.url, r.describe()) for r in results]
        for line in platform.format_table(rows, indent=""):
            typer.echo(line)
    raise typer.Exit(0 if all_ready else 1)


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="The service to run.")],
    role: Annotated[
        ServeRole,
        typer.Option(help="api: HTTP only; worker: relay, consumers and jobs; all: both."),
    ] = ServeRole.API,
) -> None:
    """Run one role of one service in this process: a container's command.

    The service's configuration is its environment (DATABASE_URL, NATS_URL ...); HOST, PORT
    and SHUTDOWN_GRACE_SECONDS say where it listens and how long it drains.
    """
    try:
        _, _, (spec,) = platform.load_configuration([service])
        settings = ServeSettings()
    except PlatformError as error:
        raise _fail(error) from None
    except ValidationError as error:
        raise _fail(_invalid(error)) from None
    argv = serve_argv(spec, role, settings)
    # uvicorn replaces this process, so the container's stop signal reaches it directly.
    os.execve(argv[0], argv, os.environ | serve_environment(role))  # noqa: S606 - argv is ours


@app.command("setup-database")
def setup_database_command(
    service: Annotated[str, typer.Argument(help="The service whose database to prepare.")],
) -> None:
    """Prepare a deployed service's database, then stop: run it before the service starts.

    Reads the service's DATABASE_OWNER_URL, DATABASE_URL and DATABASE_SWEEP_URL (three roles of
    one database). With DATABASE_ADMIN_URL (a superuser) the roles and the database are created
    or repaired with the URLs' passwords first; without it they must exist. Then, as the owner,
    it grants each role its privileges and runs the migrations. Safe to run again.
    """
    try:
        _, _, (spec,) = platform.load_configuration([service])
        settings = ServiceSettings()
        admin = AdminSettings()
    except PlatformError as error:
        raise _fail(error) from None
    except ValidationError as error:
        raise _fail(_invalid(error)) from None
    try:
        asyncio.run(setup_database(spec, settings, admin.database_admin_url))
    except PlatformError as error:
        raise _fail(error) from None
    typer.echo(f"{spec.name}: database ready")


def _add_command_groups() -> None:
    built_in = [
        command.name or getattr(command.callback, "__name__", "")
        for command in app.registered_commands
    ]
    groups, problems = discover_command_groups(reserved=built_in)
    for group in groups:
        app.add_typer(group.app, name=group.name)
    for problem in problems:
        typer.echo(f"partnerguard: {problem}", err=True)


_add_command_groups()
