"""One database and three roles per service, created idempotently with a superuser URL.

Per service ``<svc>``: ``partnerguard_<svc>_owner`` owns the database and its tables (runs the
migrations); ``partnerguard_<svc>_app`` serves requests and is *not* the owner, so row-level
security applies to it; ``partnerguard_<svc>_sweep`` has BYPASSRLS for jobs that span partners.
Every launch sets fresh random passwords and hands them to the processes it starts, so no
password is stored anywhere and the same code works against a server that requires them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_SCRAM_ITERATIONS = 4096
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class ServiceRoles:
    owner: str
    app: str
    sweep: str

    @classmethod
    def for_service(cls, service: str) -> ServiceRoles:
        return cls(
            owner=f"partnerguard_{service}_owner",
            app=f"partnerguard_{service}_app",
            sweep=f"partnerguard_{service}_sweep",
        )

    def all(self) -> tuple[str, str, str]:
        return (self.owner, self.app, self.sweep)


@dataclass(frozen=True)
class Login:
    role: str
    password: str


@dataclass(frozen=True)
class ServiceDatabase:
    """Where one service's data lives and how each of its roles reaches it (with passwords)."""

    service: str
    database: str
    roles: ServiceRoles
    owner_url: str
    app_url: str
    sweep_url: str


def database_name(service: str) -> str:
    return f"partnerguard_{service}"


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted; utility statements take no bind parameters."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677).

    Sending the verifier instead of the password keeps the plain text out of the server's
    statement log and ``pg_stat_statements``, as ``psql``'s ``\\password`` does.
    """
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${_SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def plain_url(url: str) -> str:
    """A libpq-style URL for asyncpg (SQLAlchemy's ``+asyncpg`` suffix removed)."""
    scheme, rest = url.split("://", 1) if "://" in url else ("postgresql", url)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def url_with(server_url: str, *, user: str, password: str, database: str) -> str:
    """``server_url`` (host, port, query such as sslmode kept) as ``user`` on ``database``."""
    parts = urlsplit(plain_url(server_url))
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, "/" + quote(database, safe=""), parts.query, ""))


def on_database(server_url: str, database: str) -> str:
    """``server_url`` with its own credentials, on ``database`` instead."""
    parts = urlsplit(plain_url(server_url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(database, safe=""), parts.query, ""))


def redact(url: str) -> str:
    """The URL without its credentials, fit to print."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


async def provision(superuser_url: str, services: Sequence[str]) -> dict[str, ServiceDatabase]:
    """Create (or repair) each service's roles and database and set fresh passwords."""
    for service in services:
        if not _SERVICE_NAME.match(service):
            raise ValueError(f"service name {service!r} is not a safe database name")
    server_url = plain_url(superuser_url)
    result: dict[str, ServiceDatabase] = {}
    conn = await asyncpg.connect(server_url, timeout=CONNECT_TIMEOUT)
    try:
        for service in services:
            roles = ServiceRoles.for_service(service)
            logins = {role: Login(role, secrets.token_urlsafe(24)) for role in roles.all()}
            database = database_name(service)
            await create_roles_and_database(conn, database, roles, logins.values())

            urls = {
                login.role: url_with(
                    server_url, user=login.role, password=login.password, database=database
                )
                for login in logins.values()
            }
            result[service] = ServiceDatabase(
                service=service,
                database=database,
                roles=roles,
                owner_url=urls[roles.owner],
                app_url=urls[roles.app],
                sweep_url=urls[roles.sweep],
            )
    finally:
        await conn.close()
    # Privileges inside a database need a connection to it.
    for provisioned in result.values():
        await grant_privileges(
            on_database(server_url, provisioned.database), provisioned.database, provisioned.roles
        )
    return result


def provision_sync(superuser_url: str, services: Sequence[str]) -> dict[str, ServiceDatabase]:
    return asyncio.run(provision(superuser_url, services))


async def create_roles_and_database(
    conn: asyncpg.Connection, database: str, roles: ServiceRoles, logins: Iterable[Login]
) -> None:
    """The cluster-wide part, which needs a superuser (or CREATEROLE and CREATEDB): the three
    roles with their attributes and passwords, and the database owned by the owner role."""
    for login in logins:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", login.role):
            await conn.execute(f"CREATE ROLE {quote_ident(login.role)}")
        # Attributes are (re)asserted every time, so a role someone altered by hand is repaired.
        bypass_rls = "BYPASSRLS" if login.role == roles.sweep else "NOBYPASSRLS"
        await conn.execute(
            f"ALTER ROLE {quote_ident(login.role)} WITH LOGIN NOSUPERUSER NOCREATEDB "
            f"NOCREATEROLE NOREPLICATION {bypass_rls} "
            f"PASSWORD {quote_literal(scram_verifier(login.password))}"
        )
    if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
        await conn.execute(
            f"CREATE DATABASE {quote_ident(database)} OWNER {quote_ident(roles.owner)} "
            "ENCODING 'UTF8'"
        )
    else:
        await conn.execute(
            f"ALTER DATABASE {quote_ident(database)} OWNER TO {quote_ident(roles.owner)}"
        )


async def grant_privileges(url: str, database: str, roles: ServiceRoles) -> None:
    """What each role may do in the service's database. Needs no superuser: the database's
    owner may run it (it owns the database and, through ``pg_database_owner``, the ``public``
    schema), which is how a deployment whose roles an operator made runs it."""
    db = quote_ident(database)
    owner = quote_ident(roles.owner)
    users = f"{quote_ident(roles.app)}, {quote_ident(roles.sweep)}"
    conn = await asyncpg.connect(plain_url(url), timeout=CONNECT_TIMEOUT)
    try:
        async with conn.transaction():
            for statement in (
                # A service's database is its own: no other role (another service's) may even
                # connect.
                f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
                f"GRANT CONNECT ON DATABASE {db} TO {users}",
                "REVOKE ALL ON SCHEMA public FROM PUBLIC",
                f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}",
                # USAGE without CREATE: the application and sweep roles cannot make tables.
                f"GRANT USAGE ON SCHEMA public TO {users}",
                # Tables the owner creates later (migrations) are usable by both at once...
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {users}",
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
                f"GRANT USAGE, SELECT ON SEQUENCES TO {users}",
                # ...and so are those that exist already (made before these defaults, or by hand).
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {users}",
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {users}",
            ):
                await conn.execute(statement)
    finally:
        await conn.close()
