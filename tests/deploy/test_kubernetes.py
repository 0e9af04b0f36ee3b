"""The Kubernetes overlays render, validate against the API schemas and keep the deployment contract.

Each overlay is rendered once per session (``rendered_overlays``). Built-in kinds are validated
strictly against one pinned Kubernetes version; CRD-based kinds are listed in
:data:`CRD_SCHEMAS_SKIPPED` with the reason, and their fields are checked by the tests below.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from partnerguard.cli.platform import discover_services
from partnerguard.common.settings import ServiceSettings
from tests.deploy.conftest import OVERLAYS

Obj = dict[str, Any]

KUBERNETES_VERSION = "1.33.0"
# No CRD schemas offline (the operators' CRDs are not vendored here): these kinds are skipped by
# name, and the tests below check the fields we rely on. Any other kind must validate.
CRD_SCHEMAS_SKIPPED: dict[tuple[str, str], str] = {
    ("postgresql.cnpg.io/v1", "Cluster"): "CloudNativePG CRD; checked by test_database_clusters",
    ("postgresql.cnpg.io/v1", "Database"): "CloudNativePG CRD; checked by test_database_clusters",
    (
        "keda.sh/v1alpha1",
        "ScaledObject",
    ): "KEDA CRD; checked by test_worker_triggers_match_..._consumers",
}
SERVICES = ("gateway", "onboarding", "billing", "monitoring", "enforcement")
NAMESPACE = "partnerguard"
IMAGE = {
    "dev": "ghcr.io/partnerguard/partnerguard:dev",
    "prod": "ghcr.io/partnerguard/partnerguard:0.1.0",
}
API_REPLICAS = {"dev": (1, 3), "prod": (2, 10)}
DB_INSTANCES = {"dev": 1, "prod": 3}
STREAM_REPLICAS = {"dev": "1", "prod": "3"}
PART_OF = {"app.kubernetes.io/part-of": "partnerguard"}
DRAIN_MARGIN_SECONDS = 5
SECRET_LOOKING = re.compile(r"PASSWORD|TOKEN|SECRET|KEY", re.IGNORECASE)


# -- helpers ------------------------------------------------------------------------------------


def validate(obj: Obj) -> str:
    """Validate one object strictly; returns "skipped" for a listed CRD kind."""
    if (obj["apiVersion"], obj["kind"]) in CRD_SCHEMAS_SKIPPED:
        return "skipped"
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    return "valid"


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_templates(objects: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    """(workload, pod template) for every object that runs pods."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            yield obj, obj["spec"]["template"]
        elif obj["kind"] == "CronJob":
            yield obj, obj["spec"]["jobTemplate"]["spec"]["template"]


def containers(template: Obj) -> list[Obj]:
    spec = template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container.get("env", [])}


def config_data(objects: list[Obj]) -> dict[str, str]:
    data: dict[str, str] = named(objects, "ConfigMap", "partnerguard-config")["data"]
    return data


@cache
def consumers_by_service() -> dict[str, set[tuple[str, str]]]:
    """(stream, durable) of every consumer each service declares, from its definition()."""
    result = {}
    for spec in discover_services():
        module = importlib.import_module(spec.api_app.partition(":")[0])
        result[spec.name] = {(c.spec.stream, c.spec.durable) for c in module.definition().consumers}
    return result


@cache
def settings_fields(service: str) -> set[str]:
    """The environment variables a service's settings class reads."""
    module = importlib.import_module(f"partnerguard.{service}.settings")
    classes = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, ServiceSettings) and cls.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"{module.__name__} defines {classes}"
    return {name.upper() for name in classes[0].model_fields}


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector matches these labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, operator, values = expr["key"], expr["operator"], expr.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def applying(policies: list[Obj], pod: dict[str, str], direction: str) -> list[Obj]:
    """The NetworkPolicies (same namespace) that isolate this pod in this direction."""
    return [
        p
        for p in policies
        if selects(p["spec"]["podSelector"], pod)
        and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]


