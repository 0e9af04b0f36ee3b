"""The platform's life: start infrastructure → provision → migrate → supervise the services.

PostgreSQL and NATS are the embedded ones in the data folder unless ``DATABASE_URL`` (a
superuser URL) or ``NATS_URL`` name external servers; embedded ones that crash are started
again (:mod:`partnerguard.cli.keeper`). Each service runs as one uvicorn process serving its API
and its workers (``RUN_WORKERS=true``), configured through its environment; or as
``<SERVICE>_PROCESSES`` such processes sharing its port (:mod:`partnerguard.cli.replica`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import FrameType

import asyncpg
import httpx

from partnerguard.cli.embedded import EmbeddedNats, EmbeddedPostgres, port_is_free
from partnerguard.cli.health import Endpoint, Readiness, probe, probe_all
from partnerguard.cli.keeper import KeptServer, ServerKeeper
from partnerguard.cli.private_files import PrivateFileError, gateway_secrets_key, service_folder
from partnerguard.cli.provision import ServiceDatabase, provision_sync, redact
from partnerguard.cli.serving import ServeRole, ServeSettings, serve_argv, serve_environment
from partnerguard.cli.settings import LauncherSettings
from partnerguard.cli.supervisor import ChildSpec, LinePrinter, Supervisor
from partnerguard.common.migrations import upgrade
from partnerguard.common.runtime import ServiceSpec

SERVICE_GROUP = "partnerguard.services"
# A service's step for the platform's first run (name: the service; called with keywords).
FIRST_RUN_GROUP = "partnerguard.first_run"
# Services listen on loopback only: the embedded run is for one machine.
HOST = "127.0.0.1"
GATEWAY = "gateway"
READY_TIMEOUT = 120.0
READY_POLL_SECONDS = 0.25
# uvicorn's own drain; the supervisor waits a little longer before it kills.
GRACEFUL_SHUTDOWN_SECONDS = 20
# Variables meant for one service only: never inherited from the launcher's environment by all.
PRIVATE_VARIABLES = ("SECRETS_KEY", "SERVICE_URLS")


class PlatformError(Exception):
    """A failure the operator can act on; reported without a traceback."""


def discover_services() -> list[ServiceSpec]:
    """Every installed service (entry points ``partnerguard.services``), gateway first."""
    specs: dict[str, ServiceSpec] = {}
    for entry_point in entry_points(group=SERVICE_GROUP):
        spec = entry_point.load()
        if not isinstance(spec, ServiceSpec):
            raise PlatformError(f"entry point {entry_point.value} is not a ServiceSpec")
        specs[spec.name] = spec
    return sorted(specs.values(), key=lambda s: (s.default_port, s.name))


def select_services(specs: Sequence[ServiceSpec], only: Sequence[str] | None) -> list[ServiceSpec]:
    if not only:
        return list(specs)
    known = {s.name for s in specs}
    unknown = sorted(set(only) - known)
    if unknown:
        raise PlatformError(
            f"unknown service(s): {', '.join(unknown)} (installed: {', '.join(sorted(known))})"
        )
    return [s for s in specs if s.name in only]


def load_configuration(
    only: Sequence[str] | None,
) -> tuple[LauncherSettings, list[ServiceSpec], list[ServiceSpec]]:
    """The launcher's settings, every installed service and the selected ones, all checked."""
    try:
        settings = LauncherSettings()
        all_specs = discover_services()
        for spec in all_specs:
            settings.service_port(spec)
            settings.service_processes(spec)
    except ValueError as exc:  # pydantic's ValidationError included
        raise PlatformError(f"invalid configuration: {exc}") from exc
    return settings, all_specs, select_services(all_specs, only)


