import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    ACCEPTED: _ClassVar[JobState]
    PLACED: _ClassVar[JobState]
    SUBMITTED: _ClassVar[JobState]
    QUEUED: _ClassVar[JobState]
    RUNNING: _ClassVar[JobState]
    REROUTING: _ClassVar[JobState]
    SUCCEEDED: _ClassVar[JobState]
    FAILED: _ClassVar[JobState]
    CANCELLED: _ClassVar[JobState]

class FilterStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILTER_STATUS_UNSPECIFIED: _ClassVar[FilterStatus]
    OK: _ClassVar[FilterStatus]
    UNSCHEDULABLE: _ClassVar[FilterStatus]
    UNRESOLVABLE: _ClassVar[FilterStatus]
JOB_STATE_UNSPECIFIED: JobState
ACCEPTED: JobState
PLACED: JobState
SUBMITTED: JobState
QUEUED: JobState
RUNNING: JobState
REROUTING: JobState
SUCCEEDED: JobState
FAILED: JobState
CANCELLED: JobState
FILTER_STATUS_UNSPECIFIED: FilterStatus
OK: FilterStatus
UNSCHEDULABLE: FilterStatus
UNRESOLVABLE: FilterStatus

class JobSpec(_message.Message):
    __slots__ = ("api_version", "kind", "metadata", "spec")
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    api_version: str
    kind: str
    metadata: Metadata
    spec: TrainingSpec
    def __init__(self, api_version: _Optional[str] = ..., kind: _Optional[str] = ..., metadata: _Optional[_Union[Metadata, _Mapping]] = ..., spec: _Optional[_Union[TrainingSpec, _Mapping]] = ...) -> None: ...

