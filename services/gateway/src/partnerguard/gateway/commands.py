"""The gateway's operator verbs: ``partnerguard partners|clients|keys ...``.

They need no token: they work straight on the gateway's database, so an operator (or a script)
can set a platform up before any client exists. ``partnerguard`` finds these typer apps through
the entry points ``partnerguard.commands`` and hands them, as typer's context object, an
``OperatorContext``: how to reach the database and what environment the gateway is given. This
package never imports the launcher.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Annotated, Any, Protocol, TypeVar, runtime_checkable

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.engine import Database, make_engine
from partnerguard.common.errors import DomainError, NotFound
from partnerguard.common.settings import normalise_database_url
from partnerguard.gateway.app import rotation_policy, sealer_for
from partnerguard.gateway.clients.schemas import ClientOut
from partnerguard.gateway.clients.service import create_client, list_clients, revoke_client
from partnerguard.gateway.keys.service import rotate_signing_key
from partnerguard.gateway.keys.store import KeyStore
from partnerguard.gateway.models import Client, Partner
from partnerguard.gateway.partners.schemas import PartnerCreate, PartnerOut
from partnerguard.gateway.partners.service import create_partner, get_partner, list_partners
from partnerguard.gateway.roles import Role
from partnerguard.gateway.sealing import UnsealError
from partnerguard.gateway.settings import GatewaySettings

SERVICE = "gateway"
PAGE_SIZE = 500
T = TypeVar("T")


@runtime_checkable
class OperatorContext(Protocol):
    """What ``partnerguard`` gives its command groups as ``ctx.obj``."""

    def database(self, service: str) -> AbstractContextManager[str]:
        """A URL of the service's database as a role that may see every partner."""
        ...

    def service_environment(self, service: str) -> Mapping[str, str]:
        """The variables ``partnerguard run`` gives the service (the gateway's SECRETS_KEY)."""
        ...


class CommandError(Exception):
    """A failure the operator can act on: shown as its message, exit code 1."""


JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")]

partners = typer.Typer(
    help="Partners: the platform's tenants (and the operator itself).", no_args_is_help=True
)
clients = typer.Typer(
    help="OAuth 2.0 clients: each belongs to one partner and acts in one role.",
    no_args_is_help=True,
)
keys = typer.Typer(help="The gateway's token-signing keys.", no_args_is_help=True)


# ---- partners -------------------------------------------------------------------------------


@partners.command("create")
def partners_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name unique among partners.")],
    operator: Annotated[
        bool,
        typer.Option(
            "--operator", help="The platform operator's own partner (for platform_admin clients)."
        ),
    ] = False,
    as_json: JsonOutput = False,
) -> None:
    """Create a partner."""
    with _reported_errors():
        try:
            name = PartnerCreate(name=name).name
        except ValidationError as exc:
            raise CommandError(f"invalid partner name: {_first_problem(exc)}") from None

        async def work(db: Database) -> Partner:
            async with db.session() as session:
                return await create_partner(session, name, "operator" if operator else "partner")

        partner = _on_database(ctx, work)
        _show([_partner_view(partner)], as_json, single=True)


@partners.command("list")
def partners_list(ctx: typer.Context, as_json: JsonOutput = False) -> None:
    """List every partner, oldest first."""
    with _reported_errors():

        async def work(db: Database) -> list[Partner]:
            async with db.session() as session:
                return await _all_partners(session)

        _show([_partner_view(p) for p in _on_database(ctx, work)], as_json)


# ---- clients --------------------------------------------------------------------------------


@clients.command("create")
def clients_create(
    ctx: typer.Context,
    partner: Annotated[str, typer.Option("--partner", help="The partner's id (or its name).")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="global_admin, billing_admin, admin_agent, user_management_admin, "
            "or platform_admin (operator partners only).",
        ),
    ],
    name: Annotated[str | None, typer.Option("--name", help="What the client is for.")] = None,
    as_json: JsonOutput = False,
) -> None:
    """Create a client; its secret is printed this once (only a hash is kept)."""
    with _reported_errors():
        chosen = _role(role)
        label = (name or f"{chosen.value} client").strip()
        if not 1 <= len(label) <= 200:
            raise CommandError("the client name must be 1 to 200 characters")

        async def work(db: Database) -> tuple[Client, str, Partner]:
            async with db.session() as session:
                owner = await _find_partner(session, partner)
            async with db.tenant_session(owner.id) as session:
                client, secret = await create_client(session, owner.id, label, chosen)
            return client, secret, owner

        client, secret, owner = _on_database(ctx, work)
        view = _client_view(client, owner)
        if as_json:
            _echo_json({**view, "client_secret": secret})
            return
        _show([view], as_json=False, single=True)
        typer.echo("")
        typer.echo(f"client_id:     {client.client_id}")
        typer.echo(f"client_secret: {secret}")
        typer.echo("The secret is shown this once: keep it now (only a hash is stored).")


