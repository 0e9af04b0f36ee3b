"""``partnerguard run`` as a real launcher process, for the tests that need the whole platform.

The launcher runs in its own session so that a failing test can kill it and every service with
one ``killpg``; PostgreSQL and NATS detach into their own sessions, so they are found (and, on
failure, killed) by their data folder instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from partnerguard.cli.embedded import free_port

SERVICES = ("gateway", "onboarding", "billing", "monitoring", "enforcement")
LAUNCHER = str(Path(sys.executable).parent / "partnerguard")
READY_WITHIN = 60.0
EXIT_WITHIN = 30.0


@dataclass
class Launch:
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    # What must survive a restart, recorded once the platform is up.
    identity: tuple[int, dict[str, object]] | None = None
    # (pid, create time) of every process the launcher started, seen while it ran.
    descendants: set[tuple[int, float]] = field(default_factory=set)

    def output(self, tail: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-tail:]


@dataclass(frozen=True)
class Ports:
    postgres: int
    nats: int
    services: dict[str, int]

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), {name: free_port() for name in SERVICES})

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.services[service]}"

    def env(self) -> dict[str, str]:
        # The embedded servers: an external DATABASE_URL / NATS_URL must not leak in.
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
        env |= {
            "PARTNERGUARD_PG_PORT": str(self.postgres),
            "PARTNERGUARD_NATS_PORT": str(self.nats),
        }
        env |= {f"{name.upper()}_PORT": str(port) for name, port in self.services.items()}
        return env


def launch(
    data_dir: Path, ports: Ports, log: Path, environment: Mapping[str, str] | None = None
) -> Launch:
    """Start ``partnerguard run`` on ``data_dir``; ``environment`` is added to what it (and so
    every service) inherits."""
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own launcher
            [LAUNCHER, "run", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=ports.env() | dict(environment or {}),
            start_new_session=True,
        )
    return Launch(process, log, time.monotonic())


def kill_everything(run: Launch, data_dir: Path) -> None:
    """Whatever happened, leave no process behind."""
    if run.process.poll() is None:
        os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait()
    for proc in leftovers(run, data_dir):
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def leftovers(run: Launch, data_dir: Path) -> list[psutil.Process]:
    """Live processes the launcher started, or that serve its data folder."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status", "create_time"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        started_by_launcher = (proc.info["pid"], proc.info["create_time"]) in run.descendants
        serves_data_dir = str(data_dir) in " ".join(proc.info["cmdline"] or [])
        if started_by_launcher or serves_data_dir:
            found.append(proc)
    return found


def note_descendants(run: Launch) -> None:
    try:
        children = psutil.Process(run.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for child in children:
        try:
            run.descendants.add((child.pid, child.create_time()))
        except psutil.NoSuchProcess:
            pass


def service_pids(run: Launch, service: str) -> list[int]:
    """The launcher's live processes serving ``service`` (more than one with
    ``<SERVICE>_PROCESSES``)."""
    target = f"partnerguard.{service}.app:create_app"
    found = []
    for child in psutil.Process(run.process.pid).children():
        try:
            if target in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def service_pid(run: Launch, service: str) -> int | None:
    pids = service_pids(run, service)
    return pids[0] if pids else None


def wait_until_ready(run: Launch, ports: Ports, deadline: float) -> None:
    """Until every service answers ``/readyz`` with 200; fails the test at ``deadline`` or when
    the launcher exits first."""
    pending = set(SERVICES)
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while pending:
            if run.process.poll() is not None:
                pytest.fail(f"launcher exited ({run.process.returncode}):\n{run.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"not ready in time: {sorted(pending)}\n{run.output()}")
            for name in sorted(pending):
                try:
                    response = client.get(f"{ports.url(name)}/readyz")
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    pending.discard(name)
            time.sleep(0.2)
    note_descendants(run)


def stop_with_ctrl_c(run: Launch, within: float = EXIT_WITHIN) -> int:
    """Stop as Ctrl-C in a terminal does; the launcher's exit code."""
    # Ctrl-C signals the whole foreground process group: launcher and services.
    os.killpg(run.process.pid, signal.SIGINT)
    try:
        return run.process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        pytest.fail(f"launcher still running {within}s after SIGINT:\n{run.output()}")
