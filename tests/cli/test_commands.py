"""``partnerguard status``, ``migrate`` and the services' verbs, run as an operator would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port, port_is_free
from partnerguard.common.db.engine import Database, make_engine
from partnerguard.common.settings import normalise_database_url
from tests.support.gateway import Credentials, gateway_settings, running_gateway, token_for

LAUNCHER = str(Path(sys.executable).parent / "partnerguard")
SERVICES = ("gateway", "onboarding", "billing", "monitoring", "enforcement")


def partnerguard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own launcher
        [LAUNCHER, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def without_servers(**extra: str) -> dict[str, str]:
    """Our environment without the names of external servers or an operator's secrets key."""
    drop = ("DATABASE_URL", "NATS_URL", "SECRETS_KEY")
    return {k: v for k, v in os.environ.items() if k not in drop} | extra


def test_status_fails_when_no_service_answers() -> None:
    env = dict(os.environ) | {f"{name.upper()}_PORT": str(free_port()) for name in SERVICES}

    result = partnerguard("status", "--json", env=env)

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ready"] is False
    assert [(s["service"], s["ready"], s["status_code"]) for s in report["services"]] == [
        (name, False, None) for name in SERVICES
    ]


def test_run_refuses_a_bad_process_count_before_starting_anything(tmp_path: Path) -> None:
    for value, why in [("0", "must be between 1 and 16, not 0"), ("two", "is not a whole number")]:
        env = without_servers(ENFORCEMENT_PROCESSES=value)

        result = partnerguard("run", "--data-dir", str(tmp_path), env=env)

        assert result.returncode != 0
        assert f"ENFORCEMENT_PROCESSES {why}" in result.stdout + result.stderr
        assert list(tmp_path.iterdir()) == [], "nothing was started"


def test_migrate_provisions_an_external_server_named_by_database_url(
    password_pg: EmbeddedPostgres, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["DATABASE_URL"] = password_pg.url

    result = partnerguard(
        "migrate", "--data-dir", str(tmp_path), "--service", "enforcement", env=env
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "migrated enforcement" in result.stdout
    assert not (tmp_path / "postgres").exists(), "no embedded server when DATABASE_URL is set"
    assert asyncio.run(_kernel_version(password_pg)) == "k0001"


async def _kernel_version(pg: EmbeddedPostgres) -> str | None:
    conn = await asyncpg.connect(pg.url_for("partnerguard_enforcement"))
    try:
        version = await conn.fetchval("SELECT version_num FROM alembic_version_kernel")
        return str(version) if version is not None else None
    finally:
        await conn.close()


def test_verbs_start_the_embedded_server_for_themselves_only_while_the_platform_is_down(
    server_dir: Callable[[str], Path],
) -> None:
    data_dir, port = server_dir("verbs"), free_port()
    env = without_servers(PARTNERGUARD_DATA_DIR=str(data_dir), PARTNERGUARD_PG_PORT=str(port))

    # A fresh machine: the server is made, started, the gateway database migrated, then stopped.
    created = partnerguard("partners", "create", "acme", "--json", env=env)

    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["name"] == "acme"
    assert "starting the embedded PostgreSQL" in created.stderr
    assert port_is_free(port), "the server started for the command is stopped after it"

    # The platform is up: its server is used as it is and left running.
    running = EmbeddedPostgres(data_dir / "postgres", port=port)
    running.start()
    try:
        listed = partnerguard("partners", "list", "--json", env=env)

        assert listed.returncode == 0, listed.stderr
        assert [p["name"] for p in json.loads(listed.stdout)] == ["acme"]
        assert "starting" not in listed.stderr
        assert not port_is_free(port), "a running server is left running"
    finally:
        running.stop()


async def test_verbs_provision_the_gateway_database_on_a_server_named_by_database_url(
    password_pg: EmbeddedPostgres, nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    env = without_servers(DATABASE_URL=password_pg.url, PARTNERGUARD_DATA_DIR=str(tmp_path))
    name = f"acme-{uuid.uuid4().hex[:8]}"

    partner = await asyncio.to_thread(partnerguard, "partners", "create", name, env=env)
    client = await asyncio.to_thread(
        partnerguard,
        "clients",
        "create",
        "--partner",
        name,
        "--role",
        "admin_agent",
        "--json",
        env=env,
    )

    assert partner.returncode == 0, partner.stderr
    assert client.returncode == 0, client.stderr
    assert not (tmp_path / "postgres").exists(), "no embedded server when DATABASE_URL is set"
    made = json.loads(client.stdout)
    url = normalise_database_url(password_pg.url_for("partnerguard_gateway"))
    db = Database(make_engine(url, application_name="t"))
    try:
        async with running_gateway(db, gateway_settings(nats_url=nats_server.url)) as gw:
            credentials = Credentials(
                uuid.UUID(made["partner_id"]), made["client_id"], made["client_secret"]
            )
            assert await token_for(gw.http, credentials, "monitoring:read")
    finally:
        await db.dispose()
