"""CRD schema handling (int-or-string, pruning, 422 causes) and label/field selectors."""

from __future__ import annotations

from typing import Any

import pytest

from dualtrack.sim.kubeapi.crd import load_crds, pruned_copy, to_json_schema, validate
from dualtrack.sim.kubeapi.selectors import parse_field_selector, parse_label_selector
from dualtrack.sim.kubeapi.server import DEFAULT_CRD_DIR


@pytest.fixture(scope="module")
def crds() -> dict[str, Any]:
    return {c.plural: c for c in load_crds(DEFAULT_CRD_DIR)}


def test_the_three_volcano_crds_load(crds: dict[str, Any]) -> None:
    assert {(c.group, c.version, c.kind, c.namespaced) for c in crds.values()} == {
        ("batch.volcano.sh", "v1alpha1", "Job", True), ("scheduling.volcano.sh", "v1beta1", "PodGroup", True),
        ("scheduling.volcano.sh", "v1beta1", "Queue", False)}


def test_int_or_string_accepts_both_and_nothing_else() -> None:
    schema = to_json_schema({"type": "object", "properties": {"q": {"x-kubernetes-int-or-string": True,
                                                                     "anyOf": [{"type": "integer"},
                                                                               {"type": "string"}]},
                                                               "bare": {"x-kubernetes-int-or-string": True}}})
    import jsonschema

    v = jsonschema.Draft7Validator(schema)
    assert v.is_valid({"q": 4, "bare": "4Gi"}) and v.is_valid({"q": "4", "bare": 4})
    assert not v.is_valid({"q": [4]})
    assert not v.is_valid({"bare": 4.5})
    assert not v.is_valid({"bare": {"a": 1}})


def test_queue_capability_quantities(crds: dict[str, Any]) -> None:
    queue = {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "metadata": {"name": "q"},
             "spec": {"capability": {"nvidia.com/gpu": 8, "memory": "64Gi"}}}
    assert validate(crds["queues"], queue) == []
    queue["spec"]["capability"]["cpu"] = ["8"]
    causes = validate(crds["queues"], queue)
    assert [c["field"] for c in causes] == ["spec.capability.cpu"]


def test_causes_name_fields_like_an_api_server(crds: dict[str, Any]) -> None:
    job = {"spec": {"minAvailable": "x", "policies": [{"event": "Nope"}], "tasks": [{"replicas": -1}]}}
    causes = {c["field"]: c for c in validate(crds["jobs"], job)}
    assert causes["spec.minAvailable"]["reason"] == "FieldValueTypeInvalid"
    assert "must be of type integer" in causes["spec.minAvailable"]["message"]
    assert causes["spec.policies[0].event"]["reason"] == "FieldValueNotSupported"
    assert "spec.tasks[0].replicas" in causes


def test_unknown_fields_are_pruned_and_reported(crds: dict[str, Any]) -> None:
    job = {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": "j", "anything": 1},
           "spec": {"minAvailable": 1, "typo": True, "tasks": [{"replicas": 1, "extra": 1, "template": {
               "spec": {"containers": [{"name": "c", "image": "i", "bogus": 1}]}}}]}}
    pruned, dropped = pruned_copy(crds["jobs"], job)
    assert sorted(dropped) == ["spec.tasks[0].extra", "spec.tasks[0].template.spec.containers[0].bogus", "spec.typo"]
    assert "typo" not in pruned["spec"] and job["spec"]["typo"] is True  # the input is left alone
    assert pruned["metadata"]["anything"] == 1  # metadata is not the schema's business here


@pytest.mark.parametrize(("selector", "names"), [
    ("", ["a", "b", "c"]), ("app=x", ["a", "b"]), ("app==x,tier!=db", ["a"]), ("tier", ["b"]),
    ("!tier", ["a", "c"]), ("app in (x, y)", ["a", "b", "c"]), ("app notin (x)", ["c"]),
])
def test_label_selectors(selector: str, names: list[str]) -> None:
    objs = [{"metadata": {"name": "a", "labels": {"app": "x"}}},
            {"metadata": {"name": "b", "labels": {"app": "x", "tier": "db"}}},
            {"metadata": {"name": "c", "labels": {"app": "y"}}}]
    match = parse_label_selector(selector)
    assert [o["metadata"]["name"] for o in objs if match(o)] == names


def test_field_selectors() -> None:
    pods = [{"metadata": {"name": "p1"}, "status": {"phase": "Running"}, "spec": {"nodeName": "n1"}},
            {"metadata": {"name": "p2"}, "status": {"phase": "Succeeded"}, "spec": {}}]
    live = parse_field_selector("status.phase!=Succeeded,status.phase!=Failed")
    assert [p["metadata"]["name"] for p in pods if live(p)] == ["p1"]
    assert [p["metadata"]["name"] for p in pods if parse_field_selector("spec.nodeName=n1")(p)] == ["p1"]
    with pytest.raises(ValueError):
        parse_field_selector("nonsense")
