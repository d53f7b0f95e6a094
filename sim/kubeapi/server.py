"""The Kubernetes API simulator: a real HTTP server on 127.0.0.1 that the official client and kubectl use.

Caller: ``sim.kubeapi.main`` and tests (``KubeSim(...).start()`` ... ``stop()``). Serves discovery
(``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>[/<version>]``), namespaces, nodes, pods and the
Volcano custom resources (vcjobs, podgroups, queues, hypernodes) with get/list/watch/create/update/patch/delete,
label and field selectors, resourceVersions, 404/409/410/422 ``Status`` answers and Table answers for kubectl.
Custom resources are pruned and validated against the upstream CRD schemas (``crd_dir``).

Pod logs: ``GET /api/v1/namespaces/{ns}/pods/{name}/log[?container=&tailLines=]`` answers the container's
output as text (what ``kubectl logs`` and ``read_namespaced_pod_log`` read): the process kubelet's log file for
pods of ``run: process`` nodes, empty for simulated pods; ``follow`` is not streamed (the text so far).

Simulator-only endpoints (not Kubernetes API; the adapter never calls them):
    POST /simulator/v1/script  {"pattern": "dt-*", "runSeconds": 2, "exitCode": 1, "reason": "Error"}
    GET  /simulator/v1/state   the model: nodes with used GPUs, queues, gangs
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dualtrack.sim.kubeapi import crd as crdlib
from dualtrack.sim.kubeapi.config import ClusterConfig, default_cluster
from dualtrack.sim.kubeapi.controller import Script, VolcanoController
from dualtrack.sim.kubeapi.kubelet.kubelet import ProcessKubelet
from dualtrack.sim.kubeapi.model import GPU, ClusterModel
from dualtrack.sim.kubeapi.patching import json_patch, merge_patch
from dualtrack.sim.kubeapi.resources import Registry, Resource, build_resources
from dualtrack.sim.kubeapi.seed import hypernode_objects, node_object
from dualtrack.sim.kubeapi.selectors import parse_field_selector, parse_label_selector
from dualtrack.sim.kubeapi.store import ApiError, Obj, Store
from dualtrack.sim.kubeapi.tables import to_table

SERVER_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kubesim", "gitCommit": "kubesim",
                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
                  "compiler": "gc", "platform": "linux/amd64"}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# The Volcano CRDs ship inside this package (docs/kubernetes.md), so an installed simulator finds them.
DEFAULT_CRD_DIR = Path(str(files(__package__ or "dualtrack.sim.kubeapi").joinpath("volcano-crds")))
POD_LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")


class KubeSim:
    """The simulator: store, model, controller loop and HTTP server. ``start()`` returns once it answers."""

    def __init__(self, cluster: ClusterConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 crd_dir: Path | None = None, token: str | None = None, default_run_seconds: float = 30.0,
                 tick_seconds: float = 0.1, clock: Callable[[], float] = time.time):
        cluster = cluster or default_cluster()
        self.token = token or secrets.token_hex(16)
        self.store = Store()
        self.registry: Registry = build_resources(crdlib.load_crds(crd_dir or DEFAULT_CRD_DIR))
        self.model = ClusterModel(cluster.nodes, cluster.queues, clock=clock)
        self.kubelet = ProcessKubelet(cluster.kubelet, cluster.process_nodes, {n.name: n.gpus for n in cluster.nodes}
                                      ) if cluster.process_nodes else None
        self.controller = VolcanoController(self.store, self.registry, self.model,
                                            default_run_seconds=default_run_seconds, clock=clock,
                                            kubelet=self.kubelet)
        self.tick_seconds = tick_seconds
        self._seed(cluster)
        self._stop = threading.Event()
        handler = type("BoundHandler", (Handler,), {"sim": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def _seed(self, cluster: ClusterConfig) -> None:
        res = self.registry.by_key
        for ns in cluster.namespaces:
            self.store.create(res[("", "namespaces")], "", {"metadata": {"name": ns}, "status": {"phase": "Active"}})
        for node in cluster.nodes:
            self.store.create(res[("", "nodes")], "", node_object(node))
        for queue in cluster.queues:
            spec: Obj = {"weight": 1, "reclaimable": True}
            if queue.gpu_capability is not None:
                spec["capability"] = {GPU: str(queue.gpu_capability)}
            self.store.create(res[("scheduling.volcano.sh", "queues")], "",
                              {"metadata": {"name": queue.name}, "spec": spec, "status": {"state": "Open"}})
        for hn in hypernode_objects(cluster.nodes):
            self.store.create(res[("topology.volcano.sh", "hypernodes")], "", hn)

    def start(self) -> KubeSim:
        serve = threading.Thread(target=self.httpd.serve_forever, name="kubesim-http", daemon=True)
        loop = threading.Thread(target=self._loop, name="kubesim-controller", daemon=True)
        self._threads = [serve, loop]
        for t in self._threads:
            t.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.controller.tick()
            self._stop.wait(self.tick_seconds)

    def stop(self) -> None:
        self._stop.set()
        self.store.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        for t in self._threads:
            t.join(timeout=5)
        if self.kubelet is not None:
            self.kubelet.stop()

    def state(self) -> Obj:
        with self.store.lock:
            return {
                "nodes": [{"name": n.name, "gpus": n.gpus, "usedGpus": n.used_gpus, "ready": n.ready,
                           "unschedulable": n.unschedulable} for n in self.model.nodes.values()],
                "queues": [{"name": q.name, "gpuCapability": q.gpu_capability, "allocatedGpus": q.allocated_gpus,
                            "state": q.state} for q in self.model.queues.values()],
                "gangs": [{"key": g.key, "state": g.state, "message": g.message, "gpus": g.gpus}
                          for g in self.model.gangs.values()],
            }


class Handler(BaseHTTPRequestHandler):
    """One request (see the module docstring for the routes)."""

    sim: KubeSim
    _raw: bytes = b""
    protocol_version = "HTTP/1.1"
    server_version = "kubesim/1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- plumbing --------------------------------------------------------------------------------
    def _send(self, code: int, body: Any, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err: ApiError) -> None:
        self._send(err.code, err.status())

    def _body(self) -> Any:
        raw = self._raw
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            import yaml

            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError:
                raise ApiError(400, "BadRequest", "the request body is neither JSON nor YAML") from None

    def _authorized(self) -> bool:
        """A wrong credential is refused; none is anonymous and allowed (loopback only): kubectl (client-go)
        does not send a bearer token over plain HTTP."""
        header = self.headers.get("Authorization")
        return header is None or header == f"Bearer {self.sim.token}"

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._raw = self.rfile.read(length) if length else b""  # always drained: keeps keep-alive sane
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path.rstrip("/") or "/"
        try:
            if path in ("/healthz", "/readyz", "/livez"):
                self._send_text(200, "ok")
                return
            if path == "/version" and method == "GET":  # public, as system:public-info-viewer allows
                self._send(200, SERVER_VERSION)
                return
            if not self._authorized():
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if path.startswith("/simulator/v1/"):
                self._simulator(method, path)
                return
            if method == "GET" and self._discovery(path):
                return
            log = POD_LOG.match(path)
            if log and method == "GET":
                self._pod_log(log.group(1), log.group(2), query)
                return
            self._resource(method, path, query)
        except ApiError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- discovery -------------------------------------------------------------------------------
    def _discovery(self, path: str) -> bool:
        reg = self.sim.registry
        if path == "/version":
            self._send(200, SERVER_VERSION)
        elif path == "/api":
            self._send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        elif path == "/api/v1":
            self._send(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                e for r in reg.all if not r.group for e in r.discovery()]})
        elif path == "/apis":
            self._send(200, {"kind": "APIGroupList", "apiVersion": "v1",
                             "groups": [self._group(g, rs) for g, rs in sorted(reg.groups().items())]})
        elif path.startswith("/apis/") and path.count("/") == 2:
            group = path.split("/")[2]
            resources = reg.groups().get(group)
            if resources is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self._send(200, {"kind": "APIGroup", "apiVersion": "v1", **self._group(group, resources)})
        elif path.startswith("/apis/") and path.count("/") == 3:
            _, _, group, version = path.split("/")
            resources = [r for r in reg.groups().get(group, []) if r.version == version]
            if not resources:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self._send(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}",
                             "resources": [e for r in resources for e in r.discovery()]})
        elif path.startswith("/openapi/"):
            raise ApiError(404, "NotFound", "the simulator serves no OpenAPI document")
        else:
            return False
        return True

    @staticmethod
    def _group(group: str, resources: list[Resource]) -> Obj:
        versions = sorted({r.version for r in resources})
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    # -- simulator endpoints ---------------------------------------------------------------------
    def _simulator(self, method: str, path: str) -> None:
        if path == "/simulator/v1/script" and method == "POST":
            body = self._body() or {}
            if not isinstance(body, dict) or not isinstance(body.get("pattern"), str):
                raise ApiError(400, "BadRequest", "pattern: required (an fnmatch pattern of vcjob names)")
            run = body.get("runSeconds")
            exit_code = body.get("exitCode", 0)
            if run is not None and (not isinstance(run, int | float) or run < 0):
                raise ApiError(400, "BadRequest", "runSeconds: must be a non-negative number")
            if not isinstance(exit_code, int):
                raise ApiError(400, "BadRequest", "exitCode: must be an integer")
            self.sim.controller.add_script(Script(body["pattern"], run, exit_code, str(body.get("reason", ""))))
            self._send(201, {"pattern": body["pattern"], "runSeconds": run, "exitCode": exit_code})
        elif path == "/simulator/v1/state" and method == "GET":
            self._send(200, self.sim.state())
        else:
            raise ApiError(404, "NotFound", f"no simulator endpoint {method} {path}")

    def _pod_log(self, namespace: str, name: str, query: dict[str, str]) -> None:
        pod = self.sim.store.get(self.sim.registry.by_key[("", "pods")], namespace, name)
        names = [c.get("name") for c in pod.get("spec", {}).get("containers") or ()]
        container = query.get("container") or (names[0] if names else None)
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        tail = query.get("tailLines")
        if tail is not None and not tail.lstrip("-").isdigit():
            raise ApiError(400, "BadRequest", "tailLines: must be an integer")
        kubelet = self.sim.kubelet
        text = kubelet.log_text(pod, container, int(tail) if tail is not None else None) if kubelet else ""
        self._send_text(200, text)

    # -- resources -------------------------------------------------------------------------------
    def _route(self, path: str) -> tuple[Resource, str | None, str | None, bool]:
        """-> (resource, namespace or None for all, name or None, status subresource?)."""
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        res = self.sim.registry.find(group, version, rest[0])
        if res is None or len(rest) > 3 or (len(rest) == 3 and rest[2] != "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if namespace is not None and not res.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) >= 2 else None
        if res.namespaced and name is not None and namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return res, namespace, name, len(rest) == 3

    def _resource(self, method: str, path: str, query: dict[str, str]) -> None:
        res, namespace, name, status = self._route(path)
        ns = namespace or ""
        store = self.sim.store
        if method == "GET" and name is None:
            self._list(res, namespace, query)
        elif method == "GET":
            self._send(200, store.get(res, ns, name or ""))
        elif method == "POST" and name is None:
            self._create(res, ns, query)
        elif method == "PUT" and name is not None:
            body = self._body()
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the body must be an object")
            self._save(res, ns, name, body, status, query)
        elif method == "PATCH" and name is not None:
            self._patch(res, ns, name, status, query)
        elif method == "DELETE" and name is not None:
            obj = store.delete(res, ns, name)
            self._send(200, obj)
        else:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {path}")

    def _check_namespace(self, res: Resource, ns: str) -> None:
        if res.namespaced:
            self.sim.store.get(self.sim.registry.by_key[("", "namespaces")], "", ns)

    def _admit(self, res: Resource, obj: Obj, query: dict[str, str], name: str) -> Obj:
        """Metadata checks, pruning, schema validation (422) and Volcano's webhook (vcjobs)."""
        meta = obj.get("metadata") or {}
        causes: list[dict[str, str]] = []
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if (name and not DNS1123_SUBDOMAIN.match(name)) or len(name) > 253:
            causes.append({"reason": "FieldValueInvalid", "field": "metadata.name",
                           "message": f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of '
                                      "lower case alphanumeric characters, '-' or '.', and must start and end "
                                      "with an alphanumeric character"})
        if res.crd is not None:
            obj, dropped = crdlib.pruned_copy(res.crd, obj)
            if dropped and query.get("fieldValidation") == "Strict":
                causes += [{"reason": "FieldValueInvalid", "field": d, "message": f'unknown field "{d}"'}
                           for d in dropped]
            causes += crdlib.validate(res.crd, obj)
        if causes:
            what = f"{res.kind}.{res.group}" if res.group else res.kind
            detail = causes[0]["field"] + ": " + causes[0]["message"] if len(causes) == 1 else (
                "[" + ", ".join(f"{c['field']}: {c['message']}" for c in causes) + "]")
            raise ApiError(422, "Invalid", f'{what} "{name}" is invalid: {detail}',
                           {"name": name, "group": res.group, "kind": res.kind, "causes": causes})
        return obj

    def _create(self, res: Resource, ns: str, query: dict[str, str]) -> None:
        body = self._body()
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be an object")
        meta = body.setdefault("metadata", {})
        if meta.get("namespace") and res.namespaced and meta["namespace"] != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                           "sent on the request")
        name = meta.get("name") or ""
        if not name and not meta.get("generateName"):
            raise ApiError(422, "Invalid", f"{res.kind} \"\" is invalid: metadata.name: Required value: name or "
                           "generateName is required", {"kind": res.kind, "causes": [
                               {"reason": "FieldValueRequired", "field": "metadata.name",
                                "message": "Required value: name or generateName is required"}]})
        self._check_namespace(res, ns)
        obj = self._admit(res, body, query, name)
        with self.sim.store.lock:
            if res.key == ("batch.volcano.sh", "jobs"):
                self.sim.controller.mutate(obj)
                self.sim.controller.admit(obj)
            if res.has_status and res.group and res.plural != "queues":
                obj.pop("status", None)  # status is the controller's (the /status subresource)
            if query.get("dryRun"):
                self._send(201, obj)
                return
            self._send(201, self.sim.store.create(res, ns, obj))

    def _save(self, res: Resource, ns: str, name: str, body: Obj, status: bool, query: dict[str, str]) -> None:
        body.setdefault("metadata", {})["name"] = name
        obj = self._admit(res, body, query, name)
        if query.get("dryRun"):
            self._send(200, obj)
            return
        self._send(200, self.sim.store.update(res, ns, name, obj, status_only=status))

    def _patch(self, res: Resource, ns: str, name: str, status: bool, query: dict[str, str]) -> None:
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        patch = self._body()
        with self.sim.store.lock:
            current = self.sim.store.get(res, ns, name)
            if kind == "application/json-patch+json":
                if not isinstance(patch, list):
                    raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
                try:
                    new = json_patch(current, patch)
                except (KeyError, IndexError, ValueError, TypeError) as exc:
                    raise ApiError(422, "Invalid", f"the JSON patch does not apply: {exc}") from None
            elif kind in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                new = merge_patch(current, patch)
            else:
                raise ApiError(415, "UnsupportedMediaType", f"the patch type {kind!r} is not supported")
            self._save(res, ns, name, new, status, query)

    def _list(self, res: Resource, namespace: str | None, query: dict[str, str]) -> None:
        try:
            labels = parse_label_selector(query.get("labelSelector"))
            fields = parse_field_selector(query.get("fieldSelector"))
        except ValueError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None

        def match(o: Any) -> bool:
            return labels(o) and fields(o)

        # A list in a namespace that does not exist is empty, not 404, as on a real API server.
        if query.get("watch") in ("1", "true", "True"):
            self._watch(res, namespace, query, match)
            return
        items, rv = self.sim.store.list(res, namespace, match)
        if "as=Table" in (self.headers.get("Accept") or ""):
            self._send(200, to_table(res, items, rv))
            return
        self._send(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                         "metadata": {"resourceVersion": str(rv)}, "items": items})

    def _watch(self, res: Resource, namespace: str | None, query: dict[str, str],
               match: Callable[[Any], bool]) -> None:
        store = self.sim.store
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        start = query.get("resourceVersion")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        as_table = "as=Table" in (self.headers.get("Accept") or "")

        def emit(kind: str, obj: Obj) -> None:
            if as_table and kind != "ERROR":
                obj = to_table(res, [obj], int(obj.get("metadata", {}).get("resourceVersion") or 0))
            data = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            with store.lock:
                if start in (None, "", "0"):
                    items, rv = store.list(res, namespace, match)
                    initial = items
                else:
                    rv, initial = int(start), []
                    store.events_after(rv, res.key)  # 410 Gone when too old
            for obj in initial:
                emit("ADDED", obj)
            while time.monotonic() < deadline and not store.closed:
                with store.lock:
                    events = store.events_after(rv, res.key)
                    now_rv = store.resource_version
                for ev in events:
                    ns = ev.obj["metadata"].get("namespace")
                    if (namespace is None or ns == namespace) and match(ev.obj):
                        emit(ev.type, ev.obj)
                rv = now_rv
                store.wait(rv, min(1.0, max(deadline - time.monotonic(), 0.0)))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except ApiError as err:
            emit("ERROR", err.status())
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            return
