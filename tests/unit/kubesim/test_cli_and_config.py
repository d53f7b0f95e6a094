"""The ``dualtrack kubesim`` sub-app and the cluster file: bad input is a clear error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from dualtrack.broker.cli.kubesim_cmd import app
from dualtrack.sim.kubeapi.config import load_cluster, write_kubeconfig


def test_serve_refuses_a_bad_cluster_file_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "cluster.yaml"
    bad.write_text("nodes: [{count: 2, gpus: -1}]\n")
    root = typer.Typer()
    root.add_typer(app, name="kubesim")  # as the lead mounts it: dualtrack kubesim serve
    result = CliRunner().invoke(root, ["kubesim", "serve", "--port", "0", "--cluster", str(bad)])
    assert result.exit_code == 2
    assert "nodes[0].gpus: must be >= 0" in result.output


def test_cluster_file(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump({
        "nodes": [{"count": 3, "namePrefix": "a-", "gpus": 4, "nodesPerSwitch": 2},
                  {"name": "h-1", "gpus": 8, "product": "NVIDIA-H100-80GB-HBM3", "switch": "leaf9", "clique": "c1",
                   "memory": "1Ti", "taints": []}],
        "queues": [{"name": "vision", "gpuCapability": 8}], "namespaces": ["team-a"]}))
    cluster = load_cluster(path)
    assert [(n.name, n.gpus, n.switch) for n in cluster.nodes] == [
        ("a-1", 4, "leaf1"), ("a-2", 4, "leaf1"), ("a-3", 4, "leaf2"), ("h-1", 8, "leaf9")]
    h1 = cluster.nodes[3]
    assert (h1.clique, h1.memory, h1.taints, cluster.nodes[0].taints[0]["key"]) == (
        "c1", 1024**4, [], "nvidia.com/gpu")
    assert [(q.name, q.gpu_capability) for q in cluster.queues] == [("default", None), ("vision", 8)]
    assert cluster.namespaces == ["default", "team-a"]


@pytest.mark.parametrize(("text", "message"), [
    ("nodes: []\n", "at least one node"),
    ("nodes: [{gpus: 1}]\n", "nodes[0].name: required"),
    ("nodes: [{name: a}, {name: a}]\n", "duplicate node names"),
    ("nodes: [{name: a, memory: lots}]\n", "nodes[0].memory:"),
    ("nodes: [{name: a}]\nqueues: [{name: q, gpuCapability: many}]\n", "queues[0].gpuCapability"),
])
def test_bad_cluster_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_cluster(path)


def test_kubeconfig_is_private_and_loadable(tmp_path: Path) -> None:
    from kubernetes import client, config

    path = tmp_path / "sub" / "kubeconfig"
    write_kubeconfig(path, "http://127.0.0.1:16443", "secret")
    assert path.stat().st_mode & 0o777 == 0o600
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=cfg)
    assert cfg.host == "http://127.0.0.1:16443"
    assert "Bearer secret" in cfg.api_key.values()
