"""Shared helpers: jobs from the repository's examples, and the upstream vcjob CRD as a JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dualtrack.broker.domain import Job, parse_spec, parse_spec_yaml

REPO = Path(__file__).resolve().parents[4]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
JOBS_CRD = REPO / "tests" / "fixtures" / "volcano" / "batch.volcano.sh_jobs.yaml"


def k8s_schema_to_json_schema(node: Any) -> Any:
    """Kubernetes' openAPIV3Schema dialect -> JSON Schema: int-or-string fields accept integers and strings."""
    if isinstance(node, list):
        return [k8s_schema_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: k8s_schema_to_json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


@pytest.fixture(scope="session")
def vcjob_validator() -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(JOBS_CRD.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return jsonschema.Draft7Validator(k8s_schema_to_json_schema(schema))


def example_job(path: Path, job_id: str = "j0example0001", attempt: int = 1) -> Job:
    return Job(id=job_id, spec=parse_spec_yaml(path.read_text()), attempt=attempt)


def job_from(spec: dict[str, Any], name: str = "unit", tenant: str = "vision", job_id: str = "j0unit0000001") -> Job:
    doc = {"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": name, "tenant": tenant},
           "spec": {"image": "busybox:1.36", "command": ["true"], **spec}}
    return Job(id=job_id, spec=parse_spec(doc))
