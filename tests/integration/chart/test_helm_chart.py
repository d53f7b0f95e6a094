"""charts/dualtrack checked by real helm: lint --strict and template for every value set in charts/dualtrack/ci/,
every rendered object validated (kubernetes-validate --strict for Kubernetes 1.30 and 1.37; ServiceMonitor and
PrometheusRule against the prometheus-operator CRD schemas), the rendered broker config parsed by the broker,
and invalid values refused at template time with a message naming the value.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dualtrack.broker.config import parse_config
from dualtrack.broker.metrics.artifacts import load_rules

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "dualtrack"
VALUE_SETS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
CRD_KINDS = ("ServiceMonitor", "PrometheusRule")
VALIDATOR = REPO / "scripts" / "chart" / "validate-crds.mjs"


def render(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, "template", "rel", str(CHART), "--namespace", "ml-platform", *args],
                          capture_output=True, text=True, timeout=120)


def objects(helm: str, values: Path) -> list[dict[str, Any]]:
    done = render(helm, "-f", str(values))
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def crd_problems(crd_modules: Path, docs: list[dict[str, Any]]) -> list[str]:
    done = subprocess.run(["node", str(VALIDATOR), str(crd_modules)], input=json.dumps(docs), capture_output=True,
                          text=True, timeout=120)
    return done.stdout.splitlines() + ([done.stderr] if done.returncode not in (0, 1) else [])


def kube_problems(doc: dict[str, Any]) -> list[str]:
    problems = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']} on {version}: {error.message} at "
                            f"{'.'.join(map(str, error.path))}")
    return problems


def test_there_are_at_least_eight_value_sets() -> None:
    assert len(VALUE_SETS) >= 8


@pytest.mark.parametrize("values", VALUE_SETS, ids=lambda p: p.name)
def test_lint_strict(helm: str, values: Path) -> None:
    done = subprocess.run([helm, "lint", "--strict", str(CHART), "-f", str(values)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("values", VALUE_SETS, ids=lambda p: p.name)
def test_every_rendered_object_validates(helm: str, crd_modules: Path, values: Path) -> None:
    docs = objects(helm, values)
    crds = [doc for doc in docs if doc["kind"] in CRD_KINDS]
    problems = [p for doc in docs if doc["kind"] not in CRD_KINDS for p in kube_problems(doc)]
    if crds:
        problems += crd_problems(crd_modules, crds)
    assert problems == []


@pytest.mark.parametrize("values", VALUE_SETS, ids=lambda p: p.name)
def test_the_rendered_config_is_one_the_broker_accepts(helm: str, values: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALTRACK_STORE_URL", "postgresql+psycopg://u:p@db/dualtrack")  # the pod's Secret env
    monkeypatch.setenv("DUALTRACK_OPS_TOKEN", "ops-token")
    (configmap,) = [d for d in objects(helm, values) if d["kind"] == "ConfigMap" and "config.yaml" in d["data"]]
    config = parse_config(yaml.safe_load(configmap["data"]["config.yaml"]), values.name)
    assert config.server.address == "0.0.0.0:50051" and config.metrics.host == "0.0.0.0"
    assert config.store.url


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_config_is_deep_merged_with_the_chart_keys(helm: str) -> None:
    docs = objects(helm, CHART / "ci" / "03-postgres-secret-values.yaml")
    config = yaml.safe_load(by_kind(docs, "ConfigMap")[0]["data"]["config.yaml"])
    assert config["server"] == {"address": "0.0.0.0:50051", "workers": 2, "maxWorkers": 64}
    assert config["store"] == {"url": "${DUALTRACK_STORE_URL}", "groupCommitMax": 64}


def test_every_api_process_exposes_its_metrics_port(helm: str) -> None:
    docs = objects(helm, CHART / "ci" / "04-monitoring-values.yaml")
    (service,) = by_kind(docs, "Service")
    assert [p["port"] for p in service["spec"]["ports"] if p["name"].startswith("metrics")] == [9464, 9465, 9466]
    (monitor,) = by_kind(docs, "ServiceMonitor")
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics", "metrics-1", "metrics-2"]
    (container,) = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"]
    assert {p["name"] for p in container["ports"]} >= {"metrics", "metrics-1", "metrics-2"}
    dashboards = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert json.loads(dashboards[0]["data"]["dualtrack.json"])["panels"]
    assert by_kind(docs, "PrometheusRule")[0]["spec"]["groups"]


def test_the_prometheusrule_carries_exactly_the_rules_file(helm: str) -> None:
    (rule,) = by_kind(objects(helm, CHART / "ci" / "04-monitoring-values.yaml"), "PrometheusRule")
    assert rule["spec"]["groups"] == load_rules()["groups"]
    assert "{{ $labels.backend }}" in rule["spec"]["groups"][1]["rules"][0]["annotations"]["summary"]


@pytest.mark.parametrize(("values", "secret"), [("02-postgres-url-values.yaml", "rel-dualtrack-store"),
                                                ("03-postgres-secret-values.yaml", "dualtrack-db")])
def test_the_postgres_url_comes_from_a_secret(helm: str, values: str, secret: str) -> None:
    docs = objects(helm, CHART / "ci" / values)
    created = [d["metadata"]["name"] for d in by_kind(docs, "Secret")]
    assert created == (["rel-dualtrack-store"] if secret == "rel-dualtrack-store" else [])
    (container,) = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"]
    (env,) = [e for e in container["env"] if e["name"] == "DUALTRACK_STORE_URL"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "url"}
    assert not by_kind(docs, "PersistentVolumeClaim")


def test_credentials_come_from_secrets(helm: str) -> None:
    docs = objects(helm, CHART / "ci" / "05-tls-values.yaml")
    config = yaml.safe_load(by_kind(docs, "ConfigMap")[0]["data"]["config.yaml"])
    assert config["server"]["tls"] == {"certFile": "/var/run/dualtrack/tls/tls.crt",
                                       "keyFile": "/var/run/dualtrack/tls/tls.key",
                                       "clientCaFile": "/var/run/dualtrack/tls/ca.crt"}
    assert config["auth"]["tokens"] == {"file:/var/run/dualtrack/tokens/0/ci": "*",
                                        "file:/var/run/dualtrack/tokens/1/vision": "vision-qa",
                                        "env:DUALTRACK_OPS_TOKEN": "ops"}
    pod = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"dualtrack-tls", "dualtrack-tokens"}
    (container,) = pod["containers"]
    assert container["readinessProbe"]["grpc"]["port"] == 50052  # the plaintext health listener


def test_namespace_scope_uses_roles(helm: str) -> None:
    docs = objects(helm, CHART / "ci" / "07-namespace-rbac-values.yaml")
    assert sorted(r["metadata"]["namespace"] for r in by_kind(docs, "Role")) == ["team-a", "team-b"]
    (cluster_role,) = by_kind(docs, "ClusterRole")
    assert all(rule["verbs"] == ["get", "list", "watch"] for rule in cluster_role["rules"])
    assert {r for rule in cluster_role["rules"] for r in rule["resources"]} == {"nodes", "queues", "hypernodes"}


def test_the_checkpoint_storage_is_mounted_where_the_backends_see_it(helm: str) -> None:
    docs = objects(helm, CHART / "ci" / "09-checkpoints-values.yaml")
    pod = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "checkpoints"]
    assert volume["persistentVolumeClaim"] == {"claimName": "shared-checkpoints"}
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "checkpoints"]
    assert mount["mountPath"] == "/var/lib/dualtrack-checkpoints" and not mount.get("readOnly")
    config = yaml.safe_load(by_kind(docs, "ConfigMap")[0]["data"]["config.yaml"])
    assert {b["settings"]["checkpointRoot"] for b in config["backends"]} == {mount["mountPath"]}
    bare = objects(helm, CHART / "ci" / "01-sqlite-values.yaml")
    bare_pod = by_kind(bare, "Deployment")[0]["spec"]["template"]["spec"]
    assert "checkpoints" not in {v["name"] for v in bare_pod["volumes"]}


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "store.kind=bogus"], "store.kind must be one of the following"),
    (["--set", "replicaCount=3"], "replicaCount=3 with store.kind=sqlite"),
    (["--set", "config.server.address=127.0.0.1:50051"], "config.server.address is set by the chart"),
    (["--set", "config.store.url=sqlite:////tmp/x.sqlite"], "config.store.url is set by the chart"),
    (["--set", "config.server=listen-here"], "config.server: Invalid type"),
    (["--set", "config.auth.tokens.s3cret=ops"], "a plain token would sit in the ConfigMap"),
    (["--set", "server.tls.enabled=true"], "existingSecret"),
    (["--set", "store.kind=postgres"], "store.postgres.url or store.postgres.existingSecret is required"),
])
def test_invalid_values_fail_at_template_time(helm: str, args: list[str], message: str) -> None:
    done = render(helm, *args)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def test_the_checks_can_fail(crd_modules: Path) -> None:
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
              "spec": {"replicas": "three", "selector": {}, "template": {}}}
    assert kube_problems(broken)
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"},
               "spec": {"selector": {}, "endpoints": [{"port": "metrics", "interval": "every minute"}]}}
    assert crd_problems(crd_modules, [monitor])
