"""Gateway overhead: the same upstream endpoint called directly and through the gateway.

The gateway and a minimal "onboarding" service (``bench.upstream_app``) run as real uvicorn
subprocesses on embedded PostgreSQL and NATS. Both paths take the same token and path
(``GET /v1/onboarding/ping``, which the upstream verifies itself); the gateway adds token
verification, revocation and scope checks, rate limiting and the proxy hop.

- load: ``CONCURRENCY`` closed-loop workers for ``DURATION`` s per path (two halves, in the
  order direct, gateway, gateway, direct, each after a ``WARMUP`` s warm-up): requests per
  second and p50/p99 latency; targets are gateway throughput at least 0.7 of direct and at
  most 2 ms added at p50;
- unloaded: one worker, for the per-request latency the gateway adds without queueing
  (for information; the targets are judged on the load run);
- CPU: the gateway's and the upstream's own CPU time per request during the load runs (from
  ``/proc``), which does not depend on how the scheduler shares the CPUs.

Each round runs both; the figures are medians over ``ROUNDS`` rounds (errors are summed), each
ratio and added latency taken within a round.

The load generator, the gateway, the upstream, PostgreSQL and NATS all share this machine's
CPUs, so absolute figures are lower than on separate hosts; the ratio is what to read. The load
generator speaks HTTP/1.1 over plain sockets, one kept-alive connection per worker: a
general-purpose client in Python costs more CPU per request than the servers under test, so the
load generator, not the servers, would set the pace of both runs and hide the gateway's cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx

from bench.kernel_events import percentile
from bench.rawhttp import encode_request, read_response
from bench.samples import Point, joined, latency_sample, rate_series
from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from partnerguard.common.db.engine import Database, make_engine
from partnerguard.common.migrations import upgrade
from partnerguard.common.settings import normalise_database_url
from partnerguard.gateway.clients.service import create_client
from partnerguard.gateway.partners.service import create_partner
from partnerguard.gateway.roles import Role
from partnerguard.gateway.sealing import generate_key
from partnerguard.gateway.spec import SPEC

PATH = "/v1/onboarding/ping"
CONCURRENCY = 16
WARMUP = float(os.environ.get("BENCH_GATEWAY_WARMUP", "2"))
DURATION = float(os.environ.get("BENCH_GATEWAY_SECONDS", "10"))
UNLOADED_DURATION = float(os.environ.get("BENCH_GATEWAY_UNLOADED_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_GATEWAY_ROUNDS", "3"))
MIN_RATIO = 0.7
MAX_ADDED_P50_MS = 2.0
REPO = Path(__file__).resolve().parent.parent


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        root = Path(tmp)
        pg = EmbeddedPostgres(root / "pg", port=free_port())
        nats = EmbeddedNats(root / "nats", port=free_port())
        processes: list[subprocess.Popen[bytes]] = []
        logs: list[IO[bytes]] = []
        pg.start()
        try:
            nats.start()
            try:
                return await _measure(pg, nats, root, processes, logs)
            finally:
                for process in processes:
                    _terminate(process)
                for log in logs:
                    log.close()
                nats.stop()
        finally:
            pg.stop()


async def _measure(
    pg: EmbeddedPostgres,
    nats: EmbeddedNats,
    root: Path,
    processes: list[subprocess.Popen[bytes]],
    logs: list[IO[bytes]],
) -> dict[str, Any]:
    url = await _gateway_database(pg)
    gw_port, up_port = free_port(), free_port()
    gateway_url, upstream_url = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{up_port}"
    common = {"NATS_URL": nats.url, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}

    def spawn(name: str, factory: str, port: int, env: dict[str, str]) -> None:
        log = (root / f"{name}.log").open("wb")
        logs.append(log)
        args = [sys.executable, "-m", "uvicorn", "--factory", factory]
        args += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        processes.append(
            subprocess.Popen(  # noqa: S603 - our own interpreter, our own arguments
                args, cwd=REPO, env={**os.environ, **common, **env}, stdout=log, stderr=log
            )
        )

    # The upstream first, so the gateway finds its OpenAPI document on its first fetch.
    spawn(
        "upstream",
        "bench.upstream_app:create_app",
        up_port,
        {
            "AUTH_ISSUER": gateway_url,
            "AUTH_JWKS_URL": f"{gateway_url}/.well-known/jwks.json",
            "AUTH_AUDIENCE": "partnerguard:onboarding",
        },
    )
    await _wait_healthy(upstream_url, processes[-1], root / "upstream.log")
    spawn(
        "gateway",
        "partnerguard.gateway.app:create_app",
        gw_port,
        {
            "DATABASE_OWNER_URL": url,
            "DATABASE_SWEEP_URL": url,
            "PUBLIC_URL": gateway_url,
            "AUTH_ISSUER": gateway_url,
            "SECRETS_KEY": generate_key(),
            "SERVICE_URLS": json.dumps({"onboarding": upstream_url}),
            "RATE_LIMIT_PER_SECOND": "1000000",
            "RATE_LIMIT_BURST": "1000000",
        },
    )
    await _wait_healthy(gateway_url, processes[-1], root / "gateway.log")

    client_id, secret = await _admin_agent(url)
    async with httpx.AsyncClient(base_url=gateway_url) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
        response.raise_for_status()
        token = response.json()["access_token"]
        await _wait_for_route(http)
    headers = {"authorization": f"Bearer {token}"}

    servers = {"upstream": processes[0].pid, "gateway": processes[1].pid}
    bases = {"direct": upstream_url, "gateway": gateway_url}
    rounds: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, dict[str, Any]]]] = {"loaded": [], "unloaded": []}
    latencies: dict[str, list[float]] = {}
    stretches: dict[str, list[list[Point]]] = {}
    origin = time.perf_counter()
    for _ in range(ROUNDS):
        loaded = await _compare(bases, headers, CONCURRENCY, DURATION, servers)
        unloaded = await _compare(bases, headers, 1, UNLOADED_DURATION, servers)
        for label, runs_of in (("", loaded), (" (1 worker)", unloaded)):
            for target, run in runs_of.items():
                latencies.setdefault(target + label, []).extend(run.latencies)
                stretches.setdefault(target + label, []).extend(
                    rate_series(done, start, end, origin=origin, points=20)
                    for done, start, end in run.completions
                )
        runs["loaded"].append({target: run.figures for target, run in loaded.items()})
        runs["unloaded"].append({target: run.figures for target, run in unloaded.items()})
        rounds.append(_round_figures(runs["loaded"][-1], runs["unloaded"][-1]))
        _print_table(runs["loaded"][-1], runs["unloaded"][-1], rounds[-1])
    figures: dict[str, Any] = {
        key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]
    }
    for key in ("direct_errors", "gateway_errors"):
        figures[key] = sum(r[key] for r in rounds)
    throughput_ok = figures["throughput_ratio"] >= MIN_RATIO
    latency_ok = figures["added_p50_ms"] <= MAX_ADDED_P50_MS
    sys.stdout.write(
        f"median of {ROUNDS} rounds: throughput ratio {figures['throughput_ratio']:.3f} "
        f"(target >= {MIN_RATIO}): {_VERDICT[throughput_ok]}, added p50 "
        f"{figures['added_p50_ms']:.2f} ms (target <= {MAX_ADDED_P50_MS} ms): "
        f"{_VERDICT[latency_ok]}\n"
    )
    return {
        "description": __doc__,
        "figures": {
            "concurrency": CONCURRENCY,
            "duration_s": DURATION,
            **figures,
            "target_throughput_ratio_min": MIN_RATIO,
            "target_added_p50_ms_max": MAX_ADDED_P50_MS,
            "throughput_target": _VERDICT[throughput_ok],
            "added_p50_target": _VERDICT[latency_ok],
            "shared_cpus": len(os.sched_getaffinity(0)),
            "rounds": rounds,
        },
        "runs": runs,
        "samples": {
            "latency_ms": {name: latency_sample(values) for name, values in latencies.items()},
            "throughput": {
                "unit": "requests/s",
                "x": "s since the first round began",
                "series": {name: joined(parts) for name, parts in stretches.items()},
            },
        },
    }


_VERDICT = {True: "PASS", False: "FAIL"}


def _round_figures(
    loaded: dict[str, dict[str, Any]], unloaded: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The figures of one round: both paths, and the gateway's cost measured within it."""
    direct, gateway = loaded["direct"], loaded["gateway"]
    return {
        "direct_rps": round(direct["rps"]),
        "gateway_rps": round(gateway["rps"]),
        "throughput_ratio": round(gateway["rps"] / direct["rps"], 3),
        "direct_p50_ms": round(direct["p50_ms"], 2),
        "direct_p99_ms": round(direct["p99_ms"], 2),
        "gateway_p50_ms": round(gateway["p50_ms"], 2),
        "gateway_p99_ms": round(gateway["p99_ms"], 2),
        "added_p50_ms": round(gateway["p50_ms"] - direct["p50_ms"], 2),
        "added_p99_ms": round(gateway["p99_ms"] - direct["p99_ms"], 2),
        "direct_errors": direct["errors"],
        "gateway_errors": gateway["errors"],
        "unloaded_direct_p50_ms": round(unloaded["direct"]["p50_ms"], 2),
        "unloaded_gateway_p50_ms": round(unloaded["gateway"]["p50_ms"], 2),
        "unloaded_added_p50_ms": round(
            unloaded["gateway"]["p50_ms"] - unloaded["direct"]["p50_ms"], 2
        ),
        "unloaded_added_p99_ms": round(
            unloaded["gateway"]["p99_ms"] - unloaded["direct"]["p99_ms"], 2
        ),
        "direct_upstream_cpu_ms_per_request": direct["cpu_ms_per_request"]["upstream"],
        "gateway_upstream_cpu_ms_per_request": gateway["cpu_ms_per_request"]["upstream"],
        "gateway_cpu_ms_per_request": gateway["cpu_ms_per_request"]["gateway"],
    }


