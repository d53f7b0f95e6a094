"""``dualtrack serve``: the broker process. Loads the configuration, starts ``server.workers`` API processes
(worker 0 in this process, the others spawned and tied to it), and in each: the asyncio gRPC server, the
/metrics endpoint (metrics.port + worker index) and the reconciler, which runs its steps only while it
holds the store's lease. SIGINT/SIGTERM stop everything gracefully.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dualtrack.broker.cli.output import console, fail

if TYPE_CHECKING:
    from dualtrack.broker.config import BrokerConfig
    from dualtrack.broker.context import BrokerContext


def run_broker(config: Path | None, address: str | None, log_level: str) -> None:
    """Run the broker until SIGINT/SIGTERM: worker 0 here, workers 1..n-1 as child processes."""
    from dualtrack.broker.config import ConfigError, load_config

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apscheduler", "alembic", "kubernetes.client.rest"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        fail(f"invalid configuration {exc.source}", [str(i) for i in exc.issues], code=2)
    children = _start_extra_workers(config, address, log_level, cfg.server.workers)
    try:
        _run_worker(config, address, 0, cfg.server.workers)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(timeout=20)


def _start_extra_workers(config: Path | None, address: str | None, log_level: str, workers: int) -> list[Any]:
    """Workers 1..n-1 as separate processes (spawned, so each has its own interpreter and event loop)."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    children = []
    for index in range(1, workers):
        child = spawn.Process(target=_worker_process, args=(config, address, log_level, index, workers),
                              name=f"dualtrack-worker-{index}")
        child.start()
        children.append(child)
    return children


def _worker_process(config: Path | None, address: str | None, log_level: str, index: int, workers: int) -> None:
    _die_with_parent()
    logging.basicConfig(level=log_level.upper(),
                        format=f"%(asctime)s %(levelname)s worker-{index} %(name)s: %(message)s")
    _run_worker(config, address, index, workers)


def _die_with_parent() -> None:
    """A worker must not outlive the broker process that started it (kill -9 included): Linux PDEATHSIG."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _run_worker(config: Path | None, address: str | None, index: int, workers: int) -> None:
    import prometheus_client

    from dualtrack.broker.config import ConfigError, load_config
    from dualtrack.broker.context import build_context
    from dualtrack.broker.gc_tuning import tune_for_serving

    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # halves scrape size; the *_created series are unused
    try:
        cfg = load_config(config)
        ctx = build_context(cfg)
    except ConfigError as exc:
        fail(f"invalid configuration {exc.source}", [str(i) for i in exc.issues], code=2)
    tune_for_serving()  # startup's objects are frozen: see docs/api.md, "Garbage collection"
    try:
        asyncio.run(_serve(ctx, cfg, address, index, workers))
    finally:
        ctx.metrics.close()
        ctx.close()


async def _serve(ctx: BrokerContext, cfg: BrokerConfig, address: str | None, index: int, workers: int) -> None:
    from dualtrack.broker.api.server import start_server
    from dualtrack.broker.reconciler import Reconciler

    try:
        bound = await start_server(ctx, address, share_port=workers > 1)
    except RuntimeError as exc:
        fail(str(exc))
    metrics_port = None
    if cfg.metrics.port is not None:
        metrics_port = ctx.metrics.serve(cfg.metrics.host, cfg.metrics.port + index if cfg.metrics.port else 0)
    reconciler = Reconciler(ctx)
    if cfg.reconciler.enabled:
        reconciler.start()
    if index == 0:
        listen = address or cfg.server.address
        host = listen.rsplit(":", 1)[0]
        console.print(f"dualtrack broker listening on {host}:{bound.port}"
                      + (f" ({workers} worker processes)" if workers > 1 else ""))
        console.print(f"  store    {_redact(ctx.store.url)}")
        for backend in ctx.backends:
            console.print(f"  backend  {backend.name} ({backend.kind}, track {backend.track})")
        if metrics_port is not None:
            console.print(f"  metrics  http://{cfg.metrics.host}:{metrics_port}/metrics")
        sys.stdout.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if index == 0:
        console.print("shutting down")
    ctx.stopping.set()
    await bound.stop(grace=2.0)
    await asyncio.to_thread(reconciler.stop)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
