"""A service as a container runs it: ``partnerguard setup-database`` prepares its database
from the service's own URLs, then ``partnerguard serve`` runs its API or its workers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from partnerguard.cli.provision import quote_ident, url_with
from tests.cli.test_commands import partnerguard, without_servers

PYTHON = sys.executable
READY_WITHIN = 30.0
BYPASS_RLS = "SELECT rolbypassrls FROM pg_roles WHERE rolname = $1"


@dataclass(frozen=True)
class Deployment:
    """The three role URLs a deployment's secrets give one service, and the admin URL."""

    admin_url: str
    database: str
    owner: str
    app: str
    sweep: str
    password: str

    def url(self, role: str) -> str:
        return url_with(self.admin_url, user=role, password=self.password, database=self.database)

    def env(self, *, admin: bool = True, **extra: str) -> dict[str, str]:
        env = without_servers(
            DATABASE_OWNER_URL=self.url(self.owner),
            DATABASE_URL=self.url(self.app),
            DATABASE_SWEEP_URL=self.url(self.sweep),
            **extra,
        )
        if admin:
            env["DATABASE_ADMIN_URL"] = self.admin_url
        return env


def new_deployment(pg: EmbeddedPostgres) -> Deployment:
    tag = uuid.uuid4().hex[:8]
    return Deployment(
        admin_url=pg.url,
        database=f"deployed_{tag}",
        owner=f"dep_{tag}_owner",
        app=f"dep_{tag}_app",
        sweep=f"dep_{tag}_sweep",
        # URL-unsafe characters on purpose: the URLs carry it percent-encoded.
        password=f"p@ss/{tag}:word",
    )


async def fetchval(url: str, query: str, *args: object) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def onboarding_deployed(password_pg: EmbeddedPostgres) -> Deployment:
    """Onboarding's database prepared once, as docker compose does it (with a superuser)."""
    deployment = new_deployment(password_pg)
    result = partnerguard("setup-database", "onboarding", env=deployment.env())
    assert result.returncode == 0, result.stderr
    assert "onboarding: database ready" in result.stdout
    return deployment


async def test_setup_creates_the_roles_the_urls_name_with_their_passwords(
    onboarding_deployed: Deployment,
) -> None:
    d = onboarding_deployed

    # The application role logs in with the password its URL carries, and is no owner.
    assert await fetchval(d.url(d.app), "SELECT current_user") == d.app
    assert (
        await fetchval(
            d.url(d.app),
            "SELECT tableowner FROM pg_tables WHERE tablename = 'outbox_events'",
        )
        == d.owner
    )
    assert await fetchval(d.url(d.sweep), BYPASS_RLS, d.sweep) is True
    assert await fetchval(d.url(d.app), BYPASS_RLS, d.app) is False
    # Migrated: both histories are there, and the app role may read the service's tables.
    assert await fetchval(d.url(d.owner), "SELECT count(*) FROM alembic_version") == 1
    assert await fetchval(d.url(d.app), "SELECT count(*) FROM outbox_events") == 0


def test_setup_again_changes_nothing_and_succeeds(onboarding_deployed: Deployment) -> None:
    again = partnerguard("setup-database", "onboarding", env=onboarding_deployed.env())

    assert again.returncode == 0, again.stderr


async def test_setup_without_a_superuser_grants_and_migrates_as_the_owner(
    password_pg: EmbeddedPostgres,
) -> None:
    """As on Kubernetes: the operator (CloudNativePG) made the roles and the database; the
    step has only the service's own URLs."""
    d = new_deployment(password_pg)
    conn = await asyncpg.connect(password_pg.url)
    try:
        for role, extra in ((d.owner, ""), (d.app, ""), (d.sweep, " BYPASSRLS")):
            await conn.execute(
                f"CREATE ROLE {quote_ident(role)} LOGIN PASSWORD '{d.password}'{extra}"
            )
        await conn.execute(f"CREATE DATABASE {quote_ident(d.database)} OWNER {d.owner}")
    finally:
        await conn.close()

    result = await asyncio.to_thread(
        partnerguard, "setup-database", "enforcement", env=d.env(admin=False)
    )

    assert result.returncode == 0, result.stderr
    assert await fetchval(d.url(d.app), "SELECT count(*) FROM holds") == 0
    # PUBLIC lost CONNECT: a role of another service cannot even open this database.
    other = new_deployment(password_pg)
    conn = await asyncpg.connect(password_pg.url)
    try:
        await conn.execute(f"CREATE ROLE {quote_ident(other.app)} LOGIN PASSWORD 'x'")
    finally:
        await conn.close()
    stranger = url_with(password_pg.url, user=other.app, password="x", database=d.database)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(stranger)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DATABASE_OWNER_URL": None}, "DATABASE_OWNER_URL must be set"),
        ({"DATABASE_SWEEP_URL": None}, "DATABASE_SWEEP_URL must be set"),
        ({"DATABASE_OWNER_URL": "DATABASE_URL"}, "must name three different roles"),
        ({"DATABASE_SWEEP_URL": "other-database"}, "must name one database"),
    ],
)
def test_setup_refuses_urls_that_would_defeat_row_level_security_and_creates_nothing(
    password_pg: EmbeddedPostgres, change: dict[str, str | None], message: str
) -> None:
    d = new_deployment(password_pg)
    env = d.env()
    for variable, value in change.items():
        if value is None:
            del env[variable]
        elif value == "other-database":
            env[variable] = env[variable].rsplit("/", 1)[0] + "/elsewhere"
        else:
            env[variable] = env[value]

    result = partnerguard("setup-database", "billing", env=env)

    assert result.returncode == 1
    assert message in result.stderr
    assert d.password not in result.stderr + result.stdout
    exists = asyncio.run(
        fetchval(password_pg.url, "SELECT count(*) FROM pg_roles WHERE rolname = $1", d.app)
    )
    assert exists == 0