class Metadata(_message.Message):
    __slots__ = ("name", "tenant", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    tenant: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., tenant: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TrainingSpec(_message.Message):
    __slots__ = ("image", "yolo", "command", "env", "resources", "gang", "topology", "datasets", "placement", "priority", "priority_name", "time_limit", "retry", "reroute")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    YOLO_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    GANG_FIELD_NUMBER: _ClassVar[int]
    TOPOLOGY_FIELD_NUMBER: _ClassVar[int]
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    REROUTE_FIELD_NUMBER: _ClassVar[int]
    image: str
    yolo: YoloSpec
    command: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    resources: Resources
    gang: Gang
    topology: Topology
    datasets: _containers.RepeatedScalarFieldContainer[str]
    placement: PlacementRequest
    priority: int
    priority_name: str
    time_limit: str
    retry: Retry
    reroute: Reroute
    def __init__(self, image: _Optional[str] = ..., yolo: _Optional[_Union[YoloSpec, _Mapping]] = ..., command: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., gang: _Optional[_Union[Gang, _Mapping]] = ..., topology: _Optional[_Union[Topology, _Mapping]] = ..., datasets: _Optional[_Iterable[str]] = ..., placement: _Optional[_Union[PlacementRequest, _Mapping]] = ..., priority: _Optional[int] = ..., priority_name: _Optional[str] = ..., time_limit: _Optional[str] = ..., retry: _Optional[_Union[Retry, _Mapping]] = ..., reroute: _Optional[_Union[Reroute, _Mapping]] = ...) -> None: ...

class YoloSpec(_message.Message):
    __slots__ = ("task", "mode", "model", "data", "epochs", "imgsz", "batch", "workers", "device", "resume", "project", "name", "args")
    class ArgsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    TASK_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    IMGSZ_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    task: str
    mode: str
    model: str
    data: str
    epochs: int
    imgsz: int
    batch: float
    workers: int
    device: str
    resume: _struct_pb2.Value
    project: str
    name: str
    args: _containers.MessageMap[str, _struct_pb2.Value]
    def __init__(self, task: _Optional[str] = ..., mode: _Optional[str] = ..., model: _Optional[str] = ..., data: _Optional[str] = ..., epochs: _Optional[int] = ..., imgsz: _Optional[int] = ..., batch: _Optional[float] = ..., workers: _Optional[int] = ..., device: _Optional[str] = ..., resume: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., project: _Optional[str] = ..., name: _Optional[str] = ..., args: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("workers", "gpus_per_worker", "gpu_type", "cpus_per_worker", "memory_per_worker")
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    GPUS_PER_WORKER_FIELD_NUMBER: _ClassVar[int]
    GPU_TYPE_FIELD_NUMBER: _ClassVar[int]
    CPUS_PER_WORKER_FIELD_NUMBER: _ClassVar[int]
    MEMORY_PER_WORKER_FIELD_NUMBER: _ClassVar[int]
    workers: int
    gpus_per_worker: int
    gpu_type: str
    cpus_per_worker: int
    memory_per_worker: str
    def __init__(self, workers: _Optional[int] = ..., gpus_per_worker: _Optional[int] = ..., gpu_type: _Optional[str] = ..., cpus_per_worker: _Optional[int] = ..., memory_per_worker: _Optional[str] = ...) -> None: ...

class Gang(_message.Message):
    __slots__ = ("min_available",)
    MIN_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    min_available: int
    def __init__(self, min_available: _Optional[int] = ...) -> None: ...

class Topology(_message.Message):
    __slots__ = ("tier", "mode")
    TIER_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    tier: str
    mode: str
    def __init__(self, tier: _Optional[str] = ..., mode: _Optional[str] = ...) -> None: ...

class PlacementRequest(_message.Message):
    __slots__ = ("track", "backends")
    TRACK_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    track: str
    backends: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, track: _Optional[str] = ..., backends: _Optional[_Iterable[str]] = ...) -> None: ...

class Retry(_message.Message):
    __slots__ = ("max_attempts", "on_user_error")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ON_USER_ERROR_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    on_user_error: bool
    def __init__(self, max_attempts: _Optional[int] = ..., on_user_error: _Optional[bool] = ...) -> None: ...

class Reroute(_message.Message):
    __slots__ = ("pending_timeout",)
    PENDING_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    pending_timeout: str
    def __init__(self, pending_timeout: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "name", "tenant", "state", "attempt", "backend", "track", "backend_job_id", "object_name", "reason", "exit_code", "image_ref", "created_at", "updated_at", "state_since", "spec", "explanation", "spec_yaml", "output_dir")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    BACKEND_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_REF_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_SINCE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    SPEC_YAML_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIR_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    tenant: str
    state: JobState
    attempt: int
    backend: str
    track: str
    backend_job_id: str
    object_name: str
    reason: str
    exit_code: int
    image_ref: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    state_since: _timestamp_pb2.Timestamp
    spec: JobSpec
    explanation: Explanation
    spec_yaml: str
    output_dir: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., tenant: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., attempt: _Optional[int] = ..., backend: _Optional[str] = ..., track: _Optional[str] = ..., backend_job_id: _Optional[str] = ..., object_name: _Optional[str] = ..., reason: _Optional[str] = ..., exit_code: _Optional[int] = ..., image_ref: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ..., spec_yaml: _Optional[str] = ..., output_dir: _Optional[str] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("spec", "spec_yaml", "idempotency_key", "track")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SPEC_YAML_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    spec_yaml: str
    idempotency_key: str
    track: str
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ..., spec_yaml: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., track: _Optional[str] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job", "duplicate")
    JOB_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    job: Job
    duplicate: bool
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("tenant", "states", "backend", "page_size", "page_token")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    states: _containers.RepeatedScalarFieldContainer[JobState]
    backend: str
    page_size: int
    page_token: str
    def __init__(self, tenant: _Optional[str] = ..., states: _Optional[_Iterable[_Union[JobState, str]]] = ..., backend: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WatchJobsRequest(_message.Message):
    __slots__ = ("job_id", "since_seq", "tenant", "follow_until_terminal")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_SEQ_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UNTIL_TERMINAL_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    since_seq: int
    tenant: str
    follow_until_terminal: bool
    def __init__(self, job_id: _Optional[str] = ..., since_seq: _Optional[int] = ..., tenant: _Optional[str] = ..., follow_until_terminal: _Optional[bool] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("seq", "job_id", "at", "type", "state", "previous_state", "message", "attempt", "backend")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    seq: int
    job_id: str
    at: _timestamp_pb2.Timestamp
    type: str
    state: JobState
    previous_state: JobState
    message: str
    attempt: int
    backend: str
    def __init__(self, seq: _Optional[int] = ..., job_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., previous_state: _Optional[_Union[JobState, str]] = ..., message: _Optional[str] = ..., attempt: _Optional[int] = ..., backend: _Optional[str] = ...) -> None: ...

class FilterVerdict(_message.Message):
    __slots__ = ("plugin", "status", "reason")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    status: FilterStatus
    reason: str
    def __init__(self, plugin: _Optional[str] = ..., status: _Optional[_Union[FilterStatus, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ScoreRecord(_message.Message):
    __slots__ = ("plugin", "raw", "weight", "weighted", "detail")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    raw: float
    weight: float
    weighted: float
    detail: str
    def __init__(self, plugin: _Optional[str] = ..., raw: _Optional[float] = ..., weight: _Optional[float] = ..., weighted: _Optional[float] = ..., detail: _Optional[str] = ...) -> None: ...

class CandidateEvaluation(_message.Message):
    __slots__ = ("backend", "pool", "status", "verdicts", "scores", "total")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERDICTS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    backend: str
    pool: str
    status: FilterStatus
    verdicts: _containers.RepeatedCompositeFieldContainer[FilterVerdict]
    scores: _containers.RepeatedCompositeFieldContainer[ScoreRecord]
    total: float
    def __init__(self, backend: _Optional[str] = ..., pool: _Optional[str] = ..., status: _Optional[_Union[FilterStatus, str]] = ..., verdicts: _Optional[_Iterable[_Union[FilterVerdict, _Mapping]]] = ..., scores: _Optional[_Iterable[_Union[ScoreRecord, _Mapping]]] = ..., total: _Optional[float] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("decided_at", "winner", "winner_pool", "summary", "candidates")
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    WINNER_POOL_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    decided_at: _timestamp_pb2.Timestamp
    winner: str
    winner_pool: str
    summary: str
    candidates: _containers.RepeatedCompositeFieldContainer[CandidateEvaluation]
    def __init__(self, decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., winner: _Optional[str] = ..., winner_pool: _Optional[str] = ..., summary: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[CandidateEvaluation, _Mapping]]] = ...) -> None: ...

class ExplainPlacementRequest(_message.Message):
    __slots__ = ("spec", "spec_yaml", "track")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SPEC_YAML_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    spec_yaml: str
    track: str
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ..., spec_yaml: _Optional[str] = ..., track: _Optional[str] = ...) -> None: ...

class ExplainPlacementResponse(_message.Message):
    __slots__ = ("status", "backend", "pool", "tier", "explanation")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    status: FilterStatus
    backend: str
    pool: str
    tier: str
    explanation: Explanation
    def __init__(self, status: _Optional[_Union[FilterStatus, str]] = ..., backend: _Optional[str] = ..., pool: _Optional[str] = ..., tier: _Optional[str] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ...) -> None: ...

class GpuCapacity(_message.Message):
    __slots__ = ("gpu_type", "total", "free")
    GPU_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    gpu_type: str
    total: int
    free: int
    def __init__(self, gpu_type: _Optional[str] = ..., total: _Optional[int] = ..., free: _Optional[int] = ...) -> None: ...

class PoolStatus(_message.Message):
    __slots__ = ("name", "kind", "gpu_limit", "gpus_allocated", "pending_jobs", "pending_gpus")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    GPU_LIMIT_FIELD_NUMBER: _ClassVar[int]
    GPUS_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    PENDING_JOBS_FIELD_NUMBER: _ClassVar[int]
    PENDING_GPUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    gpu_limit: int
    gpus_allocated: int
    pending_jobs: int
    pending_gpus: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., gpu_limit: _Optional[int] = ..., gpus_allocated: _Optional[int] = ..., pending_jobs: _Optional[int] = ..., pending_gpus: _Optional[int] = ...) -> None: ...

class Backend(_message.Message):
    __slots__ = ("name", "kind", "track", "healthy", "error", "gpus_total", "gpus_free", "gpus", "pools", "nodes", "nodes_schedulable", "running_jobs", "pending_jobs", "unsupported", "snapshot_at", "switches", "controller")
    class UnsupportedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GPUS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    GPUS_FREE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    NODES_SCHEDULABLE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    PENDING_JOBS_FIELD_NUMBER: _ClassVar[int]
    UNSUPPORTED_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_AT_FIELD_NUMBER: _ClassVar[int]
    SWITCHES_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    track: str
    healthy: bool
    error: str
    gpus_total: int
    gpus_free: int
    gpus: _containers.RepeatedCompositeFieldContainer[GpuCapacity]
    pools: _containers.RepeatedCompositeFieldContainer[PoolStatus]
    nodes: int
    nodes_schedulable: int
    running_jobs: int
    pending_jobs: int
    unsupported: _containers.ScalarMap[str, str]
    snapshot_at: _timestamp_pb2.Timestamp
    switches: int
    controller: ControllerStatus
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., track: _Optional[str] = ..., healthy: _Optional[bool] = ..., error: _Optional[str] = ..., gpus_total: _Optional[int] = ..., gpus_free: _Optional[int] = ..., gpus: _Optional[_Iterable[_Union[GpuCapacity, _Mapping]]] = ..., pools: _Optional[_Iterable[_Union[PoolStatus, _Mapping]]] = ..., nodes: _Optional[int] = ..., nodes_schedulable: _Optional[int] = ..., running_jobs: _Optional[int] = ..., pending_jobs: _Optional[int] = ..., unsupported: _Optional[_Mapping[str, str]] = ..., snapshot_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., switches: _Optional[int] = ..., controller: _Optional[_Union[ControllerStatus, _Mapping]] = ...) -> None: ...

class ControllerStatus(_message.Message):
    __slots__ = ("up", "latency_seconds", "hosts_up", "hosts_down", "schedule_last_cycle_seconds", "backfill_last_cycle_seconds", "backfill_mean_cycle_seconds")
    UP_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HOSTS_UP_FIELD_NUMBER: _ClassVar[int]
    HOSTS_DOWN_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_LAST_CYCLE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_LAST_CYCLE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_MEAN_CYCLE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    up: bool
    latency_seconds: float
    hosts_up: _containers.RepeatedScalarFieldContainer[str]
    hosts_down: _containers.RepeatedScalarFieldContainer[str]
    schedule_last_cycle_seconds: float
    backfill_last_cycle_seconds: float
    backfill_mean_cycle_seconds: float
    def __init__(self, up: _Optional[bool] = ..., latency_seconds: _Optional[float] = ..., hosts_up: _Optional[_Iterable[str]] = ..., hosts_down: _Optional[_Iterable[str]] = ..., schedule_last_cycle_seconds: _Optional[float] = ..., backfill_last_cycle_seconds: _Optional[float] = ..., backfill_mean_cycle_seconds: _Optional[float] = ...) -> None: ...

class ListBackendsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBackendsResponse(_message.Message):
    __slots__ = ("backends",)
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    backends: _containers.RepeatedCompositeFieldContainer[Backend]
    def __init__(self, backends: _Optional[_Iterable[_Union[Backend, _Mapping]]] = ...) -> None: ...

class RenderJobRequest(_message.Message):
    __slots__ = ("spec", "spec_yaml", "track", "backend")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SPEC_YAML_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    spec_yaml: str
    track: str
    backend: str
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ..., spec_yaml: _Optional[str] = ..., track: _Optional[str] = ..., backend: _Optional[str] = ...) -> None: ...

class RenderJobResponse(_message.Message):
    __slots__ = ("backend", "kind", "artefact")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ARTEFACT_FIELD_NUMBER: _ClassVar[int]
    backend: str
    kind: str
    artefact: str
    def __init__(self, backend: _Optional[str] = ..., kind: _Optional[str] = ..., artefact: _Optional[str] = ...) -> None: ...

class SubmitJobsRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[SubmitJobRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[SubmitJobRequest, _Mapping]]] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message", "field_violations", "backend_reasons")
    class BackendReasonsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_REASONS_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    field_violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    backend_reasons: _containers.ScalarMap[str, str]
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., field_violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ..., backend_reasons: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SubmitJobsResult(_message.Message):
    __slots__ = ("job", "duplicate", "error")
    JOB_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    job: Job
    duplicate: bool
    error: ItemError
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., duplicate: _Optional[bool] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class SubmitJobsResponse(_message.Message):
    __slots__ = ("results", "accepted")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SubmitJobsResult]
    accepted: int
    def __init__(self, results: _Optional[_Iterable[_Union[SubmitJobsResult, _Mapping]]] = ..., accepted: _Optional[int] = ...) -> None: ...

class MigrateJobRequest(_message.Message):
    __slots__ = ("id", "to_backend", "now", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    TO_BACKEND_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    to_backend: str
    now: bool
    reason: str
    def __init__(self, id: _Optional[str] = ..., to_backend: _Optional[str] = ..., now: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...
