"""``partnerguard usage``: a partner's usage files into the platform, through the gateway."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from partnerguard.monitoring.usage.importer import (
    ImportFailed,
    ImportState,
    import_file,
    state_path_for,
)

usage = typer.Typer(
    help="Usage feeds into monitoring, through the gateway with the partner's OAuth client.",
    no_args_is_help=True,
)

SCOPE = "monitoring:write"
SHOWN_REJECTIONS = 50


@usage.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="A daily rated usage reconciliation export (CSV) from Partner Center.",
        ),
    ],
    url: Annotated[
        str, typer.Option(envvar="PARTNERGUARD_URL", help="The gateway's base URL.")
    ] = "http://127.0.0.1:8000",
    client_id: Annotated[
        str | None, typer.Option(envvar="PARTNERGUARD_CLIENT_ID", help="OAuth client id.")
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(envvar="PARTNERGUARD_CLIENT_SECRET", help="OAuth client secret."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PARTNERGUARD_TOKEN", help="An access token instead of client credentials."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Records a batch.")] = 5000,
    restart: Annotated[
        bool, typer.Option(help="Start over, ignoring the progress of an earlier import.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Send every row of FILE as a usage record, with a progress bar and a summary.

    Progress is kept in FILE.import-state.json: after an interruption, the same command
    resumes where the platform last answered. Rows are identified by their content, so
    nothing counts twice.
    """
    if token is None and not (client_id and client_secret):
        typer.echo(
            "partnerguard: give --token, or --client-id and --client-secret "
            "(or PARTNERGUARD_TOKEN / PARTNERGUARD_CLIENT_ID / PARTNERGUARD_CLIENT_SECRET)",
            err=True,
        )
        raise typer.Exit(2)
    try:
        state = asyncio.run(
            _run(file, url, token, client_id, client_secret, batch_size=batch_size, restart=restart)
        )
    except (ImportFailed, httpx.HTTPError) as exc:
        typer.echo(f"partnerguard: {exc}", err=True)
        raise typer.Exit(1) from exc
    _print_summary(state, file, as_json)


async def _run(
    file: Path,
    url: str,
    token: str | None,
    client_id: str | None,
    client_secret: str | None,
    *,
    batch_size: int,
    restart: bool,
) -> ImportState:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        if token is None:
            token = await _client_token(http, client_id or "", client_secret or "")
        http.headers["authorization"] = f"Bearer {token}"
        total = _count_lines(file)
        console = Console(stderr=True)
        with Progress(
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=not console.is_terminal,
        ) as bar:
            task = bar.add_task(f"importing {file.name}", total=total)

            def advance(line: int) -> None:
                bar.update(task, completed=line)

            return await import_file(
                file, http, batch_size=batch_size, restart=restart, progress=advance
            )


async def _client_token(http: httpx.AsyncClient, client_id: str, client_secret: str) -> str:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=(client_id, client_secret),
    )
    if response.status_code != 200:
        raise ImportFailed(f"the gateway refused the client credentials ({response.status_code})")
    access_token: str = response.json()["access_token"]
    return access_token


def _count_lines(file: Path) -> int:
    with file.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _print_summary(state: ImportState, file: Path, as_json: bool) -> None:
    if as_json:
        body = {
            "accepted": state.accepted,
            "duplicates": state.duplicates,
            "rejected": state.rejected_count,
            "rejections": [vars(item) for item in state.rejected],
            "state_file": str(state_path_for(file)),
        }
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return
    lines = [
        f"accepted:   {state.accepted}",
        f"duplicates: {state.duplicates}",
        f"rejected:   {state.rejected_count}",
    ]
    for item in state.rejected[:SHOWN_REJECTIONS]:
        lines.append(f"  line {item.line}: {'; '.join(item.reasons)}")
    if state.rejected_count > SHOWN_REJECTIONS:
        lines.append(f"  ... all listed lines are in {state_path_for(file)}")
    sys.stdout.write("\n".join(lines) + "\n")
