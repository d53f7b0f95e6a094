"""The simulator's object store: every API object by resource, namespace and name, with resourceVersions
and a bounded event log for watches.

Callers: the HTTP layer (on behalf of clients) and the Volcano controller. All methods take the store's lock;
``lock`` is public (re-entrant) so the controller can make several changes atomically. Errors are
``ApiError`` carrying the HTTP code and the Kubernetes ``Status`` reason (NotFound 404, AlreadyExists 409,
Conflict 409, Gone 410, Invalid 422).
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dualtrack.sim.kubeapi.resources import Resource

Obj = dict[str, Any]
ObjList = list[Obj]
EVENT_LOG_SIZE = 20_000


@dataclass
class ApiError(Exception):
    code: int
    reason: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def status(self) -> Obj:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "details": dict(self.details), "code": self.code}


def not_found(res: Resource, name: str) -> ApiError:
    what = f"{res.plural}.{res.group}" if res.group else res.plural
    return ApiError(404, "NotFound", f'{what} "{name}" not found',
                    {"name": name, "group": res.group, "kind": res.plural})


def now_rfc3339(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if at is None else at))


@dataclass(frozen=True)
class Event:
    rv: int
    key: tuple[str, str]
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj


EventList = list[Event]


class Store:
    """See the module docstring."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._rv = 0
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._log: deque[Event] = deque(maxlen=EVENT_LOG_SIZE)
        self.closed = False

    @property
    def resource_version(self) -> int:
        return self._rv

    def _bump(self, res: Resource, kind: str, obj: Obj) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._log.append(Event(self._rv, res.key, kind, copy.deepcopy(obj)))
        self.changed.notify_all()

    def _bucket(self, res: Resource) -> dict[tuple[str, str], Obj]:
        return self._objects.setdefault(res.key, {})

    # -- CRUD ------------------------------------------------------------------------------------
    def create(self, res: Resource, namespace: str, obj: Obj) -> Obj:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            name = meta.get("name", "")
            key = (namespace if res.namespaced else "", name)
            bucket = self._bucket(res)
            if key in bucket:
                what = f"{res.plural}.{res.group}" if res.group else res.plural
                raise ApiError(409, "AlreadyExists", f'{what} "{name}" already exists',
                               {"name": name, "group": res.group, "kind": res.plural})
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            if res.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            bucket[key] = obj
            self._bump(res, "ADDED", obj)
            return copy.deepcopy(obj)

    def get(self, res: Resource, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self._bucket(res).get((namespace if res.namespaced else "", name))
            if obj is None:
                raise not_found(res, name)
            return copy.deepcopy(obj)

    def list(self, res: Resource, namespace: str | None,
             match: Callable[[Mapping[str, Any]], bool] = lambda o: True) -> tuple[ObjList, int]:
        with self.lock:
            items = [copy.deepcopy(o) for (ns, _), o in sorted(self._bucket(res).items())
                     if (namespace is None or ns == namespace) and match(o)]
            return items, self._rv

    def peek(self, res: Resource) -> ObjList:
        """The live objects of ``res``, not copies: for the controller's read-only use under ``lock``."""
        with self.lock:
            return list(self._bucket(res).values())

    def update(self, res: Resource, namespace: str, name: str, obj: Obj, *, status_only: bool = False,
               whole: bool = False) -> Obj:
        """Replace an object; a body resourceVersion that is not the current one is a 409 Conflict.

        Clients' updates keep the current status (``status_only`` replaces only the status, as the /status
        subresource does); the controller passes ``whole=True`` to write spec and status at once."""
        with self.lock:
            key = (namespace if res.namespaced else "", name)
            current = self._bucket(res).get(key)
            if current is None:
                raise not_found(res, name)
            sent_rv = obj.get("metadata", {}).get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                what = f"{res.plural}.{res.group}" if res.group else res.plural
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {what} "{name}": the object '
                               "has been modified; please apply your changes to the latest version and try again",
                               {"name": name, "group": res.group, "kind": res.plural})
            new = copy.deepcopy(obj)
            if status_only:
                merged = copy.deepcopy(current)
                merged["status"] = new.get("status", {})
                new = merged
            elif res.has_status and "status" in current and not whole:
                new["status"] = copy.deepcopy(current["status"])
            meta = new.setdefault("metadata", {})
            for kept in ("uid", "creationTimestamp", "namespace", "name"):
                if kept in current["metadata"]:
                    meta[kept] = current["metadata"][kept]
            new["apiVersion"], new["kind"] = res.api_version, res.kind
            if not status_only and new.get("spec") != current.get("spec"):
                meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
            if {k: v for k, v in new.items() if k != "metadata"} == {
                    k: v for k, v in current.items() if k != "metadata"} and meta.get("labels") == current[
                    "metadata"].get("labels") and meta.get("annotations") == current["metadata"].get("annotations"):
                return copy.deepcopy(current)  # no-op update: no new resourceVersion, no watch event
            self._bucket(res)[key] = new
            self._bump(res, "MODIFIED", new)
            return copy.deepcopy(new)

    def delete(self, res: Resource, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self._bucket(res).pop((namespace if res.namespaced else "", name), None)
            if obj is None:
                raise not_found(res, name)
            self._bump(res, "DELETED", obj)
            return copy.deepcopy(obj)

    # -- watch -----------------------------------------------------------------------------------
    def events_after(self, rv: int, key: tuple[str, str]) -> EventList:
        """Events of resource ``key`` newer than ``rv``; raises Gone (410) when ``rv`` left the log."""
        with self.lock:
            if self._log and rv < self._log[0].rv - 1 and rv < self._rv:
                raise ApiError(410, "Expired", f"too old resource version: {rv} ({self._log[0].rv - 1})")
            return [e for e in self._log if e.rv > rv and e.key == key]

    def wait(self, rv: int, timeout: float) -> None:
        """Block until the store moves past ``rv`` or ``timeout`` passes."""
        with self.changed:
            if self._rv <= rv and not self.closed:
                self.changed.wait(timeout)

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()
