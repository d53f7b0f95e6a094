"""What a container starts with: its environment and its command line, as the kubelet and the container
runtime compute them. Pure functions over the pod object.

- ``container_env(pod, container, image_env, extra)``: the image's ``Env`` first, then the runtime's
  ``HOSTNAME``, then the container's ``env`` in order (``value`` with ``$(VAR)`` references to variables
  defined before it, ``valueFrom.fieldRef`` of metadata.name / namespace / uid, metadata.labels['k'],
  metadata.annotations['k'], spec.nodeName, spec.serviceAccountName, status.podIP / hostIP), then ``extra``
  (the kubelet's GPU variables). A ``valueFrom`` the simulator cannot resolve (secrets, config maps) raises
  ``ValueError`` naming the variable.
- ``container_argv(container, env, entrypoint, cmd)``: Kubernetes' rule for command/args versus the image's
  ENTRYPOINT/CMD, with ``$(VAR)`` expanded from the container's environment.
- ``expand(text, env)``: Kubernetes' expansion: ``$$`` is ``$``; ``$(NAME)`` is NAME's value, or stays as
  written when NAME is undefined.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_FIELD = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")
Obj = Mapping[str, Any]


def expand(text: str, env: Mapping[str, str]) -> str:
    """See the module docstring."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(env[name] if name in env else text[i : end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def field_value(pod: Obj, path: str) -> str:
    """A downward-API ``fieldRef.fieldPath`` of ``pod``; ValueError for a path the kubelet does not support."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
              "status.podIP": status.get("podIP"), "status.hostIP": status.get("hostIP")}
    if path in simple:
        return str(simple[path] or "")
    match = _FIELD.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise ValueError(f"fieldRef.fieldPath {path!r} is not supported")


def pod_hostname(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"])


def container_env(pod: Obj, container: Obj, image_env: Sequence[str] = (),
                  extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of ``container`` (see the module docstring)."""
    env: dict[str, str] = {}
    for item in image_env:
        name, sep, value = item.partition("=")
        if sep and name:
            env[name] = value
    env["HOSTNAME"] = pod_hostname(pod)
    defined: dict[str, str] = {}
    for var in container.get("env") or ():
        name = var.get("name")
        if not name:
            continue
        if "valueFrom" in var:
            source = var["valueFrom"] or {}
            if "fieldRef" not in source:
                raise ValueError(f"env {name}: valueFrom {', '.join(sorted(source))} is not supported by the "
                                 "simulator's kubelet (only fieldRef)")
            try:
                value = field_value(pod, str(source["fieldRef"].get("fieldPath", "")))
            except ValueError as exc:
                raise ValueError(f"env {name}: {exc}") from None
        else:
            value = expand(str(var.get("value", "")), defined)
        defined[name] = value
    env.update(defined)
    env.update(extra or {})
    return env


def container_argv(container: Obj, env: Mapping[str, str], entrypoint: Sequence[str] = (),
                   cmd: Sequence[str] = ()) -> list[str]:
    """command + args, each falling back to the image's ENTRYPOINT / CMD as Kubernetes does; ValueError when
    nothing is left to run."""
    command = [expand(str(a), env) for a in container.get("command") or ()]
    args = [expand(str(a), env) for a in container.get("args") or ()]
    if command:
        argv = command + args
    elif args:
        argv = list(entrypoint) + args
    else:
        argv = list(entrypoint) + list(cmd)
    if not argv:
        raise ValueError("the container has no command and its image no ENTRYPOINT or CMD")
    return argv


def remap_ports(env: Mapping[str, str], ports: Mapping[int, int]) -> dict[str, str]:
    """Variables whose whole value is a declared container port get the host port the kubelet gave it
    (pods share the host's network; see docs/kubernetes.md, "The process kubelet")."""
    by_text = {str(k): str(v) for k, v in ports.items()}
    return {k: by_text.get(v, v) for k, v in env.items()}
