#!/usr/bin/env python3
"""Generate the committed Python stubs of proto/dualtrack/v1/*.proto.

Usage: scripts/gen_proto.py [OUT_DIR]   (default: the repository's proto/ folder, in place)

The stubs are generated with ``-I proto`` so the descriptors carry the clean file name
``dualtrack/v1/broker.proto`` and the import grpc_tools writes, ``from dualtrack.v1 import``, is already the
installed package path (proto/dualtrack is the ``dualtrack`` package). tests/unit/api/test_proto_drift.py runs
this into a temporary folder and fails when the committed stubs differ.

The stubs demand at import the grpcio/protobuf versions of the generator that wrote them, so pyproject pins
grpcio-tools (dev extra) and sets the runtime floors to its versions; regenerating with a newer grpcio-tools
means raising those floors too (tests/unit/packaging/test_version_floors.py checks it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

try:
    from importlib.resources import files
except ImportError:  # pragma: no cover
    raise

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_dir: Path) -> list[Path]:
    """Generate the stubs into ``out_dir`` (mirroring proto/'s layout); return the written files."""
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "dualtrack").rglob("*.proto"))
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = str(files("grpc_tools").joinpath("_proto"))
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{well_known}", f"--python_out={out_dir}", f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}", *sources]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p for p in out_dir.rglob("*") if p.name.endswith(GENERATED_SUFFIXES))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO_ROOT
    for written in generate(target):
        print(written)
