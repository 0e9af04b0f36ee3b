"""``partnerguard partners|clients|keys``: the gateway's verbs through the real command, on a real
gateway database, their output read as a script (``--json``) or an operator would."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner, Result

from partnerguard.cli.embedded import EmbeddedNats
from partnerguard.cli.main import app
from partnerguard.gateway.sealing import generate_key
from partnerguard.gateway.settings import GatewaySettings
from tests.cli.conftest import GatewayDatabase
from tests.support.gateway import Credentials, gateway_settings, running_gateway, token_for


@dataclass
class OnDatabase:
    """The context ``partnerguard`` hands its verbs, pointed at this test's database."""

    url: str
    secrets_key: str

    @contextmanager
    def database(self, service: str) -> Iterator[str]:
        assert service == "gateway"
        yield self.url

    def service_environment(self, service: str) -> Mapping[str, str]:
        return {"SECRETS_KEY": self.secrets_key}


def partnerguard(db: GatewayDatabase, *args: str, secrets_key: str | None = None) -> Result:
    context = OnDatabase(db.superuser_url, secrets_key or generate_key())
    return CliRunner().invoke(app, list(args), obj=context)


def answer(result: Result) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def refused(result: Result) -> str:
    """The one-line message of a refused command (exit 1, on stderr, no traceback)."""
    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


def new_partner(db: GatewayDatabase, *extra: str) -> dict[str, Any]:
    name = f"acme-{uuid.uuid4().hex[:8]}"
    partner: dict[str, Any] = answer(partnerguard(db, "partners", "create", name, "--json", *extra))
    return partner


def new_client(db: GatewayDatabase, partner: str, role: str = "global_admin") -> dict[str, Any]:
    made = partnerguard(db, "clients", "create", "--partner", partner, "--role", role, "--json")
    client: dict[str, Any] = answer(made)
    return client


def settings_for(nats: EmbeddedNats, secrets_key: str) -> GatewaySettings:
    return gateway_settings(nats_url=nats.url, secrets_key=secrets_key)


def test_partners_create_then_list_as_json(gateway_database: GatewayDatabase) -> None:
    created = new_partner(gateway_database)

    listed = answer(partnerguard(gateway_database, "partners", "list", "--json"))

    assert created["kind"] == "partner"
    assert created["status"] == "active"
    assert [p["id"] for p in listed] == [created["id"]]
    assert listed[0]["name"] == created["name"]


def test_partners_list_shows_a_table_to_a_person(gateway_database: GatewayDatabase) -> None:
    created = new_partner(gateway_database, "--operator")

    result = partnerguard(gateway_database, "partners", "list")

    assert result.exit_code == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "KIND", "STATUS"]
    assert row.split() == [created["id"], created["name"], "operator", "active"]


async def test_a_created_client_gets_a_token_from_the_gateway(
    gateway_database: GatewayDatabase, nats_server: EmbeddedNats
) -> None:
    partner = await asyncio.to_thread(new_partner, gateway_database)
    client = await asyncio.to_thread(new_client, gateway_database, partner["name"])

    assert client["partner_id"] == partner["id"]
    assert client["role"] == "global_admin"
    assert client["client_secret"].startswith("pgs_")
    credentials = Credentials(
        uuid.UUID(partner["id"]), client["client_id"], client["client_secret"]
    )
    db = gateway_database.for_gateway()
    try:
        async with running_gateway(db, settings_for(nats_server, generate_key())) as gw:
            token = await token_for(gw.http, credentials, scope="billing:read")
    finally:
        await db.dispose()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["partner_id"] == partner["id"]
    assert claims["client_id"] == client["client_id"]
    assert claims["scope"] == "billing:read"


async def test_a_revoked_client_gets_no_token(
    gateway_database: GatewayDatabase, nats_server: EmbeddedNats
) -> None:
    partner = await asyncio.to_thread(new_partner, gateway_database)
    client = await asyncio.to_thread(new_client, gateway_database, partner["id"], "billing_admin")

    revoked = await asyncio.to_thread(
        partnerguard, gateway_database, "clients", "revoke", client["client_id"], "--json"
    )

    assert answer(revoked)["status"] == "revoked"
    db = gateway_database.for_gateway()
    try:
        async with running_gateway(db, settings_for(nats_server, generate_key())) as gw:
            response = await gw.http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client["client_id"], client["client_secret"]),
            )
    finally:
        await db.dispose()
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_revoking_twice_says_so_and_succeeds(gateway_database: GatewayDatabase) -> None:
    partner = new_partner(gateway_database)
    client = new_client(gateway_database, partner["id"])
    partnerguard(gateway_database, "clients", "revoke", client["client_id"])

    again = partnerguard(gateway_database, "clients", "revoke", client["id"])

    assert again.exit_code == 0, again.stderr
    assert "was already revoked" in again.stdout


