"""The first run: the gateway's secrets key and its first clients, made once and kept private."""

from __future__ import annotations

import asyncio
import json
import stat
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest

from partnerguard.cli.embedded import EmbeddedNats
from partnerguard.cli.platform import gateway_environment, service_children
from partnerguard.cli.private_files import gateway_secrets_key
from partnerguard.cli.provision import ServiceDatabase, ServiceRoles
from partnerguard.cli.settings import LauncherSettings
from partnerguard.common.runtime import ServiceSpec
from partnerguard.gateway.bootstrap import first_run
from partnerguard.gateway.partners.service import list_partners
from partnerguard.gateway.sealing import Sealer, generate_key
from tests.cli.conftest import GatewayDatabase
from tests.support.gateway import Credentials, gateway_settings, running_gateway, token_for

GATEWAY_URL = "http://127.0.0.1:8000"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_run_makes_two_clients_and_keeps_them_in_a_private_file(
    gateway_database: GatewayDatabase, tmp_path: Path
) -> None:
    state_dir = tmp_path / "gateway"

    shown = first_run(
        database_url=gateway_database.app_url, state_dir=state_dir, gateway_url=GATEWAY_URL
    )

    kept = json.loads((state_dir / "first-run-credentials.json").read_text())
    assert mode(state_dir / "first-run-credentials.json") == 0o600
    assert mode(state_dir) == 0o700
    assert (kept["operator"]["role"], kept["demo"]["role"]) == ("platform_admin", "global_admin")
    text = "\n".join(shown)
    for client in (kept["operator"], kept["demo"]):
        assert client["client_id"] in text
        assert client["client_secret"] in text
    demo = kept["demo"]
    assert (
        f"curl -u {demo['client_id']}:{demo['client_secret']} -d grant_type=client_credentials "
        f"{GATEWAY_URL}/oauth/token"
    ) in text


def test_the_first_run_happens_once(gateway_database: GatewayDatabase, tmp_path: Path) -> None:
    state_dir = tmp_path / "gateway"
    first_run(database_url=gateway_database.app_url, state_dir=state_dir, gateway_url=GATEWAY_URL)
    kept = (state_dir / "first-run-credentials.json").read_text()

    again = first_run(
        database_url=gateway_database.app_url, state_dir=state_dir, gateway_url=GATEWAY_URL
    )

    path = state_dir / "first-run-credentials.json"
    assert again == [f"First-run credentials (operator and demo clients) are in {path}"]
    assert path.read_text() == kept
    assert asyncio.run(partner_names(gateway_database)) == ["demo", "operator"]


def test_no_first_run_where_partners_exist(
    gateway_database: GatewayDatabase, tmp_path: Path
) -> None:
    first_run(database_url=gateway_database.app_url, state_dir=tmp_path, gateway_url=GATEWAY_URL)
    elsewhere = tmp_path / "another-data-folder"

    shown = first_run(
        database_url=gateway_database.app_url, state_dir=elsewhere, gateway_url=GATEWAY_URL
    )

    assert "partnerguard clients create" in shown[0]
    assert not elsewhere.exists()


async def test_the_first_run_credentials_get_tokens(
    gateway_database: GatewayDatabase, nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    await asyncio.to_thread(
        first_run,
        database_url=gateway_database.app_url,
        state_dir=tmp_path,
        gateway_url=GATEWAY_URL,
    )
    kept = json.loads((tmp_path / "first-run-credentials.json").read_text())

    def credentials(client: dict[str, str]) -> Credentials:
        return Credentials(
            uuid.UUID(client["partner_id"]), client["client_id"], client["client_secret"]
        )

    db = gateway_database.for_gateway()
    try:
        async with running_gateway(db, gateway_settings(nats_url=nats_server.url)) as gw:
            operator = await token_for(gw.http, credentials(kept["operator"]))
            demo = await token_for(gw.http, credentials(kept["demo"]), "billing:write")
            partners = await gw.http.get(
                "/v1/partners", headers={"Authorization": f"Bearer {operator}"}
            )
    finally:
        await db.dispose()
    assert demo
    assert partners.status_code == 200, partners.text
    assert {p["name"] for p in partners.json()["items"]} == {"operator", "demo"}


def test_the_secrets_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = gateway_secrets_key(tmp_path)
    second = gateway_secrets_key(tmp_path)

    assert first == second
    Sealer.from_base64(first)  # 32 bytes, base64
    assert mode(tmp_path / "gateway" / "secrets_key") == 0o600
    assert mode(tmp_path / "gateway") == 0o700


def two_services(tmp_path: Path) -> tuple[list[ServiceSpec], dict[str, ServiceDatabase]]:
    specs = [
        ServiceSpec(name, port, f"partnerguard.{name}.app:create_app", "", tmp_path)
        for name, port in (("gateway", 8000), ("billing", 8002))
    ]
    databases = {
        spec.name: ServiceDatabase(
            spec.name,
            f"partnerguard_{spec.name}",
            ServiceRoles.for_service(spec.name),
            "o",
            "a",
            "s",
        )
        for spec in specs
    }
    return specs, databases


def environments(tmp_path: Path) -> dict[str, Mapping[str, str]]:
    """What ``partnerguard run`` gives each of a gateway and a billing service."""
    specs, databases = two_services(tmp_path)
    settings = LauncherSettings()
    children = service_children(
        specs,
        databases,
        settings=settings,
        nats_url="nats://127.0.0.1:4222",
        issuer=GATEWAY_URL,
        log_json=True,
        own_environment={"gateway": gateway_environment(tmp_path, settings, specs)},
    )
    return {child.name: child.env for child in children}


def test_only_the_gateway_is_given_the_kept_secrets_key_and_the_service_urls(
    tmp_path: Path,
) -> None:
    env = environments(tmp_path)

    assert env["gateway"]["SECRETS_KEY"] == gateway_secrets_key(tmp_path)
    assert json.loads(env["gateway"]["SERVICE_URLS"]) == {"billing": "http://127.0.0.1:8002"}
    assert "SECRETS_KEY" not in env["billing"]
    assert "SERVICE_URLS" not in env["billing"]


def test_an_operators_secrets_key_wins_and_still_reaches_only_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    monkeypatch.setenv("SECRETS_KEY", key)

    env = environments(tmp_path)

    assert env["gateway"]["SECRETS_KEY"] == key
    assert "SECRETS_KEY" not in env["billing"]
    assert not (tmp_path / "gateway" / "secrets_key").exists()


async def partner_names(db: GatewayDatabase) -> list[str]:
    database = db.for_gateway()
    try:
        async with database.session() as session:
            return sorted(p.name for p in await list_partners(session, 10, None))
    finally:
        await database.dispose()