def parse_names(value: str | None) -> list[str] | None:
    """``"billing, gateway"`` → ``["billing", "gateway"]``; nothing → None (all)."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    return names or None


def service_endpoints(specs: Sequence[ServiceSpec], settings: LauncherSettings) -> list[Endpoint]:
    return [Endpoint(s.name, HOST, settings.service_port(s)) for s in specs]


def ensure_ports_free(endpoints: Sequence[Endpoint]) -> None:
    """Fail before starting anything: a taken port would make a service crash-loop while
    whatever holds the port answers its health checks."""
    taken = [e for e in endpoints if not port_is_free(e.port, e.host)]
    if taken:
        raise PlatformError(
            "port(s) already in use: "
            + ", ".join(f"{e.port} ({e.service}; set {e.service.upper()}_PORT)" for e in taken)
        )


def format_table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return [
        (indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]


@dataclass
class Infrastructure:
    """PostgreSQL and NATS: external when configured, else started (and stopped) by us."""

    data_dir: Path
    settings: LauncherSettings
    printer: LinePrinter
    postgres: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    described: list[tuple[str, str, str]] = field(default_factory=list)

    def start_database(self) -> str:
        """The superuser URL of the server to provision."""
        if self.settings.database_url is not None:
            url = self.settings.database_url.get_secret_value()
            self.described.append(("PostgreSQL", redact(url), "external (DATABASE_URL)"))
            self.printer.note(f"using PostgreSQL at {redact(url)}")
            return url
        folder = self.data_dir / "postgres"
        self.postgres = EmbeddedPostgres(folder, port=self.settings.partnerguard_pg_port)
        self.printer.note(
            f"starting PostgreSQL on {HOST}:{self.postgres.port} "
            f"(data in {folder}, log in {folder / 'postgres.log'})"
        )
        try:
            self.postgres.start()
        except (RuntimeError, OSError) as exc:
            raise PlatformError(f"PostgreSQL did not start: {exc}") from exc
        self.described.append(("PostgreSQL", f"{HOST}:{self.postgres.port}", f"data in {folder}"))
        return self.postgres.url

    def start_nats(self) -> str:
        if self.settings.nats_url is not None:
            self.described.append(("NATS", self.settings.nats_url, "external (NATS_URL)"))
            self.printer.note(f"using NATS at {self.settings.nats_url}")
            return self.settings.nats_url
        folder = self.data_dir / "nats"
        self.nats = EmbeddedNats(folder, port=self.settings.partnerguard_nats_port)
        self.printer.note(
            f"starting NATS on {HOST}:{self.nats.port} "
            f"(data in {folder}, log in {folder / 'nats.log'})"
        )
        try:
            self.nats.start()
        except (RuntimeError, OSError, TimeoutError) as exc:
            raise PlatformError(f"NATS did not start: {exc}") from exc
        self.described.append(("NATS", self.nats.url, f"data in {folder}"))
        return self.nats.url

    def started_servers(self) -> list[KeptServer]:
        """The servers we started, which the launcher keeps running while it serves."""
        kept = []
        if self.postgres is not None:
            kept.append(KeptServer("PostgreSQL", self.postgres))
        if self.nats is not None:
            kept.append(KeptServer("NATS", self.nats))
        return kept

    def stop(self) -> None:
        """Stop what we started, NATS first: services are gone by now."""
        if self.nats is not None:
            self.printer.note("stopping NATS")
            self.nats.stop()
            self.nats = None
        if self.postgres is not None:
            self.printer.note("stopping PostgreSQL")
            self.postgres.stop()
            self.postgres = None


def provision_and_migrate(
    superuser_url: str, specs: Sequence[ServiceSpec], printer: LinePrinter
) -> dict[str, ServiceDatabase]:
    """Each service's roles and database, then its migrations (kernel first) as the owner."""
    try:
        databases = provision_sync(superuser_url, [s.name for s in specs])
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise PlatformError(f"provisioning the databases failed: {exc}") from exc
    for spec in specs:
        started = time.monotonic()
        upgrade(databases[spec.name].owner_url, spec.migrations)
        printer.note(
            f"migrated {spec.name} (database {databases[spec.name].database}) "
            f"in {time.monotonic() - started:.1f}s"
        )
    return databases


def gateway_environment(
    data_dir: Path, settings: LauncherSettings, all_specs: Sequence[ServiceSpec]
) -> dict[str, str]:
    """What the gateway alone is given: its secrets key and where every other service listens."""
    if settings.secrets_key is not None:
        key = settings.secrets_key.get_secret_value()
    else:
        try:
            key = gateway_secrets_key(data_dir)
        except (PrivateFileError, OSError) as exc:
            raise PlatformError(str(exc)) from exc
    urls = {
        spec.name: f"http://{HOST}:{settings.service_port(spec)}"
        for spec in all_specs
        if spec.name != GATEWAY
    }
    return {"SECRETS_KEY": key, "SERVICE_URLS": json.dumps(urls)}


