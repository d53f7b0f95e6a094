"""The owners' settings blocks checked when the configuration is loaded, every problem of every block at once.

The blocks the broker keeps as plain mappings are pydantic models next to the code that reads them
(docs/configuration.md): ``policies`` (``policies/config_model.py``), ``images`` (``broker/images/settings.py``)
and each ``backends[i].settings`` (``adapters/<kind>/settings.py``). Each validator takes the block and the path
prefix its problems are reported under and raises ``SettingsError`` listing all of them. Validators are imported
only for blocks that are present, so a broker without Slurm never imports the Slurm adapter.

Caller: ``broker.config.parse_config``, after ``${...}`` references are resolved. ``section_issues(data)``
returns the issues (empty when every block is valid).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from dualtrack.broker.domain.settings_model import SettingsError
from dualtrack.broker.domain.spec_errors import FieldIssue

# kind -> "module:function(name, settings, prefix)" validating a backend's settings
SETTINGS_VALIDATORS: Mapping[str, str] = {
    "slurm": "dualtrack.adapters.slurm.settings:parse_settings",
    "volcano": "dualtrack.adapters.volcano.settings:parse_settings",
    "inmemory": "dualtrack.adapters.inmemory.settings:parse_settings",
}
# top-level key -> "module:function(block, prefix)"
BLOCK_VALIDATORS: Mapping[str, str] = {
    "policies": "dualtrack.policies.config:PolicyConfig.from_mapping",
    "images": "dualtrack.broker.images.settings:ImageSettings.from_mapping",
}


def _load(target: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


def _check(target: str, path: str, *args: Any) -> list[FieldIssue]:
    try:
        _load(target)(*args, path)
    except SettingsError as error:
        return error.issues
    except ImportError as error:
        return [FieldIssue(path, f"cannot be checked here: {error}")]
    return []


def section_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """Every problem of every owned block in ``data`` (a block that is not a mapping, an unknown backend kind or
    a missing name is the broker model's to report, not repeated here)."""
    issues: list[FieldIssue] = []
    for key, target in BLOCK_VALIDATORS.items():
        if isinstance(data.get(key), Mapping):
            issues += _check(target, key, data[key])
    backends = data.get("backends")
    for index, entry in enumerate(backends if isinstance(backends, list) else []):
        if not isinstance(entry, Mapping) or entry.get("enabled") is False:
            continue
        validator = SETTINGS_VALIDATORS.get(str(entry.get("kind")))
        name, settings = entry.get("name"), entry.get("settings") or {}
        if validator is not None and isinstance(name, str) and isinstance(settings, Mapping):
            issues += _check(validator, f"backends[{index}].settings", name, settings)
    return issues
