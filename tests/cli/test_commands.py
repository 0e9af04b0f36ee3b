"""``partnerguard status`` and ``partnerguard migrate``, run as an operator would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from partnerguard.cli.embedded import EmbeddedPostgres, free_port

LAUNCHER = str(Path(sys.executable).parent / "partnerguard")
SERVICES = ("gateway", "onboarding", "billing", "monitoring", "enforcement")


def partnerguard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own launcher
        [LAUNCHER, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_status_fails_when_no_service_answers() -> None:
    env = dict(os.environ) | {f"{name.upper()}_PORT": str(free_port()) for name in SERVICES}

    result = partnerguard("status", "--json", env=env)

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ready"] is False
    assert [(s["service"], s["ready"], s["status_code"]) for s in report["services"]] == [
        (name, False, None) for name in SERVICES
    ]


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
