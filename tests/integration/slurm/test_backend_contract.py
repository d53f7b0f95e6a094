"""The Backend contract (tests/contract/backend_contract.py) on the local Slurm cluster, once per transport:
the JSON CLI, the CLI over SSH (a local sshd, see test_transports.py) and slurmrestd (the version the env file
names, and ``auto``). What ``submit`` sent is read back with ``scontrol write batch_script``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from dualtrack.adapters.base import Backend
from dualtrack.adapters.slurm import SlurmBackend, from_config
from dualtrack.broker.domain import BackendRef
from tests.contract.backend_contract import BackendContract

from .conftest import cli_settings
from .test_transports import local_sshd, rest_settings

pytestmark = pytest.mark.slurm
__all__ = ["local_sshd"]  # a fixture, imported for the SSH class


class SlurmContract(BackendContract):
    settings: dict[str, Any]

    def build(self, env: dict[str, str]) -> SlurmBackend:
        raise NotImplementedError

    @pytest.fixture
    def backend(self, slurm_env: dict[str, str]) -> Iterator[SlurmBackend]:
        built = self.build(slurm_env)
        self.env = slurm_env
        try:
            yield built
        finally:
            built.close()

    def restarted(self, backend: Backend) -> Backend:
        return self.build(self.env)

    def unknown_ref(self, backend: Backend) -> BackendRef:
        return BackendRef(backend.name, "dt-jnotthere00000-1", "999999999")

    def sent(self, backend: Backend, ref: BackendRef) -> str:
        env = {**os.environ, "SLURM_CONF": self.env["SLURM_CONF"]}
        done = subprocess.run(["scontrol", "write", "batch_script", ref.native_id, "-"], capture_output=True,
                              text=True, timeout=30, check=True, env=env)
        return done.stdout


class TestSlurmCli(SlurmContract):
    def build(self, env: dict[str, str]) -> SlurmBackend:
        return from_config("slurm-cli", cli_settings(env))


class TestSlurmSsh(SlurmContract):
    @pytest.fixture(autouse=True)
    def _ssh(self, local_sshd: dict[str, object]) -> None:
        self.ssh = local_sshd

    def build(self, env: dict[str, str]) -> SlurmBackend:
        return from_config("slurm-ssh", cli_settings(env, transport="ssh", ssh=self.ssh))


class TestSlurmRest(SlurmContract):
    def build(self, env: dict[str, str]) -> SlurmBackend:
        return from_config("slurm-rest", rest_settings(env))


class TestSlurmRestAuto(SlurmContract):
    def build(self, env: dict[str, str]) -> SlurmBackend:
        return from_config("slurm-rest-auto", rest_settings(env, apiVersion="auto"))
