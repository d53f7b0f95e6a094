"""pyproject's floors for grpcio* and protobuf are at least what the committed stubs demand at import.

The stubs check the runtime against the generator that wrote them (``GRPC_GENERATED_VERSION`` in
``*_pb2_grpc.py``, ``ValidateProtobufRuntimeVersion(..., major, minor, patch, ...)`` in ``*_pb2.py``): an
install that satisfies lower floors fails at import. Regenerating with a newer grpcio-tools must raise them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
STUBS = REPO / "proto" / "dualtrack" / "v1"
GRPC_PACKAGES = ("grpcio", "grpcio-health-checking", "grpcio-reflection", "grpcio-status")


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def floors(pyproject: Path = REPO / "pyproject.toml") -> dict[str, tuple[int, ...]]:
    """``name -> floor`` of every ``name>=X`` runtime dependency (extras in brackets dropped)."""
    out = {}
    for requirement in tomllib.loads(pyproject.read_text())["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?>=([0-9.]+)(?:,.*)?", requirement)
        if match:
            out[match.group(1).lower()] = version(match.group(2))
    return out


def generated_grpc_versions() -> set[tuple[int, ...]]:
    texts = [p.read_text() for p in STUBS.glob("*_pb2_grpc.py")]
    return {version(v) for t in texts for v in re.findall(r"GRPC_GENERATED_VERSION = '([0-9.]+)'", t)}


def generated_protobuf_versions() -> set[tuple[int, ...]]:
    pattern = r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*(\d+),\s*(\d+),\s*(\d+),"
    texts = [p.read_text() for p in STUBS.glob("*_pb2.py")]
    return {tuple(int(x) for x in m) for t in texts for m in re.findall(pattern, t)}


def too_low(floor: dict[str, tuple[int, ...]], needed: dict[str, tuple[int, ...]]) -> list[str]:
    return [f"{name}>={'.'.join(map(str, floor.get(name, (0,))))} but the stubs need {'.'.join(map(str, need))}"
            for name, need in needed.items() if floor.get(name, (0,)) < need]


def needed_by_stubs() -> dict[str, tuple[int, ...]]:
    grpc, protobuf = generated_grpc_versions(), generated_protobuf_versions()
    assert grpc and protobuf, "no generated stubs found"
    return {**{name: max(grpc) for name in GRPC_PACKAGES}, "protobuf": max(protobuf)}


def test_the_floors_satisfy_the_committed_stubs() -> None:
    assert too_low(floors(), needed_by_stubs()) == []


def test_a_floor_below_the_generator_is_reported(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["grpcio>=1.60", "protobuf>=5.26", "psycopg[binary]>=3.1"]\n')
    problems = too_low(floors(pyproject), {"grpcio": (1, 85, 1), "protobuf": (7, 35, 1)})
    assert problems == ["grpcio>=1.60 but the stubs need 1.85.1", "protobuf>=5.26 but the stubs need 7.35.1"]


@pytest.mark.parametrize("name", ["grpcio-tools"])
def test_the_generator_is_pinned_to_the_version_the_floors_follow(name: str) -> None:
    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    pinned = [r for r in dev if r.startswith(f"{name}==")]
    assert pinned, f"{name} must be pinned (==) in the dev extra so regenerating does not move the floors"
    assert version(pinned[0].split("==")[1]) == max(generated_grpc_versions())
