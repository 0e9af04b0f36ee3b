"""Whether a database holds the migrations this code needs: the readiness of a rolling upgrade."""

from __future__ import annotations

from partnerguard.common.migrations import (
    KERNEL_VERSION_TABLE,
    SERVICE_VERSION_TABLE,
    History,
    histories,
)
from partnerguard.enforcement.spec import SPEC

HISTORY = History("alembic_version", heads=frozenset({"b"}), known=frozenset({"a", "b"}))


def test_a_database_at_the_head_is_current() -> None:
    assert not HISTORY.behind({"b"})


def test_a_database_without_migrations_or_at_an_older_one_is_behind() -> None:
    assert HISTORY.behind(set())
    assert HISTORY.behind({"a"})


def test_a_database_a_newer_release_migrated_serves_this_code_too() -> None:
    """The old pods of a rolling upgrade keep serving once the new release has migrated."""
    assert not HISTORY.behind({"c"})


def test_histories_are_read_from_the_kernel_and_the_service_scripts() -> None:
    kernel, service = histories(SPEC.migrations)

    assert (kernel.table, service.table) == (KERNEL_VERSION_TABLE, SERVICE_VERSION_TABLE)
    assert kernel.heads <= kernel.known
    assert len(service.heads) == 1
    assert service.heads <= service.known
    assert kernel.known.isdisjoint(service.known)
