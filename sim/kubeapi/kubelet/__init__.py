"""A process kubelet for the Kubernetes API simulator: pods bound to nodes of a ``run: process`` pool run
their container as a local process (in the image's root filesystem under bubblewrap when the image is a local
OCI layout, else on the host's root filesystem), instead of the timers of ``run: simulated`` nodes.

Modules: config (the ``kubelet:`` section of the cluster file), podenv (environment, command line, ports),
rootfs (OCI layout lookup and unpacking once per digest), sandbox (the bubblewrap command line, /etc/hosts,
Volcano host files), process (one pod's process: start, poll, kill), kubelet (the loop step the Volcano
controller calls, GPU indices, logs). See docs/kubernetes.md, section "The process kubelet".
"""
