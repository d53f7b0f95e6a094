"""Broker configuration: one YAML file, or the embedded defaults when none is given.

``load_config(path)`` returns a ``BrokerConfig`` or raises ``ConfigError`` listing every problem with its
field path (``backends[0].kind: ...``). Sections owned by other parts (``policies``, ``images`` and each
backend's ``settings``) are kept as plain mappings here; their owners' models check them in the same pass
(``broker.config_sections``) and build the typed settings when the broker starts.

The embedded defaults run the broker on a SQLite file in the user's data directory against the two local
clusters this project can start itself: the Slurm cluster of ``scripts/slurm/start.sh`` and the Kubernetes
API simulator of ``scripts/kubesim/start.sh``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dualtrack.broker.config_refs import resolve_references
from dualtrack.broker.config_sections import section_issues
from dualtrack.broker.domain.limits import quote
from dualtrack.broker.domain.quantity import parse_duration
from dualtrack.broker.domain.spec import DNS1123_LABEL, FieldIssue, issues_from_validation

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADDRESS = "127.0.0.1:50051"
ADDRESS_ENV = "DUALTRACK_ADDRESS"
CONFIG_ENV = "DUALTRACK_CONFIG"


class ConfigError(ValueError):
    """The configuration is invalid; ``issues`` lists every problem with its field path."""

    def __init__(self, source: str, issues: list[FieldIssue]):
        self.source = source
        self.issues = issues
        super().__init__(f"{source}: " + "; ".join(str(i) for i in issues))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _tenant_name(value: str) -> str:
    if len(value) > 40 or not DNS1123_LABEL.fullmatch(value):
        raise ValueError(f"tenant {quote(value)} is not a DNS-1123 label of at most 40 characters")
    return value


class TlsConfig(_Section):
    """docs/security.md: TLS with certFile/keyFile; mutual TLS (client certificates required) with
    clientCaFile. The files are read again when they change."""

    cert_file: Path = Field(alias="certFile")
    key_file: Path = Field(alias="keyFile")
    client_ca_file: Path | None = Field(default=None, alias="clientCaFile")
    # client certificate subject alternative name (DNS name, URI or e-mail) -> tenant ("*" = every tenant);
    # without a match the tenant is the certificate's subject CN
    san_tenants: dict[str, str] = Field(default_factory=dict, alias="sanTenants")

    @field_validator("san_tenants")
    @classmethod
    def _tenants(cls, v: dict[str, str]) -> dict[str, str]:
        for tenant in v.values():
            if tenant != "*":
                _tenant_name(tenant)
        return v


class ServerConfig(_Section):
    address: str = DEFAULT_ADDRESS
    max_workers: int = Field(default=32, ge=1, le=1024, alias="maxWorkers")  # threads for blocking handlers
    # API processes sharing the port (SO_REUSEPORT): Python serves one core per process. All of them accept
    # submissions and serve reads; the store's lease lets exactly one reconcile. Worker i serves /metrics on
    # metrics.port + i.
    workers: int = Field(default=1, ge=1, le=64)
    tls: TlsConfig | None = None
    # an extra plaintext listener serving only grpc.health.v1 (for probes that cannot present a client
    # certificate); None: health is served on ``address`` only
    health_address: str | None = Field(default=None, alias="healthAddress")


class MetricsConfig(_Section):
    host: str = "127.0.0.1"
    port: int | None = Field(default=9464, ge=0, le=65535)  # None disables the /metrics endpoint
    # tenants labelled by name besides those of auth.tokens; every other tenant is labelled "other"
    tenants: list[str] = Field(default_factory=list)

    @field_validator("tenants")
    @classmethod
    def _tenants(cls, v: list[str]) -> list[str]:
        return [_tenant_name(t) for t in v]


class StoreConfig(_Section):
    url: str | None = None  # None: a SQLite file in the user's data directory
    group_commit_max: int = Field(default=512, ge=1, le=100_000, alias="groupCommitMax")

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        data_dir = Path(os.environ.get("DUALTRACK_DATA_DIR") or user_data_dir("dualtrack"))
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{data_dir / 'dualtrack.sqlite'}"


class ReconcilerConfig(_Section):
    interval_seconds: float = Field(default=2.0, gt=0, le=3600, alias="intervalSeconds")
    # while wake-ups keep coming (submissions, cancels), the least time from the end of one cycle to the start of
    # the next: bounds the reconciler's share of the process under sustained load (docs/lifecycle.md)
    wake_gap_seconds: float = Field(default=0.25, ge=0, le=60, alias="wakeGapSeconds")
    enabled: bool = True
    backend_down_after: int = Field(default=3, ge=1, alias="backendDownAfter")  # failed snapshots in a row
    missing_grace_seconds: float = Field(default=30.0, ge=0, alias="missingGraceSeconds")
    time_limit_grace_seconds: float = Field(default=60.0, ge=0, alias="timeLimitGraceSeconds")
    default_pending_timeout: int | None = Field(default=None, alias="defaultPendingTimeout")
    # a job on a backend that has been down this long moves to another backend (None: it waits for it);
    # a YOLO job resumes there from its last checkpoint (docs/lifecycle.md, "Backend outages")
    down_reroute_after: int | None = Field(default=None, alias="downRerouteAfter")
    retry_backoff_seconds: float = Field(default=5.0, ge=0, alias="retryBackoffSeconds")
    leader_lease_seconds: float = Field(default=15.0, gt=0, alias="leaderLeaseSeconds")
    # Cancel backend jobs named dt-<id>-<n> whose id this broker's store does not know. Off by default: another
    # broker (staging, a second installation) may share the cluster; turn on when the store was restored.
    cancel_unknown_jobs: bool = Field(default=False, alias="cancelUnknownJobs")
    # waiting jobs per cycle for which backends with their own estimate (sbatch --test-only) are asked
    start_estimate_jobs: int = Field(default=8, ge=0, le=1000, alias="startEstimateJobs")

    @field_validator("default_pending_timeout", "down_reroute_after", mode="before")
    @classmethod
    def _timeout(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)


class AuthConfig(_Section):
    # bearer token -> tenant it acts for ("*" = every tenant). Empty: no authentication (local use).
    # A key is the token itself, "sha256:<64 hex digits>" (its hash), "file:<path>" (a file holding it)
    # or "env:<NAME>" (an environment variable holding it); docs/security.md.
    tokens: dict[str, str] = Field(default_factory=dict)

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, v: dict[str, str]) -> dict[str, str]:
        for key, tenant in v.items():
            if tenant != "*":
                _tenant_name(tenant)
            if key.startswith("sha256:") and not re.fullmatch(r"sha256:[0-9a-f]{64}", key):
                raise ValueError("a sha256: token is 64 lowercase hex digits")
            if not key.strip():
                raise ValueError("a token may not be empty")
        return v

    def tenants(self) -> set[str]:
        """The tenants the tokens act for (without "*")."""
        return {t for t in self.tokens.values() if t != "*"}


class BackendConfig(_Section):
    name: str
    kind: str
    settings: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class BrokerConfig(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    reconciler: ReconcilerConfig = Field(default_factory=ReconcilerConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    backends: list[BackendConfig] = Field(default_factory=list)
    policies: dict[str, Any] = Field(default_factory=dict)
    images: dict[str, Any] = Field(default_factory=dict)

    @field_validator("backends")
    @classmethod
    def _unique(cls, v: list[BackendConfig]) -> list[BackendConfig]:
        names = [b.name for b in v]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"backend names must be unique; repeated: {', '.join(duplicates)}")
        return v


def embedded_defaults() -> dict[str, Any]:
    """The configuration used when no file is given: the local clusters this project starts itself."""
    slurm_dir = Path(os.environ.get("DUALTRACK_SLURM_DIR", "/var/tmp/dualtrack-slurm"))
    kube_dir = Path(os.environ.get("DUALTRACK_KUBESIM_DIR", "/var/tmp/dualtrack-kubesim"))
    return {
        "backends": [
            {
                "name": "slurm-local",
                "kind": "slurm",
                "settings": {
                    "transport": "cli",
                    "partition": "gpu",
                    "slurmConf": str(slurm_dir / "etc" / "slurm.conf"),
                    "outputDir": str(slurm_dir / "output"),
                    "container": {"runtime": "none"},
                },
            },
            {
                "name": "kube-local",
                "kind": "volcano",
                "settings": {"kubeconfig": str(kube_dir / "kubeconfig"), "namespace": "default"},
            },
        ],
    }


def parse_config(data: Any, source: str = "<config>") -> BrokerConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [FieldIssue("", "the configuration must be a YAML mapping")])
    # One pass reports everything: unresolvable ${...} references, the broker's own sections (pydantic, every
    # problem) and each owner's block (policies, images, every backend's settings; docs/configuration.md).
    data, issues = resolve_references(data)
    config: BrokerConfig | None = None
    try:
        config = BrokerConfig.model_validate(data)
    except ValidationError as exc:
        issues += issues_from_validation(exc)
    issues += section_issues(data)
    if issues or config is None:
        # one issue per path, the first: an unresolvable reference explains the empty value a block then rejects
        first: dict[str, FieldIssue] = {}
        for issue in issues:
            first.setdefault(issue.path, issue)
        raise ConfigError(source, list(first.values()))
    return config


def load_config(path: str | Path | None = None) -> BrokerConfig:
    """Load ``path`` (or $DUALTRACK_CONFIG); without either, the embedded defaults. Raises ConfigError."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        return parse_config(embedded_defaults(), "<embedded defaults>")
    file = Path(chosen)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(str(file), [FieldIssue("", f"cannot read: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(file), [FieldIssue("", f"malformed YAML: {exc}")]) from None
    return parse_config(data, str(file))
