"""proto <-> domain conversions for the dualtrack.v1 API. No business logic here."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from dualtrack.broker.domain import (
    CandidateEvaluation,
    ControllerHealth,
    Explanation,
    FilterStatus,
    Job,
    JobEvent,
    JobSpec,
    JobState,
)
from dualtrack.broker.domain.limits import MAX_SPEC_BYTES
from dualtrack.broker.domain.quantity import format_duration
from dualtrack.broker.handlers.inspect import BackendStatus
from dualtrack.broker.handlers.specs import SpecSource
from dualtrack.policies import Decision
from dualtrack.v1 import broker_pb2 as pb

_TRACK_OF_KIND = {"volcano": "kubernetes", "slurm": "slurm"}


def timestamp(seconds: float | None) -> Timestamp | None:
    if seconds is None:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def _set_time(field: Timestamp, seconds: float | None) -> None:
    """Set a Timestamp field of a message in place (as ``timestamp`` would build it); None leaves it unset."""
    if seconds is not None:
        field.FromNanoseconds(int(seconds * 1e9))


_STATE_NUMBERS = {state: pb.JobState.Value(state.value) for state in JobState}


def state_to_pb(state: JobState | None) -> Any:
    return _STATE_NUMBERS[state] if state is not None else pb.JOB_STATE_UNSPECIFIED


def state_from_pb(value: int) -> JobState:
    return JobState(pb.JobState.Name(value))


def filter_status_to_pb(status: FilterStatus) -> Any:
    return pb.FilterStatus.Value(status.value)


# -- specs -----------------------------------------------------------------------------------------
def spec_source(request: Any) -> SpecSource:
    """SpecSource from a request with a ``source`` oneof of ``spec`` / ``spec_yaml``."""
    which = request.WhichOneof("source")
    if which == "spec_yaml":
        return SpecSource(yaml_text=request.spec_yaml)
    if which == "spec":
        size = request.spec.ByteSize()
        if size > MAX_SPEC_BYTES:  # refused by the handler on its size alone: not worth converting
            return SpecSource(data={}, size=size)
        return SpecSource(data=spec_dict_from_pb(request.spec), size=size)
    return SpecSource()


def message_dict(message: Message) -> dict[str, Any]:
    """What ``json_format.MessageToDict(message)`` gives for the spec messages (camelCase keys, set fields only,
    enums by name, google.protobuf.Value as plain values), several times faster: it walks ``ListFields``
    instead of every field descriptor, and how each field converts is decided once per field descriptor
    (``_field_plan``), which matters when SubmitJobs converts 1,000 specs per call. Differences from
    json_format, none of which the spec messages have: other well-known types (Timestamp, wrappers) come out as
    plain messages, infinite doubles stay floats, 32-bit floats are not rounded to their shortest form."""
    out: dict[str, Any] = {}
    plans = _PLANS
    for field, value in message.ListFields():
        plan = plans.get(field)
        if plan is None:
            plan = plans[field] = _field_plan(field)
        name, convert = plan
        out[name] = value if convert is None else convert(value)
    return out


_Convert = Callable[[Any], Any]
# per field descriptor: its JSON name and how its value converts (None: the value as it is). Filled lazily
# (a race only computes the same entry twice); descriptors live as long as their pool, i.e. the process.
_PLANS: dict[FieldDescriptor, tuple[str, _Convert | None]] = {}
_STRUCT_TYPES = ("google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue")
_INT64_TYPES = (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
                FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64)


def _field_plan(field: FieldDescriptor) -> tuple[str, _Convert | None]:
    """How one field's value converts: a map, a repeated field or a single value of the field's kind."""
    single = _single_converter(field)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        item = _single_converter(field.message_type.fields_by_name["value"])
        if item is None:
            return field.json_name, dict
        return field.json_name, lambda value: {key: item(entry) for key, entry in value.items()}
    if _repeated(field):
        if single is None:
            return field.json_name, list
        return field.json_name, lambda value: [single(entry) for entry in value]
    return field.json_name, single


def _repeated(field: FieldDescriptor) -> bool:
    """``is_repeated`` in protobuf >= 5.29 (where ``label`` is going away), ``label`` before."""
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else bool(field.label == FieldDescriptor.LABEL_REPEATED)


def _single_converter(field: FieldDescriptor) -> _Convert | None:
    """The conversion of one (non-repeated) value of ``field``, or None where json_format keeps it as it is."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name in _STRUCT_TYPES:
            return _struct_value
        return message_dict
    if field.type == FieldDescriptor.TYPE_ENUM:
        names = {number: value.name for number, value in field.enum_type.values_by_number.items()}
        return lambda value: names.get(value, value)  # an unknown number stays a number, as in json_format
    if field.type in _INT64_TYPES:
        return str  # as json_format writes 64-bit integers
    if field.type == FieldDescriptor.TYPE_BYTES:
        return _base64
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return _not_nan
    return None


