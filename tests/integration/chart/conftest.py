"""Real helm and the offline schema checkers, as scripts/setup.sh installs them into .tools/.

``helm`` (session): the helm binary ($DUALTRACK_HELM, else .tools/bin/helm, else helm on PATH); skips with how
to get it when absent. ``crd_modules``: node_modules holding @kubernetes-models/prometheus-operator (the
prometheus-operator CRD schemas compiled into validators) and node; skips likewise.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TOOLS = REPO / ".tools"


@pytest.fixture(scope="session")
def helm() -> str:
    found = os.environ.get("DUALTRACK_HELM") or (str(TOOLS / "bin" / "helm") if (TOOLS / "bin" / "helm").exists()
                                                else shutil.which("helm"))
    if not found:
        pytest.skip("helm is absent: scripts/setup.sh installs it into .tools/bin (docs/deployment.md)")
    return found


@pytest.fixture(scope="session")
def crd_modules() -> Path:
    modules = TOOLS / "npm" / "node_modules"
    if shutil.which("node") is None or not (modules / "@kubernetes-models" / "prometheus-operator").exists():
        pytest.skip("node or @kubernetes-models/prometheus-operator is absent: scripts/setup.sh installs it")
    return modules