def port_allowed(rule: Obj, port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(
        "port" not in p or p["port"] == port or p["port"] <= port <= p.get("endPort", p["port"])
        for p in ports
        if p.get("protocol", "TCP") == "TCP"
    )


def egress_allowed(
    policies: list[Obj], source: dict[str, str], target: dict[str, str], port: int
) -> bool:
    """Whether a pod may connect to a pod with `target` labels in its namespace (conservative:
    an ipBlock or a namespaceSelector peer is taken to reach it)."""
    isolating = applying(policies, source, "Egress")
    if not isolating:
        return True
    for policy in isolating:
        for rule in policy["spec"].get("egress", []):
            if not port_allowed(rule, port):
                continue
            peers = rule.get("to")
            if not peers:
                return True
            for peer in peers:
                if "ipBlock" in peer or ("namespaceSelector" in peer and "podSelector" not in peer):
                    return True
                if selects(peer.get("podSelector", {}), target):
                    return True
    return False


def ingress_from_outside(policies: list[Obj], pod: dict[str, str]) -> list[str]:
    """Ingress rules admitting sources other than our own pods or the metrics namespace."""
    problems = []
    isolating = applying(policies, pod, "Ingress")
    if not isolating:
        return ["no NetworkPolicy isolates it"]
    for policy in isolating:
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from")
            if not peers:
                problems.append(f"{policy['metadata']['name']}: from anywhere")
                continue
            for peer in peers:
                namespace = peer.get("namespaceSelector")
                if "ipBlock" in peer:
                    problems.append(f"{policy['metadata']['name']}: ipBlock")
                elif namespace is not None:
                    metrics = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
                    if namespace != metrics or rule.get("ports") != [
                        {"protocol": "TCP", "port": 8000}
                    ]:
                        problems.append(f"{policy['metadata']['name']}: namespace {namespace}")
                elif not PART_OF.items() <= peer["podSelector"].get("matchLabels", {}).items():
                    problems.append(f"{policy['metadata']['name']}: pods not ours {peer}")
    return problems


def reachable_databases(policies: list[Obj], pod: dict[str, str]) -> set[str]:
    clusters = {f"{svc}-db" for svc in SERVICES}
    return {
        cluster
        for cluster in clusters
        if egress_allowed(policies, pod, {"cnpg.io/cluster": cluster, "role": "primary"}, 5432)
    }


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def objects(rendered_overlays: dict[str, list[Obj]], overlay: str) -> list[Obj]:
    return rendered_overlays[overlay]


# -- rendering and schemas ----------------------------------------------------------------------


def test_every_object_validates_against_its_schema(objects: list[Obj]) -> None:
    failures = {}
    outcomes = set()
    for obj in objects:
        try:
            outcomes.add((obj["kind"], validate(obj)))
        except (
            kubernetes_validate.ValidationError,
            kubernetes_validate.SchemaNotFoundError,
        ) as exc:
            failures[f"{obj['kind']}/{obj['metadata']['name']}"] = str(exc).splitlines()[0]
    assert not failures
    skipped = {kind for kind, outcome in outcomes if outcome == "skipped"}
    # No stale entry in the skip table: each one names a kind the overlay really renders.
    assert skipped == {kind for _, kind in CRD_SCHEMAS_SKIPPED}


def test_a_broken_object_fails_validation(rendered_overlays: dict[str, list[Obj]]) -> None:
    deployment = copy.deepcopy(named(rendered_overlays["prod"], "Deployment", "billing-api"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    deployment = copy.deepcopy(named(rendered_overlays["prod"], "Deployment", "billing-api"))
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "35s"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)


def test_an_unlisted_custom_kind_fails() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate(widget)


# -- workloads ----------------------------------------------------------------------------------


def test_each_service_runs_api_worker_and_migration(objects: list[Obj], overlay: str) -> None:
    for svc in SERVICES:
        for role in ("api", "worker"):
            deployment = named(objects, "Deployment", f"{svc}-{role}")
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["command"] == ["partnerguard", "serve", svc, "--role", role]
            assert container["image"] == IMAGE[overlay]
            # The autoscaler owns the replica count; apply must not reset it.
            assert "replicas" not in deployment["spec"]
        job = named(objects, "Job", f"{svc}-migrate")
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["partnerguard", "setup-database", svc]
        assert container["image"] == IMAGE[overlay]
        assert job["spec"]["backoffLimit"] >= 1
        assert job["spec"]["activeDeadlineSeconds"] > 0
        assert job["spec"]["ttlSecondsAfterFinished"] > 0
        service = named(objects, "Service", svc)
        assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http"}]
        api_labels = named(objects, "Deployment", f"{svc}-api")["spec"]["template"]["metadata"]
        assert selects({"matchLabels": service["spec"]["selector"]}, api_labels["labels"])
    assert {o["metadata"]["name"] for o in of_kind(objects, "Deployment")} == {
        f"{svc}-{role}" for svc in SERVICES for role in ("api", "worker")
    }


def test_api_and_worker_probe_health_and_expose_metrics(objects: list[Obj]) -> None:
    for svc in SERVICES:
        for role in ("api", "worker"):
            template = named(objects, "Deployment", f"{svc}-{role}")["spec"]["template"]
            (container,) = template["spec"]["containers"]
            assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8000}
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8000}
            assert {"name": "http", "containerPort": 8000} in container["ports"]
            assert template["metadata"]["annotations"] == {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "8000",
                "prometheus.io/path": "/metrics",
            }


