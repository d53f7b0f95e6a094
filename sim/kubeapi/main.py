"""Command line of the Kubernetes API simulator: ``python -m dualtrack.sim.kubeapi`` / ``dualtrack kubesim serve``.

``run(...)`` starts the simulator, prints its URL, writes the kubeconfig, and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from dualtrack.sim.kubeapi.config import default_cluster, load_cluster, write_kubeconfig
from dualtrack.sim.kubeapi.server import DEFAULT_CRD_DIR, KubeSim


def run(*, host: str = "127.0.0.1", port: int = 16443, nodes: int = 4, gpus_per_node: int = 8,
        nodes_per_switch: int = 2, gpu_product: str = "NVIDIA-A100-SXM4-80GB", cluster_file: Path | None = None,
        kubeconfig_out: Path | None = None, crd_dir: Path = DEFAULT_CRD_DIR, token: str | None = None,
        run_seconds: float = 30.0) -> None:
    """Serve until interrupted. Raises ValueError for a bad cluster file, OSError when the port is taken."""
    cluster = load_cluster(cluster_file) if cluster_file else default_cluster(
        nodes, gpus_per_node, nodes_per_switch, gpu_product)
    sim = KubeSim(cluster, host=host, port=port, crd_dir=crd_dir, token=token, default_run_seconds=run_seconds)
    sim.start()
    if kubeconfig_out:
        write_kubeconfig(kubeconfig_out, sim.url, sim.token)
    print(sim.url, flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    sim.stop()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dualtrack.sim.kubeapi",
                                description="Kubernetes API + Volcano simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=16443, help="0 picks a free port")
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--gpus-per-node", type=int, default=8)
    p.add_argument("--nodes-per-switch", type=int, default=2)
    p.add_argument("--gpu-product", default="NVIDIA-A100-SXM4-80GB")
    p.add_argument("--cluster", type=Path, help="YAML file of nodes, queues, namespaces (overrides --nodes...)")
    p.add_argument("--kubeconfig-out", type=Path)
    p.add_argument("--crd-dir", type=Path, default=DEFAULT_CRD_DIR)
    p.add_argument("--token", help="bearer token clients must send (default: random)")
    p.add_argument("--run-seconds", type=float, default=30.0, help="how long pods run unless scripted")
    return p


def main(argv: list[str] | None = None) -> None:
    a = parser().parse_args(argv)
    run(host=a.host, port=a.port, nodes=a.nodes, gpus_per_node=a.gpus_per_node,
        nodes_per_switch=a.nodes_per_switch, gpu_product=a.gpu_product, cluster_file=a.cluster,
        kubeconfig_out=a.kubeconfig_out, crd_dir=a.crd_dir, token=a.token, run_seconds=a.run_seconds)
