"""Cluster models in virtual time, shared by the Kubernetes API simulator and the trace replay.

- ``volcano``: nodes, Volcano queues with GPU capability, all-or-nothing gangs, binpack, network-topology tiers;
- ``slurm``: nodes, partitions, the switch tree, priority order plus backfill judged by time limits,
  ``--switches`` with its wait and a ``sbatch --test-only``-like start estimate.

Both are plain Python with no threads or I/O, driven by the caller's clock (docs/simulation.md).
"""