def service_children(
    specs: Sequence[ServiceSpec],
    databases: dict[str, ServiceDatabase],
    *,
    settings: LauncherSettings,
    nats_url: str,
    issuer: str,
    log_json: bool,
    own_environment: Mapping[str, Mapping[str, str]] | None = None,
) -> list[ChildSpec]:
    """The uvicorn processes of every service (``<SERVICE>_PROCESSES``, each named
    ``service.N`` when more than one), their configuration entirely in their environment.

        ``own_environment`` holds what only one service is given (service → variables).
    """
    # The launcher's own environment (PATH, HOME, locale ...) passes on; ours overrides it.
    inherited = {k: v for k, v in os.environ.items() if k not in PRIVATE_VARIABLES}
    own_environment = own_environment or {}
    children = []
    for spec in specs:
        database = databases[spec.name]
        port = settings.service_port(spec)
        env = inherited | {
            "DATABASE_URL": database.app_url,
            "DATABASE_OWNER_URL": database.owner_url,
            "DATABASE_SWEEP_URL": database.sweep_url,
            "NATS_URL": nats_url,
            "HOST": HOST,
            "PORT": str(port),
            "LOG_JSON": "true" if log_json else "false",
            "LOG_LEVEL": settings.log_level,
            "AUTH_ISSUER": issuer,
            "AUTH_JWKS_URL": f"{issuer}/.well-known/jwks.json",
            # Lines reach the launcher as they are written, not when a buffer fills.
            "PYTHONUNBUFFERED": "1",
        }
        env |= serve_environment(ServeRole.ALL)
        env |= own_environment.get(spec.name, {})
        processes = settings.service_processes(spec)
        argv = serve_argv(
            spec,
            ServeRole.ALL,
            ServeSettings(host=HOST, port=port, shutdown_grace_seconds=GRACEFUL_SHUTDOWN_SECONDS),
            shared_port=processes > 1,
        )
        children += [ChildSpec(name, argv, env) for name in process_names(spec, settings)]
    return children


def process_names(spec: ServiceSpec, settings: LauncherSettings) -> list[str]:
    """The names of a service's processes (their lines' prefix): ``service``, or ``service.N``
    for each of several."""
    processes = settings.service_processes(spec)
    if processes == 1:
        return [spec.name]
    return [f"{spec.name}.{n}" for n in range(1, processes + 1)]


def gateway_url(all_specs: Sequence[ServiceSpec], settings: LauncherSettings) -> str:
    """The token issuer: the gateway, wherever it listens (even when not started by this run)."""
    for spec in all_specs:
        if spec.name == GATEWAY:
            return f"http://{HOST}:{settings.service_port(spec)}"
    return f"http://{HOST}:8000"


@contextmanager
def _terminate_interrupts() -> Iterator[None]:
    """SIGTERM during start-up unwinds like Ctrl-C, so what was started gets stopped."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """While stopping the servers, a further Ctrl-C must not cut the shutdown short."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_platform(data_dir: Path, only: Sequence[str] | None, ready_timeout: float) -> int:
    """``partnerguard run``: serve until interrupted; the exit code."""
    settings, all_specs, specs = load_configuration(only)
    printer = LinePrinter([name for s in specs for name in process_names(s, settings)])
    endpoints = service_endpoints(specs, settings)
    ensure_ports_free(endpoints)
    infra = Infrastructure(data_dir.resolve(), settings, printer)
    try:
        with _terminate_interrupts():
            superuser_url = infra.start_database()
            nats_url = infra.start_nats()
            databases = provision_and_migrate(superuser_url, specs, printer)
            issuer = gateway_url(all_specs, settings)
            own_environment = {}
            if any(spec.name == GATEWAY for spec in specs):
                own_environment[GATEWAY] = gateway_environment(infra.data_dir, settings, all_specs)
            first_run = run_first_run_steps(databases, infra.data_dir, issuer)
            children = service_children(
                specs,
                databases,
                settings=settings,
                nats_url=nats_url,
                issuer=issuer,
                log_json=settings.log_json if settings.log_json is not None else not printer.colour,
                own_environment=own_environment,
            )
            summary = _Summary(printer, endpoints, infra.described, issuer, first_run)
            servers = infra.started_servers()
            asyncio.run(_serve(children, servers, endpoints, printer, summary, ready_timeout))
    except KeyboardInterrupt:
        printer.note("interrupted during start-up")
    finally:
        with _signals_ignored():
            infra.stop()
    printer.note("stopped")
    return 0


FirstRunStep = Callable[..., Sequence[str]]


def first_run_steps(services: Sequence[str]) -> dict[str, FirstRunStep]:
    """The first-run step of each of ``services`` that has one."""
    steps: dict[str, FirstRunStep] = {}
    for entry_point in entry_points(group=FIRST_RUN_GROUP):
        if entry_point.name in services:
            steps[entry_point.name] = entry_point.load()
    return steps


def run_first_run_steps(
    databases: dict[str, ServiceDatabase], data_dir: Path, gateway_url: str
) -> list[str]:
    """Each service's first-run step (the gateway's operator and demo clients), on its database
    as its application role; the lines to show once the platform is up. A step does its work
    once and on later runs says where its results are."""
    lines: list[str] = []
    for service, step in first_run_steps(list(databases)).items():
        try:
            shown = step(
                database_url=databases[service].app_url,
                state_dir=service_folder(data_dir, service),
                gateway_url=gateway_url,
            )
        except Exception as exc:
            raise PlatformError(f"the first-run step of {service} failed: {exc}") from exc
        lines.extend(str(line) for line in shown)
    return lines


