"""The bubblewrap command line that runs one container, and the files it binds (/etc/hosts, Volcano's host
files). Pure functions: nothing here starts a process.

``sandbox_argv(base, ...)`` composes the container's root in bwrap's own tmpfs root: every top-level entry of
``base`` (the image's unpacked rootfs, or the host's ``/``) is bound read-only (symlinks re-created), ``/etc``
is a fresh folder holding the base's entries except ``hosts``, ``hostname`` and ``resolv.conf``, which the
kubelet supplies; ``/proc``, ``/dev`` (with ``/dev/shm``) and ``/sys`` are the sandbox's, ``/tmp`` and ``/run``
are empty tmpfs. The pod gets its own PID, IPC and UTS namespaces (hostname = the pod's hostname) and the
host's network, so gang members reach each other on 127.0.0.1. Then the pod's volumes are mounted (``Mount``),
shallowest first. ``--die-with-parent``: the container dies with the simulator.

A mount target inside a read-only base folder must exist in the base (bwrap cannot create it there):
``ValueError`` names it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SKIPPED_TOP = {"proc", "dev", "sys", "tmp", "run", "etc"}
SUPPLIED_ETC = {"hosts", "hostname", "resolv.conf"}
HOST_RESOLV = Path("/etc/resolv.conf")


@dataclass(frozen=True)
class Mount:
    """One volume mount: ``source`` None is a fresh tmpfs (an ``emptyDir`` of medium Memory)."""

    target: str
    source: Path | None = None
    read_only: bool = False


def hosts_file(own_hostname: str, names: Iterable[Sequence[str]]) -> str:
    """/etc/hosts of a pod: localhost, its own hostname and every gang member's names, all on 127.0.0.1."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    seen_own = False
    for aliases in names:
        lines.append("127.0.0.1\t" + " ".join(aliases))
        seen_own = seen_own or own_hostname in aliases
    if not seen_own:
        lines.append(f"127.0.0.1\t{own_hostname}")
    return "\n".join(lines) + "\n"


def _entries(folder: Path, target: str, skip: set[str]) -> list[str]:
    args: list[str] = []
    for name in sorted(os.listdir(folder)):
        if name in skip:
            continue
        path, dest = folder / name, f"{target.rstrip('/')}/{name}"
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), dest]
        else:
            args += ["--ro-bind", str(path), dest]
    return args


def _check_target(base: Path, target: str) -> None:
    parts = Path(target).parts[1:]
    if not parts or parts[0] in SKIPPED_TOP or not (base / parts[0]).exists() or len(parts) == 1:
        return
    existing = base.joinpath(*parts)
    if not existing.exists():
        raise ValueError(f"mountPath {target}: the folder does not exist in the image and its parent "
                         f"/{parts[0]} is read-only")


def sandbox_argv(base: Path, *, hostname: str, hosts: Path, argv: Sequence[str], workdir: str = "/",
                 mounts: Sequence[Mount] = (), etc_files: Sequence[tuple[Path, str]] = ()) -> list[str]:
    """The bwrap argv (see the module docstring). ``etc_files``: (host file, target) bound read-only after
    /etc is composed (e.g. Volcano's host files at /etc/volcano)."""
    args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--hostname", hostname]
    args += _entries(base, "/", SKIPPED_TOP)
    args += ["--proc", "/proc", "--dev", "/dev", "--ro-bind", "/sys", "/sys", "--tmpfs", "/tmp", "--tmpfs", "/run"]
    args += ["--dir", "/etc"]
    if (base / "etc").is_dir():
        args += _entries(base / "etc", "/etc", SUPPLIED_ETC)
    args += ["--ro-bind", str(hosts), "/etc/hosts"]
    if HOST_RESOLV.exists():
        args += ["--ro-bind", str(HOST_RESOLV.resolve()), "/etc/resolv.conf"]
    for source, target in etc_files:
        args += ["--ro-bind", str(source), target]
    for mount in sorted(mounts, key=lambda m: (m.target.count("/"), m.target)):
        _check_target(base, mount.target)
        if mount.source is None:
            args += ["--tmpfs", mount.target]
        else:
            args += ["--ro-bind" if mount.read_only else "--bind", str(mount.source), mount.target]
    args += ["--chdir", workdir or "/", "--", *argv]
    return args