def test_termination_grace_covers_prestop_and_drain(objects: list[Obj]) -> None:
    drain = float(config_data(objects)["SHUTDOWN_GRACE_SECONDS"])
    for svc in SERVICES:
        for role in ("api", "worker"):
            spec = named(objects, "Deployment", f"{svc}-{role}")["spec"]["template"]["spec"]
            (container,) = spec["containers"]
            assert "SHUTDOWN_GRACE_SECONDS" not in env_of(container)  # the ConfigMap's value holds
            sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
            assert sleep >= 1
            assert spec["terminationGracePeriodSeconds"] >= sleep + drain + DRAIN_MARGIN_SECONDS


def test_autoscalers_and_disruption_budgets(objects: list[Obj], overlay: str) -> None:
    low, high = API_REPLICAS[overlay]
    for svc in SERVICES:
        hpa = named(objects, "HorizontalPodAutoscaler", f"{svc}-api")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"{svc}-api",
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (low, high)
        assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
        for role in ("api", "worker"):
            pdb = named(objects, "PodDisruptionBudget", f"{svc}-{role}")
            pod = named(objects, "Deployment", f"{svc}-{role}")["spec"]["template"]["metadata"]
            assert selects(pdb["spec"]["selector"], pod["labels"])
            # Never a budget that blocks every drain of a single replica.
            assert pdb["spec"].get("maxUnavailable", 0) >= 1


def test_worker_triggers_match_the_services_consumers(objects: list[Obj]) -> None:
    declared = consumers_by_service()
    assert set(declared) == set(SERVICES)
    for svc in SERVICES:
        scaled = named(objects, "ScaledObject", f"{svc}-worker")
        assert scaled["spec"]["scaleTargetRef"]["name"] == f"{svc}-worker"
        assert scaled["spec"]["minReplicaCount"] >= 1  # outbox relay and periodic jobs
        assert scaled["spec"]["maxReplicaCount"] > scaled["spec"]["minReplicaCount"]
        triggers = scaled["spec"]["triggers"]
        jetstream = [
            (t["metadata"]["stream"], t["metadata"]["consumer"])
            for t in triggers
            if t["type"] == "nats-jetstream"
        ]
        assert len(jetstream) == len(set(jetstream)), f"{svc}: a consumer has two triggers"
        assert set(jetstream) == declared[svc], f"{svc}: triggers differ from its consumers"
        assert [t["type"] for t in triggers].count("cpu") == 1
        for trigger in (t for t in triggers if t["type"] == "nats-jetstream"):
            endpoint = trigger["metadata"]["natsServerMonitoringEndpoint"]
            # KEDA runs in its own namespace and prefixes a server's name to this host to
            # reach a consumer's leader: the headless service's full name, in our namespace.
            assert endpoint == f"nats-headless.{NAMESPACE}.svc.cluster.local:8222"
            assert trigger["metadata"]["account"] == "$G"
            assert int(trigger["metadata"]["lagThreshold"]) > 0


