"""The committed stubs must be exactly what scripts/gen_proto.py makes from the .proto files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_proto", REPO / "scripts" / "gen_proto.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    written = _generator().generate(tmp_path)
    assert written, "protoc wrote nothing"
    for fresh in written:
        committed = REPO / "proto" / fresh.relative_to(tmp_path)
        assert committed.exists(), f"{committed} is not committed; run scripts/gen_proto.py"
        assert committed.read_text() == fresh.read_text(), (
            f"{committed.relative_to(REPO)} drifted from the .proto; run scripts/gen_proto.py and commit")


def test_a_changed_proto_would_be_detected(tmp_path: Path) -> None:
    """The check above can fail: a stub generated from an edited proto differs from the committed one."""
    gen = _generator()
    proto_copy = tmp_path / "proto"
    (proto_copy / "dualtrack" / "v1").mkdir(parents=True)
    original = (REPO / "proto" / "dualtrack" / "v1" / "broker.proto").read_text()
    (proto_copy / "dualtrack" / "v1" / "broker.proto").write_text(
        original.replace("message GetJobRequest { string id = 1; }",
                         "message GetJobRequest { string id = 1; bool verbose = 2; }"))
    gen.PROTO_ROOT = proto_copy
    out = tmp_path / "out"
    written = gen.generate(out)
    fresh = next(p for p in written if p.name == "broker_pb2.py")
    assert fresh.read_text() != (REPO / "proto" / "dualtrack" / "v1" / "broker_pb2.py").read_text()