def _struct_value(value: Message) -> Any:
    return json_format.MessageToDict(value)  # google.protobuf.Value / Struct / ListValue as plain JSON values


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode()  # as json_format writes bytes


def _not_nan(value: float) -> float | str:
    return "NaN" if value != value else value  # json_format's spelling; the validator refuses it with the path


def spec_dict_from_pb(message: pb.JobSpec) -> dict[str, Any]:
    """The camelCase document the spec validator reads, from the typed message (unset fields left out)."""
    data: dict[str, Any] = message_dict(message)
    spec = data.get("spec")
    if isinstance(spec, dict):
        if "priorityName" in spec:
            spec["priority"] = spec.pop("priorityName")
        for key in ("timeLimit",):
            if spec.get(key) == "":
                spec.pop(key)
        reroute = spec.get("reroute")
        if isinstance(reroute, dict) and reroute.get("pendingTimeout") == "":
            reroute.pop("pendingTimeout")
        yolo = spec.get("yolo")
        if isinstance(yolo, dict):
            batch = yolo.get("batch")
            if isinstance(batch, float) and batch.is_integer():
                yolo["batch"] = int(batch)
            for key, value in list(yolo.get("args", {}).items()):
                if isinstance(value, float) and value.is_integer():
                    yolo["args"][key] = int(value)
            for key in ("task", "mode"):
                if yolo.get(key) == "":
                    yolo.pop(key)
        for section, keys in (("topology", ("tier", "mode")), ("placement", ("track",))):
            block = spec.get(section)
            if isinstance(block, dict):
                for key in keys:
                    if block.get(key) == "":
                        block.pop(key)
    return data


def spec_to_pb(spec: JobSpec) -> pb.JobSpec:
    data = spec.to_dict()
    body = data["spec"]
    body["timeLimit"] = format_duration(body["timeLimit"])
    body["resources"]["memoryPerWorker"] = str(body["resources"]["memoryPerWorker"])
    pending = body["reroute"].get("pendingTimeout")
    body["reroute"] = {"pendingTimeout": format_duration(pending)} if pending else {}
    for key in ("yolo", "command"):
        if body.get(key) is None:
            body.pop(key, None)
    for key, value in list(body.get("gang", {}).items()):
        if value is None:
            body["gang"].pop(key)
    for key, value in list((body.get("yolo") or {}).items()):
        if value is None:
            body["yolo"].pop(key)
    if body["resources"].get("gpuType") is None:
        body["resources"].pop("gpuType")
    message: pb.JobSpec = json_format.ParseDict(data, pb.JobSpec())
    return message


# -- jobs ------------------------------------------------------------------------------------------
def explanation_to_pb(explanation: Explanation | None) -> pb.Explanation | None:
    if explanation is None:
        return None
    return pb.Explanation(
        decided_at=timestamp(explanation.decided_at),
        winner=explanation.winner or "",
        winner_pool=explanation.winner_pool or "",
        summary=explanation.summary,
        candidates=[_candidate_to_pb(c) for c in explanation.candidates],
    )


def _candidate_to_pb(c: CandidateEvaluation) -> pb.CandidateEvaluation:
    return pb.CandidateEvaluation(
        backend=c.backend,
        pool=c.pool or "",
        status=filter_status_to_pb(c.status),
        verdicts=[pb.FilterVerdict(plugin=v.plugin, status=filter_status_to_pb(v.status), reason=v.reason)
                  for v in c.verdicts],
        scores=[pb.ScoreRecord(plugin=s.plugin, raw=s.raw, weight=s.weight, weighted=s.weighted, detail=s.detail)
                for s in c.scores],
        total=c.total,
    )


