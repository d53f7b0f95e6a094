"""Importers: existing Volcano Jobs and sbatch scripts -> the unified job spec, with a warning for every field
not carried over (docs/import.md). Pure functions; the CLI's ``dualtrack import`` prints or submits the result.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dualtrack.broker.importers.base import Imported, ImportWarning
from dualtrack.broker.importers.sbatch import import_sbatch, looks_like_sbatch
from dualtrack.broker.importers.volcano import import_vcjob, is_vcjob


class NotImportable(ValueError):
    """The text is neither a Volcano Job manifest nor an sbatch script/command."""


def import_text(text: str, *, base_dir: Path | None = None) -> Imported:
    """Detect the format and import. Raises NotImportable naming what was expected."""
    if looks_like_sbatch(text) or text.startswith("#!"):
        return import_sbatch(text, base_dir=base_dir)
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise NotImportable(f"neither YAML nor an sbatch script ({exc})") from None
    jobs = [d for d in documents if is_vcjob(d)]
    if not jobs:
        kinds = ", ".join(f"{d.get('apiVersion')}/{d.get('kind')}" for d in documents if isinstance(d, dict))
        raise NotImportable(f"no Volcano Job (apiVersion batch.volcano.sh/v1alpha1, kind Job) found"
                            f"{' (found ' + kinds + ')' if kinds else ''}")
    imported = import_vcjob(jobs[0])
    if len(jobs) > 1:
        imported.warn("(file)", f"{len(jobs) - 1} more Volcano Jobs in the file are not imported; split the file")
    return imported


__all__ = ["ImportWarning", "Imported", "NotImportable", "import_sbatch", "import_text", "import_vcjob"]
