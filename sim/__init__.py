"""Models of both kinds of cluster in virtual time and the tools built on them (docs/simulation.md).

``sim.kubeapi`` is the Kubernetes API + Volcano simulator that tests and the demo talk to through the official
client. Nothing in ``broker``, ``adapters`` or ``policies`` imports this package: it is test and evaluation
tooling, kept out of the product.
"""
