"""The owners' settings blocks checked when the configuration is loaded, every failing block reported at once.

The blocks the broker keeps as plain mappings are validated by the code that owns them, next to the settings
they describe (docs/configuration.md): ``policies`` by ``policies/config.py``, ``images`` by
``broker/images/settings.py`` and each ``backends[i].settings`` by its adapter's settings module. This runs all
of them, so one load reports a bad policy weight, a bad Slurm partition and a bad image size together (each
owner names the first problem inside its block). The checkers are imported only for blocks that are present.

Caller: ``broker.config.parse_config``. ``section_issues(data)`` returns the issues (empty when all pass).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from dualtrack.broker.domain.spec_errors import FieldIssue

# kind -> "module:function(name, settings)" validating a backend's settings (raises ValueError with the key)
SETTINGS_CHECKERS: Mapping[str, str] = {
    "slurm": "dualtrack.adapters.slurm.settings:parse_settings",
    "volcano": "dualtrack.adapters.volcano.settings:parse_settings",
    "inmemory": "dualtrack.adapters.inmemory:from_config",
}
POLICIES_CHECKER = "dualtrack.policies.config:PolicyConfig.from_mapping"
IMAGES_CHECKER = "dualtrack.broker.images.settings:ImageSettings.from_mapping"


def _load(target: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


def _issue(default_path: str, error: Exception) -> FieldIssue:
    """Owners raise ``ValueError("<dotted path>: <reason>")``; keep their path when the message has one."""
    text = str(error)
    head, sep, rest = text.partition(": ")
    if sep and " " not in head and head:
        return FieldIssue(head, rest)
    return FieldIssue(default_path, text)


def section_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    checks: list[tuple[str, Callable[[], Any]]] = []
    if data.get("policies") is not None:
        checks.append(("policies", lambda: _load(POLICIES_CHECKER)(data["policies"])))
    if data.get("images"):
        checks.append(("images", lambda: _load(IMAGES_CHECKER)(data["images"])))
    backends = data.get("backends")
    for index, entry in enumerate(backends if isinstance(backends, list) else []):
        if not isinstance(entry, Mapping) or entry.get("enabled") is False:
            continue
        checker = SETTINGS_CHECKERS.get(str(entry.get("kind")))
        name, settings = entry.get("name"), entry.get("settings") or {}
        if checker is None or not isinstance(name, str) or not isinstance(settings, Mapping):
            continue  # kind, name and settings' type are the broker model's to report
        checks.append((f"backends[{index}].settings",
                       lambda c=checker, n=name, s=settings: _load(c)(n, s)))  # type: ignore[misc]
    for path, check in checks:
        try:
            check()
        except (ValueError, TypeError) as error:
            issues.append(_issue(path, error))
        except ImportError as error:
            issues.append(FieldIssue(path, f"cannot be checked here: {error}"))
    return issues
