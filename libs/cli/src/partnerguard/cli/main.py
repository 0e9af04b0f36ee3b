"""``partnerguard``: run the platform, migrate its databases, report its status."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from partnerguard.cli import platform
from partnerguard.cli.platform import PlatformError

# Locals in tracebacks would print database URLs with their passwords.
app = typer.Typer(
    help="Operate PartnerGuard: run every service locally, migrate, check status.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="PARTNERGUARD_DATA_DIR",
        help="Folder of the embedded PostgreSQL and NATS data (kept across runs).",
        file_okay=False,
    ),
]


def _fail(error: PlatformError) -> typer.Exit:
    typer.echo(f"partnerguard: {error}", err=True)
    return typer.Exit(1)


@app.command()
def run(
    data_dir: DataDir = Path(".data"),
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
        code = platform.run_platform(data_dir, platform.parse_names(only), ready_timeout)
    except PlatformError as error:
        raise _fail(error) from None
    raise typer.Exit(code)


@app.command()
def migrate(
    data_dir: DataDir = Path(".data"),
    service: Annotated[
        str | None, typer.Option(help="Only this service (or a comma-separated list).")
    ] = None,
) -> None:
    """Provision roles and databases and run the migrations, then stop."""
    try:
        code = platform.migrate_platform(data_dir, platform.parse_names(service))
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