def test_setup_names_an_unknown_service(password_pg: EmbeddedPostgres) -> None:
    result = partnerguard("setup-database", "payroll", env=new_deployment(password_pg).env())

    assert result.returncode == 1
    assert "unknown service(s): payroll" in result.stderr


def test_setup_reports_an_unreachable_server_without_its_password(
    password_pg: EmbeddedPostgres,
) -> None:
    d = new_deployment(password_pg)
    env = d.env(admin=False)
    port = str(free_port())
    for variable in ("DATABASE_OWNER_URL", "DATABASE_URL", "DATABASE_SWEEP_URL"):
        env[variable] = env[variable].replace(f":{password_pg.port}/", f":{port}/")

    result = partnerguard("setup-database", "billing", env=env)

    assert result.returncode == 1
    assert "cannot prepare" in result.stderr
    assert d.password not in result.stderr


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def probe(self, path: str) -> int:
        return subprocess.run(  # noqa: S603 - our own probe
            [PYTHON, "-m", "partnerguard.common.web.probe", path],
            env=os.environ | {"PORT": str(self.port)},
            check=False,
            timeout=10,
        ).returncode


@pytest.fixture
def serve(
    onboarding_deployed: Deployment, nats_server: EmbeddedNats, tmp_path: Path
) -> Iterator[Callable[[str], Served]]:
    started: list[Served] = []

    def start(role: str) -> Served:
        served = start_served(onboarding_deployed, nats_server, tmp_path, "onboarding", role)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()


def start_served(
    d: Deployment, nats_server: EmbeddedNats, tmp_path: Path, service: str, role: str
) -> Served:
    port = free_port()
    env = d.env(
        admin=False,
        NATS_URL=nats_server.url,
        NATS_NAME_PREFIX=f"dep{uuid.uuid4().hex[:6]}_",
        HOST="127.0.0.1",
        PORT=str(port),
        SHUTDOWN_GRACE_SECONDS="5",
    )
    log = tmp_path / f"{service}-{role}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own launcher
            [str(Path(PYTHON).parent / "partnerguard"), "serve", service, "--role", role],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Served(process, port, log)


def wait_answering(served: Served) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        assert served.process.poll() is None, served.log.read_text()[-3000:]
        try:
            httpx.get(served.url("/healthz"), timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"not answering in {READY_WITHIN}s:\n{served.log.read_text()[-3000:]}")


def wait_ready(served: Served) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        assert served.process.poll() is None, served.log.read_text()[-3000:]
        try:
            if httpx.get(served.url("/readyz"), timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"not ready in {READY_WITHIN}s:\n{served.log.read_text()[-3000:]}")


def stop_drains(served: Served) -> bool:
    """SIGTERM, as a container's stop sends it: the process drains and ends by that signal
    (uvicorn re-raises it after its shutdown), which Kubernetes takes as a clean stop."""
    served.process.send_signal(signal.SIGTERM)
    code = served.process.wait(timeout=30)
    return code in (0, -signal.SIGTERM) and "Application shutdown complete" in (
        served.log.read_text()
    )


def test_serve_runs_the_api_and_stops_cleanly_on_sigterm(serve: Callable[[str], Served]) -> None:
    api = serve("api")
    wait_ready(api)

    assert api.probe("/readyz") == 0
    assert httpx.get(api.url("/v1/onboarding/customers"), timeout=5).status_code == 401
    assert "/v1/onboarding/customers" in httpx.get(api.url("/openapi.json"), timeout=5).text
    # uvicorn is the process itself (exec), so the container's SIGTERM reaches it.
    assert stop_drains(api)
    assert api.probe("/healthz") == 1


def test_serve_runs_the_workers_with_health_but_no_api(serve: Callable[[str], Served]) -> None:
    worker = serve("worker")
    wait_ready(worker)

    assert worker.probe("/healthz") == 0
    assert httpx.get(worker.url("/v1/onboarding/customers"), timeout=5).status_code == 404
    assert "runtime.workers_starting" in worker.log.read_text()
    assert stop_drains(worker)


async def test_a_service_is_unready_until_its_database_is_migrated(
    password_pg: EmbeddedPostgres, nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    """As in a deployment whose pods start before the release's migration job has run: the
    pod stays out of service instead of failing requests, and comes in once it has run."""
    d = new_deployment(password_pg)
    conn = await asyncpg.connect(password_pg.url)
    try:
        for role in (d.owner, d.app, d.sweep):
            await conn.execute(f"CREATE ROLE {quote_ident(role)} LOGIN PASSWORD '{d.password}'")
        await conn.execute(f"CREATE DATABASE {quote_ident(d.database)} OWNER {d.owner}")
    finally:
        await conn.close()
    api = start_served(d, nats_server, tmp_path, "onboarding", "api")
    try:
        await asyncio.to_thread(wait_answering, api)
        unready = await asyncio.to_thread(httpx.get, api.url("/readyz"), timeout=5)
        assert unready.status_code == 503
        assert "setup-database onboarding" in unready.json()["checks"]["schema"]

        setup = await asyncio.to_thread(
            partnerguard, "setup-database", "onboarding", env=d.env(admin=False)
        )
        assert setup.returncode == 0, setup.stderr

        await asyncio.to_thread(wait_ready, api)
    finally:
        api.process.kill()
        api.process.wait()


def test_serve_names_an_unknown_service() -> None:
    result = partnerguard("serve", "payroll", env=without_servers())

    assert result.returncode == 1
    assert "unknown service(s): payroll" in result.stderr
