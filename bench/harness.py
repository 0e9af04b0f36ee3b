"""A service under benchmark: embedded PostgreSQL and NATS, its database provisioned and
migrated, and its API as a real uvicorn process (row-level security applies: the API connects
as the service's application role)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from partnerguard.cli.provision import ServiceDatabase, provision
from partnerguard.common.migrations import upgrade
from partnerguard.common.runtime import ServiceSpec
from tests.support.jwks import Issuer

REPO = Path(__file__).resolve().parent.parent


@dataclass
class ServiceUnderTest:
    base_url: str
    database: ServiceDatabase
    issuer: Issuer
    pg: EmbeddedPostgres
    nats: EmbeddedNats
    log: Path


@asynccontextmanager
async def service_under_test(
    spec: ServiceSpec, *, workers: int, env: dict[str, str] | None = None
) -> AsyncIterator[ServiceUnderTest]:
    with tempfile.TemporaryDirectory(prefix=f"{spec.name}-bench-") as tmp:
        root = Path(tmp)
        pg = EmbeddedPostgres(root / "pg", port=free_port())
        nats = EmbeddedNats(root / "nats", port=free_port())
        issuer = Issuer()
        issuer.start()
        pg.start()
        process: subprocess.Popen[bytes] | None = None
        log_path = root / f"{spec.name}.log"
        try:
            nats.start()
            try:
                database = (await provision(pg.url, [spec.name]))[spec.name]
                await asyncio.to_thread(upgrade, database.owner_url, spec.migrations)
                port = free_port()
                with log_path.open("wb") as log:
                    process = _start_api(spec, port, database, nats, issuer, log, workers, env)
                    base = f"http://127.0.0.1:{port}"
                    await _wait_ready(base, process, log_path)
                    yield ServiceUnderTest(base, database, issuer, pg, nats, log_path)
            finally:
                if process is not None:
                    process.terminate()
                    try:
                        process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        process.kill()
                nats.stop()
        finally:
            pg.stop()
            issuer.stop()


def _start_api(
    spec: ServiceSpec,
    port: int,
    database: ServiceDatabase,
    nats: EmbeddedNats,
    issuer: Issuer,
    log: IO[bytes],
    workers: int,
    extra: dict[str, str] | None,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database.app_url,
        "DATABASE_SWEEP_URL": database.sweep_url,
        "NATS_URL": nats.url,
        "AUTH_ISSUER": issuer.url,
        "AUTH_JWKS_URL": issuer.jwks_url,
        "LOG_LEVEL": "WARNING",
        "RUN_WORKERS": "false",
        "DATABASE_POOL_SIZE": "20",
        **(extra or {}),
    }
    args = [sys.executable, "-m", "uvicorn", "--factory", spec.api_app]
    args += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    args += ["--workers", str(workers)]
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        args, cwd=REPO, env=env, stdout=log, stderr=log
    )


async def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited: {_tail(log)}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the API did not become ready: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text()[-2000:]
