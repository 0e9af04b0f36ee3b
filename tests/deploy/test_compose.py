"""docker-compose.yml: valid against the Compose specification, and the platform it describes
starts in order, exposes only the gateway and gives each container only what it needs."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from partnerguard.gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
SERVICES = ("gateway", "onboarding", "billing", "monitoring", "enforcement")


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our validator on our own file
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def new_env() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "new_env", ROOT / "deploy" / "compose" / "new_env.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = validate(COMPOSE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_does_refuse_an_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yml"
    bad.write_text(
        "services:\n  a:\n    image: x\n    depends_on:\n      b:\n        condition: whenever\n"
    )

    assert validate(bad).returncode != 0


def test_only_the_gateway_is_published_on_the_host(compose: dict[str, Any]) -> None:
    published = {name for name, service in compose["services"].items() if service.get("ports")}

    assert published == {"gateway"}


def test_each_service_starts_after_its_migration_and_nats(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert depends[f"{name}-migrate"] == {"condition": "service_completed_successfully"}
        assert depends["nats"] == {"condition": "service_healthy"}
        assert services[f"{name}-migrate"]["depends_on"] == {
            "postgres": {"condition": "service_healthy"}
        }
        assert services[f"{name}-migrate"]["command"] == [
            "partnerguard",
            "setup-database",
            name,
        ]
    # The gateway comes up last: when it answers, the platform does.
    assert {s for s in SERVICES if s != "gateway"} <= set(services["gateway"]["depends_on"])


def test_every_long_running_container_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name.endswith("-migrate") or "tools" in service.get("profiles", []):
            continue
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name


def test_platform_containers_are_read_only_and_unprivileged(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in ("postgres", "nats"):
            continue
        assert service["read_only"] is True, name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["cap_drop"] == ["ALL"], name


def interpolated(value: str) -> str:
    """``value`` as compose would pass it, with every ``${NAME...}`` given a plain value."""
    return re.sub(r"\$\{[A-Z0-9_]+(?::?[-?][^}]*)?\}", "secret", value)


def role_of(url: str) -> str:
    return urlsplit(interpolated(url)).username or ""


def test_a_running_service_gets_neither_the_owner_nor_the_superuser(
    compose: dict[str, Any],
) -> None:
    """Row-level security binds the application role only because it owns nothing."""
    for name in SERVICES:
        env = compose["services"][name]["environment"]
        assert "DATABASE_OWNER_URL" not in env
        assert "DATABASE_ADMIN_URL" not in env
        assert role_of(env["DATABASE_URL"]) == f"partnerguard_{name}_app"
        assert role_of(env["DATABASE_SWEEP_URL"]) == f"partnerguard_{name}_sweep"
        migrate = compose["services"][f"{name}-migrate"]["environment"]
        assert role_of(migrate["DATABASE_OWNER_URL"]) == f"partnerguard_{name}_owner"
        # Each service reaches its own database only.
        for variable in ("DATABASE_URL", "DATABASE_SWEEP_URL"):
            assert urlsplit(interpolated(env[variable])).path == f"/partnerguard_{name}"


def test_nats_keeps_acknowledged_messages_on_disk(compose: dict[str, Any]) -> None:
    config = compose["configs"]["nats"]["content"]

    assert re.search(r"sync_interval:\s*always", config)
    assert "store_dir: /data" in config
    assert "nats:/data" in compose["services"]["nats"]["volumes"]


def test_make_compose_env_supplies_every_secret_the_file_demands(
    new_env: ModuleType, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    demanded = new_env.required_variables(COMPOSE.read_text())

    added = new_env.write_env(env_file, COMPOSE)

    assert sorted(added) == demanded
    assert len(demanded) == 2 + 3 * len(SERVICES)  # superuser, secrets key, 3 roles each
    values = new_env.existing(env_file)
    assert set(values) == set(demanded)
    assert env_file.stat().st_mode & 0o077 == 0, "the file is private"
    # The key is what the gateway accepts; passwords are safe inside a URL as they are.
    GatewaySettings(secrets_key=values["SECRETS_KEY"])
    for name, value in values.items():
        if name != "SECRETS_KEY":
            assert re.fullmatch(r"[0-9a-f]{48}", value), name


def test_make_compose_env_keeps_the_values_it_already_made(
    new_env: ModuleType, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=kept\n# a comment\n")

    new_env.write_env(env_file, COMPOSE)
    first = new_env.existing(env_file)
    added_again = new_env.write_env(env_file, COMPOSE)

    assert first["POSTGRES_PASSWORD"] == "kept"
    assert added_again == []
    assert new_env.existing(env_file) == first


def test_a_stopping_container_has_time_to_drain(compose: dict[str, Any]) -> None:
    """``--role all`` drains requests, then workers, each for up to SHUTDOWN_GRACE_SECONDS;
    compose kills a container whose stop takes longer than its ``stop_grace_period``."""
    for name in SERVICES:
        service = compose["services"][name]
        drain = float(service["environment"]["SHUTDOWN_GRACE_SECONDS"])
        period = service["stop_grace_period"]
        assert period.endswith("s")
        assert float(period.removesuffix("s")) >= 2 * drain + 5, name
