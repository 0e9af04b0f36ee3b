"""A PostgreSQL server that demands passwords, as an external one would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from partnerguard.cli.embedded import EmbeddedPostgres, free_port
from tests.support.servers import FAST_PG


@pytest.fixture(scope="session")
def password_pg(server_dir: Callable[[str], Path]) -> Iterator[EmbeddedPostgres]:
    """Trust only for the superuser; every other role must present a SCRAM password, so the
    tests prove the launcher's generated passwords are real, not waved through by ``trust``."""
    data_dir = server_dir("password-pg")
    hba = data_dir / "pg_hba.conf"
    hba.write_text(
        "local all postgres trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    server = EmbeddedPostgres(
        data_dir, port=free_port(), settings={**FAST_PG, "hba_file": str(hba)}
    )
    server.start()
    yield server
    server.stop()