def job_to_pb(job: Job, track: str = "", *, spec_yaml: str = "", full: bool = True, output_dir: str = "",
              into: pb.Job | None = None) -> pb.Job:
    """The Job message; ``into`` (an empty message, e.g. the result SubmitJobs just added to its reply) is filled
    instead of a new message, which saves copying it there. Empty strings are left unset (the same message)."""
    message = pb.Job() if into is None else into
    message.id = job.id
    message.name = job.name
    message.tenant = job.tenant
    message.state = state_to_pb(job.state)
    message.attempt = job.attempt
    if job.backend:
        message.backend = job.backend
    if track:
        message.track = track
    if job.backend_ref and job.backend_ref.native_id:
        message.backend_job_id = job.backend_ref.native_id
    message.object_name = job.object_name
    if job.reason:
        message.reason = job.reason
    if job.image_ref:
        message.image_ref = job.image_ref
    _set_time(message.created_at, job.created_at)
    _set_time(message.updated_at, job.updated_at)
    _set_time(message.state_since, job.state_since)
    if spec_yaml:
        message.spec_yaml = spec_yaml
    if output_dir:
        message.output_dir = output_dir
    if job.exit_code is not None:
        message.exit_code = job.exit_code
    if full:
        message.spec.CopyFrom(spec_to_pb(job.spec))
        explanation = explanation_to_pb(job.explanation)
        if explanation is not None:
            message.explanation.CopyFrom(explanation)
    return message


def decision_to_pb(decision: Decision) -> pb.ExplainPlacementResponse:
    """ExplainPlacement's answer: the verdict, the chosen backend/pool/tier and every candidate's scores."""
    placement = decision.placement
    response = pb.ExplainPlacementResponse(
        status=filter_status_to_pb(decision.status),
        backend=placement.backend if placement else "",
        pool=(placement.pool or "") if placement else "",
        tier=(placement.tier or "") if placement else "",
    )
    explanation = explanation_to_pb(decision.explanation)
    if explanation is not None:
        response.explanation.CopyFrom(explanation)
    if decision.status is FilterStatus.UNRESOLVABLE and not decision.explanation.candidates:
        response.explanation.summary = "no backends are configured"
    return response


def event_to_pb(event: JobEvent) -> pb.JobEvent:
    return pb.JobEvent(
        seq=event.seq,
        job_id=event.job_id,
        at=timestamp(event.at),
        type=event.type.value,
        state=state_to_pb(event.state),
        previous_state=state_to_pb(event.previous_state),
        message=event.message,
        attempt=event.attempt,
        backend=event.backend or "",
    )


def controller_to_pb(health: ControllerHealth) -> pb.ControllerStatus:
    return pb.ControllerStatus(
        up=health.up,
        latency_seconds=health.latency_s or 0.0,
        hosts_up=[host for host, ok in health.controllers if ok],
        hosts_down=[host for host, ok in health.controllers if not ok],
        schedule_last_cycle_seconds=health.schedule_last_cycle_s or 0.0,
        backfill_last_cycle_seconds=health.backfill_last_cycle_s or 0.0,
        backfill_mean_cycle_seconds=health.backfill_mean_cycle_s or 0.0,
    )


def backend_to_pb(status: BackendStatus) -> pb.Backend:
    snap = status.snapshot
    message = pb.Backend(
        name=status.name,
        kind=status.kind,
        track=status.track,
        healthy=status.health.up and (snap is None or snap.healthy),
        error=status.health.last_error or (snap.error if snap else ""),
        unsupported=status.unsupported,
    )
    if snap is not None and snap.controller is not None:
        message.controller.CopyFrom(controller_to_pb(snap.controller))
    if snap is not None and snap.healthy:
        message.gpus_total = snap.gpus_total
        message.gpus_free = snap.gpus_free
        message.gpus.extend(pb.GpuCapacity(gpu_type=t, total=total, free=free)
                            for t, (total, free) in sorted(snap.gpus_by_type().items()))
        message.pools.extend(
            pb.PoolStatus(name=p.name, kind=p.kind, gpu_limit=-1 if p.gpu_limit is None else p.gpu_limit,
                          gpus_allocated=p.gpus_allocated, pending_jobs=p.pending_jobs, pending_gpus=p.pending_gpus)
            for p in snap.pools
        )
        message.nodes = len(snap.nodes)
        message.nodes_schedulable = len(snap.schedulable_nodes)
        message.running_jobs = snap.running_jobs
        message.pending_jobs = snap.pending_jobs
        message.switches = len(snap.switches)
        ts = timestamp(snap.taken_at)
        if ts is not None:
            message.snapshot_at.CopyFrom(ts)
    return message
