"""``dualtrack image ls|prune`` and config errors (``convert`` runs the real tools in the integration tests)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

from typer.testing import CliRunner

from dualtrack.broker.cli.image_cmd import app


def config(tmp_path: Path, images: str) -> Path:
    path = tmp_path / "broker.yaml"
    path.write_text(f"server: {{address: 127.0.0.1:1}}\nimages:\n{images}")
    return path


def fill(cache_dir: Path, h: SimpleNamespace, sizes: dict[int, int]) -> None:
    cache_dir.mkdir(parents=True)
    for n, size in sizes.items():
        path = cache_dir / f"sha256-{h.digest(n).split(':')[1]}.sif"
        path.write_bytes(h.fake_sif_bytes(size))
        t = time.time() - 100 + n
        os.utime(path, (t, t))


def test_ls_and_prune(h: SimpleNamespace, tmp_path: Path) -> None:
    cfg = config(tmp_path, f"  cacheDir: {tmp_path / 'c'}\n  maxBytes: 1Mi\n")
    fill(tmp_path / "c", h, {1: 100, 2: 200, 3: 300})
    runner = CliRunner()
    listed = runner.invoke(app, ["ls", "--json", "--config", str(cfg)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.index(h.digest(3)) < listed.output.index(h.digest(1))  # most recent first
    pruned = runner.invoke(app, ["prune", "--max-bytes", "300", "--config", str(cfg)])
    assert pruned.exit_code == 0, pruned.output
    assert "2 SIF(s) removed" in pruned.output
    assert sorted(p.name for p in (tmp_path / "c").glob("*.sif")) == [f"sha256-{h.digest(3).split(':')[1]}.sif"]
    assert runner.invoke(app, ["prune", "--max-bytes", "0", "--config", str(cfg)]).exit_code == 0
    assert list((tmp_path / "c").glob("*.sif")) == []


def test_bad_config_and_options_exit_2_naming_the_key(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["ls", "--config", str(config(tmp_path, "  maxbytes: 5\n"))])
    assert bad.exit_code == 2 and "images.maxbytes: unknown key" in bad.output
    missing = runner.invoke(app, ["ls", "--config", str(tmp_path / "absent.yaml")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    cfg = config(tmp_path, f"  cacheDir: {tmp_path / 'c'}\n")
    assert runner.invoke(app, ["prune", "--max-bytes", "lots", "--config", str(cfg)]).exit_code == 2
    source = runner.invoke(app, ["convert", "app:1", "--source", "/not/a/transport", "--config", str(cfg)])
    assert source.exit_code == 2 and "images.sources.app:1" in source.output