@clients.command("list")
def clients_list(
    ctx: typer.Context,
    partner: Annotated[
        str | None, typer.Option("--partner", help="Only this partner's (id or name).")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """List clients (never their secrets), of one partner or of all."""
    with _reported_errors():

        async def work(db: Database) -> list[tuple[Client, Partner]]:
            async with db.session() as session:
                owners = (
                    [await _find_partner(session, partner)]
                    if partner is not None
                    else await _all_partners(session)
                )
            found: list[tuple[Client, Partner]] = []
            for owner in owners:
                found.extend((client, owner) for client in await _clients_of(db, owner.id))
            return found

        rows = _on_database(ctx, work)
        _show([_client_view(client, owner) for client, owner in rows], as_json)


@clients.command("revoke")
def clients_revoke(
    ctx: typer.Context,
    client_id: Annotated[str, typer.Argument(help="The client_id (or the client's id).")],
    as_json: JsonOutput = False,
) -> None:
    """Revoke a client: it gets no new tokens, and the gateway refuses those it holds."""
    with _reported_errors():

        async def work(db: Database) -> tuple[Client, Partner, bool]:
            client, owner = await _find_client(db, client_id)
            already = client.status == "revoked"
            async with db.tenant_session(owner.id) as session:
                revoked = await revoke_client(session, owner.id, client.id)
            return revoked, owner, already

        client, owner, already = _on_database(ctx, work)
        if as_json:
            _echo_json(_client_view(client, owner))
            return
        state = "was already revoked" if already else "revoked"
        typer.echo(f"client {client.client_id} of partner {owner.name} {state}")


# ---- keys -----------------------------------------------------------------------------------


@keys.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    now: Annotated[
        bool,
        typer.Option(
            "--now",
            help="Sign with the new key at once (a key leaked) instead of after the publish lead.",
        ),
    ] = False,
    as_json: JsonOutput = False,
) -> None:
    """Start a new signing key. The current one keeps verifying until its tokens expire."""
    with _reported_errors():
        settings = _gateway_settings(_operator(ctx).service_environment(SERVICE))
        sealer = sealer_for(settings)
        policy = rotation_policy(settings)

        async def work(db: Database) -> dict[str, Any]:
            # The published keys must open with this secrets key, or the new key, sealed with
            # it, would be one the gateway cannot open. With no key yet there is nothing to
            # check it against (nor to rotate): the gateway makes its first key on start.
            store = KeyStore(db, sealer, policy)
            try:
                await store.reload()
            except UnsealError:
                raise CommandError(
                    "this SECRETS_KEY does not open the gateway's signing keys; "
                    "set SECRETS_KEY to the key the gateway runs with"
                ) from None
            if not store.jwks()["keys"]:
                raise CommandError(
                    "the gateway has no signing key yet; it makes its first when it starts"
                )
            async with db.session() as session:
                key = await rotate_signing_key(session, sealer, policy, immediately=now)
            return {
                "kid": key.kid,
                "activates_at": key.activates_at.isoformat(),
                "retires_at": key.retires_at.isoformat(),
                "expires_at": key.expires_at.isoformat(),
            }

        created = _on_database(ctx, work)
        if as_json:
            _echo_json(created)
            return
        typer.echo(f"new signing key {created['kid']} signs from {created['activates_at']}")
        typer.echo(
            "It is in the JWKS now; running gateways reload their keys within a minute, "
            "and tokens signed by the old key stay valid until they expire."
        )


# ---- plumbing -------------------------------------------------------------------------------


def _operator(ctx: typer.Context) -> OperatorContext:
    if not isinstance(ctx.obj, OperatorContext):
        raise CommandError("these commands run inside the `partnerguard` command")
    return ctx.obj


def _on_database(ctx: typer.Context, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` on the gateway's database, opened for this command and closed after it."""
    with _operator(ctx).database(SERVICE) as url:

        async def run() -> T:
            db = Database(
                make_engine(
                    normalise_database_url(url),
                    application_name="partnerguard-cli",
                    pool_size=1,
                    max_overflow=1,
                )
            )
            try:
                return await work(db)
            finally:
                await db.dispose()

        return asyncio.run(run())


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Expected failures end the command with a message on stderr and exit code 1: no
    traceback, and nothing that could carry a password or a secret."""
    try:
        yield
    except CommandError as exc:
        _fail(str(exc))
    except DomainError as exc:
        _fail(exc.detail or exc.title)
    except SQLAlchemyError as exc:
        # Not str(exc): it carries the statement's parameters.
        cause = getattr(exc, "orig", None) or exc.__cause__ or type(exc).__name__
        _fail(f"database error: {str(cause).splitlines()[0] if str(cause) else cause}")
    except OSError as exc:
        _fail(f"cannot reach the database: {exc.strerror or exc}")


def _fail(message: str) -> None:
    typer.echo(f"partnerguard: {message}", err=True)
    raise typer.Exit(1)


def _first_problem(exc: ValidationError) -> str:
    errors = exc.errors(include_input=False, include_url=False)
    return str(errors[0]["msg"]) if errors else "invalid"


def _role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise CommandError(f"unknown role {value!r}; choose one of: {choices}") from None


def _gateway_settings(environment: Mapping[str, str]) -> GatewaySettings:
    """The gateway's settings as ``partnerguard run`` would give them (its SECRETS_KEY)."""
    overrides = {"secrets_key": environment["SECRETS_KEY"]} if "SECRETS_KEY" in environment else {}
    try:
        return GatewaySettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = exc.errors(include_input=False, include_url=False)
        where = ".".join(str(p) for p in problems[0]["loc"]) if problems else "?"
        raise CommandError(f"invalid gateway settings: {where}: {_first_problem(exc)}") from None


async def _all_partners(session: AsyncSession) -> list[Partner]:
    found: list[Partner] = []
    after: uuid.UUID | None = None
    while True:
        page = list(await list_partners(session, PAGE_SIZE, after))
        found.extend(page[:PAGE_SIZE])
        if len(page) <= PAGE_SIZE:
            return found
        after = page[PAGE_SIZE - 1].id


async def _clients_of(db: Database, partner_id: uuid.UUID) -> list[Client]:
    found: list[Client] = []
    after: uuid.UUID | None = None
    async with db.tenant_session(partner_id) as session:
        while True:
            page = list(await list_clients(session, partner_id, PAGE_SIZE, after))
            found.extend(page[:PAGE_SIZE])
            if len(page) <= PAGE_SIZE:
                return found
            after = page[PAGE_SIZE - 1].id


async def _find_partner(session: AsyncSession, reference: str) -> Partner:
    """A partner by id, else by exact name."""
    try:
        partner_id: uuid.UUID | None = uuid.UUID(reference)
    except ValueError:
        partner_id = None
    if partner_id is not None:
        try:
            return await get_partner(session, partner_id)
        except NotFound:
            pass
    else:
        for partner in await _all_partners(session):
            if partner.name == reference:
                return partner
    raise CommandError(f"no partner {reference!r} (see `partnerguard partners list`)")


async def _find_client(db: Database, reference: str) -> tuple[Client, Partner]:
    """A client by its client_id or its id, with its partner, whichever partner it is of."""
    async with db.session() as session:
        owners = await _all_partners(session)
    for owner in owners:
        for client in await _clients_of(db, owner.id):
            if reference in (client.client_id, str(client.id)):
                return client, owner
    raise CommandError(f"no client {reference!r} (see `partnerguard clients list`)")


def _partner_view(partner: Partner) -> dict[str, Any]:
    return PartnerOut.model_validate(partner).model_dump(mode="json")


def _client_view(client: Client, owner: Partner) -> dict[str, Any]:
    view = ClientOut.model_validate(client).model_dump(mode="json")
    return {**view, "partner_name": owner.name}


def _echo_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2))


# Columns of the human tables: (title, key in the JSON view).
_COLUMNS: dict[str, Sequence[tuple[str, str]]] = {
    "partner": (("ID", "id"), ("NAME", "name"), ("KIND", "kind"), ("STATUS", "status")),
    "client": (
        ("CLIENT_ID", "client_id"),
        ("PARTNER", "partner_name"),
        ("ROLE", "role"),
        ("STATUS", "status"),
        ("NAME", "name"),
        ("ID", "id"),
    ),
}


def _show(views: Sequence[dict[str, Any]], as_json: bool, *, single: bool = False) -> None:
    """JSON (one object, or a list) for scripts; else an aligned table."""
    if as_json:
        _echo_json(views[0] if single else list(views))
        return
    if not views:
        typer.echo("(none)")
        return
    columns = _COLUMNS["client" if "client_id" in views[0] else "partner"]
    rows = [[title for title, _ in columns]]
    rows += [[str(view.get(key) or "") for _, key in columns] for view in views]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