def migrate_platform(data_dir: Path, only: Sequence[str] | None) -> int:
    """``partnerguard migrate``: provision and migrate, then stop what was started."""
    settings, _, specs = load_configuration(only)
    printer = LinePrinter([s.name for s in specs])
    infra = Infrastructure(data_dir.resolve(), settings, printer)
    try:
        with _terminate_interrupts():
            superuser_url = infra.start_database()
            provision_and_migrate(superuser_url, specs, printer)
    except KeyboardInterrupt:
        printer.note("interrupted")
        return 130
    finally:
        with _signals_ignored():
            infra.stop()
    return 0


def platform_status(only: Sequence[str] | None) -> list[Readiness]:
    """``partnerguard status``: each service's ``/readyz``, on the ports ``run`` would use."""
    settings, _, specs = load_configuration(only)
    return asyncio.run(probe_all(service_endpoints(specs, settings)))


@dataclass
class _Summary:
    printer: LinePrinter
    endpoints: Sequence[Endpoint]
    infrastructure: Sequence[tuple[str, str, str]]
    issuer: str
    first_run: Sequence[str] = ()

    def show(self, readiness: Sequence[Readiness]) -> None:
        state = {r.service: r.describe() for r in readiness}
        rows: list[tuple[str, str, str]] = [("SERVICE", "URL", "STATE")]
        rows += [(e.service, e.base_url, state.get(e.service, "?")) for e in self.endpoints]
        rows += list(self.infrastructure)
        p = self.printer
        p.plain()
        p.note("the platform is up")
        for line in format_table(rows):
            p.plain(line)
        p.plain()
        p.plain("  Every service answers /healthz, /readyz, /metrics and /docs.")
        if self.first_run:
            for line in self.first_run:
                p.plain(f"  {line}" if line else "")
            p.plain()
        else:
            p.plain("  Get an access token with a client's credentials:")
            p.plain(
                f"    curl -u '<client_id>:<client_secret>' -d grant_type=client_credentials "
                f"{self.issuer}/oauth/token"
            )
        p.plain("  Operator verbs (no token needed): partnerguard partners|clients|keys --help")
        p.plain("  Ctrl-C stops everything (twice: without waiting for in-flight work).")
        p.plain()


async def _serve(
    children: Sequence[ChildSpec],
    servers: Sequence[KeptServer],
    endpoints: Sequence[Endpoint],
    printer: LinePrinter,
    summary: _Summary,
    ready_timeout: float,
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    supervisor = Supervisor(children, printer, grace_seconds=GRACEFUL_SHUTDOWN_SECONDS + 5.0)

    def on_signal(signum: int) -> None:
        if stop.is_set():
            printer.note("interrupted again: killing the services")
            supervisor.force()
            return
        printer.note(f"{signal.Signals(signum).name}: stopping the services")
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    # A crashed embedded PostgreSQL or NATS is started again, as a crashed service is.
    keeping = asyncio.create_task(ServerKeeper(servers, printer).run(stop), name="keeper")
    supervising = asyncio.create_task(supervisor.run(stop), name="supervisor")
    try:
        readiness = await _wait_until_ready(endpoints, stop, printer, ready_timeout)
        if readiness is not None:
            summary.show(readiness)
        await supervising
    finally:
        # Done once stopped: the servers it keeps are stopped next, by the caller.
        stop.set()
        await keeping


async def _wait_until_ready(
    endpoints: Sequence[Endpoint], stop: asyncio.Event, printer: LinePrinter, patience: float
) -> list[Readiness] | None:
    """Poll every ``/readyz`` until all answer 200 or ``patience`` seconds pass; None if stopped."""
    deadline = time.monotonic() + patience
    pending = {e.service: e for e in endpoints}
    latest: dict[str, Readiness] = {}
    async with httpx.AsyncClient(trust_env=False) as client:
        while pending:
            for result in await asyncio.gather(*(probe(client, e) for e in pending.values())):
                latest[result.service] = result
                if result.ready:
                    del pending[result.service]
                    done = len(endpoints) - len(pending)
                    printer.note(f"{result.service} is ready ({done}/{len(endpoints)})")
            if stop.is_set():
                return None
            if pending and time.monotonic() >= deadline:
                for name in pending:
                    printer.note(
                        f"{name} is not ready after {patience:g}s: {latest[name].describe()}"
                        " (still supervised)"
                    )
                break
            if pending:
                try:
                    await asyncio.wait_for(stop.wait(), READY_POLL_SECONDS)
                except TimeoutError:
                    pass
    return [latest[e.service] for e in endpoints]
