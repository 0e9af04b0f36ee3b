"""Real PostgreSQL and NATS, started once per session; tests isolate by database and subject."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres
from partnerguard.common.bus.connection import EventBus
from partnerguard.common.db.engine import Database
from tests.support.jwks import Issuer
from tests.support.servers import (
    Roles,
    cloned_database,
    create_roles,
    create_template,
    start_nats,
    start_postgres,
)
from tests.support.widgets import WIDGET_SQL


@pytest.fixture(scope="session")
def server_dir() -> Iterator[Callable[[str], Path]]:
    """New folders for servers' data, outside pytest's temporary root.

    When we are root, PostgreSQL runs as another user, and pytest resets
    ``/tmp/pytest-of-<user>`` to mode 0700 whenever any session starts (a concurrent run, say):
    a server inside it would suddenly lose access to its own data folder.
    """
    root = Path(tempfile.mkdtemp(prefix="partnerguard-tests-"))

    def make(name: str) -> Path:
        folder = root / name
        folder.mkdir()
        return folder

    yield make
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(server_dir: Callable[[str], Path]) -> Iterator[EmbeddedPostgres]:
    server = start_postgres(server_dir("pg"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_server(server_dir: Callable[[str], Path]) -> Iterator[EmbeddedNats]:
    server = start_nats(server_dir("nats"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def bus(nats_server: EmbeddedNats) -> AsyncIterator[EventBus]:
    connected = await EventBus.connect(nats_server.url, name="tests")
    await connected.ensure_streams()
    yield connected
    await connected.close()


@pytest.fixture(scope="session")
async def kernel_roles(pg: EmbeddedPostgres) -> Roles:
    return await create_roles(pg.url, "kt")


@pytest.fixture(scope="session")
async def kernel_template(pg: EmbeddedPostgres, kernel_roles: Roles) -> str:
    """Kernel migrations plus a test tenant table, as a template to clone per test."""
    await create_template(pg, "kernel_tpl", kernel_roles, None, WIDGET_SQL)
    return "kernel_tpl"


@pytest.fixture
async def db(
    pg: EmbeddedPostgres, kernel_roles: Roles, kernel_template: str
) -> AsyncIterator[Database]:
    """A fresh kernel database for this test, reached as the app role and the sweep role."""
    async with cloned_database(pg, kernel_template, kernel_roles) as database:
        yield database


@pytest.fixture
def partner_id() -> uuid.UUID:
    """A partner of its own per test: its events land on subjects no other test reads."""
    return uuid.uuid4()


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    server.start()
    yield server
    server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parts[-2] == "e2e":
            item.add_marker(pytest.mark.e2e)
