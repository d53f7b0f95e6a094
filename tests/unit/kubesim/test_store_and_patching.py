"""The object store's resourceVersion rules and watch log, and the two patch formats."""

from __future__ import annotations

from collections import deque

import pytest

from dualtrack.sim.kubeapi.patching import json_patch, merge_patch
from dualtrack.sim.kubeapi.resources import CORE
from dualtrack.sim.kubeapi.store import ApiError, Store

NODES = next(r for r in CORE if r.plural == "nodes")
PODS = next(r for r in CORE if r.plural == "pods")


def test_resource_versions_conflicts_and_no_op_updates() -> None:
    s = Store()
    created = s.create(PODS, "ns", {"metadata": {"name": "p"}, "spec": {"a": 1}})
    assert created["metadata"]["namespace"] == "ns" and created["kind"] == "Pod"
    with pytest.raises(ApiError) as exists:
        s.create(PODS, "ns", {"metadata": {"name": "p"}})
    assert (exists.value.code, exists.value.reason) == (409, "AlreadyExists")
    rv1 = created["metadata"]["resourceVersion"]
    updated = s.update(PODS, "ns", "p", {**created, "spec": {"a": 2}})
    assert int(updated["metadata"]["resourceVersion"]) > int(rv1) and updated["metadata"]["generation"] == 2
    with pytest.raises(ApiError) as stale:
        s.update(PODS, "ns", "p", {**created, "spec": {"a": 3}})  # carries the old resourceVersion
    assert (stale.value.code, stale.value.reason) == (409, "Conflict")
    same = s.update(PODS, "ns", "p", {"metadata": {"name": "p"}, "spec": {"a": 2}})
    assert same["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]
    with pytest.raises(ApiError) as missing:
        s.get(PODS, "other", "p")
    assert missing.value.code == 404 and missing.value.status()["reason"] == "NotFound"


def test_status_is_kept_on_spec_updates_and_replaced_by_status_updates() -> None:
    s = Store()
    s.create(PODS, "ns", {"metadata": {"name": "p"}, "spec": {}, "status": {"phase": "Running"}})
    kept = s.update(PODS, "ns", "p", {"metadata": {"name": "p"}, "spec": {"x": 1}, "status": {"phase": "Lies"}})
    assert kept["status"] == {"phase": "Running"}
    replaced = s.update(PODS, "ns", "p", {"metadata": {"name": "p"}, "status": {"phase": "Succeeded"}},
                        status_only=True)
    assert replaced["status"] == {"phase": "Succeeded"} and replaced["spec"] == {"x": 1}


def test_watch_log_and_gone() -> None:
    s = Store()
    s.create(NODES, "", {"metadata": {"name": "n1"}})
    start = s.resource_version
    s.create(PODS, "ns", {"metadata": {"name": "p"}})
    s.delete(NODES, "", "n1")
    events = s.events_after(start, NODES.key)
    assert [(e.type, e.obj["metadata"]["name"]) for e in events] == [("DELETED", "n1")]
    small = Store()
    small._log = deque(maxlen=2)  # a log that keeps only the last two events
    for i in range(5):
        small.create(PODS, "ns", {"metadata": {"name": f"p{i}"}})
    assert [e.rv for e in small.events_after(3, PODS.key)] == [4, 5]
    with pytest.raises(ApiError) as gone:
        small.events_after(1, PODS.key)
    assert gone.value.code == 410


def test_merge_patch() -> None:
    doc = {"spec": {"a": 1, "b": {"c": 2}}, "metadata": {"labels": {"x": "1"}}}
    assert merge_patch(doc, {"spec": {"b": None, "d": [1]}, "metadata": {"labels": {"y": "2"}}}) == {
        "spec": {"a": 1, "d": [1]}, "metadata": {"labels": {"x": "1", "y": "2"}}}
    assert doc["spec"]["b"] == {"c": 2}  # the input is not changed


def test_json_patch() -> None:
    doc = {"spec": {"list": [1, 2], "a/b": 0}}
    out = json_patch(doc, [{"op": "add", "path": "/spec/list/-", "value": 3},
                           {"op": "replace", "path": "/spec/a~1b", "value": 9},
                           {"op": "remove", "path": "/spec/list/0"},
                           {"op": "test", "path": "/spec/a~1b", "value": 9}])
    assert out == {"spec": {"list": [2, 3], "a/b": 9}}
    with pytest.raises(ApiError) as failed:
        json_patch(doc, [{"op": "test", "path": "/spec/a~1b", "value": 1}])
    assert failed.value.code == 422


def test_volcano_webhook_defaults() -> None:
    from dualtrack.sim.kubeapi.controller import VolcanoController

    job = {"spec": {"maxRetry": 0, "tasks": [{"replicas": 2}, {"name": "ps", "replicas": 1}]}}
    VolcanoController.mutate(job)
    assert job["spec"] == {"maxRetry": 3, "queue": "default", "schedulerName": "volcano", "minAvailable": 3,
                           "tasks": [{"name": "default0", "replicas": 2}, {"name": "ps", "replicas": 1}]}
    kept = {"spec": {"maxRetry": 1, "minAvailable": 1, "queue": "q", "tasks": []}}
    VolcanoController.mutate(kept)
    assert (kept["spec"]["maxRetry"], kept["spec"]["minAvailable"], kept["spec"]["queue"]) == (1, 1, "q")