async def _gateway_database(pg: EmbeddedPostgres) -> str:
    """A migrated gateway database; the superuser serves as owner, app and sweep role."""
    conn = await asyncpg.connect(pg.url)
    try:
        await conn.execute("CREATE DATABASE gateway")
    finally:
        await conn.close()
    url = pg.url_for("gateway")
    await asyncio.to_thread(upgrade, url, SPEC.migrations)
    return url


async def _admin_agent(url: str) -> tuple[str, str]:
    """An ``admin_agent`` client (scopes ``onboarding:read`` among others) of a new partner."""
    db = Database(make_engine(normalise_database_url(url), application_name="bench"))
    try:
        async with db.session() as session:
            partner = await create_partner(session, f"bench-{uuid.uuid4().hex[:8]}")
        async with db.tenant_session(partner.id) as session:
            client, secret = await create_client(session, partner.id, "bench", Role.ADMIN_AGENT)
        return client.client_id, secret
    finally:
        await db.dispose()


async def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{base} exited:\n{await _tail(log)}")
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{base} did not become healthy:\n{await _tail(log)}")


async def _tail(log: Path) -> str:
    text = await asyncio.to_thread(log.read_text, errors="replace")
    return text[-4000:]


async def _wait_for_route(http: httpx.AsyncClient) -> None:
    """Until the gateway has loaded the upstream's OpenAPI document (it routes by it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = await http.get("/openapi.json")
        if response.status_code == 200 and PATH in response.json().get("paths", {}):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the gateway never listed {PATH} in /openapi.json")


@dataclass
class _Drive:
    """One closed-loop run: latencies (ms) and completion times of the answered requests."""

    started: float
    latencies: list[float] = field(default_factory=list)
    completed_at: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0


@dataclass
class _Target:
    """One target's halves of a comparison: its figures and its raw samples."""

    figures: dict[str, Any]
    latencies: list[float]
    # Each half's completion times and when it began and ended (perf_counter seconds).
    completions: list[tuple[list[float], float, float]]


