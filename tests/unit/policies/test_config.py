"""PolicyConfig.from_mapping: the documented shape parses; every bad key is named in the error."""

from __future__ import annotations

from typing import Any

import pytest

from dualtrack.policies import PolicyConfig

EXAMPLE: dict[str, Any] = {
    "profile": "default",
    "weights": {"topology": 2, "expectedStart": 3, "dataLocality": 1, "fairShare": 1, "trackPreference": 1},
    "trackPreference": {"vision-qa": "slurm", "*": "kubernetes"},
    "tenants": {"vision-qa": {"maxGpus": 16, "maxRunningJobs": 4, "weight": 2, "pools": {"kube": "vision"}}},
    "datasets": {"weld-defects": {"sizeBytes": "2e12", "locations": {"kube-local": "pvc/weld"}}},
    "bandwidth": {"default": 1.25e9, "backends": {"slurm": 5e8}},
    "imageConversionSeconds": 90,
}


def test_the_documented_example_parses() -> None:
    config = PolicyConfig.from_mapping(EXAMPLE)
    assert config.weights["expectedStart"] == 3.0
    assert config.preferred_track("vision-qa") == "slurm"
    assert config.preferred_track("anyone") == "kubernetes"
    assert config.tenant("vision-qa").max_gpus == 16 and config.tenant("vision-qa").weight == 2.0
    assert config.tenant("vision-qa").pools == {"kube": "vision"}
    assert config.tenant("nobody").max_gpus is None
    assert config.datasets["weld-defects"].size_bytes == 2e12
    assert config.bandwidth_to("slurm") == 5e8 and config.bandwidth_to("kube") == 1.25e9
    assert config.image_conversion_seconds == 90.0


def test_empty_means_defaults() -> None:
    assert PolicyConfig.from_mapping({}) == PolicyConfig.from_mapping(None)
    assert PolicyConfig.from_mapping({}).weights["topology"] == 2.0


def test_a_weight_of_zero_switches_a_plugin_off() -> None:
    assert PolicyConfig.from_mapping({"weights": {"fairShare": 0}}).weights["fairShare"] == 0.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weights": {"dataLocality": -1}}, "policies.weights.dataLocality: must be >= 0"),
        ({"weights": {"cheapest": 1}}, "policies.weights.cheapest: unknown score plugin"),
        ({"weights": {"topology": "lots"}}, "policies.weights.topology: must be a number"),
        ({"weights": {"topology": True}}, "policies.weights.topology: must be a number"),
        ({"weights": {"topology": float("nan")}}, "policies.weights.topology: must be finite"),
        ({"wieghts": {}}, "policies.wieghts: unknown key"),
        ({"profile": "fastest"}, "policies.profile: 'fastest' is not one of"),
        ({"trackPreference": {"a": "cloud"}}, "policies.trackPreference.a: must be one of kubernetes, slurm"),
        ({"tenants": {"a": {"maxGpus": -1}}}, "policies.tenants.a.maxGpus: must be >= 0"),
        ({"tenants": {"a": {"maxGpus": 1.5}}}, "policies.tenants.a.maxGpus: must be a whole number"),
        ({"tenants": {"a": {"weight": 0}}}, "policies.tenants.a.weight: must be > 0"),
        ({"tenants": {"a": {"maxGPUs": 1}}}, "policies.tenants.a.maxGPUs: unknown key"),
        ({"tenants": {"a": []}}, "policies.tenants.a: must be a mapping"),
        ({"datasets": {"d": {"locations": {}}}}, "policies.datasets.d.sizeBytes: required field is missing"),
        ({"datasets": {"d": {"sizeBytes": 1, "locations": {"k": ""}}}}, "policies.datasets.d.locations.k: must be"),
        ({"bandwidth": {"default": 0}}, "policies.bandwidth.default: must be > 0"),
        ({"bandwidth": {"backends": {"k": -5}}}, "policies.bandwidth.backends.k: must be > 0"),
        ({"imageConversionSeconds": -1}, "policies.imageConversionSeconds: must be >= 0"),
        ({"startHalfScoreSeconds": 0}, "policies.startHalfScoreSeconds: must be > 0"),
        ([], "policies: must be a mapping"),
    ],
)
def test_bad_keys_are_named(data: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        PolicyConfig.from_mapping(data)
    assert str(caught.value).startswith(message)
