"""A Kubernetes API simulator with a Volcano-like controller and gang scheduler (issue 4).

Modules: model (the cluster and gang scheduler, virtual-time capable), crd (schema validation), resources,
selectors, store, patching, seed (initial Node and HyperNode objects), controller (vcjob -> podgroup + pods),
tables (kubectl output), server (HTTP), config (cluster file, kubeconfig), main (command line), kubelet (pods of
``run: process`` nodes as local processes).
Test and demo infrastructure: the broker's adapters never import it.
"""