async def _compare(
    bases: dict[str, str],
    headers: dict[str, str],
    concurrency: int,
    duration: float,
    servers: dict[str, int],
) -> dict[str, _Target]:
    """Each target measured in two halves, in the order A B B A, so neither gains from going
    second (warmer processes, a quieter machine) and both see the same conditions."""
    halves: dict[str, list[tuple[_Drive, dict[str, float]]]] = {target: [] for target in bases}
    order = [*bases, *reversed(bases)]
    for target in order:
        halves[target].append(
            await _load(bases[target], headers, concurrency, duration / 2, servers)
        )
    results = {}
    for target, runs in halves.items():
        latencies = [latency for run, _ in runs for latency in run.latencies]
        elapsed = sum(run.elapsed for run, _ in runs)
        results[target] = _Target(
            figures={
                "requests": len(latencies),
                "errors": sum(run.errors for run, _ in runs),
                "elapsed_s": round(elapsed, 3),
                "rps": len(latencies) / elapsed,
                "p50_ms": percentile(latencies, 0.50),
                "p99_ms": percentile(latencies, 0.99),
                "cpu_ms_per_request": {
                    name: round(
                        sum(cpu[name] for _, cpu in runs) * 1000 / max(1, len(latencies)), 3
                    )
                    for name in servers
                },
            },
            latencies=latencies,
            completions=[
                (run.completed_at, run.started, run.started + run.elapsed) for run, _ in runs
            ],
        )
    return results


