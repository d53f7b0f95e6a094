"""scripts/images/sif-run runs commands inside the converted SIF (root, loop devices, bubblewrap)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from dualtrack.broker.images import ImageService, ImageSettings

SIF_RUN = Path(__file__).resolve().parents[3] / "scripts" / "images" / "sif-run"


@pytest.fixture(scope="module")
def sif(oci_image: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("sif-run needs root (it loop-mounts the SIF)")
    absent = [t for t in ("bwrap", "unshare", "mount") if shutil.which(t) is None]
    if absent:
        pytest.skip(f"sif-run needs {', '.join(absent)} (packages bubblewrap, util-linux)")
    cache = tmp_path_factory.mktemp("sif-cache")
    settings = ImageSettings.from_mapping(
        {"cacheDir": str(cache), "builder": "skopeo-umoci", "sources": {oci_image.ref: oci_image.source}}
    )
    svc = ImageService(settings)
    return svc.ensure_sif(svc.pin(oci_image.ref))


def sif_run(sif: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {"PATH": os.environ["PATH"], **(env or {})}
    return subprocess.run([str(SIF_RUN), str(sif), *args], capture_output=True, text=True, env=full_env, timeout=60)


def leaked_mounts(before: str) -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "sif-run" in line and line not in before]


def test_reads_a_file_that_exists_only_in_the_image_with_its_env_and_workdir(
    sif: Path, oci_image: SimpleNamespace
) -> None:
    assert not Path("/opt/dualtrack-marker.txt").exists()
    mounts_before = Path("/proc/mounts").read_text()
    done = sif_run(
        sif, "--", "/bin/sh", "-c",
        'cat /opt/dualtrack-marker.txt; echo "env=$DUALTRACK_IMAGE_ENV path=$PATH pwd=$(pwd) rank=$NODE_RANK"; exit 7',
        env={"NODE_RANK": "3", "SLURM_JOB_ID": "12"},
    )  # fmt: skip
    assert done.returncode == 7, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == oci_image.marker.strip()
    assert lines[1] == "env=from-the-image path=/usr/local/bin:/usr/bin:/bin pwd=/opt/app rank=3"
    assert leaked_mounts(mounts_before) == []


def test_environment_precedence_and_cleanenv(sif: Path) -> None:
    probe = ["--", "/bin/sh", "-c", 'echo "$DUALTRACK_IMAGE_ENV|${JOB_VAR-unset}|$CUDA_VISIBLE_DEVICES|$MASTER_ADDR"']
    env = {"DUALTRACK_IMAGE_ENV": "from-host", "JOB_VAR": "j", "CUDA_VISIBLE_DEVICES": "0,1", "MASTER_ADDR": "n1"}
    assert sif_run(sif, *probe, env=env).stdout == "from-host|j|0,1|n1\n"
    assert sif_run(sif, "--cleanenv", *probe, env=env).stdout == "from-the-image|unset|0,1|n1\n"
    assert sif_run(sif, "--env", "JOB_VAR=given", "--cleanenv", *probe, env=env).stdout.split("|")[1] == "given"


def test_binds_to_paths_missing_in_the_image(sif: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from the host\n")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    done = sif_run(
        sif, "--bind", f"{tmp_path}:/data/job", "--bind", f"{readonly}:/srv/ro:ro", "--pwd", "/data/job", "--",
        "/bin/sh", "-c", "cat in.txt; echo written > out.txt; echo x > /srv/ro/f 2>/dev/null || echo ro-refused",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from the host\nro-refused\n"
    assert (tmp_path / "out.txt").read_text() == "written\n"
    assert list(readonly.iterdir()) == []


def test_the_image_is_read_only_and_tmp_is_private(sif: Path) -> None:
    done = sif_run(
        sif, "--", "/bin/sh", "-c", "echo x > /opt/new 2>/dev/null || echo refused; echo y > /tmp/t && cat /tmp/t"
    )
    assert done.stdout == "refused\ny\n"


def test_concurrent_tasks_share_the_image_safely(sif: Path) -> None:
    mounts_before = Path("/proc/mounts").read_text()
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: sif_run(sif, "--", "/bin/sh", "-c", f"cat /opt/*.txt; exit {i}"), range(6)))
    assert [r.returncode for r in results] == list(range(6))
    assert len({r.stdout for r in results}) == 1
    assert leaked_mounts(mounts_before) == []


def test_sigterm_reaches_the_program(sif: Path) -> None:
    script = 'trap "echo got-term; exit 42" TERM; echo ready; while :; do read -t 0.1 x < /dev/zero; done'
    proc = subprocess.Popen([str(SIF_RUN), str(sif), "--", "/bin/sh", "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 42
    assert proc.stdout.read() == "got-term\n"


def test_bad_usage_and_bad_files_exit_125(sif: Path, tmp_path: Path) -> None:
    assert sif_run(sif, "/bin/true").returncode == 125  # no --
    not_sif = tmp_path / "x.sif"
    not_sif.write_bytes(b"\0" * 4096)
    done = sif_run(not_sif, "--", "/bin/true")
    assert done.returncode == 125 and "not a SIF file" in done.stderr
    done = sif_run(sif, "--bind", "/no/such/dir:/x", "--", "/bin/true")
    assert done.returncode == 125 and "does not exist" in done.stderr
    garbage = tmp_path / "garbage.sif"  # a valid descriptor table pointing at bytes that are no squashfs
    data = bytearray(sif.read_bytes())
    info = subprocess.run(["siftool", "info", "1", str(sif)], capture_output=True, text=True, check=True).stdout
    offset = int(next(line.split(":")[1] for line in info.splitlines() if line.strip().startswith("Offset:")))
    data[offset : offset + 4096] = b"\xff" * 4096
    garbage.write_bytes(bytes(data))
    done = sif_run(garbage, "--", "/bin/true")
    assert done.returncode == 125 and "loop-mounting the squashfs partition" in done.stderr, done.stderr