def test_clients_list_filters_by_partner_and_never_shows_secrets(
    gateway_database: GatewayDatabase,
) -> None:
    mine, theirs = new_partner(gateway_database), new_partner(gateway_database)
    client = new_client(gateway_database, mine["id"])
    new_client(gateway_database, theirs["id"], "admin_agent")

    listed = partnerguard(gateway_database, "clients", "list", "--partner", mine["id"], "--json")
    everyone = partnerguard(gateway_database, "clients", "list")

    assert [c["client_id"] for c in answer(listed)] == [client["client_id"]]
    assert all("client_secret" not in c and "secret_hash" not in c for c in answer(listed))
    assert client["client_secret"] not in listed.stdout + everyone.stdout
    assert len(everyone.stdout.splitlines()) == 3  # header and both clients


def test_an_unknown_role_is_refused_with_the_choices(gateway_database: GatewayDatabase) -> None:
    partner = new_partner(gateway_database)

    message = refused(
        partnerguard(
            gateway_database, "clients", "create", "--partner", partner["id"], "--role", "root"
        )
    )

    assert message == (
        "partnerguard: unknown role 'root'; choose one of: global_admin, billing_admin, "
        "admin_agent, user_management_admin, platform_admin"
    )


def test_an_unknown_partner_is_refused(gateway_database: GatewayDatabase) -> None:
    missing = str(uuid.uuid4())

    message = refused(
        partnerguard(
            gateway_database, "clients", "create", "--partner", missing, "--role", "global_admin"
        )
    )

    assert message == f"partnerguard: no partner '{missing}' (see `partnerguard partners list`)"


def test_a_platform_admin_client_only_for_the_operator(gateway_database: GatewayDatabase) -> None:
    partner = new_partner(gateway_database)
    operator = new_partner(gateway_database, "--operator")

    message = refused(
        partnerguard(
            gateway_database,
            "clients",
            "create",
            "--partner",
            partner["id"],
            "--role",
            "platform_admin",
        )
    )

    assert "platform_admin clients belong to the operator" in message
    assert new_client(gateway_database, operator["id"], "platform_admin")["scopes"] == [
        "platform:read",
        "platform:write",
    ]


def test_a_duplicate_partner_name_is_refused(gateway_database: GatewayDatabase) -> None:
    partner = new_partner(gateway_database)

    message = refused(partnerguard(gateway_database, "partners", "create", partner["name"]))

    assert message == f"partnerguard: a partner named {partner['name']!r} exists already"


async def start_and_stop_gateway(db: GatewayDatabase, nats: EmbeddedNats, secrets_key: str) -> None:
    """The gateway's first start makes a signing key, sealed with ``secrets_key``."""
    database = db.for_gateway()
    try:
        async with running_gateway(database, settings_for(nats, secrets_key)):
            pass
    finally:
        await database.dispose()


async def test_keys_rotate_now_makes_the_key_the_gateway_signs_with(
    gateway_database: GatewayDatabase, nats_server: EmbeddedNats
) -> None:
    key = generate_key()
    await start_and_stop_gateway(gateway_database, nats_server, key)
    partner = await asyncio.to_thread(new_partner, gateway_database)
    client = await asyncio.to_thread(new_client, gateway_database, partner["id"])
    credentials = Credentials(
        uuid.UUID(partner["id"]), client["client_id"], client["client_secret"]
    )

    rotated = await asyncio.to_thread(
        partnerguard, gateway_database, "keys", "rotate", "--now", "--json", secrets_key=key
    )

    kid = answer(rotated)["kid"]
    db = gateway_database.for_gateway()
    try:
        async with running_gateway(db, settings_for(nats_server, key)) as gw:
            jwks = (await gw.http.get("/.well-known/jwks.json")).json()
            token = await token_for(gw.http, credentials)
    finally:
        await db.dispose()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert len(jwks["keys"]) == 2, "the old key stays published for the tokens it signed"
    assert kid in [k["kid"] for k in jwks["keys"]]
    assert header["kid"] == kid


def test_keys_rotate_before_the_gateway_ever_ran_is_refused(
    gateway_database: GatewayDatabase,
) -> None:
    message = refused(partnerguard(gateway_database, "keys", "rotate"))

    assert message == (
        "partnerguard: the gateway has no signing key yet; it makes its first when it starts"
    )


async def test_keys_rotate_refuses_a_secrets_key_that_does_not_open_the_keys(
    gateway_database: GatewayDatabase, nats_server: EmbeddedNats
) -> None:
    await start_and_stop_gateway(gateway_database, nats_server, generate_key())

    result = await asyncio.to_thread(
        partnerguard, gateway_database, "keys", "rotate", secrets_key=generate_key()
    )

    assert refused(result) == (
        "partnerguard: this SECRETS_KEY does not open the gateway's signing keys; "
        "set SECRETS_KEY to the key the gateway runs with"
    )
