"""``dualtrack kubesim serve``: run the Kubernetes API + Volcano simulator in the foreground.

The lead mounts ``app`` as ``dualtrack kubesim`` (``main.app.add_typer(kubesim_cmd.app, name="kubesim")``).
Same entry point as ``python -m dualtrack.sim.kubeapi``: prints the URL, writes the kubeconfig, serves until
SIGINT/SIGTERM. Exit code 2 for a bad cluster file or a port in use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dualtrack.sim.kubeapi.main import run
from dualtrack.sim.kubeapi.server import DEFAULT_CRD_DIR

app = typer.Typer(help="A local Kubernetes API with a Volcano-like gang scheduler, for tests and demos.",
                  no_args_is_help=True)


@app.callback()
def kubesim() -> None:
    """A local Kubernetes API with a Volcano-like gang scheduler (see docs/kubernetes.md)."""


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1; 0 picks a free one.")] = 16443,
    nodes: Annotated[int, typer.Option(help="GPU nodes (ignored with --cluster).")] = 4,
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node.")] = 8,
    nodes_per_switch: Annotated[int, typer.Option(help="Nodes under each leaf switch.")] = 2,
    gpu_product: Annotated[str, typer.Option(help="Value of the nvidia.com/gpu.product label.")] = (
        "NVIDIA-A100-SXM4-80GB"),
    cluster: Annotated[Path | None, typer.Option(help="YAML file of nodes, queues and namespaces.")] = None,
    kubeconfig_out: Annotated[Path | None, typer.Option(help="Write a kubeconfig for clients here.")] = None,
    crd_dir: Annotated[Path, typer.Option(help="Folder of the Volcano CRDs used for validation.")] = DEFAULT_CRD_DIR,
    token: Annotated[str | None, typer.Option(help="Bearer token clients must send (default: random).")] = None,
    run_seconds: Annotated[float, typer.Option(help="How long pods run unless scripted.")] = 30.0,
) -> None:
    """Serve the simulator until interrupted."""
    try:
        run(port=port, nodes=nodes, gpus_per_node=gpus_per_node, nodes_per_switch=nodes_per_switch,
            gpu_product=gpu_product, cluster_file=cluster, kubeconfig_out=kubeconfig_out, crd_dir=crd_dir,
            token=token, run_seconds=run_seconds)
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
