"""``RestTransport``: slurmrestd with a JWT (``X-SLURM-USER-NAME`` / ``X-SLURM-USER-TOKEN``), standard library
only. See ``transport.SlurmTransport`` for the contract.

Paths: ``/slurm/<v>/{job/submit, jobs, job/<id>, nodes, partitions, ping, diag}`` and ``/slurmdb/<v>/job/<id>``
for jobs that left slurmctld. ``apiVersion: auto`` resolves the version on first use (``/openapi/v3``, else
``ping`` probes). Request shapes: v0.0.38 (22.05/23.02: ``nodes: [min, max]``, ``gres``, plain integers,
``environment`` as an object) and v0.0.39+ (v0.0.41 to v0.0.44 from the specs: ``minimum_nodes``,
``tres_per_node``, ``{set, number}`` integers, ``environment`` as ``["K=V"]``, ``required_switches``).
slurmrestd ignores ``#SBATCH`` lines, so every directive travels as a JSON field; the script is the same text.
Not available over REST: ``sbatch --test-only`` (``test_only`` returns None), the switch tree (``topology``
returns []), and on v0.0.38 ``--switches`` (no such field; the adapter lists it as unsupported). The image
directory is listed from the broker's side (``list_dir``), which assumes it is shared with the site.
The token is re-read from ``tokenFile`` when the file changes, so it can be rotated without a restart.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from dualtrack.adapters.base import BackendUnavailable, SubmitRejected
from dualtrack.adapters.slurm.health import health_from_ping, with_diag
from dualtrack.adapters.slurm.parsers import errors_of, number, parse_jobs, parse_nodes, parse_partitions
from dualtrack.adapters.slurm.records import JobRecord, NodeRecord, PartitionRecord, SwitchRecord, TestOnlyResult
from dualtrack.adapters.slurm.render import BatchRequest, script_text
from dualtrack.adapters.slurm.settings import AUTO_VERSION, REST_API_VERSIONS, RestSettings
from dualtrack.adapters.slurm.transport import looks_unreachable
from dualtrack.broker.domain import ControllerHealth

_AUTH_FAILURES = ("authentication failure", "authentication does not apply to request", "invalid authentication")
_CANCEL_DONE = ("invalid job id", "already completing or completed", "job has already finished", "not found")


class SlurmAuthError(BackendUnavailable):
    """slurmrestd refused the configured user/token (expired, wrong key, missing); the message names the token
    source. A BackendUnavailable: the broker marks the backend down until the token is renewed."""


def is_auth_failure(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _AUTH_FAILURES)


def _set(value: int) -> dict[str, Any]:
    return {"set": True, "infinite": False, "number": value}


def job_description(request: BatchRequest, api_version: str) -> dict[str, Any]:
    """The ``job`` object of a submit request for ``api_version`` (see the module docstring)."""
    common: dict[str, Any] = {
        "name": request.name,
        "comment": request.comment,
        "partition": request.partition,
        "tasks_per_node": request.ntasks_per_node,
        "cpus_per_task": request.cpus_per_task,
        "standard_output": request.output,
        "current_working_directory": request.workdir,
        "requeue": False,  # the script's --no-requeue
    }
    if request.qos:
        common["qos"] = request.qos
    if request.nice is not None:
        common["nice"] = request.nice
    if request.account:
        common["account"] = request.account
    if api_version == "v0.0.38":
        job = {
            **common,
            "nodes": [request.nodes, request.nodes],
            "tasks": request.nodes * request.ntasks_per_node,  # without it 22.05 allocates one node
            "memory_per_node": request.mem_mb,
            "time_limit": request.time_minutes,
            "environment": dict(request.environment),
        }
        if request.gres:
            job["gres"] = request.gres
        return job
    job = {
        **common,
        "script": script_text(request),
        "minimum_nodes": request.nodes,
        "maximum_nodes": request.nodes,
        "tasks": request.nodes * request.ntasks_per_node,
        "memory_per_node": _set(request.mem_mb),
        "time_limit": _set(request.time_minutes),
        "environment": [f"{k}={v}" for k, v in request.environment.items()],
    }
    if request.gres:
        job["tres_per_node"] = "gres/" + request.gres
    if request.switches:
        count, _, wait = request.switches.partition("@")
        job["required_switches"] = _set(int(count))
        if wait:
            job["wait_for_switch"] = int(wait) * 60
    return job


def endpoint_paths(api_version: str) -> dict[str, str]:
    """The path templates this transport calls, as the version's OpenAPI spec spells them (collections end
    with a slash; slurmrestd 22.05 answers both forms)."""
    slash = "/"
    slurm, slurmdb = f"/slurm/{api_version}", f"/slurmdb/{api_version}"
    return {
        "submit": f"{slurm}/job/submit",
        "jobs": f"{slurm}/jobs{slash}",
        "job": f"{slurm}/job/{{job_id}}",
        "nodes": f"{slurm}/nodes{slash}",
        "partitions": f"{slurm}/partitions{slash}",
        "history": f"{slurmdb}/job/{{job_id}}",
        "ping": f"{slurm}/ping{slash}",
        "diag": f"{slurm}/diag{slash}",
    }


def submit_body(request: BatchRequest, api_version: str) -> dict[str, Any]:
    """The POST body of ``job/submit``: v0.0.38 takes the script beside ``job``; v0.0.39+ inside it (the
    top-level ``script`` is deprecated there)."""
    job = job_description(request, api_version)
    if api_version == "v0.0.38":
        return {"script": script_text(request), "job": job}
    return {"job": job}


def offered_versions(openapi: Any) -> list[str]:
    """The ``/slurm/<version>/`` API versions an ``/openapi/v3`` document lists, oldest first."""
    paths = openapi.get("paths") if isinstance(openapi, dict) else None
    found = {m.group(1) for p in paths or {} if (m := re.match(r"^/slurm/(v\d+\.\d+\.\d+)/", str(p)))}
    return sorted(found, key=lambda v: tuple(int(x) for x in v[1:].split(".")))


def pick_version(offered: Sequence[str]) -> str | None:
    """The newest version both the server offers and this adapter speaks; None when there is none."""
    common = [v for v in REST_API_VERSIONS if v in offered]
    return common[-1] if common else None


class RestTransport:
    def __init__(self, rest: RestSettings):
        self._rest = rest
        self._token: str | None = rest.token
        self._token_mtime: float | None = None
        self._version: str | None = None if rest.api_version == AUTO_VERSION else rest.api_version
        self._paths: dict[str, str] = {}

    @property
    def api_version(self) -> str:
        """The API version in use: the configured one, or for ``auto`` the one found on first contact
        (``auto`` until then)."""
        return self._version or AUTO_VERSION

    def resolve_version(self) -> str:
        """The version to talk in; for ``auto`` asks the server once: the paths of ``/openapi/v3``, else a
        ``ping`` of each known version, newest first. Raises BackendUnavailable when none answers."""
        if self._version is None:
            self._version = self._discover_version()
        return self._version

    def _discover_version(self) -> str:
        try:
            status, doc = self._call("GET", self._rest.url + "/openapi/v3")
        except SlurmAuthError:
            raise
        except BackendUnavailable:
            status, doc = 0, {}
        picked = pick_version(offered_versions(doc)) if status == 200 else None
        if picked:
            return picked
        tried = []
        for version in reversed(REST_API_VERSIONS):
            try:
                status, doc = self._call("GET", f"{self._rest.url}/slurm/{version}/ping/")
            except SlurmAuthError:
                raise
            except BackendUnavailable as exc:
                tried.append(f"{version}: {exc}")
                continue
            if status == 200 and isinstance(doc.get("pings"), list):
                return version
            tried.append(f"{version}: HTTP {status}")
        raise BackendUnavailable(f"slurmrestd {self._rest.url} speaks none of {', '.join(REST_API_VERSIONS)} "
                                 f"(/openapi/v3 and ping probes: {'; '.join(tried[-3:])})")

    def _current_token(self) -> str:
        path = self._rest.token_file
        if path:
            try:
                mtime = os.stat(path).st_mtime
                if mtime != self._token_mtime:
                    with open(path, encoding="utf-8") as handle:
                        self._token = handle.read().strip().removeprefix("SLURM_JWT=")
                    self._token_mtime = mtime
            except OSError as exc:
                raise BackendUnavailable(f"cannot read slurmrestd token file {path}: {exc}") from exc
        if not self._token:
            raise BackendUnavailable("no slurmrestd token configured")
        return self._token

    def _url(self, name: str, job_id: str = "") -> str:
        if not self._paths:
            self._paths = endpoint_paths(self.resolve_version())
        return self._rest.url + self._paths[name].replace("{job_id}", job_id)

    def token_source(self) -> str:
        """Where the token comes from, for error messages (never the token itself)."""
        if self._rest.token_file:
            return f"rest.tokenFile {self._rest.token_file}"
        return "rest.token"

    def _call(self, method: str, url: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """(HTTP status, decoded JSON). Raises ``SlurmAuthError`` when slurmrestd refuses the credentials,
        whatever the content type of its answer (401 text/plain ``Authentication failure`` on 22.05 to 25.05,
        500 ``Authentication does not apply to request`` on 25.11), and BackendUnavailable for transport
        errors and answers that are not JSON (quoting the start of the body)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "X-SLURM-USER-NAME": self._rest.user,
            "X-SLURM-USER-TOKEN": self._current_token(),
            "Content-Type": "application/json",
            "Accept": "application/json",
        })
        try:
            with urllib.request.urlopen(request, timeout=self._rest.timeout_s) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise BackendUnavailable(f"slurmrestd {self._rest.url}: {exc}") from exc
        text = raw.decode("utf-8", "replace").strip()
        try:
            doc = json.loads(text) if text else {}
        except json.JSONDecodeError:
            doc = None
        errors = errors_of(doc) if isinstance(doc, dict) else [text]
        if status in (401, 403) or any(is_auth_failure(e) for e in errors):
            reason = "; ".join(errors) or "no reason given"
            raise SlurmAuthError(
                f"slurmrestd {self._rest.url} refused the token of user {self._rest.user} from "
                f"{self.token_source()} (HTTP {status}: {reason}); renew it with 'scontrol token'")
        if doc is None:
            raise BackendUnavailable(f"slurmrestd {method} {url}: HTTP {status}, not JSON: {text[:200]!r}")
        return status, doc if isinstance(doc, dict) else {}

    def _get(self, url: str) -> dict[str, Any]:
        status, doc = self._call("GET", url)
        errors = errors_of(doc)
        if status >= 400 or errors:
            raise BackendUnavailable(f"slurmrestd GET {url}: HTTP {status} {'; '.join(errors)}")
        return doc

    # ---------------------------------------------------------------------------------------- protocol
    def submit(self, request: BatchRequest) -> str:
        url = self._url("submit")
        status, doc = self._call("POST", url, submit_body(request, self.resolve_version()))
        errors = errors_of(doc)
        job_id = number(doc.get("job_id"))
        if job_id and not errors:
            return str(job_id)
        message = "; ".join(errors) or f"HTTP {status} without a job id"
        if looks_unreachable(message):
            raise BackendUnavailable(f"slurmrestd submit: {message}")
        raise SubmitRejected(f"slurmrestd: {message}")

    def test_only(self, request: BatchRequest) -> TestOnlyResult | None:
        return None

    def jobs(self) -> list[JobRecord]:
        return parse_jobs(self._get(self._url("jobs")))

    def history(self, job_ids: Sequence[str]) -> list[JobRecord]:
        out: list[JobRecord] = []
        for job_id in job_ids:
            status, doc = self._call("GET", self._url("history", job_id))
            if status < 400 and isinstance(doc.get("jobs"), list):
                out += parse_jobs(doc)
        return out

    def nodes(self) -> list[NodeRecord]:
        return parse_nodes(self._get(self._url("nodes")))

    def partitions(self) -> list[PartitionRecord]:
        return parse_partitions(self._get(self._url("partitions")))

    def topology(self) -> list[SwitchRecord]:
        return []

    def cancel(self, job_id: str) -> None:
        status, doc = self._call("DELETE", self._url("job", job_id))
        errors = errors_of(doc)
        if status < 400 and not errors:
            return
        message = "; ".join(errors).lower()
        if any(m in message for m in _CANCEL_DONE):
            return
        raise BackendUnavailable(f"slurmrestd DELETE job {job_id}: HTTP {status} {message}")

    def controller(self) -> ControllerHealth:
        """``GET ping`` (latency from the answer, else the measured round trip) and, when up, ``GET diag``'s
        scheduler figures (left out when diag fails: they are extras)."""
        started = time.monotonic()
        ping = self._get(self._url("ping"))
        health = health_from_ping(ping, time.monotonic() - started)
        if not health.up:
            return health
        try:
            status, diag = self._call("GET", self._url("diag"))
        except SlurmAuthError:
            raise
        except BackendUnavailable:
            return health
        statistics = diag.get("statistics")
        return with_diag(health, statistics) if status == 200 and isinstance(statistics, dict) else health

    def list_dir(self, path: str) -> list[str]:
        """slurmrestd cannot list files: the broker's own view of ``path`` (a shared image directory)."""
        try:
            return os.listdir(path)
        except OSError:
            return []

    def close(self) -> None:
        return None