def test_a_renamed_consumer_would_fail_the_trigger_check(objects: list[Obj]) -> None:
    scaled = named(objects, "ScaledObject", "billing-worker")
    triggers = {
        (t["metadata"]["stream"], t["metadata"]["consumer"])
        for t in scaled["spec"]["triggers"]
        if t["type"] == "nats-jetstream"
    }
    renamed = {(stream, durable + "-v2") for stream, durable in consumers_by_service()["billing"]}
    assert triggers != renamed


# -- configuration and secrets ------------------------------------------------------------------


def test_shared_configuration(objects: list[Obj], overlay: str) -> None:
    data = config_data(objects)
    assert data["NATS_URL"] == "nats://nats:4222"
    assert data["NATS_STREAM_REPLICAS"] == STREAM_REPLICAS[overlay]
    assert data["AUTH_JWKS_URL"] == "http://gateway:8000/.well-known/jwks.json"
    assert data["LOG_JSON"] == "true"
    assert data["ENVIRONMENT"] == overlay
    issuer = urlsplit(data["AUTH_ISSUER"])
    ingress = named(objects, "Ingress", "gateway")
    assert issuer.scheme == "https"
    assert [r["host"] for r in ingress["spec"]["rules"]] == [issuer.hostname]
    assert ingress["spec"]["tls"][0]["hosts"] == [issuer.hostname]
    assert (
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "gateway"
    )
    assert len(of_kind(objects, "Ingress")) == 1
    for svc in SERVICES:
        # Every key is a setting each service reads (a typo would be silently ignored).
        assert set(data) <= settings_fields(svc), svc


def test_database_urls_are_built_from_the_role_secrets(objects: list[Obj]) -> None:
    roles = {"app": "DATABASE_URL", "sweep": "DATABASE_SWEEP_URL", "owner": "DATABASE_OWNER_URL"}
    for svc in SERVICES:
        workloads = [named(objects, "Deployment", f"{svc}-{r}") for r in ("api", "worker")]
        workloads.append(named(objects, "Job", f"{svc}-migrate"))
        for workload in workloads:
            (container,) = workload["spec"]["template"]["spec"]["containers"]
            env = container["env"]
            defined: set[str] = set()
            for entry in env:
                for reference in re.findall(r"\$\((\w+)\)", entry.get("value", "")):
                    assert reference in defined, f"{entry['name']} uses $({reference}) before it"
                defined.add(entry["name"])
            by_name = env_of(container)
            wanted = ("app", "sweep", "owner") if workload["kind"] == "Job" else ("app", "sweep")
            for role in ("app", "sweep", "owner"):
                if role not in wanted:
                    # Only the migration runs as the owner.
                    assert roles[role] not in by_name
                    continue
                user, password = f"DB_{role.upper()}_USER", f"DB_{role.upper()}_PASSWORD"
                assert by_name[roles[role]]["value"] == (
                    f"postgresql://$({user}):$({password})@{svc}-db-rw:5432/partnerguard_{svc}"
                )
                for variable, key in ((user, "username"), (password, "password")):
                    assert by_name[variable]["valueFrom"]["secretKeyRef"] == {
                        "name": f"partnerguard-{svc}-db-{role}",
                        "key": key,
                    }


