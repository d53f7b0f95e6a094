"""A thin, dict-in dict-out wrapper around the official ``kubernetes`` client for the Volcano adapter.

Caller: ``VolcanoBackend``. The API client is built lazily on first use from a kubeconfig (path + context) or
the in-cluster service account, so a broker may start before its cluster answers. Every call:
- runs with the configured request timeout;
- is retried with exponential backoff on 409 (not for create), 429, 5xx and connection errors;
- returns the decoded JSON (``_preload_content=False``: no typed models, one code path for core and custom
  objects);
- raises ``NotFound`` (404), ``AlreadyExists`` (409 on create), ``BackendUnavailable`` (unreachable, 401/403,
  429/5xx after retries, misconfigured kubeconfig) or ``SubmitRejected`` (400/422 and other 4xx: the API
  server refused the object; the message carries the Status message and its field causes).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from dualtrack.adapters.base import BackendUnavailable, SubmitRejected
from dualtrack.adapters.volcano.settings import VolcanoSettings

RETRYABLE = frozenset({409, 429, 500, 502, 503, 504})
JOBS = ("batch.volcano.sh", "v1alpha1", "jobs")
PODGROUPS = ("scheduling.volcano.sh", "v1beta1", "podgroups")
QUEUES = ("scheduling.volcano.sh", "v1beta1", "queues")
HYPERNODES = ("topology.volcano.sh", "v1alpha1", "hypernodes")


class NotFound(Exception):
    """The object (or the resource type itself) does not exist."""


class AlreadyExists(Exception):
    """A create found an object of that name."""


def status_message(body: bytes | str | None, fallback: str) -> str:
    """The ``message`` of a Kubernetes Status body plus its ``details.causes`` (field: message)."""
    try:
        status = json.loads(body or b"")
    except (ValueError, TypeError):
        return fallback
    if not isinstance(status, dict):
        return fallback
    message = str(status.get("message") or fallback)
    causes = (status.get("details") or {}).get("causes") or []
    fields = [f"{c.get('field', '')}: {c.get('message', '')}" for c in causes if isinstance(c, dict)]
    if fields and not all(f in message for f in fields):
        message += " (" + "; ".join(fields) + ")"
    return message


class KubeClient:
    """See the module docstring. Thread-safe (the underlying urllib3 pool is)."""

    def __init__(self, backend: str, settings: VolcanoSettings, *, attempts: int = 3,
                 backoff_seconds: float = 0.2, sleep: Callable[[float], None] = time.sleep):
        self.backend = backend
        self.settings = settings
        self.attempts = max(attempts, 1)
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._lock = threading.Lock()
        self._core: Any = None
        self._custom: Any = None
        self._api_client: Any = None

    # -- construction ------------------------------------------------------------------------
    def _apis(self) -> tuple[Any, Any]:
        with self._lock:
            if self._core is None:
                from kubernetes import client, config  # lazy: importing the client costs ~0.5 s
                from kubernetes.config.config_exception import ConfigException

                cfg = client.Configuration()
                try:
                    if self.settings.in_cluster:
                        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
                    else:
                        config.load_kube_config(  # type: ignore[no-untyped-call]
                            config_file=self.settings.kubeconfig, context=self.settings.context,
                            client_configuration=cfg)
                except (ConfigException, OSError, TypeError, ValueError) as exc:
                    source = "in-cluster config" if self.settings.in_cluster else (
                        f"kubeconfig {self.settings.kubeconfig or '(default)'}")
                    raise BackendUnavailable(f"{self.backend}: cannot load {source}: {exc}") from None
                cfg.retries = 0  # retries are ours (below), with backoff and error mapping
                self._api_client = client.ApiClient(cfg)
                self._core = client.CoreV1Api(self._api_client)
                self._custom = client.CustomObjectsApi(self._api_client)
            return self._core, self._custom

    def close(self) -> None:
        with self._lock:
            if self._api_client is not None:
                self._api_client.close()
            self._api_client = self._core = self._custom = None

    # -- the one calling convention ------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, retry_conflict: bool = True,
              **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        last = self.attempts - 1
        for attempt in range(self.attempts):
            try:
                response = fn(*args, _preload_content=False,
                              _request_timeout=self.settings.request_timeout_seconds, **kwargs)
                data = response.data
                return json.loads(data) if data else None
            except ApiException as exc:
                status = int(exc.status or 0)
                retry = (status in RETRYABLE and (status != 409 or retry_conflict)) or status == 0
                if retry and attempt < last:
                    self._sleep(self.backoff_seconds * 2**attempt)
                    continue
                raise self._map(exc, status, what) from None
            except (HTTPError, OSError) as exc:
                if attempt < last:
                    self._sleep(self.backoff_seconds * 2**attempt)
                    continue
                raise BackendUnavailable(f"{self.backend}: {what}: API server unreachable: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _map(self, exc: Any, status: int, what: str) -> Exception:
        raw = exc.body if exc.body else getattr(getattr(exc, "http_resp", None), "data", None)
        message = status_message(raw, f"{exc.reason or 'error'}")
        if status == 404:
            return NotFound(f"{what}: {message}")
        if status == 409:
            return AlreadyExists(f"{what}: {message}") if "already exists" in message else BackendUnavailable(
                f"{self.backend}: {what}: conflict: {message}")
        if status in (0, 401, 403) or status == 429 or status >= 500:
            return BackendUnavailable(f"{self.backend}: {what}: HTTP {status}: {message}")
        return SubmitRejected(f"{self.backend}: {what}: HTTP {status}: {message}")

    # -- core objects ------------------------------------------------------------------------
    def list_nodes(self) -> list[dict[str, Any]]:
        core, _ = self._apis()
        return list(self._call("list nodes", core.list_node)["items"])

    def list_pods(self, namespace: str | None = None, label_selector: str | None = None,
                  field_selector: str | None = None) -> list[dict[str, Any]]:
        core, _ = self._apis()
        pairs = (("label_selector", label_selector), ("field_selector", field_selector))
        selectors: dict[str, Any] = {k: v for k, v in pairs if v}
        if namespace is None:
            return list(self._call("list pods", core.list_pod_for_all_namespaces, **selectors)["items"])
        return list(self._call("list pods", core.list_namespaced_pod, namespace, **selectors)["items"])

    # -- custom objects ----------------------------------------------------------------------
    def list_custom(self, resource: tuple[str, str, str], namespace: str | None = None,
                    label_selector: str | None = None) -> list[dict[str, Any]]:
        _, custom = self._apis()
        group, version, plural = resource
        extra: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        if namespace is None:
            data = self._call(f"list {plural}", custom.list_cluster_custom_object, group, version, plural,
                              **extra)
        else:
            data = self._call(f"list {plural}", custom.list_namespaced_custom_object, group, version,
                              namespace, plural, **extra)
        return list(data["items"])

    def get_custom(self, resource: tuple[str, str, str], namespace: str, name: str) -> dict[str, Any] | None:
        _, custom = self._apis()
        group, version, plural = resource
        try:
            data: dict[str, Any] = self._call(f"get {plural} {namespace}/{name}",
                                              custom.get_namespaced_custom_object,
                                              group, version, namespace, plural, name)
        except NotFound:
            return None
        return data

    def create_custom(self, resource: tuple[str, str, str], namespace: str,
                      body: Mapping[str, Any]) -> dict[str, Any]:
        """Raises AlreadyExists when an object of that name exists (never retried)."""
        _, custom = self._apis()
        group, version, plural = resource
        data: dict[str, Any] = self._call(f"create {plural} {namespace}/{body['metadata']['name']}",
                                          custom.create_namespaced_custom_object, group, version, namespace,
                                          plural, dict(body), retry_conflict=False)
        return data

    def delete_custom(self, resource: tuple[str, str, str], namespace: str, name: str) -> bool:
        """True when deleted, False when it did not exist."""
        _, custom = self._apis()
        group, version, plural = resource
        try:
            self._call(f"delete {plural} {namespace}/{name}", custom.delete_namespaced_custom_object,
                       group, version, namespace, plural, name, propagation_policy="Background")
        except NotFound:
            return False
        return True
