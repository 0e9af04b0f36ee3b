"""Settings read from the environment only (pydantic-settings), with embedded-run defaults."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service process needs. Services subclass it to add their own settings.

    Database URLs use the asyncpg driver (``postgresql+asyncpg://``); a plain ``postgresql://``
    URL is accepted and converted.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "service"
    environment: str = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True

    # The application role: not the owner of the tables, so row-level security applies.
    database_url: SecretStr = SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5433/postgres")
    # The owner role, used only to run migrations. Defaults to database_url.
    database_owner_url: SecretStr | None = None
    # A role with BYPASSRLS for jobs that span partners (outbox relay, sweeps).
    # Defaults to database_url, which is only right when that role itself bypasses RLS.
    database_sweep_url: SecretStr | None = None
    # Connections kept open, and opened beyond them at a peak (closed again after use).
    database_pool_size: int = 10
    database_max_overflow: int = 10
    # The sweep role's: the jobs' (outbox relay, runners), several of which work at once.
    database_sweep_pool_size: int = 8
    database_sweep_max_overflow: int = 4
    database_statement_timeout_ms: int = 30_000

    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream_replicas: int = 1
    # Prefix for stream and durable-consumer names, so several platforms (or test runs) can
    # share one NATS server without touching each other's streams.
    nats_name_prefix: str = ""

    # Access tokens (RFC 9068). The gateway is the issuer; each service is an audience.
    auth_issuer: str = "http://127.0.0.1:8000"
    auth_jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    auth_audience: str = ""
    auth_algorithms: list[str] = Field(default_factory=lambda: ["ES256"])
    auth_leeway_seconds: int = 30
    auth_jwks_min_refresh_seconds: float = 30.0

    # In the embedded run the API process also runs the workers; in Kubernetes they are apart.
    run_workers: bool = False
    outbox_poll_interval_seconds: float = 0.05
    outbox_batch_size: int = 200
    shutdown_grace_seconds: float = 20.0

    idempotency_ttl_hours: int = 24

    def owner_url(self) -> str:
        return normalise_database_url(
            (self.database_owner_url or self.database_url).get_secret_value()
        )

    def app_url(self) -> str:
        return normalise_database_url(self.database_url.get_secret_value())

    def sweep_url(self) -> str:
        return normalise_database_url(
            (self.database_sweep_url or self.database_url).get_secret_value()
        )


def normalise_database_url(url: str) -> str:
    """Accept libpq-style URLs and point them at the asyncpg driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url
