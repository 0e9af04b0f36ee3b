"""The whole platform for the cross-service benchmarks: ``partnerguard run`` as a real launcher
process on a fresh data folder and free ports, its outside world faked in this process, as the
end-to-end tests start it (:mod:`tests.e2e.conftest`) but with the services' own job intervals
(the tests' quicker ones cost CPU an operator's platform does not spend), and the resident
memory of its processes."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import psutil

from tests.e2e.outside import Outside
from tests.e2e.platform import Platform
from tests.support.launcher import (
    READY_WITHIN,
    SERVICES,
    Launch,
    Ports,
    kill_everything,
    launch,
    stop_with_ctrl_c,
    wait_until_ready,
)

# The gateway's per-client rate limit (50/s) is there for runaway partner systems; a benchmark
# offering more than that from one client would measure the limiter, not the platform.
UNLIMITED = {"RATE_LIMIT_PER_SECOND": "100000", "RATE_LIMIT_BURST": "100000"}


@asynccontextmanager
async def whole_platform(env: Mapping[str, str] | None = None) -> AsyncIterator[Platform]:
    """Every service running as the platform, ready; stopped with Ctrl-C (killed if need be)
    and its data folder removed on leaving."""
    outside = Outside()
    outside.start()
    root = Path(tempfile.mkdtemp(prefix="partnerguard-bench-"))
    data_dir = root / "platform"
    data_dir.mkdir()
    ports = Ports.free()
    run = launch(data_dir, ports, root / "platform.log", outside.environment() | dict(env or {}))
    try:
        await asyncio.to_thread(wait_until_ready, run, ports, run.started + READY_WITHIN)
        yield Platform(run, ports, data_dir, outside)
        # stop_with_ctrl_c reports a launcher that would not stop as a test failure.
        with suppress(BaseException):
            await asyncio.to_thread(stop_with_ctrl_c, run)
    finally:
        kill_everything(run, data_dir)
        outside.stop()
        shutil.rmtree(root, ignore_errors=True)


def nats_url(platform: Platform) -> str:
    return f"nats://127.0.0.1:{platform.ports.nats}"


def _owner(cmdline: list[str]) -> str:
    joined = " ".join(cmdline)
    for service in SERVICES:
        if f"partnerguard.{service}" in joined or f" {service}" in joined:
            return service
    if "postgres" in joined:
        return "postgres"
    if "nats-server" in joined:
        return "nats"
    return "launcher"


def resident_mb(run: Launch) -> dict[str, float]:
    """Resident memory (MB) of the launcher and every process under it, summed by service."""
    try:
        launcher = psutil.Process(run.process.pid)
        processes = [launcher, *launcher.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    found: dict[str, float] = {}
    for process in processes:
        try:
            owner = "launcher" if process.pid == launcher.pid else _owner(process.cmdline())
            rss = process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
        found[owner] = found.get(owner, 0.0) + rss / 2**20
    return {owner: round(mb, 1) for owner, mb in sorted(found.items())}
