"""The Slurm track: ``from_config(name, settings) -> SlurmBackend`` (see docs/slurm.md).

Modules: ``settings`` (validation), ``render`` (sbatch script), ``parsers`` / ``text`` (Slurm JSON of 21.08 to
25.11 and the few text outputs), ``gpus`` (GPU request forms, GRES/TRES strings), ``health`` (ping/diag),
``states`` (state table), ``capacity`` (snapshot), ``transport`` / ``cli`` /
``rest`` (how Slurm is reached), ``backend`` (the Protocol). pyslurm is not used: no PyPI release matches
Slurm 22.05 (see docs/slurm.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dualtrack.adapters.slurm.backend import SlurmBackend
from dualtrack.adapters.slurm.cli import CliTransport
from dualtrack.adapters.slurm.rest import RestTransport
from dualtrack.adapters.slurm.settings import SlurmSettings, parse_settings
from dualtrack.adapters.slurm.transport import LocalRunner, SlurmTransport, SshRunner


def make_transport(settings: SlurmSettings) -> SlurmTransport:
    """The transport ``settings.transport`` names (settings guarantee its section is present)."""
    if settings.transport == "rest":
        assert settings.rest is not None
        return RestTransport(settings.rest)
    if settings.transport == "ssh":
        assert settings.ssh is not None
        return CliTransport(SshRunner(settings.ssh, settings.slurm_conf, settings.command_timeout_s))
    return CliTransport(LocalRunner(settings.slurm_conf, settings.command_timeout_s))


def from_config(name: str, settings: Mapping[str, Any]) -> SlurmBackend:
    """Build a SlurmBackend; raises ValueError naming the bad key (``backends[<name>].settings.<key>: ...``)."""
    parsed = parse_settings(name, settings)
    return SlurmBackend(name, parsed, make_transport(parsed))


__all__ = ["SlurmBackend", "SlurmSettings", "from_config", "make_transport", "parse_settings"]
