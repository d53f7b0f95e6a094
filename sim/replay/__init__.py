"""Trace replay: real GPU-cluster traces in virtual time through the broker's own reconciler steps and
policies, against baselines, on the models of ``sim.models`` (docs/simulation.md)."""
