"""Shared fixtures of the policies tests; the builders live in builders.py (plain imports)."""

from __future__ import annotations

import pytest

from dualtrack.policies import PlacementEngine, PolicyConfig


@pytest.fixture
def engine() -> PlacementEngine:
    """An engine with the default profile and no tenants, datasets or preferences."""
    return PlacementEngine(PolicyConfig.from_mapping({}))
