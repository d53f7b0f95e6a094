"""The one import package ``dualtrack`` maps the repository's top-level folders (docs/architecture.md):

    dualtrack            <- proto/dualtrack      (dualtrack.v1: the generated gRPC stubs)
    dualtrack.broker     <- broker/
    dualtrack.adapters   <- adapters/
    dualtrack.policies   <- policies/
    dualtrack.sim        <- sim/                 (when present)

Metadata lives in pyproject.toml; this file only lists the packages, found anew on every build so a new
sub-package needs no edit here.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
ROOTS = {"dualtrack": "proto/dualtrack", "dualtrack.broker": "broker", "dualtrack.adapters": "adapters",
         "dualtrack.policies": "policies", "dualtrack.sim": "sim"}

package_dir = {name: folder for name, folder in ROOTS.items() if (HERE / folder / "__init__.py").exists()}
packages = []
for name, folder in package_dir.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(str(HERE / folder)) if not sub.startswith("dualtrack")]

setup(packages=packages, package_dir=package_dir)
