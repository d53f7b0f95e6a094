"""KubeClient's retry loop and the mapping of API errors to the adapter's exceptions (no server needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError

from dualtrack.adapters.base import BackendUnavailable, SubmitRejected
from dualtrack.adapters.volcano.client import AlreadyExists, KubeClient, NotFound
from dualtrack.adapters.volcano.settings import parse_settings


class Response:
    def __init__(self, body: Any):
        self.data = json.dumps(body).encode()


def api_error(status: int, message: str = "boom", causes: list[dict[str, str]] | None = None) -> ApiException:
    exc = ApiException(status=status, reason="Reason")
    exc.body = json.dumps({"kind": "Status", "message": message, "details": {"causes": causes or []}})
    return exc


class Flaky:
    """Raises the given errors in turn, then answers."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Response:
        self.calls += 1
        assert kwargs["_preload_content"] is False and kwargs["_request_timeout"] == 10.0
        if self.errors:
            raise self.errors.pop(0)
        return Response({"items": []})


@pytest.fixture
def client() -> KubeClient:
    sleeps: list[float] = []
    c = KubeClient("kube", parse_settings("kube", {}), attempts=3, backoff_seconds=0.1, sleep=sleeps.append)
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_transient_statuses_are_retried_with_backoff(client: KubeClient, status: int) -> None:
    fn = Flaky(api_error(status), api_error(status))
    assert client._call("list", fn) == {"items": []}
    assert fn.calls == 3 and client.sleeps == [0.1, 0.2]  # type: ignore[attr-defined]


def test_persistent_5xx_is_backend_unavailable(client: KubeClient) -> None:
    with pytest.raises(BackendUnavailable, match="HTTP 503"):
        client._call("list", Flaky(*[api_error(503)] * 3))


def test_connection_errors_become_backend_unavailable(client: KubeClient) -> None:
    with pytest.raises(BackendUnavailable, match="unreachable"):
        client._call("list", Flaky(*[MaxRetryError(None, "/", "refused")] * 3))  # type: ignore[arg-type]


def test_422_is_submit_rejected_with_the_field_causes(client: KubeClient) -> None:
    causes = [{"field": "spec.minAvailable", "message": "must be of type integer"}]
    fn = Flaky(api_error(422, 'Job.batch.volcano.sh "x" is invalid', causes))
    with pytest.raises(SubmitRejected, match=r"spec\.minAvailable: must be of type integer"):
        client._call("create", fn)
    assert fn.calls == 1


def test_create_conflict_is_not_retried_and_is_already_exists(client: KubeClient) -> None:
    fn = Flaky(api_error(409, 'jobs.batch.volcano.sh "x" already exists'))
    with pytest.raises(AlreadyExists):
        client._call("create", fn, retry_conflict=False)
    assert fn.calls == 1


def test_404_and_401(client: KubeClient) -> None:
    with pytest.raises(NotFound):
        client._call("get", Flaky(api_error(404)))
    with pytest.raises(BackendUnavailable, match="HTTP 401"):
        client._call("get", Flaky(api_error(401)))
