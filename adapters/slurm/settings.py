"""Validated settings of one Slurm backend (``backends[<name>].settings`` in the broker config).

Called by ``adapters.slurm.from_config``. ``parse_settings(name, raw)`` returns a frozen ``SlurmSettings`` or
raises ``ValueError`` naming the offending key, e.g. ``backends[slurm-local].settings.partition: ...``.
Keys are camelCase; see docs/slurm.md for the reference. String values that end up in ``#SBATCH`` lines or in
commands (partition, qos, accounts, GRES types, paths) are restricted to safe characters here, so nothing from
the config can break the rendered script. Paths may use ``${VAR}`` (expanded from the broker's environment).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

TRANSPORTS = ("cli", "ssh", "rest")
RUNTIMES = ("apptainer", "singularity", "sif-bwrap", "none")
REST_API_VERSIONS = ("v0.0.38", "v0.0.39", "v0.0.40", "v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44")
AUTO_VERSION = "auto"  # the newest of REST_API_VERSIONS the server offers (docs/slurm.md, "API versions")
SLURM_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")  # partition, qos, account, GRES type
SAFE_PATH = re.compile(r"^/[A-Za-z0-9_.+@%/=,:-]*$")  # absolute, no spaces, quotes or shell syntax
HOST = re.compile(r"^[A-Za-z0-9_.:-]{1,253}$")
# The fallback runtime ships inside this package (docs/images.md section 7), so pip-installed brokers have it too.
DEFAULT_SIF_RUNNER = str(files(__package__ or "dualtrack.adapters.slurm").joinpath("sif-run"))
DEFAULT_DATASET_MOUNT = "/datasets"


@dataclass(frozen=True)
class SshSettings:
    host: str
    port: int = 22
    user: str | None = None
    identity_file: str | None = None
    options: tuple[str, ...] = ()  # extra ``-o Key=Value`` options


@dataclass(frozen=True)
class RestSettings:
    url: str
    user: str = "root"
    token: str | None = None
    token_file: str | None = None
    api_version: str = "v0.0.38"
    timeout_s: float = 30.0


@dataclass(frozen=True)
class ContainerSettings:
    runtime: str = "apptainer"
    image_dir: str | None = None
    binds: tuple[str, ...] = ()
    sif_runner: str = DEFAULT_SIF_RUNNER


@dataclass(frozen=True)
class SlurmSettings:
    transport: str = "cli"
    partition: str = "gpu"
    qos: str | None = None
    accounts: Mapping[str, str] = field(default_factory=dict)
    gpu_types: Mapping[str, str] = field(default_factory=dict)
    output_dir: str = "/tmp"
    slurm_conf: str | None = None
    ssh: SshSettings | None = None
    rest: RestSettings | None = None
    container: ContainerSettings = field(default_factory=ContainerSettings)
    datasets: Mapping[str, str] = field(default_factory=dict)
    master_port: int = 29500
    command_timeout_s: float = 30.0
    priority_qos: Mapping[str, str] = field(default_factory=dict)  # low/normal/high -> QoS (overrides qos)
    priority_nice: Mapping[str, int] = field(default_factory=dict)  # low/normal/high -> --nice value
    # host folder bound read-write at /checkpoints; YOLO run dirs live below it (docs/yolo.md#checkpoints)
    checkpoint_root: str | None = None


KNOWN = {
    "transport", "partition", "qos", "accounts", "gpuTypes", "outputDir", "slurmConf", "ssh", "rest",
    "container", "datasets", "masterPort", "commandTimeout", "priorityQos", "priorityNice", "checkpointRoot",
}
PRIORITY_CLASS_KEYS = ("low", "normal", "high")  # the spec's named priority classes (docs/spec.md)
NICE_LIMIT = 2147483645  # sbatch --nice bound; negative values need a Slurm operator or administrator


class _Checker:
    """Collects the path prefix ``backends[<name>].settings`` and raises ValueError with it."""

    def __init__(self, backend: str):
        self.prefix = f"backends[{backend}].settings"

    def fail(self, key: str, message: str) -> ValueError:
        return ValueError(f"{self.prefix}.{key}: {message}")

    def mapping(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping, got {type(value).__name__}")
        return value

    def string(self, value: Any, key: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty string")
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, f"{value!r} is not {what or 'allowed'}")
        return value

    def path(self, value: Any, key: str) -> str:
        text = os.path.expandvars(self.string(value, key))
        if not SAFE_PATH.match(text):
            raise self.fail(key, f"{text!r} must be an absolute path of letters, digits and _.+@%/=,:- only")
        return text

    def integer(self, value: Any, key: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be an integer")
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}")
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(key, "must be a positive number of seconds")
        return float(value)

    def unknown(self, given: Mapping[str, Any], known: set[str], key: str = "") -> None:
        extra = sorted(set(given) - known)
        if extra:
            where = f"{key}.{extra[0]}" if key else extra[0]
            raise self.fail(where, f"unknown setting (known: {', '.join(sorted(known))})")


def _ssh(c: _Checker, raw: Any) -> SshSettings:
    data = c.mapping(raw, "ssh")
    c.unknown(data, {"host", "port", "user", "identityFile", "options"}, "ssh")
    if "host" not in data:
        raise c.fail("ssh.host", "required when transport is ssh")
    options = data.get("options", [])
    if not isinstance(options, list) or not all(isinstance(o, str) and "=" in o for o in options):
        raise c.fail("ssh.options", "must be a list of Key=Value ssh options")
    return SshSettings(
        host=c.string(data["host"], "ssh.host", HOST, "a host name"),
        port=c.integer(data.get("port", 22), "ssh.port", 1, 65535),
        user=c.string(data["user"], "ssh.user", SLURM_NAME, "a user name") if "user" in data else None,
        identity_file=c.path(data["identityFile"], "ssh.identityFile") if "identityFile" in data else None,
        options=tuple(options),
    )


def _rest(c: _Checker, raw: Any) -> RestSettings:
    data = c.mapping(raw, "rest")
    c.unknown(data, {"url", "user", "token", "tokenFile", "apiVersion", "timeout"}, "rest")
    if "url" not in data:
        raise c.fail("rest.url", "required when transport is rest")
    url = os.path.expandvars(c.string(data["url"], "rest.url"))
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
        raise c.fail("rest.url", f"{url!r} is not an http(s) URL")
    if "token" not in data and "tokenFile" not in data:
        raise c.fail("rest.tokenFile", "one of rest.token or rest.tokenFile is required (a JWT from scontrol token)")
    version = data.get("apiVersion", "v0.0.38")
    if version not in (*REST_API_VERSIONS, AUTO_VERSION):
        raise c.fail("rest.apiVersion", f"{version!r} is not one of {', '.join(REST_API_VERSIONS)}, {AUTO_VERSION}")
    return RestSettings(
        url=url.rstrip("/"),
        user=c.string(data.get("user", "root"), "rest.user", SLURM_NAME, "a user name"),
        token=c.string(data["token"], "rest.token") if "token" in data else None,
        token_file=c.path(data["tokenFile"], "rest.tokenFile") if "tokenFile" in data else None,
        api_version=version,
        timeout_s=c.number(data.get("timeout", 30), "rest.timeout"),
    )


def _container(c: _Checker, raw: Any) -> ContainerSettings:
    data = c.mapping(raw, "container")
    c.unknown(data, {"runtime", "imageDir", "binds", "sifRunner"}, "container")
    runtime = data.get("runtime", "apptainer")
    if runtime not in RUNTIMES:
        raise c.fail("container.runtime", f"{runtime!r} is not one of {', '.join(RUNTIMES)}")
    binds = data.get("binds", [])
    if not isinstance(binds, list):
        raise c.fail("container.binds", "must be a list of src[:dst[:ro]] paths")
    checked = []
    for i, bind in enumerate(binds):
        text = c.string(bind, f"container.binds[{i}]")
        if not SAFE_PATH.match(text):
            raise c.fail(f"container.binds[{i}]", f"{text!r} must be src[:dst[:ro]] with absolute paths")
        checked.append(text)
    image_dir = c.path(data["imageDir"], "container.imageDir") if "imageDir" in data else None
    if runtime != "none" and image_dir is None:
        raise c.fail("container.imageDir", f"required for runtime {runtime} (where the SIF files are)")
    return ContainerSettings(
        runtime=runtime,
        image_dir=image_dir,
        binds=tuple(checked),
        sif_runner=c.path(data.get("sifRunner", DEFAULT_SIF_RUNNER), "container.sifRunner"),
    )


def _name_map(c: _Checker, raw: Any, key: str, value_pattern: re.Pattern[str], what: str) -> dict[str, str]:
    data = c.mapping(raw, key)
    out = {}
    for k, v in data.items():
        if not isinstance(k, str) or not k:
            raise c.fail(key, "keys must be non-empty strings")
        out[k] = c.string(v, f"{key}.{k}", value_pattern, what)
    return out


def _priority_keys(c: _Checker, data: Mapping[str, Any], key: str) -> None:
    for name in data:
        if name not in PRIORITY_CLASS_KEYS:
            raise c.fail(f"{key}.{name}", f"must be one of {', '.join(PRIORITY_CLASS_KEYS)}")


def _priority_qos(c: _Checker, raw: Any) -> dict[str, str]:
    mapped = _name_map(c, raw, "priorityQos", SLURM_NAME, "a Slurm QOS name")
    _priority_keys(c, mapped, "priorityQos")
    return mapped


def _priority_nice(c: _Checker, raw: Any) -> dict[str, int]:
    data = c.mapping(raw, "priorityNice")
    _priority_keys(c, data, "priorityNice")
    return {str(k): c.integer(v, f"priorityNice.{k}", -NICE_LIMIT, NICE_LIMIT) for k, v in data.items()}


def parse_settings(backend: str, raw: Mapping[str, Any]) -> SlurmSettings:
    """Validate ``raw``; raises ValueError naming the first bad key."""
    c = _Checker(backend)
    if not isinstance(raw, Mapping):
        raise ValueError(f"{c.prefix}: must be a mapping")
    c.unknown(raw, KNOWN)
    transport = raw.get("transport", "cli")
    if transport not in TRANSPORTS:
        raise c.fail("transport", f"{transport!r} is not one of {', '.join(TRANSPORTS)}")
    ssh = _ssh(c, raw["ssh"]) if "ssh" in raw else None
    rest = _rest(c, raw["rest"]) if "rest" in raw else None
    if transport == "ssh" and ssh is None:
        raise c.fail("ssh", "required when transport is ssh")
    if transport == "rest" and rest is None:
        raise c.fail("rest", "required when transport is rest")
    datasets = {}
    for k, v in c.mapping(raw.get("datasets", {}), "datasets").items():
        datasets[str(k)] = c.path(v, f"datasets.{k}")
    return SlurmSettings(
        transport=transport,
        partition=c.string(raw.get("partition", "gpu"), "partition", SLURM_NAME, "a Slurm partition name"),
        qos=c.string(raw["qos"], "qos", SLURM_NAME, "a Slurm QOS name") if raw.get("qos") is not None else None,
        accounts=_name_map(c, raw.get("accounts", {}), "accounts", SLURM_NAME, "a Slurm account name"),
        gpu_types=_name_map(c, raw.get("gpuTypes", {}), "gpuTypes", SLURM_NAME, "a Slurm GRES type"),
        output_dir=c.path(raw.get("outputDir", "/tmp"), "outputDir"),
        slurm_conf=c.path(raw["slurmConf"], "slurmConf") if raw.get("slurmConf") is not None else None,
        ssh=ssh,
        rest=rest,
        container=_container(c, raw.get("container", {})),
        datasets=datasets,
        master_port=c.integer(raw.get("masterPort", 29500), "masterPort", 1024, 65535),
        command_timeout_s=c.number(raw.get("commandTimeout", 30), "commandTimeout"),
        priority_qos=_priority_qos(c, raw.get("priorityQos", {})),
        priority_nice=_priority_nice(c, raw.get("priorityNice", {})),
        checkpoint_root=c.path(raw["checkpointRoot"], "checkpointRoot") if raw.get("checkpointRoot") else None,
    )
