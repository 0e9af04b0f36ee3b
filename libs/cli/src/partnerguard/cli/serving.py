"""The command line of one role of one service, for ``partnerguard run`` (all services on one
machine) and ``partnerguard serve`` (one in a container, its API and workers scaled apart)."""

from __future__ import annotations

import sys
from enum import StrEnum

from pydantic_settings import BaseSettings, SettingsConfigDict

from partnerguard.common.runtime import ServiceSpec


class ServeRole(StrEnum):
    API = "api"
    WORKER = "worker"
    # The API process with the workers inside it: one process per service.
    ALL = "all"


class ServeSettings(BaseSettings):
    """What ``serve`` reads of the service's environment (the service reads the rest)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    host: str = "127.0.0.1"
    # Unset: the service's own default port, as ``partnerguard run`` uses.
    port: int | None = None
    shutdown_grace_seconds: float = 20.0


def serve_argv(
    spec: ServiceSpec, role: ServeRole, settings: ServeSettings, *, shared_port: bool = False
) -> list[str]:
    """The uvicorn command line of one role of one service; with ``shared_port``, that of one
    of several processes serving it on the same port (:mod:`partnerguard.cli.replica`).

    The worker role serves only health and metrics, on the same port, so both roles are probed
    and scraped alike. On SIGTERM uvicorn waits up to ``shutdown_grace_seconds`` for open
    requests, then the runtime drains its workers for up to as long again. Each role spends one
    of those (an API has no workers, a worker no long requests); ``all`` may spend both.
    """
    app = spec.worker_app if role is ServeRole.WORKER else spec.api_app
    port = settings.port if settings.port is not None else spec.default_port
    grace = str(round(settings.shutdown_grace_seconds))
    if shared_port:
        return [
            sys.executable,
            "-m",
            "partnerguard.cli.replica",
            app,
            "--host",
            settings.host,
            "--port",
            str(port),
            "--timeout-graceful-shutdown",
            grace,
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        app,
        "--host",
        settings.host,
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        grace,
    ]


def serve_environment(role: ServeRole) -> dict[str, str]:
    return {"RUN_WORKERS": "true" if role is ServeRole.ALL else "false"}
