"""``partnerguard run`` as an operator uses it: a real launcher process, real servers, real ports.

The launcher runs in its own session so that a failing test can kill it and every service with
one ``killpg``; PostgreSQL and NATS detach into their own sessions, so they are found (and, on
failure, killed) by their data folder instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import nats
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

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@dataclass(frozen=True)
class Ports:
    postgres: int
    nats: int
    services: dict[str, int]

    def env(self) -> dict[str, str]:
        # The embedded servers: an external DATABASE_URL / NATS_URL must not leak in.
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
        env |= {
            "PARTNERGUARD_PG_PORT": str(self.postgres),
            "PARTNERGUARD_NATS_PORT": str(self.nats),
        }
        env |= {f"{name.upper()}_PORT": str(port) for name, port in self.services.items()}
        return env


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports(free_port(), free_port(), {name: free_port() for name in SERVICES})


@pytest.fixture(scope="module")
def data_dir(server_dir: Callable[[str], Path]) -> Path:
    return server_dir("platform")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("launcher-logs")


def launch(data_dir: Path, ports: Ports, log: Path) -> Launch:
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own launcher
            [LAUNCHER, "run", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=ports.env(),
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


def service_pid(run: Launch, service: str) -> int | None:
    target = f"partnerguard.{service}.app:create_app"
    for child in psutil.Process(run.process.pid).children():
        try:
            if target in child.cmdline():
                return child.pid
        except psutil.NoSuchProcess:
            continue
    return None


def wait_until_ready(run: Launch, ports: Ports, deadline: float) -> None:
    pending = set(SERVICES)
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while pending:
            if run.process.poll() is not None:
                pytest.fail(f"launcher exited ({run.process.returncode}):\n{run.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"not ready in time: {sorted(pending)}\n{run.output()}")
            for name in sorted(pending):
                try:
                    response = client.get(f"http://127.0.0.1:{ports.services[name]}/readyz")
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    pending.discard(name)
            time.sleep(0.2)
    note_descendants(run)


def stop_with_ctrl_c(run: Launch) -> int:
    # Ctrl-C in a terminal signals the whole foreground process group: launcher and services.
    os.killpg(run.process.pid, signal.SIGINT)
    try:
        return run.process.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"launcher still running {EXIT_WITHIN}s after SIGINT:\n{run.output()}")


async def identity(ports: Ports) -> tuple[int, dict[str, object]]:
    """The PostgreSQL cluster's system identifier and each JetStream stream's creation time."""
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{ports.postgres}/postgres")
    try:
        system_id = int(await conn.fetchval("SELECT system_identifier FROM pg_control_system()"))
    finally:
        await conn.close()
    nc = await nats.connect(f"nats://127.0.0.1:{ports.nats}")
    try:
        streams = await nc.jetstream().streams_info()
        created: dict[str, object] = {s.config.name or "": s.created for s in streams}
    finally:
        await nc.close()
    return system_id, created


@pytest.fixture(scope="module")
def first_run(data_dir: Path, ports: Ports, logs: Path) -> Iterator[Launch]:
    """The platform on a fresh data folder, up within a minute of launch."""
    run = launch(data_dir, ports, logs / "first-run.log")
    try:
        wait_until_ready(run, ports, run.started + READY_WITHIN)
        run.identity = asyncio.run(identity(ports))
        yield run
    finally:
        kill_everything(run, data_dir)


def test_run_makes_every_service_ready_and_healthy(first_run: Launch, ports: Ports) -> None:
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        for name in SERVICES:
            base = f"http://127.0.0.1:{ports.services[name]}"
            assert client.get(f"{base}/healthz").status_code == 200, name
            assert client.get(f"{base}/readyz").status_code == 200, name
    assert "the platform is up" in first_run.output()


def wait_for_output(run: Launch, text: str, within: float = 15.0) -> str:
    """The launcher's output once it contains ``text`` (it prints its summary after the probes
    that made our readiness wait return)."""
    deadline = time.monotonic() + within
    while text not in run.output():
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} not printed in time:\n{run.output()}")
        time.sleep(0.1)
    return run.output()


def test_the_first_run_prints_credentials_that_get_a_token(
    first_run: Launch, ports: Ports, data_dir: Path
) -> None:
    output = wait_for_output(first_run, "Get a token as the demo partner")
    kept = json.loads((data_dir / "gateway" / "first-run-credentials.json").read_text())
    demo = kept["demo"]
    token_url = f"http://127.0.0.1:{ports.services['gateway']}/oauth/token"

    assert kept["operator"]["client_secret"] in output
    assert (
        f"curl -u {demo['client_id']}:{demo['client_secret']} "
        f"-d grant_type=client_credentials {token_url}"
    ) in output
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        response = client.post(
            token_url,
            data={"grant_type": "client_credentials"},
            auth=(demo["client_id"], demo["client_secret"]),
        )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_status_json_reports_every_service_ready(first_run: Launch, ports: Ports) -> None:
    result = subprocess.run(  # noqa: S603
        [LAUNCHER, "status", "--json"],
        env=ports.env(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ready"] is True
    assert {s["service"]: s["ready"] for s in report["services"]} == dict.fromkeys(SERVICES, True)


def test_a_service_that_dies_is_restarted(first_run: Launch, ports: Ports) -> None:
    victim = service_pid(first_run, "billing")
    assert victim is not None
    os.kill(victim, signal.SIGKILL)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        replacement = service_pid(first_run, "billing")
        if replacement not in (None, victim):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"billing was not restarted:\n{first_run.output()}")
    wait_until_ready(first_run, ports, deadline)
    assert "billing exited unexpectedly (killed by SIGKILL)" in first_run.output()


def test_ctrl_c_stops_every_process_and_exits_zero(first_run: Launch, data_dir: Path) -> None:
    assert first_run.process.poll() is None
    assert leftovers(first_run, data_dir), "the servers should be running before the stop"

    assert stop_with_ctrl_c(first_run) == 0, first_run.output()
    assert [p.info["cmdline"] for p in leftovers(first_run, data_dir)] == []


def test_data_survives_a_restart(
    first_run: Launch, ports: Ports, data_dir: Path, logs: Path
) -> None:
    if first_run.process.poll() is None:
        assert stop_with_ctrl_c(first_run) == 0
    assert first_run.identity is not None
    assert "BILLING" in first_run.identity[1]

    second = launch(data_dir, ports, logs / "second-run.log")
    try:
        wait_until_ready(second, ports, second.started + READY_WITHIN)
        # Same cluster and same streams: nothing was initialised again.
        assert asyncio.run(identity(ports)) == first_run.identity
        assert asyncio.run(_kernel_table_exists(ports)), second.output()
        # The first run is not repeated: the credentials are pointed to, not printed again.
        output = wait_for_output(second, "First-run credentials (operator and demo clients)")
        kept = json.loads((data_dir / "gateway" / "first-run-credentials.json").read_text())
        assert kept["demo"]["client_secret"] not in output
        assert stop_with_ctrl_c(second) == 0
    finally:
        kill_everything(second, data_dir)


async def _kernel_table_exists(ports: Ports) -> bool:
    conn = await asyncpg.connect(
        f"postgresql://postgres@127.0.0.1:{ports.postgres}/partnerguard_billing"
    )
    try:
        return bool(await conn.fetchval("SELECT to_regclass('public.alembic_version_kernel')"))
    finally:
        await conn.close()