def test_service_specific_settings_come_from_optional_secrets(objects: list[Obj]) -> None:
    expected_secrets = {
        "gateway": {"SECRETS_KEY": ("partnerguard-gateway", False)},
        "enforcement": {
            "PROVIDER_URL": ("partnerguard-enforcement-provider", True),
            "PROVIDER_TOKEN": ("partnerguard-enforcement-provider", True),
        },
        "onboarding": dict.fromkeys(
            (
                "SMS_GATEWAY_URL",
                "SMS_GATEWAY_TOKEN",
                "IDENTITY_SERVICE_URL",
                "IDENTITY_SERVICE_TOKEN",
                "CREDIT_BUREAU_URL",
                "CREDIT_BUREAU_TOKEN",
                "SANCTIONS_URL",
            ),
            ("partnerguard-onboarding-adapters", True),
        ),
        "billing": {},
        "monitoring": {},
    }
    smtp = ("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "EMAIL_SENDER")
    for svc in ("onboarding", "billing"):
        expected_secrets[svc].update(dict.fromkeys(smtp, ("partnerguard-smtp", True)))
    for svc in SERVICES:
        for role in ("api", "worker"):
            (container,) = named(objects, "Deployment", f"{svc}-{role}")["spec"]["template"][
                "spec"
            ]["containers"]
            env = env_of(container)
            from_secrets = {
                name: (
                    e["valueFrom"]["secretKeyRef"]["name"],
                    e["valueFrom"]["secretKeyRef"].get("optional", False),
                )
                for name, e in env.items()
                if "secretKeyRef" in e.get("valueFrom", {}) and not name.startswith("DB_")
            }
            assert from_secrets == expected_secrets[svc], f"{svc}-{role}"
            settings = {n for n in env if not n.startswith("DB_")}
            assert settings <= settings_fields(svc), f"{svc}: {settings - settings_fields(svc)}"
    gateway = env_of(
        named(objects, "Deployment", "gateway-api")["spec"]["template"]["spec"]["containers"][0]
    )
    assert gateway["PUBLIC_URL"]["valueFrom"]["configMapKeyRef"] == {
        "name": "partnerguard-config",
        "key": "AUTH_ISSUER",
    }
    assert json.loads(gateway["SERVICE_URLS"]["value"]) == {
        svc: f"http://{svc}:8000" for svc in SERVICES if svc != "gateway"
    }


def test_no_secret_is_committed(objects: list[Obj]) -> None:
    assert not of_kind(objects, "Secret")
    assert not [k for k in config_data(objects) if SECRET_LOOKING.search(k)]
    for _, template in pod_templates(objects):
        for container in containers(template):
            for entry in container.get("env", []):
                if SECRET_LOOKING.search(entry["name"]):
                    assert "value" not in entry, f"{entry['name']} has a literal value"
                if entry["name"].startswith("DATABASE_"):
                    # Credentials only by reference in the URL.
                    assert re.fullmatch(r"postgresql://\$\(\w+\):\$\(\w+\)@[^@]+", entry["value"])


# -- pod security and labels --------------------------------------------------------------------


def test_every_pod_runs_restricted(objects: list[Obj]) -> None:
    templates = list(pod_templates(objects))
    assert len(templates) == 3 * len(SERVICES)
    for workload, template in templates:
        name = workload["metadata"]["name"]
        spec = template["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, name
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in containers(template):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert "privileged" not in security or security["privileged"] is False
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), name
            (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]  # noqa: S108
            assert "emptyDir" in volumes[tmp["name"]], name


def test_every_object_and_pod_carries_our_labels(objects: list[Obj]) -> None:
    for obj in objects:
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "partnerguard", obj["metadata"]["name"]
        assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]["name"]
    for workload, template in pod_templates(objects):
        labels = template["metadata"]["labels"]
        name = workload["metadata"]["name"]
        svc, _, role = name.rpartition("-")
        assert labels == {
            "app.kubernetes.io/name": svc,
            "app.kubernetes.io/component": role,
            "app.kubernetes.io/part-of": "partnerguard",
        }, name


# -- databases ----------------------------------------------------------------------------------


