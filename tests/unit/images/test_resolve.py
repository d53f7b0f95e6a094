"""resolve_image against a scripted skopeo (the real one is exercised by the integration tests)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

import dualtrack.broker.images.resolve as resolve_module
from dualtrack.broker.images.errors import ImageError, ImageNotFound, RegistryUnreachable, ToolMissing
from dualtrack.broker.images.reference import apply_mirrors, parse_reference
from dualtrack.broker.images.resolve import resolve_image
from dualtrack.broker.images.settings import ImageSettings

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


class ScriptedSkopeo:
    """Answers ``skopeo inspect`` per transport reference; records every call."""

    def __init__(self, answers: dict[str, str | dict[str, object]]):
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(
        self, argv: Sequence[str], image: str, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        ref = argv[-1]
        answer = self.answers.get(ref, 'time="x" level=fatal msg="manifest unknown: manifest unknown"')
        if "--raw" in argv:
            return subprocess.CompletedProcess(argv, 1, "", "no raw")
        if isinstance(answer, dict):
            return subprocess.CompletedProcess(argv, 0, json.dumps(answer), "")
        return subprocess.CompletedProcess(argv, 1, "", answer)


@pytest.fixture
def skopeo(monkeypatch: pytest.MonkeyPatch) -> ScriptedSkopeo:
    fake = ScriptedSkopeo({})
    monkeypatch.setattr(resolve_module, "run_capture", fake)
    return fake


def test_registry_image_is_pinned_by_digest(skopeo: ScriptedSkopeo) -> None:
    skopeo.answers["docker://docker.io/ultralytics/ultralytics:8.3.40"] = {
        "Digest": D1, "LayersData": [{"Size": 10}, {"Size": 32}],
    }  # fmt: skip
    r = resolve_image("ultralytics/ultralytics:8.3.40", ImageSettings())
    assert r.digest == D1
    assert r.pinned_ref == f"ultralytics/ultralytics@{D1}"
    assert r.source == f"docker://docker.io/ultralytics/ultralytics@{D1}"
    assert r.size_bytes == 42
    assert "--no-tags" in skopeo.calls[0]


def test_mirror_longest_prefix_wins_and_kubernetes_gets_the_mirror(skopeo: ScriptedSkopeo) -> None:
    mirrors = {"docker.io/": "hub.local:5000/all/", "docker.io/ultralytics/": "hub.local:5000/ul/"}
    skopeo.answers["docker://hub.local:5000/ul/ultralytics:8.3.40"] = {"Digest": D1}
    r = resolve_image("ultralytics/ultralytics:8.3.40", ImageSettings(mirrors=mirrors))
    assert r.pinned_ref == f"hub.local:5000/ul/ultralytics@{D1}"
    assert r.source == f"docker://hub.local:5000/ul/ultralytics@{D1}"


def test_official_images_get_library_namespace(skopeo: ScriptedSkopeo) -> None:
    skopeo.answers["docker://docker.io/library/busybox:latest"] = {"Digest": D1}
    assert resolve_image("busybox", ImageSettings()).pinned_ref == f"busybox@{D1}"


def test_local_source_wins_over_registry_for_written_or_normalised_ref(skopeo: ScriptedSkopeo) -> None:
    skopeo.answers["oci:/srv/app:1"] = {"Digest": D1}
    skopeo.answers["docker-archive:/srv/b.tar"] = {"Digest": D2}
    settings = ImageSettings(sources={"app:1": "oci:/srv/app:1", "docker.io/team/b:2": "docker-archive:/srv/b.tar"})
    a = resolve_image("app:1", settings)
    assert (a.pinned_ref, a.source) == (f"app@{D1}", "oci:/srv/app:1")
    b = resolve_image("team/b:2", settings)
    assert (b.pinned_ref, b.source) == (f"team/b@{D2}", "docker-archive:/srv/b.tar")
    assert all(not call[-1].startswith("docker://") for call in skopeo.calls)


def test_local_source_holding_another_digest_than_asked(skopeo: ScriptedSkopeo) -> None:
    skopeo.answers["oci:/srv/app:1"] = {"Digest": D1}
    settings = ImageSettings(sources={f"app@{D2}": "oci:/srv/app:1"})
    with pytest.raises(ImageError, match=f"holds {D1}, not the requested {D2}"):
        resolve_image(f"app@{D2}", settings)


def test_missing_image_and_unreachable_registry_are_told_apart(skopeo: ScriptedSkopeo) -> None:
    with pytest.raises(ImageNotFound, match=r"'nope/app:1'.*not found.*manifest unknown"):
        resolve_image("nope/app:1", ImageSettings())
    skopeo.answers["docker://reg.local:5000/app:1"] = (
        'time="x" level=fatal msg="pinging container registry reg.local:5000: dial tcp 127.0.0.1:5000: '
        'connect: connection refused"'
    )
    with pytest.raises(RegistryUnreachable, match=r"'reg\.local:5000/app:1'.*connection refused"):
        resolve_image("reg.local:5000/app:1", ImageSettings())


def test_no_digest_in_answer(skopeo: ScriptedSkopeo) -> None:
    skopeo.answers["docker://docker.io/library/app:1"] = {"Digest": "md5:zz"}
    with pytest.raises(ImageError, match="reports no sha256 manifest digest"):
        resolve_image("app:1", ImageSettings())


def test_timeout_and_missing_skopeo_with_real_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "skopeo"
    slow.write_text("#!/bin/sh\nexec /bin/sleep 5\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RegistryUnreachable, match=r"skopeo gave no answer within 0\.2 s"):
        resolve_image("app:1", ImageSettings(inspect_timeout_seconds=0.2))
    slow.unlink()
    with pytest.raises(ToolMissing, match=r"skopeo \(package skopeo\)"):
        resolve_image("app:1", ImageSettings())


def test_reference_parsing() -> None:
    r = parse_reference("reg.local:5000/team/app:1.2@" + D1)
    assert (r.repository, r.tag, r.digest, r.domain) == ("reg.local:5000/team/app", "1.2", D1, "reg.local:5000")
    assert parse_reference("reg.local:5000/app").tag is None
    assert parse_reference("app").normalized() == "docker.io/library/app:latest"
    assert parse_reference(f"app@{D1}").normalized() == f"docker.io/library/app@{D1}"
    assert apply_mirrors("docker.io/library/app:1", {"quay.io/": "x/"}) == "docker.io/library/app:1"
    with pytest.raises(ValueError):
        parse_reference(" app")
