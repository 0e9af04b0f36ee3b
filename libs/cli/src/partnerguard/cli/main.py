"""``partnerguard``: run the platform, migrate its databases, report its status, and the
services' own operator verbs (``partners``, ``clients``, ``keys`` ...), found as entry points."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import structlog
import typer

from partnerguard.cli import platform
from partnerguard.cli.operator import LauncherOperator, discover_command_groups
from partnerguard.cli.platform import PlatformError

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