def test_database_clusters(objects: list[Obj], overlay: str) -> None:
    assert len(of_kind(objects, "Cluster")) == len(SERVICES)
    for svc in SERVICES:
        cluster = named(objects, "Cluster", f"{svc}-db")
        spec = cluster["spec"]
        assert spec["instances"] == DB_INSTANCES[overlay]
        assert spec["imageName"].startswith("ghcr.io/cloudnative-pg/postgresql:18")
        assert spec["storage"]["size"]
        roles = {r["name"]: r for r in spec["managed"]["roles"]}
        assert set(roles) == {f"partnerguard_{svc}_{kind}" for kind in ("owner", "app", "sweep")}
        for kind in ("owner", "app", "sweep"):
            role = roles[f"partnerguard_{svc}_{kind}"]
            assert role["login"] is True
            assert role["passwordSecret"] == {"name": f"partnerguard-{svc}-db-{kind}"}
            assert role.get("bypassrls", False) is (kind == "sweep")
            assert not role.get("superuser", False)
        if overlay == "prod":
            assert spec["affinity"]["enablePodAntiAffinity"] is True
            assert spec["affinity"]["podAntiAffinityType"] == "required"
            assert spec["monitoring"]["enablePodMonitor"] is True
        (database,) = [
            d for d in of_kind(objects, "Database") if d["spec"]["cluster"]["name"] == f"{svc}-db"
        ]
        assert database["spec"]["name"] == f"partnerguard_{svc}"
        assert database["spec"]["owner"] == f"partnerguard_{svc}_owner"


# -- network policies ---------------------------------------------------------------------------


def pods(objects: list[Obj]) -> Iterator[tuple[str, dict[str, str]]]:
    for workload, template in pod_templates(objects):
        yield workload["metadata"]["name"], template["metadata"]["labels"]


def test_only_the_gateway_api_admits_ingress_from_outside(objects: list[Obj]) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    for name, labels in pods(objects):
        problems = ingress_from_outside(policies, labels)
        if name == "gateway-api":
            assert any("from anywhere" in p for p in problems)
        else:
            assert problems == [], name


def test_ingress_check_catches_an_open_service(objects: list[Obj]) -> None:
    policies = copy.deepcopy(of_kind(objects, "NetworkPolicy"))
    named(policies, "NetworkPolicy", "billing-api-ingress")["spec"]["ingress"].append({})
    billing = named(objects, "Deployment", "billing-api")["spec"]["template"]["metadata"]["labels"]
    assert ingress_from_outside(policies, billing)


def test_each_service_reaches_only_its_own_database(objects: list[Obj]) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    nats = {"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats"}
    gateway = named(objects, "Deployment", "gateway-api")["spec"]["template"]["metadata"]["labels"]
    for name, labels in pods(objects):
        svc = labels["app.kubernetes.io/name"]
        assert reachable_databases(policies, labels) == {f"{svc}-db"}, name
        assert egress_allowed(policies, labels, nats, 4222), name
        assert egress_allowed(policies, labels, gateway, 8000), name
    for svc in SERVICES:
        if svc == "gateway":
            continue
        target = named(objects, "Deployment", f"{svc}-api")["spec"]["template"]["metadata"][
            "labels"
        ]
        assert egress_allowed(policies, gateway, target, 8000)


def test_database_check_catches_a_shared_database(objects: list[Obj]) -> None:
    policies = copy.deepcopy(of_kind(objects, "NetworkPolicy"))
    named(policies, "NetworkPolicy", "billing-egress")["spec"]["egress"].append(
        {"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "gateway-db"}}}]}
    )
    billing = named(objects, "Deployment", "billing-worker")["spec"]["template"]["metadata"][
        "labels"
    ]
    assert reachable_databases(policies, billing) == {"billing-db", "gateway-db"}


def test_default_deny_spares_nats_and_postgres(objects: list[Obj]) -> None:
    deny = named(objects, "NetworkPolicy", "partnerguard-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    for _, labels in pods(objects):
        assert selects(deny["spec"]["podSelector"], labels)
    nats_pod = {"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats"}
    postgres_pod = {"cnpg.io/cluster": "billing-db", "role": "primary"}
    for policy in of_kind(objects, "NetworkPolicy"):
        assert not selects(policy["spec"]["podSelector"], nats_pod)
        assert not selects(policy["spec"]["podSelector"], postgres_pod)
