"""The Helm chart renders to valid manifests (with a small Go-template renderer: no helm binary here).

Checks: Chart.yaml and values.yaml; the broker config the chart writes passes the broker's own config
parser; Deployment, Service and probes agree on ports; RBAC covers what the Volcano adapter touches; the
toggles; the PostgreSQL URL Secret; and the PrometheusRule carries exactly the plain rules file's groups.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dualtrack.broker.config import parse_config
from dualtrack.broker.metrics.artifacts import load_rules

from .gotemplate import Chart, TemplateError

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART_DIR = REPO_ROOT / "charts" / "dualtrack"
GENERATOR = REPO_ROOT / "scripts" / "prometheus" / "gen_prometheusrule.py"


@pytest.fixture(scope="module")
def chart() -> Chart:
    return Chart(CHART_DIR)


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for manifest in manifests:
        assert manifest["kind"] not in out, f"two {manifest['kind']} objects"
        out[manifest["kind"]] = manifest
    return out


def rendered_config(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(manifests["ConfigMap"]["data"]["config.yaml"])
    return data


def test_chart_metadata_and_values_parse(chart: Chart) -> None:
    assert chart.meta["apiVersion"] == "v2"
    assert chart.meta["name"] == "dualtrack"
    assert chart.meta["version"] and chart.meta["appVersion"]
    assert chart.default_values["store"]["kind"] == "sqlite"
    assert chart.default_values["serviceMonitor"]["enabled"] is False
    assert chart.default_values["prometheusRule"]["enabled"] is False


def test_defaults_render_the_broker_with_a_sqlite_volume(chart: Chart) -> None:
    manifests = by_kind(chart.manifests())
    assert set(manifests) == {"ConfigMap", "Deployment", "Service", "ServiceAccount", "ClusterRole",
                              "ClusterRoleBinding", "PersistentVolumeClaim"}
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    broker = pod["containers"][0]
    assert broker["command"] + broker["args"] == ["dualtrack", "serve", "--config", "/etc/dualtrack/config.yaml"]
    mounts = {m["name"]: m["mountPath"] for m in broker["volumeMounts"]}
    assert mounts["config"] == "/etc/dualtrack" and mounts["data"] == "/var/lib/dualtrack"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == manifests["PersistentVolumeClaim"]["metadata"][
        "name"]
    assert volumes["config"]["configMap"]["name"] == manifests["ConfigMap"]["metadata"]["name"]
    assert pod["serviceAccountName"] == manifests["ServiceAccount"]["metadata"]["name"]


def test_the_rendered_config_is_a_valid_broker_config(chart: Chart) -> None:
    config = parse_config(rendered_config(by_kind(chart.manifests())), "chart ConfigMap")
    assert config.server.address == "0.0.0.0:50051"
    assert config.metrics.port == 9464
    assert config.store.url == "sqlite:////var/lib/dualtrack/dualtrack.sqlite"
    assert [(b.name, b.kind, b.settings.get("inCluster")) for b in config.backends] == [("volcano", "volcano", True)]


def test_ports_agree_between_config_container_service_and_probes(chart: Chart) -> None:
    manifests = by_kind(chart.manifests({"server": {"grpcPort": 6000}, "metrics": {"port": 9100}}))
    config = rendered_config(manifests)
    broker = manifests["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    container_ports = {p["name"]: p["containerPort"] for p in broker["ports"]}
    service_ports = {p["name"]: (p["port"], p["targetPort"]) for p in manifests["Service"]["spec"]["ports"]}
    assert config["server"]["address"].endswith(":6000") and config["metrics"]["port"] == 9100
    assert container_ports == {"grpc": 6000, "metrics": 9100}
    assert service_ports == {"grpc": (6000, "grpc"), "metrics": (9100, "metrics")}
    assert broker["readinessProbe"]["grpc"]["port"] == 6000
    assert broker["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    selector = manifests["Service"]["spec"]["selector"]
    assert selector.items() <= manifests["Deployment"]["spec"]["template"]["metadata"]["labels"].items()


def test_rbac_covers_what_the_volcano_adapter_touches(chart: Chart) -> None:
    manifests = by_kind(chart.manifests())
    granted = {(group, resource): set(rule["verbs"]) for rule in manifests["ClusterRole"]["rules"]
               for group in rule["apiGroups"] for resource in rule["resources"]}
    assert {"create", "delete", "get", "list", "watch"} <= granted[("batch.volcano.sh", "jobs")]
    for read_only in (("scheduling.volcano.sh", "podgroups"), ("scheduling.volcano.sh", "queues"),
                      ("topology.volcano.sh", "hypernodes"), ("", "nodes"), ("", "pods")):
        assert {"get", "list", "watch"} <= granted[read_only], read_only
    subject = manifests["ClusterRoleBinding"]["subjects"][0]
    assert subject == {"kind": "ServiceAccount", "name": "rel-dualtrack", "namespace": "gpu"}
    assert "ClusterRole" not in by_kind(chart.manifests({"rbac": {"create": False}}))


def test_servicemonitor_and_prometheusrule_are_toggles(chart: Chart) -> None:
    manifests = by_kind(chart.manifests({"serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
                                         "prometheusRule": {"enabled": True, "labels": {"release": "kps"}}}))
    monitor = manifests["ServiceMonitor"]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= manifests["Service"]["metadata"]["labels"].items()
    assert manifests["PrometheusRule"]["metadata"]["labels"]["release"] == "kps"


def test_the_prometheusrule_carries_exactly_the_rules_file(chart: Chart) -> None:
    manifests = by_kind(chart.manifests({"prometheusRule": {"enabled": True}}))
    assert manifests["PrometheusRule"]["spec"]["groups"] == load_rules()["groups"]
    annotations = manifests["PrometheusRule"]["spec"]["groups"][1]["rules"][0]["annotations"]
    assert "{{ $labels.backend }}" in annotations["summary"]


def test_the_prometheusrule_template_is_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_generator_escapes_alert_templates_for_helm() -> None:
    spec = importlib.util.spec_from_file_location("gen_prometheusrule", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    text = generator.render("# header\ngroups:\n  - name: g\n    rules: []  # {{ $value }}\n")
    assert "    rules: []  # {{`{{ $value }}`}}\n" in text
    assert text.startswith("{{- if .Values.prometheusRule.enabled }}") and text.endswith("{{- end }}\n")


def test_postgres_store_reads_the_url_from_a_secret(chart: Chart, tmp_path: Path) -> None:
    url = "postgresql+psycopg://broker:s3cret@db:5432/dualtrack"
    manifests = by_kind(chart.manifests({"store": {"kind": "postgres", "postgres": {"url": url}}}))
    assert "PersistentVolumeClaim" not in manifests
    secret = manifests["Secret"]
    assert secret["stringData"] == {"url": url}
    assert url not in manifests["ConfigMap"]["data"]["config.yaml"]
    assert rendered_config(manifests)["store"]["url"] == "${DUALTRACK_STORE_URL}"
    render = manifests["Deployment"]["spec"]["template"]["spec"]["initContainers"][0]
    assert render["env"][0]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": "url"}
    # Run the init container's script as it would run in the pod, on this machine's paths.
    (tmp_path / "template").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "template" / "config.yaml").write_text(manifests["ConfigMap"]["data"]["config.yaml"])
    script = render["command"][2].replace("/etc/dualtrack-template", str(tmp_path / "template"))
    script = script.replace("/etc/dualtrack/", f"{tmp_path / 'out'}/")
    assert render["command"][:2] == ["python", "-c"]
    subprocess.run([sys.executable, "-c", script], env={"DUALTRACK_STORE_URL": url}, check=True, timeout=60)
    config = parse_config(yaml.safe_load((tmp_path / "out" / "config.yaml").read_text()), "rendered")
    assert config.store.url == url


def test_postgres_with_an_existing_secret_creates_none(chart: Chart) -> None:
    manifests = by_kind(chart.manifests({"store": {"kind": "postgres", "postgres": {"existingSecret": "db-url"}}}))
    assert "Secret" not in manifests
    render = manifests["Deployment"]["spec"]["template"]["spec"]["initContainers"][0]
    assert render["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "db-url"


def test_postgres_without_a_url_or_secret_is_refused(chart: Chart) -> None:
    with pytest.raises(TemplateError, match=re.escape("store.postgres.url or store.postgres.existingSecret")):
        chart.manifests({"store": {"kind": "postgres"}})


def test_the_renderer_refuses_constructs_it_does_not_know(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: x\nversion: 0.1.0\n")
    (tmp_path / "values.yaml").write_text("items: [1]\n")
    (tmp_path / "templates" / "a.yaml").write_text("{{ range .Values.items }}x{{ end }}\n")
    with pytest.raises(TemplateError, match="'range' is not supported"):
        Chart(tmp_path)
