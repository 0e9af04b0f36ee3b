"""The house rules that a reviewer should not have to remember: checked on every run."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "func"}
# Places allowed to build SQL in a service: its repositories, its migrations.
SQL_HOMES = ("repository.py",)


def python_files(base: Path) -> Iterator[Path]:
    yield from (p for p in base.rglob("*.py") if ".venv" not in p.parts)


def imported_modules(path: Path) -> Iterator[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [alias.name for alias in node.names]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = {f"partnerguard.{name}" for name in SERVICES if name != service}
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in python_files(ROOT / "services" / service)
        for module, _ in imported_modules(path)
        if any(module == other or module.startswith(other + ".") for other in others)
    ]
    assert offenders == []


def test_the_kernel_imports_no_service_and_no_launcher() -> None:
    forbidden = {f"partnerguard.{name}" for name in [*SERVICES, "cli"]}
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in python_files(ROOT / "libs" / "common")
        for module, _ in imported_modules(path)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]
    assert offenders == []


@pytest.mark.parametrize("service", SERVICES)
def test_only_repositories_build_sql(service: str) -> None:
    package = ROOT / "services" / service / "src"
    offenders = [
        f"{path.relative_to(ROOT)}: {', '.join(sorted(SQL_BUILDERS & set(names)))}"
        for path in python_files(package)
        if path.name not in SQL_HOMES
        for module, names in imported_modules(path)
        if module.startswith("sqlalchemy") and SQL_BUILDERS & set(names)
    ]
    assert offenders == []


def test_no_print_calls() -> None:
    offenders = []
    for base in ("libs", "services"):
        for path in python_files(ROOT / base):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "print"
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_checks_see_the_code() -> None:
    # Guards the guards: an empty glob would make every check above pass vacuously.
    assert set(SERVICES) >= {"gateway", "onboarding", "billing", "monitoring", "enforcement"}
    assert any(python_files(ROOT / "libs" / "common"))
