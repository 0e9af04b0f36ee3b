"""The NATS Helm values keep acknowledged events safe and match the streams' replica count.

``values.yaml`` is production; ``values-dev.yaml`` is layered over it (``-f values.yaml -f
values-dev.yaml``), so dev's effective values are the deep merge of the two, as Helm does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import ROOT

NATS = ROOT / "deploy" / "nats"

Obj = dict[str, Any]


def load(name: str) -> Obj:
    values: Obj = yaml.safe_load((NATS / name).read_text())
    return values


def helm_merge(base: Obj, override: Obj) -> Obj:
    """Helm's layering of values files: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def effective(overlay: str) -> Obj:
    prod = load("values.yaml")
    return prod if overlay == "prod" else helm_merge(prod, load("values-dev.yaml"))


def servers(values: Obj) -> int:
    cluster = values["config"].get("cluster", {})
    return int(cluster.get("replicas", 1)) if cluster.get("enabled") else 1


def stream_replicas(objects: list[Obj]) -> int:
    (config,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "partnerguard-config"
    ]
    return int(config["data"]["NATS_STREAM_REPLICAS"])


def test_production_is_a_three_node_jetstream_cluster_on_volumes() -> None:
    values = effective("prod")
    assert servers(values) == 3
    jetstream = values["config"]["jetstream"]
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True
    assert jetstream["fileStore"]["pvc"]["enabled"] is True
    assert jetstream["fileStore"]["pvc"]["size"]
    assert values["podDisruptionBudget"]["enabled"] is True
    assert values["container"]["merge"]["resources"]["limits"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_an_acknowledged_event_is_on_disk(overlay: str) -> None:
    jetstream = effective(overlay)["config"]["jetstream"]
    assert jetstream["merge"]["sync_interval"] == "always"
    assert jetstream["fileStore"]["enabled"] is True


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_monitor_port_keda_reads_is_enabled(overlay: str) -> None:
    monitor = effective(overlay)["config"]["monitor"]
    assert monitor == {"enabled": True, "port": 8222}


def test_development_is_a_single_server() -> None:
    assert servers(effective("dev")) == 1


@pytest.mark.parametrize(("overlay", "replicas"), [("dev", 1), ("prod", 3)])
def test_stream_replicas_fit_the_cluster(
    rendered_overlays: dict[str, list[Obj]], overlay: str, replicas: int
) -> None:
    wanted = stream_replicas(rendered_overlays[overlay])
    assert wanted == replicas
    assert wanted <= servers(effective(overlay))


def test_the_merge_follows_helm() -> None:
    merged = helm_merge({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": 5}, "d": None})
    assert merged == {"a": {"b": 5, "c": 2}}


def test_values_files_are_where_the_docs_say() -> None:
    assert {p.name for p in Path(NATS).glob("*.yaml")} == {"values.yaml", "values-dev.yaml"}
