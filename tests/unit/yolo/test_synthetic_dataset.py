"""The synthetic YOLO dataset: deterministic, valid PNGs, labels inside the image, a data.yaml ultralytics reads."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
import yaml

from dualtrack.sim.datasets.yolo_synthetic import CLASS_NAMES, main, write_dataset


def png_size_and_pixels(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41:41 + idat_len])
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw


def test_layout_labels_and_yaml(tmp_path: Path) -> None:
    data_yaml = write_dataset(tmp_path, images=8, size=32, seed=3)
    assert data_yaml == tmp_path / "data.yaml"
    doc = yaml.safe_load(data_yaml.read_text())
    assert doc == {"train": "images/train", "val": "images/val", "names": dict(enumerate(CLASS_NAMES))}
    for split, count in (("train", 8), ("val", 2)):
        images = sorted((tmp_path / "images" / split).glob("*.png"))
        labels = sorted((tmp_path / "labels" / split).glob("*.txt"))
        assert len(images) == len(labels) == count
        for image, label in zip(images, labels, strict=True):
            assert png_size_and_pixels(image)[:2] == (32, 32)
            for line in label.read_text().splitlines():
                cls, *box = line.split()
                assert int(cls) in range(len(CLASS_NAMES))
                cx, cy, w, h = map(float, box)
                assert 0 < w <= 1 and 0 < h <= 1 and cx - w / 2 >= 0 and cx + w / 2 <= 1 and cy - h / 2 >= 0


def test_deterministic_per_seed(tmp_path: Path) -> None:
    a, b, c = (write_dataset(tmp_path / n, images=2, seed=s).parent for n, s in (("a", 1), ("b", 1), ("c", 2)))
    label = Path("labels/train/0000.txt")
    assert (a / label).read_text() == (b / label).read_text() != (c / label).read_text()


def test_bad_arguments_and_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="images"):
        write_dataset(tmp_path, images=0)
    with pytest.raises(ValueError, match="size"):
        write_dataset(tmp_path, size=8)
    assert main([str(tmp_path / "cli"), "--images", "3"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli" / "data.yaml")
