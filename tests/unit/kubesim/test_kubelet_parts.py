"""The process kubelet's pure parts: Kubernetes' $(VAR) expansion, the downward API, command/args against
ENTRYPOINT/CMD, port remapping, /etc/hosts, the bubblewrap command line, the model's per-pod finish, and the
``kubelet:`` / ``run:`` configuration keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from dualtrack.sim.kubeapi.config import load_cluster
from dualtrack.sim.kubeapi.kubelet.config import parse_kubelet
from dualtrack.sim.kubeapi.kubelet.podenv import container_argv, container_env, expand, remap_ports
from dualtrack.sim.kubeapi.kubelet.rootfs import split_reference
from dualtrack.sim.kubeapi.kubelet.sandbox import Mount, hosts_file, sandbox_argv
from dualtrack.sim.kubeapi.model import FAILED, RUNNING, SUCCEEDED, ClusterModel, Gang, PodRequest, SimNode

POD = {"metadata": {"name": "j-worker-1", "namespace": "ns", "uid": "u1", "labels": {"app": "yolo"},
                    "annotations": {"volcano.sh/task-index": "1"}},
       "spec": {"nodeName": "gpu-1", "hostname": "j-worker-1", "subdomain": "j"}, "status": {"podIP": "10.0.0.9"}}


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("$(A)-$(B)", {"A": "1", "B": "2"}, "1-2"),
    ("$(MISSING)", {}, "$(MISSING)"),  # undefined: left as written
    ("$$(A)", {"A": "1"}, "$(A)"),  # escaped
    ("$A $(A", {"A": "1"}, "$A $(A"),  # not a reference
])
def test_expand_follows_kubernetes(text: str, env: dict[str, str], expected: str) -> None:
    assert expand(text, env) == expected


def test_env_resolves_field_refs_in_order_over_the_image_env() -> None:
    container = {"env": [
        {"name": "NODE_RANK",
         "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['volcano.sh/task-index']"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "WHERE", "value": "$(APP)@$(NODE_RANK)"},
        {"name": "LATER", "value": "$(AFTER)"}, {"name": "AFTER", "value": "x"},
        {"name": "PATH", "value": "/opt/bin"}]}
    env = container_env(POD, container, ["PATH=/usr/bin", "IMG=1"], {"CUDA_VISIBLE_DEVICES": "2"})
    assert env["NODE_RANK"] == "1" and env["APP"] == "yolo" and env["WHERE"] == "yolo@1"
    assert env["LATER"] == "$(AFTER)"  # only variables defined before
    assert env["PATH"] == "/opt/bin" and env["IMG"] == "1" and env["HOSTNAME"] == "j-worker-1"
    assert env["CUDA_VISIBLE_DEVICES"] == "2"


def test_an_unsupported_value_from_names_the_variable() -> None:
    with pytest.raises(ValueError, match="env TOKEN: valueFrom secretKeyRef"):
        container_env(POD, {"env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s"}}}]})


@pytest.mark.parametrize(("container", "expected"), [
    ({"command": ["a"], "args": ["$(X)"]}, ["a", "1"]),
    ({"args": ["b"]}, ["/entry", "b"]),  # args replace CMD, keep ENTRYPOINT
    ({}, ["/entry", "cmd"]),
])
def test_command_and_args_against_the_image(container: dict[str, list[str]], expected: list[str]) -> None:
    assert container_argv(container, {"X": "1"}, ["/entry"], ["cmd"]) == expected


def test_nothing_to_run_is_an_error() -> None:
    with pytest.raises(ValueError, match="no command"):
        container_argv({}, {})


def test_declared_ports_are_remapped_in_env_values() -> None:
    assert remap_ports({"MASTER_PORT": "29500", "OTHER": "295001"}, {29500: 41000}) == {
        "MASTER_PORT": "41000", "OTHER": "295001"}


def test_hosts_file_puts_every_gang_member_on_loopback() -> None:
    text = hosts_file("j-worker-1", [["j-worker-0.j", "j-worker-0"], ["j-worker-1.j", "j-worker-1"]])
    assert "127.0.0.1\tj-worker-0.j j-worker-0\n" in text and "127.0.0.1\tlocalhost" in text
    assert text.count("j-worker-1") == 2  # not added twice


def test_sandbox_binds_the_base_read_only_and_supplies_etc(tmp_path: Path) -> None:
    base = tmp_path / "rootfs"
    (base / "usr").mkdir(parents=True)
    (base / "etc").mkdir()
    (base / "etc" / "hosts").write_text("image")
    (base / "etc" / "passwd").write_text("root")
    (base / "bin").symlink_to("usr/bin")
    argv = sandbox_argv(base, hostname="h", hosts=tmp_path / "hosts", argv=["run", "--x"], workdir="/w",
                        mounts=[Mount("/data/sub", tmp_path), Mount("/data", tmp_path, True), Mount("/dev/shm")])
    text = " ".join(argv)
    assert f"--ro-bind {base}/usr /usr" in text and "--symlink usr/bin /bin" in text
    assert f"--ro-bind {base}/etc/passwd /etc/passwd" in text and f"{base}/etc/hosts" not in text
    assert f"--ro-bind {tmp_path}/hosts /etc/hosts" in text
    assert text.index(f"--ro-bind {tmp_path} /data ") < text.index(f"--bind {tmp_path} /data/sub")
    assert "--tmpfs /dev/shm" in text and argv[-4:] == ["/w", "--", "run", "--x"]


def test_a_mount_point_missing_inside_a_read_only_image_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "usr").mkdir()
    with pytest.raises(ValueError, match="mountPath /usr/data"):
        sandbox_argv(tmp_path, hostname="h", hosts=tmp_path / "hosts", argv=["x"],
                     mounts=[Mount("/usr/data", tmp_path)])


def test_split_reference() -> None:
    assert split_reference("reg:5000/a/b:1@sha256:ab") == ("reg:5000/a/b", "1", "sha256:ab")
    assert split_reference("reg:5000/a/b") == ("reg:5000/a/b", None, None)


def _running_gang(model: ClusterModel) -> Gang:
    gang = model.add_gang(Gang("ns/j/u/1", [PodRequest("p0", gpus=1), PodRequest("p1", gpus=1)], 2,
                               run_seconds=float("inf")))
    model.step()
    assert gang.state == RUNNING and model.nodes["n"].used_gpus == 2
    return gang


def test_finish_pod_success_waits_for_every_member() -> None:
    model = ClusterModel([SimNode("n", gpus=2)])
    gang = _running_gang(model)
    model.finish_pod(gang.key, "p0", 0)
    assert gang.state == RUNNING and model.nodes["n"].used_gpus == 1 and gang.results["p0"].phase == SUCCEEDED
    assert model.finish_pod(gang.key, "p0", 0) is None  # not running any more
    model.finish_pod(gang.key, "p1", 0)
    assert gang.state == SUCCEEDED and model.nodes["n"].used_gpus == 0 and model.queues["default"].allocated_gpus == 0


def test_finish_pod_failure_fails_the_gang_and_marks_the_rest_killed() -> None:
    model = ClusterModel([SimNode("n", gpus=2)])
    gang = _running_gang(model)
    model.finish_pod(gang.key, "p1", 3, "Error")
    assert gang.state == FAILED and model.nodes["n"].used_gpus == 0
    assert (gang.results["p1"].exit_code, gang.results["p1"].reason) == (3, "Error")
    assert (gang.results["p0"].phase, gang.results["p0"].reason) == (FAILED, "Killed")


def test_kubelet_config_keys(tmp_path: Path) -> None:
    cfg = parse_kubelet({"stateDir": "/s", "imageLayouts": ["/l"], "claims": {"c": "/d"}, "gracePeriodSeconds": 2})
    assert cfg.state_dir == Path("/s") and cfg.image_layouts == [Path("/l")] and cfg.claims == {"c": Path("/d")}
    with pytest.raises(ValueError, match=r"kubelet.claims.c: must be an absolute path"):
        parse_kubelet({"claims": {"c": "rel"}})
    with pytest.raises(ValueError, match=r"kubelet.bogus: unknown key"):
        parse_kubelet({"bogus": 1})
    path = tmp_path / "cluster.yaml"
    path.write_text("nodes:\n- {count: 2, namePrefix: p-, gpus: 2, run: process}\n- {name: s-1, gpus: 2}\n"
                    "kubelet: {gracePeriodSeconds: 1}\n")
    cluster = load_cluster(path)
    assert cluster.process_nodes == {"p-1", "p-2"} and cluster.kubelet.grace_period_seconds == 1
    path.write_text("nodes:\n- {name: x, run: docker}\n")
    with pytest.raises(ValueError, match=r"nodes\[0\].run: must be one of simulated, process"):
        load_cluster(path)


def test_the_kube_yolo_demo_files_fit_together() -> None:
    """examples/config/kube-yolo.yaml (broker) and examples/sim/kube-process-yolo.yaml (simulator): the claims
    the adapter renders are the ones the kubelet maps, on the same checkpoint root."""
    from dualtrack.adapters.volcano.settings import parse_settings
    from dualtrack.broker.config import load_config
    from dualtrack.broker.domain import parse_spec_yaml
    from dualtrack.broker.images import ImageSettings

    repo = Path(__file__).resolve().parents[3]
    config = load_config(repo / "examples" / "config" / "kube-yolo.yaml")
    (backend,) = config.backends
    settings = parse_settings(backend.name, backend.settings)
    cluster = load_cluster(repo / "examples" / "sim" / "kube-process-yolo.yaml")
    spec = parse_spec_yaml((repo / "examples" / "yolo-cpu-tiny.yaml").read_text()).spec
    claims = {settings.datasets.get(d, d) for d in spec.datasets} | {settings.checkpoint_claim}
    assert claims <= set(cluster.kubelet.claims)
    assert str(cluster.kubelet.claims[str(settings.checkpoint_claim)]) == settings.checkpoint_root
    assert cluster.process_nodes and spec.image in ImageSettings.from_mapping(config.images).sources
