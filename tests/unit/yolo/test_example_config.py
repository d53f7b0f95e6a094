"""examples/config/slurm-yolo.yaml is a valid broker config whose backend mounts what the tiny example needs."""

from __future__ import annotations

from dualtrack.adapters.slurm.settings import parse_settings
from dualtrack.broker.config import load_config
from dualtrack.broker.domain import parse_spec_yaml
from dualtrack.broker.images import ImageSettings
from tests.unit.yolo.two_tracks import REPO


def test_the_yolo_config_maps_the_tiny_example_dataset_and_a_checkpoint_root() -> None:
    config = load_config(REPO / "examples" / "config" / "slurm-yolo.yaml")
    (backend,) = config.backends
    settings = parse_settings(backend.name, backend.settings)
    spec = parse_spec_yaml((REPO / "examples" / "yolo-cpu-tiny.yaml").read_text()).spec
    assert set(spec.datasets) <= set(settings.datasets)
    assert settings.checkpoint_root and settings.container.runtime == "sif-bwrap"
    images = ImageSettings.from_mapping(config.images)
    assert str(images.cache_dir) == settings.container.image_dir
    assert spec.image in images.sources
    assert spec.resources.gpus_per_worker == 0
