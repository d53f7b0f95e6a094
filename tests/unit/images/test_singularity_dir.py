"""The generated /.singularity.d scripts behave as Apptainer's do, checked by running them with /bin/sh."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from dualtrack.broker.images.oci_layout import ImageConfig
from dualtrack.broker.images.singularity_dir import ADDED_PATHS, add_singularity_dir, env_script, runscript


def sh(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["/bin/sh", "-c", script, "sh", *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout


def test_image_env_fills_unset_values_and_always_sets_path(tmp_path: Path) -> None:
    script = tmp_path / "env.sh"
    tricky = 'it\'s "$HOME" `x` \\ end'
    script.write_text(env_script(("PATH=/opt/app/bin:/usr/bin", "FOO=image", f"TRICKY={tricky}", "EMPTY", "1BAD=x")))
    probe = f'. {script}; printf "%s|%s|%s|%s" "$PATH" "$FOO" "$TRICKY" "${{EMPTY-unset}}"'
    out = sh(probe, env={"PATH": "/usr/bin:/bin", "FOO": "host"})
    assert out == f"/opt/app/bin:/usr/bin|host|{tricky}|"
    out = sh(probe, env={"PATH": "/usr/bin:/bin"})
    assert out.split("|")[1] == "image"


def test_runscript_has_docker_run_semantics(tmp_path: Path) -> None:
    script = tmp_path / "runscript"
    script.write_text(runscript(("/bin/echo", "entry point"), ("default", "it's cmd")))
    assert sh(f". {script}") == "entry point default it's cmd\n"
    assert sh(f'. {script} "$@"', "given", "args") == "entry point given args\n"
    script.write_text(runscript((), ("/bin/echo", "only cmd")))
    assert sh(f". {script}") == "only cmd\n"
    assert sh(f'. {script} "$@"', "/bin/echo", "replaced") == "replaced\n"
    script.write_text(runscript((), ()))
    done = subprocess.run(["/bin/sh", str(script)], capture_output=True, text=True)
    assert done.returncode == 1 and "neither ENTRYPOINT nor CMD" in done.stderr


def test_tree_is_added_without_touching_image_files(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "hosts").write_text("127.0.0.1 image-own\n")
    (rootfs / "tmp").symlink_to("var/tmp")
    before = {p: p.read_bytes() for p in rootfs.rglob("*") if p.is_file()}
    config = ImageConfig(env=("A=1",), entrypoint=("/bin/true",), labels={"org.example": "v"})
    add_singularity_dir(rootfs, config)
    assert all(p.read_bytes() == data for p, data in before.items())
    assert (rootfs / "tmp").is_symlink()
    added = {str(p.relative_to(rootfs)) for p in rootfs.rglob("*")} - {"etc", "etc/hosts", "tmp"}
    assert added <= ADDED_PATHS, added - ADDED_PATHS
    assert json.loads((rootfs / ".singularity.d/labels.json").read_text()) == {"org.example": "v"}
    assert os.readlink(rootfs / ".exec") == ".singularity.d/actions/exec"
    assert os.access(rootfs / ".singularity.d/actions/exec", os.X_OK)
    assert (rootfs / "etc/resolv.conf").read_text() == ""
    assert oct((rootfs / "var/tmp").stat().st_mode & 0o7777) == oct(0o1777)


def test_exec_action_sources_env_in_order_then_runs(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    add_singularity_dir(rootfs, ImageConfig(env=("GREETING=hello",)))
    exec_action = (rootfs / ".singularity.d/actions/exec").read_text()
    exec_action = exec_action.replace("/.singularity.d/env", str(rootfs / ".singularity.d/env"))
    out = sh(exec_action + "", "/bin/sh", "-c", 'echo "$GREETING $LD_LIBRARY_PATH"', env={"PATH": "/usr/bin:/bin"})
    assert out == "hello /.singularity.d/libs\n"
