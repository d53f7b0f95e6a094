"""The checked names and nested blocks of a Volcano backend's settings (``tolerations``, ``topologyLabels``), shared
by ``adapters.volcano.settings`` (docs/kubernetes.md, "Configuration")."""

from __future__ import annotations

import re
from typing import Annotated, Literal, NotRequired

from pydantic import AfterValidator, ConfigDict, StrictInt, StrictStr
from typing_extensions import TypedDict

from dualtrack.broker.domain.settings_model import SettingsModel, matches

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


LabelKey = Annotated[StrictStr, AfterValidator(matches(LABEL_KEY, "a label key"))]
Subdomain = Annotated[StrictStr, AfterValidator(matches(DNS1123_SUBDOMAIN, "a DNS-1123 subdomain"))]


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute path")
    return value


AbsolutePath = Annotated[StrictStr, AfterValidator(_absolute)]


class Toleration(TypedDict):
    """A Kubernetes toleration, kept as the mapping the pod template receives."""

    key: NotRequired[StrictStr]
    operator: NotRequired[Literal["Equal", "Exists"]]
    value: NotRequired[StrictStr]
    effect: NotRequired[Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] | None]
    tolerationSeconds: NotRequired[StrictInt | None]


# unknown keys are errors; pydantic reads a TypedDict's config here (``with_config`` needs pydantic 2.7, the floor
# is 2.6), before any model that uses it is built
Toleration.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


DEFAULT_TOLERATIONS: tuple[Toleration, ...] = (
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
)


class TopologyLabels(SettingsModel):
    """Which node labels name a node's NVLink domain and its leaf switch (HyperNodes are the fallback)."""

    nvlink_domain: LabelKey = "nvidia.com/gpu.clique"
    switch: LabelKey = "topology.kubernetes.io/switch"
