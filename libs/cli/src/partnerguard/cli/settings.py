"""The launcher's own settings, from the environment only.

``DATABASE_URL`` and ``NATS_URL`` mean something different here than in a service: they name
servers the launcher provisions and hands on (a PostgreSQL superuser URL, a NATS server), and
their absence means "start the embedded ones".
"""

from __future__ import annotations

import os

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from partnerguard.common.runtime import ServiceSpec

# More processes of one service than this on one machine only contend for its cores.
MAX_PROCESSES = 16


class LauncherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # A superuser URL of an external PostgreSQL server; unset: the embedded server.
    database_url: SecretStr | None = None
    # An external NATS server; unset: the embedded server.
    nats_url: str | None = None
    # The gateway's key for sealing its signing keys, when the operator keeps it elsewhere (a
    # secret manager); unset: made once and kept in the data folder. Given to the gateway only.
    secrets_key: SecretStr | None = None
    partnerguard_pg_port: int = 5433
    partnerguard_nats_port: int = 4222
    # Passed on to the services; when unset, the launcher picks (JSON unless on a terminal).
    log_level: str = "INFO"
    log_json: bool | None = None

    def service_port(self, spec: ServiceSpec) -> int:
        """``<SERVICE>_PORT`` (e.g. ``BILLING_PORT``), else the service's default port."""
        # The variable names follow the installed services, so they cannot be declared fields.
        raw = os.environ.get(f"{spec.name.upper()}_PORT")
        if raw is None or not raw.strip():
            return spec.default_port
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{spec.name.upper()}_PORT is not a port number: {raw!r}") from None

    def service_processes(self, spec: ServiceSpec) -> int:
        """``<SERVICE>_PROCESSES`` (e.g. ``ENFORCEMENT_PROCESSES=2``): how many processes serve
        the service on its port, each with its API and its workers; else 1."""
        name = f"{spec.name.upper()}_PROCESSES"
        raw = os.environ.get(name)
        if raw is None or not raw.strip():
            return 1
        try:
            count = int(raw)
        except ValueError:
            raise ValueError(f"{name} is not a whole number: {raw!r}") from None
        if not 1 <= count <= MAX_PROCESSES:
            raise ValueError(f"{name} must be between 1 and {MAX_PROCESSES}, not {count}")
        return count
