"""Turning what a client sent into a validated JobSpec (shared by submit, explain and render)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dualtrack.broker.domain import FieldIssue, JobSpec, SpecError, parse_spec, parse_spec_yaml
from dualtrack.broker.domain.limits import MAX_SPEC_BYTES, quote
from dualtrack.broker.domain.spec import Track


@dataclass(frozen=True)
class SpecSource:
    """Either the YAML text a user wrote or an already-decoded mapping (from the typed proto message)."""

    yaml_text: str | None = None
    data: dict[str, Any] | None = None
    size: int = 0  # bytes of the typed message the data came from (0: unknown)


def load_spec(source: SpecSource, track: str = "", tenant: str | None = None) -> tuple[JobSpec, str]:
    """Validate the spec; apply a track override and the caller's tenant. Returns (spec, the YAML text the user
    sent, or "" for a typed spec: readers render the canonical YAML from the stored spec instead).

    Raises SpecError listing every problem with its field path.
    """
    try:
        if source.yaml_text is not None:
            spec = parse_spec_yaml(source.yaml_text)
            text = source.yaml_text
        elif source.data is not None:
            if source.size > MAX_SPEC_BYTES:
                raise SpecError([FieldIssue("spec", f"is {source.size} bytes; a spec may have at most "
                                                    f"{MAX_SPEC_BYTES} bytes")])
            spec = parse_spec(source.data)
            text = ""
        else:
            raise SpecError([FieldIssue("spec", "required: send a spec or spec_yaml")])
    except SpecError as exc:
        # a problem of the whole document is blamed on the request field that carried it
        whole = "spec_yaml" if source.yaml_text is not None else "spec"
        raise SpecError([FieldIssue(i.path or whole, i.message) for i in exc.issues]) from None
    if track:
        try:
            chosen = Track(track)
        except ValueError:
            raise SpecError([FieldIssue("track", f"{quote(track)} must be one of auto, kubernetes, slurm")]) from None
        placement = spec.spec.placement.model_copy(update={"track": chosen})
        spec = spec.model_copy(update={"spec": spec.spec.model_copy(update={"placement": placement})})
    if tenant is not None and tenant != spec.metadata.tenant:
        if spec.metadata.tenant != "default":
            raise SpecError([FieldIssue("metadata.tenant",
                                        f"your credentials act for tenant {tenant!r}, not {spec.metadata.tenant!r}")])
        metadata = spec.metadata.model_copy(update={"tenant": tenant})
        spec = spec.model_copy(update={"metadata": metadata})
    return spec, text
