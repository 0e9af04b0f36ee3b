"""``partnerguard setup-database``: a deployed service's database made ready for its version.

``partnerguard run`` provisions the embedded (or a given) server itself with passwords it
makes; a deployment gives each service the URLs of its three roles (owner, application,
sweep) from its secrets, and this step makes the database match them before the service
starts: roles and database when it may (a superuser URL), privileges and migrations always.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import asyncpg
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import SQLAlchemyError

from partnerguard.cli.platform import PlatformError
from partnerguard.cli.provision import (
    CONNECT_TIMEOUT,
    Login,
    ServiceRoles,
    create_roles_and_database,
    grant_privileges,
    plain_url,
    redact,
)
from partnerguard.common.migrations import upgrade
from partnerguard.common.runtime import ServiceSpec
from partnerguard.common.settings import ServiceSettings


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # A superuser URL of the server; unset: the roles and the database exist already.
    database_admin_url: SecretStr | None = None


@dataclass(frozen=True)
class _Target:
    login: Login
    server: str
    database: str


def _target(variable: str, url: str) -> _Target:
    parts = urlsplit(plain_url(url))
    if not parts.username or parts.password is None or not parts.path.strip("/"):
        raise PlatformError(f"{variable} must name a user, a password and a database")
    login = Login(unquote(parts.username), unquote(parts.password))
    return _Target(login, parts.netloc.rsplit("@", 1)[-1], unquote(parts.path.strip("/")))


def deployment_roles(settings: ServiceSettings) -> tuple[str, ServiceRoles, list[Login]]:
    """The database and the three roles the service's own URLs name, checked to be one
    database on one server and three different roles: an application role that owned the
    tables would pass through row-level security, so the owner must be a role of its own."""
    given = {
        "DATABASE_OWNER_URL": settings.database_owner_url,
        "DATABASE_URL": settings.database_url,
        "DATABASE_SWEEP_URL": settings.database_sweep_url,
    }
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise PlatformError(f"{', '.join(missing)} must be set")
    owner, app, sweep = (
        _target(name, value.get_secret_value())
        for name, value in given.items()
        if value is not None
    )
    if len({(t.server, t.database) for t in (owner, app, sweep)}) != 1:
        raise PlatformError(
            "DATABASE_OWNER_URL, DATABASE_URL and DATABASE_SWEEP_URL must name one database"
        )
    roles = ServiceRoles(owner=owner.login.role, app=app.login.role, sweep=sweep.login.role)
    if len(set(roles.all())) != 3:
        raise PlatformError(
            "DATABASE_OWNER_URL, DATABASE_URL and DATABASE_SWEEP_URL must name three different "
            "roles: the application role must not own the tables, or row-level security does "
            "not apply to it"
        )
    return owner.database, roles, [owner.login, app.login, sweep.login]


async def setup_database(
    spec: ServiceSpec, settings: ServiceSettings, admin_url: SecretStr | None
) -> None:
    """Make the service's database ready for a new version of it, idempotently.

    With an ``admin_url`` (a superuser, as in docker compose) the roles and the database are
    created first, with the passwords the service's URLs carry. Without one they must exist
    (CloudNativePG's managed roles and ``Database``, or an operator's hand). Then, as the
    owner: the privileges of each role, and the migrations.
    """
    database, roles, logins = deployment_roles(settings)
    owner_url = settings.owner_url()
    try:
        if admin_url is not None:
            conn = await asyncpg.connect(
                plain_url(admin_url.get_secret_value()), timeout=CONNECT_TIMEOUT
            )
            try:
                await create_roles_and_database(conn, database, roles, logins)
            finally:
                await conn.close()
        await grant_privileges(owner_url, database, roles)
        await asyncio.to_thread(upgrade, owner_url, spec.migrations)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, SQLAlchemyError) as exc:
        raise PlatformError(f"cannot prepare {redact(plain_url(owner_url))}: {exc}") from exc
