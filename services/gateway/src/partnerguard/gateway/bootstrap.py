"""The platform's first run: an operator client and a demo partner's client, made once.

A fresh platform has no client, so nothing could get a token. ``partnerguard run`` calls
``first_run`` (entry point ``partnerguard.first_run``) before the services start: on a gateway
with no partner yet it creates the operator's ``platform_admin`` client and a demo partner with
a ``global_admin`` client, keeps their credentials in a file only the operator can read, and
returns the lines that show them. Later runs only say where that file is.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.engine import Database, make_engine, set_partner
from partnerguard.common.settings import normalise_database_url
from partnerguard.gateway.clients.service import create_client
from partnerguard.gateway.partners.service import create_partner, list_partners
from partnerguard.gateway.roles import Role

OPERATOR_PARTNER = "operator"
DEMO_PARTNER = "demo"
CREDENTIALS_FILE = "first-run-credentials.json"


@dataclass(frozen=True)
class IssuedClient:
    partner_id: str
    partner_name: str
    role: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class FirstRunClients:
    operator: IssuedClient
    demo: IssuedClient


async def bootstrap(session: AsyncSession) -> FirstRunClients | None:
    """The operator's and the demo partner's clients, if the gateway has no partner yet; else
    None (the first run happened, or the operator set partners up by hand)."""
    if await list_partners(session, 1, None):
        return None
    issued = []
    for partner_name, kind, role, client_name in (
        (OPERATOR_PARTNER, "operator", Role.PLATFORM_ADMIN, "operator console"),
        (DEMO_PARTNER, "partner", Role.GLOBAL_ADMIN, "demo administrator"),
    ):
        partner = await create_partner(session, partner_name, kind)  # type: ignore[arg-type]
        # Clients sit behind row-level security: write them as their partner.
        await set_partner(session, partner.id)
        client, secret = await create_client(session, partner.id, client_name, role)
        issued.append(
            IssuedClient(str(partner.id), partner.name, role.value, client.client_id, secret)
        )
    return FirstRunClients(operator=issued[0], demo=issued[1])


def first_run(*, database_url: str, state_dir: Path, gateway_url: str) -> list[str]:
    """``partnerguard run``'s first-run step: bootstrap once; the lines to show the operator."""
    path = state_dir / CREDENTIALS_FILE
    token_url = f"{gateway_url.rstrip('/')}/oauth/token"
    created = asyncio.run(_bootstrap_and_keep(database_url, path, token_url))
    if created is not None:
        return describe(created, path, token_url)
    if path.exists():
        return [f"First-run credentials (operator and demo clients) are in {path}"]
    return [
        "Partners exist already; create a client with "
        "`partnerguard clients create --partner <id> --role global_admin`"
    ]


async def _bootstrap_and_keep(
    database_url: str, path: Path, token_url: str
) -> FirstRunClients | None:
    db = Database(
        make_engine(
            normalise_database_url(database_url),
            application_name="gateway-first-run",
            pool_size=1,
            max_overflow=0,
        )
    )
    try:
        async with db.session() as session:
            created = await bootstrap(session)
            if created is not None:
                # Written before the commit: if the file cannot be kept, nothing is created and
                # the next run tries again, rather than secrets existing nowhere.
                await asyncio.to_thread(_keep, path, created, token_url)
            return created
    finally:
        await db.dispose()


def _keep(path: Path, created: FirstRunClients, token_url: str) -> None:
    """Write the credentials readable by their owner only (0600), replacing any older file."""
    content = {
        "created_at": datetime.now(UTC).isoformat(),
        "token_url": token_url,
        "operator": asdict(created.operator),
        "demo": asdict(created.demo),
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(content, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(aside, path)
    finally:
        aside.unlink(missing_ok=True)


def describe(created: FirstRunClients, path: Path, token_url: str) -> list[str]:
    """The credentials as the operator sees them once, and a ready command for a token."""
    demo = created.demo
    lines = ["First run: these clients were made; their secrets are shown only here"]
    lines.append(f"(and kept in {path}, readable by you only):")
    for client in (created.operator, created.demo):
        lines += [
            "",
            f"  {client.partner_name} ({client.role}), partner {client.partner_id}",
            f"    client_id:     {client.client_id}",
            f"    client_secret: {client.client_secret}",
        ]
    lines += [
        "",
        f"Get a token as the {demo.partner_name} partner's {demo.role}:",
        f"  curl -u {demo.client_id}:{demo.client_secret} "
        f"-d grant_type=client_credentials {token_url}",
    ]
    return lines
