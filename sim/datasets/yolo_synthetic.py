"""A tiny synthetic YOLO detection dataset: PNG images with filled rectangles, YOLO label files, data.yaml.

Contract (docs/yolo.md#datasets): ``write_dataset(root, images=8, size=64)`` writes

    root/data.yaml                  no ``path:`` key, so ultralytics resolves train/val against its folder
    root/images/{train,val}/N.png   RGB, ``size`` x ``size``, one to three coloured boxes on grey
    root/labels/{train,val}/N.txt   one ``class cx cy w h`` line per box, normalised to 0..1

The dataset is deterministic for a given ``seed`` and needs only the standard library (PNG written with zlib),
so tests can make it without Pillow. Usage as a command:
``python -m dualtrack.sim.datasets.yolo_synthetic <root> [--images 8] [--size 64] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

CLASS_NAMES: tuple[str, ...] = ("square", "bar")
_COLOURS = ((220, 40, 40), (40, 160, 60), (40, 70, 220))


@dataclass(frozen=True)
class Box:
    """One object: class id and pixel corners (x0, y0 inclusive; x1, y1 exclusive)."""

    cls: int
    x0: int
    y0: int
    x1: int
    y1: int

    def yolo_line(self, size: int) -> str:
        """The YOLO label line: ``class cx cy w h`` normalised by the image size."""
        cx, cy = (self.x0 + self.x1) / 2 / size, (self.y0 + self.y1) / 2 / size
        w, h = (self.x1 - self.x0) / size, (self.y1 - self.y0) / size
        return f"{self.cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def _png_bytes(pixels: list[bytearray], size: int) -> bytes:
    """Encode rows of RGB bytes as a PNG (filter 0 per row, one IDAT chunk)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def _random_boxes(rng: random.Random, size: int) -> list[Box]:
    boxes = []
    for _ in range(rng.randint(1, 3)):
        cls = rng.randrange(len(CLASS_NAMES))
        w = rng.randint(size // 6, size // 3)
        h = w if cls == 0 else max(3, w // 3)
        x0, y0 = rng.randint(0, size - w - 1), rng.randint(0, size - h - 1)
        boxes.append(Box(cls, x0, y0, x0 + w, y0 + h))
    return boxes


def _draw(boxes: list[Box], size: int) -> list[bytearray]:
    rows = [bytearray([128, 128, 128] * size) for _ in range(size)]
    for box in boxes:
        r, g, b = _COLOURS[box.cls % len(_COLOURS)]
        for y in range(box.y0, box.y1):
            for x in range(box.x0, box.x1):
                rows[y][3 * x: 3 * x + 3] = bytes((r, g, b))
    return rows


def write_dataset(root: Path, images: int = 8, size: int = 64, seed: int = 0) -> Path:
    """Write the dataset under ``root`` (created; existing files overwritten) and return the data.yaml path.

    ``images`` images go to train and ``max(2, images // 4)`` to val. Raises ValueError for images < 1 or size < 16.
    """
    if images < 1:
        raise ValueError("images: must be >= 1")
    if size < 16:
        raise ValueError("size: must be >= 16")
    rng = random.Random(seed)
    for split, count in (("train", images), ("val", max(2, images // 4))):
        image_dir, label_dir = root / "images" / split, root / "labels" / split
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            boxes = _random_boxes(rng, size)
            (image_dir / f"{index:04d}.png").write_bytes(_png_bytes(_draw(boxes, size), size))
            (label_dir / f"{index:04d}.txt").write_text("".join(b.yolo_line(size) + "\n" for b in boxes))
    names = "".join(f"  {i}: {name}\n" for i, name in enumerate(CLASS_NAMES))
    data_yaml = root / "data.yaml"
    data_yaml.write_text(f"# synthetic dataset (dualtrack.sim.datasets.yolo_synthetic, seed {seed})\n"
                         f"train: images/train\nval: images/val\nnames:\n{names}")
    return data_yaml


def main(argv: list[str] | None = None) -> int:
    """Command line: write a dataset and print the data.yaml path."""
    parser = argparse.ArgumentParser(description="Write a tiny synthetic YOLO detection dataset.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(write_dataset(args.root, images=args.images, size=args.size, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
