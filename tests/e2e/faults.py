"""Crashes an operator meets, dealt to the running platform: a service process, NATS or
PostgreSQL killed with SIGKILL. ``partnerguard run`` starts each again by itself (its
supervisor the services, its keeper the embedded servers); each fault here waits, with a
deadline, for the replacement process and then for every service to be ready again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from tests.e2e.platform import Platform
from tests.support.launcher import SERVICES, service_pid
from tests.support.polling import eventually

# A service takes a few seconds to start (imports, connections); on a busy two-core machine
# several times that.
BACK_WITHIN = 30.0
READY_WITHIN = 30.0


@dataclass(frozen=True)
class Recovery:
    """How long the platform took to come back from one fault, in seconds."""

    fault: str
    replaced_after: float  # a new process runs
    ready_after: float  # every service answers /readyz with 200

    def __str__(self) -> str:
        return f"{self.fault}: replaced {self.replaced_after:.1f}s, ready {self.ready_after:.1f}s"


async def readiness(platform: Platform) -> dict[str, int | str]:
    """Each service's ``/readyz`` status code (or why there was none)."""

    async def probe(client: httpx.AsyncClient, name: str) -> int | str:
        try:
            response = await client.get(f"{platform.ports.url(name)}/readyz")
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return response.status_code

    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        codes = await asyncio.gather(*(probe(client, name) for name in SERVICES))
    return dict(zip(SERVICES, codes, strict=True))


async def every_service_ready(platform: Platform, *, within: float = READY_WITHIN) -> None:
    await eventually(
        lambda: readiness(platform),
        lambda codes: all(code == 200 for code in codes.values()),
        "every service to be ready",
        within=within,
    )


async def kill_service(platform: Platform, service: str) -> Recovery:
    """``kill -9`` the service's process; the launcher's supervisor starts another."""
    return await _crash(f"kill -9 {service}", lambda: service_pid(platform.run, service), platform)


async def kill_nats(platform: Platform) -> Recovery:
    """``kill -9`` the embedded NATS server; the launcher's keeper starts it again."""
    return await _crash(
        "kill -9 NATS", lambda: _pid_in(platform.data_dir / "nats" / "nats.pid"), platform
    )


async def kill_postgres(platform: Platform) -> Recovery:
    """``kill -9`` the embedded PostgreSQL's postmaster (its backends follow it); the
    launcher's keeper starts it again, and it recovers from its write-ahead log."""
    pid_file = platform.data_dir / "postgres" / "pgdata" / "postmaster.pid"
    return await _crash("kill -9 PostgreSQL", lambda: _pid_in(pid_file), platform)


async def _crash(fault: str, current_pid: Callable[[], int | None], platform: Platform) -> Recovery:
    victim = current_pid()
    assert victim is not None, f"{fault}: nothing to kill"
    started = time.monotonic()
    os.kill(victim, signal.SIGKILL)

    async def replacement() -> int | None:
        return current_pid()

    await eventually(
        replacement,
        lambda pid: pid is not None and pid != victim,
        f"a new process after {fault}",
        within=BACK_WITHIN,
    )
    replaced = time.monotonic() - started
    await every_service_ready(platform)
    return Recovery(fault, replaced, time.monotonic() - started)


def _pid_in(pid_file: Path) -> int | None:
    """The live process a server's pid file names (its first line), if any."""
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return pid if alive else None
