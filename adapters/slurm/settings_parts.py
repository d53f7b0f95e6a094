"""The nested blocks of a Slurm backend's settings (``ssh``, ``rest``, ``container``) and the checked string types
they share with ``adapters.slurm.settings`` (docs/slurm.md, "Configuration").

Values that end up in ``#SBATCH`` lines or commands are restricted to safe characters here, so nothing from the
config can break the rendered script. Paths may use ``${VAR}`` (expanded from the broker's environment).
"""

from __future__ import annotations

import os
import re
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictInt, StrictStr, model_validator

from dualtrack.broker.domain.settings_model import (
    FieldValueError,
    NonEmptyStr,
    SettingsModel,
    StrictNumber,
    matches,
)

REST_API_VERSIONS = ("v0.0.38", "v0.0.39", "v0.0.40", "v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44")
AUTO_VERSION = "auto"  # the newest of REST_API_VERSIONS the server offers (docs/slurm.md, "API versions")
SLURM_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")  # partition, qos, account, GRES type
SAFE_PATH = re.compile(r"^/[A-Za-z0-9_.+@%/=,:-]*$")  # absolute, no spaces, quotes or shell syntax
HOST = re.compile(r"^[A-Za-z0-9_.:-]{1,253}$")
HTTP_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
# The fallback runtime ships inside this package (docs/images.md section 7), so pip-installed brokers have it too.
DEFAULT_SIF_RUNNER = str(files(__package__ or "dualtrack.adapters.slurm").joinpath("sif-run"))

Runtime = Literal["apptainer", "singularity", "sif-bwrap", "none"]
ApiVersion = Literal["v0.0.38", "v0.0.39", "v0.0.40", "v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44", "auto"]


def _safe_path(value: str) -> str:
    text = os.path.expandvars(value)
    if not SAFE_PATH.match(text):
        raise ValueError(f"{text!r} must be an absolute path of letters, digits and _.+@%/=,:- only")
    return text


def _positive_seconds(value: float) -> float:
    if value <= 0:
        raise ValueError("must be a positive number of seconds")
    return float(value)


def _ssh_option(value: str) -> str:
    if "=" not in value:
        raise ValueError(f"{value!r} is not a Key=Value ssh option")
    return value


def _bind(value: str) -> str:
    if not value or not SAFE_PATH.match(value):
        raise ValueError(f"{value!r} must be src[:dst[:ro]] with absolute paths")
    return value


def _http_url(value: str) -> str:
    url = os.path.expandvars(value)
    if not HTTP_URL.match(url):
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url.rstrip("/")


SafePath = Annotated[NonEmptyStr, AfterValidator(_safe_path)]  # absolute, ${VAR} expanded
Seconds = Annotated[StrictNumber, AfterValidator(_positive_seconds)]
UserName = Annotated[StrictStr, AfterValidator(matches(SLURM_NAME, "a user name"))]


class SshSettings(SettingsModel):
    """The JSON CLI over SSH to a login node (``transport: ssh``)."""

    host: Annotated[StrictStr, AfterValidator(matches(HOST, "a host name"))]
    port: StrictInt = Field(default=22, ge=1, le=65535)
    user: UserName | None = None
    identity_file: SafePath | None = None
    options: tuple[Annotated[StrictStr, AfterValidator(_ssh_option)], ...] = ()  # extra ``-o Key=Value``


class RestSettings(SettingsModel):
    """slurmrestd with a JWT (``transport: rest``): ``token`` or ``tokenFile`` is required."""

    url: Annotated[NonEmptyStr, AfterValidator(_http_url)]
    user: UserName = "root"
    token: NonEmptyStr | None = Field(default=None, repr=False)  # a credential: kept out of logs
    token_file: SafePath | None = None
    api_version: ApiVersion = "v0.0.38"
    timeout_s: Seconds = Field(default=30.0, alias="timeout")

    @model_validator(mode="after")
    def _one_token(self) -> RestSettings:
        if self.token is None and self.token_file is None:
            raise FieldValueError("tokenFile", "one of rest.token or rest.tokenFile is required "
                                               "(a JWT from scontrol token)")
        return self


class ContainerSettings(SettingsModel):
    """How a job's image runs (docs/images.md); every runtime but ``none`` needs ``imageDir``."""

    runtime: Runtime = "apptainer"
    image_dir: SafePath | None = None
    binds: tuple[Annotated[StrictStr, AfterValidator(_bind)], ...] = ()
    sif_runner: SafePath = DEFAULT_SIF_RUNNER

    @model_validator(mode="after")
    def _image_dir(self) -> ContainerSettings:
        if self.runtime != "none" and self.image_dir is None:
            raise FieldValueError("imageDir", f"required for runtime {self.runtime} (where the SIF files are)")
        return self
