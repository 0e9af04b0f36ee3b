"""``partnerguard run`` as an operator uses it: a real launcher process, real servers, real ports
(started and cleaned up by :mod:`tests.support.launcher`)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import nats
import psutil
import pytest

from tests.support.launcher import (
    LAUNCHER,
    READY_WITHIN,
    SERVICES,
    Launch,
    Ports,
    kill_everything,
    launch,
    leftovers,
    service_pid,
    service_pids,
    stop_with_ctrl_c,
    wait_until_ready,
)


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports.free()


@pytest.fixture(scope="module")
def data_dir(server_dir: Callable[[str], Path]) -> Path:
    return server_dir("platform")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("launcher-logs")


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


# Enforcement runs as two processes sharing its port; the other services as one each.
TWO_ENFORCEMENT_PROCESSES = {"ENFORCEMENT_PROCESSES": "2"}


@pytest.fixture(scope="module")
def first_run(data_dir: Path, ports: Ports, logs: Path) -> Iterator[Launch]:
    """The platform on a fresh data folder, up within a minute of launch."""
    run = launch(data_dir, ports, logs / "first-run.log", TWO_ENFORCEMENT_PROCESSES)
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
    # Our probes can answer before the launcher's own last probe: it may print a moment later.
    assert "the platform is up" in wait_for_output(first_run, "the platform is up")


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


def _listening_on(pid: int, port: int) -> bool:
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr.port == port
        for c in psutil.Process(pid).net_connections(kind="tcp")
    )


def test_a_service_of_two_processes_keeps_answering_while_one_is_killed(
    first_run: Launch, ports: Ports
) -> None:
    port = ports.services["enforcement"]
    pids = service_pids(first_run, "enforcement")
    assert len(pids) == 2, first_run.output()
    assert all(_listening_on(pid, port) for pid in pids)

    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        # Every new connection meanwhile reaches a live process: none is refused.
        response = httpx.get(f"{ports.url('enforcement')}/healthz", trust_env=False, timeout=2.0)
        assert response.status_code == 200
        now = service_pids(first_run, "enforcement")
        if len(now) == 2 and pids[0] not in now and all(_listening_on(p, port) for p in now):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the killed enforcement process was not restarted:\n{first_run.output()}")
        time.sleep(0.1)
    assert pids[1] in now
    assert re.search(
        r"enforcement\.[12] exited unexpectedly \(killed by SIGKILL\)", first_run.output()
    )
    wait_until_ready(first_run, ports, deadline)


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