async def _load(
    base: str,
    headers: dict[str, str],
    concurrency: int,
    duration: float,
    servers: dict[str, int],
) -> tuple[_Drive, dict[str, float]]:
    """Closed loop after a warm-up: each worker sends its next request when the last one is
    answered. The run, and each server's CPU seconds meanwhile."""
    authority = base.removeprefix("http://")
    request = encode_request("GET", PATH, authority, headers)
    await _drive(authority, request, concurrency, WARMUP)
    cpu_before = {name: _cpu_seconds(pid) for name, pid in servers.items()}
    run = await _drive(authority, request, concurrency, duration)
    cpu = {name: _cpu_seconds(pid) - cpu_before[name] for name, pid in servers.items()}
    return run, cpu


async def _drive(authority: str, request: bytes, concurrency: int, duration: float) -> _Drive:
    host, port = authority.rsplit(":", 1)
    run = _Drive(started=time.perf_counter())
    deadline = run.started + duration

    async def worker() -> None:
        while time.perf_counter() < deadline:
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                while time.perf_counter() < deadline:
                    sent = time.perf_counter()
                    writer.write(request)
                    status, keep_alive, _ = await read_response(reader)
                    if status == 200:
                        done = time.perf_counter()
                        run.latencies.append((done - sent) * 1000)
                        run.completed_at.append(done)
                    else:
                        run.errors += 1
                    if not keep_alive:
                        break
            except (OSError, asyncio.IncompleteReadError, ValueError):
                run.errors += 1
            finally:
                writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.elapsed = time.perf_counter() - run.started
    return run


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux ``/proc``); 0 elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _print_table(
    loaded: dict[str, dict[str, Any]], unloaded: dict[str, dict[str, Any]], figures: dict[str, Any]
) -> None:
    cpus = len(os.sched_getaffinity(0))
    lines = [
        f"gateway overhead: GET {PATH}, {CONCURRENCY} workers x {DURATION:g} s "
        f"(two halves, A B B A, each after {WARMUP:g} s warm-up); "
        f"unloaded: 1 worker x {UNLOADED_DURATION:g} s",
        f"NOTE: load generator, gateway, upstream, PostgreSQL and NATS share {cpus} CPU(s)",
        f"{'run':<18}{'rps':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}",
    ]
    for label, runs in (("", loaded), (" (1 worker)", unloaded)):
        for target in ("direct", "gateway"):
            r = runs[target]
            lines.append(
                f"{target + label:<18}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}"
                f"{r['p99_ms']:>10.2f}{r['errors']:>8}"
            )
    ratio, added_p50 = figures["throughput_ratio"], figures["added_p50_ms"]
    lines += [
        f"throughput ratio {ratio:.3f} (target >= {MIN_RATIO}): {_VERDICT[ratio >= MIN_RATIO]}",
        f"added p50 {added_p50:.2f} ms (target <= {MAX_ADDED_P50_MS} ms): "
        f"{_VERDICT[added_p50 <= MAX_ADDED_P50_MS]}",
        f"added p99 {figures['added_p99_ms']:.2f} ms",
        "CPU ms per request under load: upstream {:.3f} (direct) / {:.3f} (via gateway), "
        "gateway {:.3f}".format(
            figures["direct_upstream_cpu_ms_per_request"],
            figures["gateway_upstream_cpu_ms_per_request"],
            figures["gateway_cpu_ms_per_request"],
        ),
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
