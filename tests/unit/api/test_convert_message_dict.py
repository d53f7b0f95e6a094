"""``convert.message_dict`` (the per-descriptor cached walk SubmitJobs uses) gives exactly
``json_format.MessageToDict``'s output: maps, repeated fields, enums (unknown numbers too), 64-bit integers,
bytes, doubles and google.protobuf.Value / Struct / ListValue."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2, json_format, struct_pb2
from google.protobuf.message import Message

from dualtrack.broker.api.convert import message_dict
from dualtrack.v1 import broker_pb2 as pb


def _spec() -> pb.JobSpec:
    spec = pb.JobSpec(api_version="dualtrack/v1", kind="TrainingJob",
                      metadata=pb.Metadata(name="sweep-1", tenant="vision", labels={"team": "cv", "run": "7"}))
    spec.spec.image = "ultralytics/ultralytics:8.3.40"
    spec.spec.env.update({"A": "1", "B": ""})
    spec.spec.command.extend(["python", "train.py", "--lr", "0.01"])
    spec.spec.yolo.model = "yolov8n.pt"
    spec.spec.yolo.batch = 0.5
    spec.spec.yolo.resume.CopyFrom(struct_pb2.Value(bool_value=True))
    args = spec.spec.yolo.args
    args["lr0"].number_value = 0.01
    args["imgsz"].number_value = 640
    args["name"].string_value = "run"
    args["cache"].bool_value = False
    args["none"].null_value = struct_pb2.NULL_VALUE
    args["nested"].struct_value.update({"a": [1, "x", None, {"b": True}]})
    args["list"].list_value.extend([1.5, "y", False])
    spec.spec.resources.workers = 2
    spec.spec.resources.gpus_per_worker = 4
    return spec


def _descriptor() -> descriptor_pb2.FileDescriptorProto:
    """Enums, repeated messages, repeated strings and int32s, and in the options bytes, uint64, int64, double."""
    file = descriptor_pb2.FileDescriptorProto(name="x.proto", package="p", dependency=["a.proto", "b.proto"],
                                              public_dependency=[0, 1])
    message = file.message_type.add(name="M")
    message.field.add(name="f", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED, json_name="f")
    message.field.add(name="g", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES)
    option = file.options.uninterpreted_option.add(
        string_value=b"\x00\xffbytes", positive_int_value=2**63 + 5, negative_int_value=-(2**62),
        double_value=2.5, identifier_value="id")
    option.name.add(name_part="part", is_extension=False)
    file.options.java_multiple_files = True
    file.options.optimize_for = descriptor_pb2.FileOptions.CODE_SIZE
    return file


def _event() -> pb.JobEvent:
    """int64 and enums, one of them a number the enum does not name (proto3 keeps it)."""
    return pb.JobEvent(seq=2**40 + 3, job_id="j1", type="state", state=99, previous_state=pb.JOB_STATE_UNSPECIFIED + 1,
                       attempt=2, message="m")


def _explanation() -> pb.Explanation:
    """Repeated messages holding enums, repeated messages and doubles (NaN included)."""
    return pb.Explanation(winner="a", summary="s", candidates=[
        pb.CandidateEvaluation(backend="a", status=pb.FilterStatus.Value("FILTER_STATUS_UNSPECIFIED") + 1,
                               verdicts=[pb.FilterVerdict(plugin="p", status=2, reason="r")],
                               scores=[pb.ScoreRecord(plugin="s", raw=1.25, weight=-3.0, weighted=float("nan"))],
                               total=0.1),
    ])


@pytest.mark.parametrize("make", [_spec, _descriptor, _event, _explanation, pb.JobSpec],
                         ids=["spec", "descriptor", "event", "explanation", "empty"])
def test_message_dict_equals_json_format(make: type[Message]) -> None:
    message = make()
    expected = json_format.MessageToDict(message)
    assert message_dict(message) == expected
    assert message_dict(message) == expected  # again, with every field's plan cached


def test_the_bytes_and_64_bit_integers_are_strings_as_in_json_format() -> None:
    option = message_dict(_descriptor())["options"]["uninterpretedOption"][0]
    assert option["stringValue"] == "AP9ieXRlcw=="
    assert option["positiveIntValue"] == str(2**63 + 5)
    assert message_dict(_event())["state"] == 99
