"""Copy as code: the same request as a boto3 call, an AWS CLI command and a
CloudFormation resource."""

from __future__ import annotations

import ast
import json

import pytest

from scheduler_ui.lookout.snippets import boto3_call, cli_command, cloudformation
from tests.factories import request_dict


def test_boto3_call_passes_exactly_the_request():
    request = request_dict(Tags=[{"Key": "team", "Value": "reliability"}])

    code = boto3_call(request)

    statement = ast.parse(code).body[-1]
    assert isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)
    call = statement.value
    assert isinstance(call.func, ast.Attribute)
    assert call.func.attr == "create_inference_scheduler"
    assert ast.literal_eval(call.keywords[0].value) == request


def test_cli_command_reads_the_request_as_cli_input_json():
    request = request_dict()

    command = cli_command(request)

    body = command.split("<<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0]
    assert json.loads(body) == request
    assert command.endswith(
        "aws lookoutequipment create-inference-scheduler --cli-input-json file://request.json\n"
    )


def test_cli_command_names_other_operations_in_kebab_case():
    command = cli_command({"InferenceSchedulerName": "x"}, "StopInferenceScheduler")

    assert "aws lookoutequipment stop-inference-scheduler" in command


def test_unknown_operations_are_refused():
    with pytest.raises(ValueError, match="LaunchRocket"):
        boto3_call({}, "LaunchRocket")


def test_cloudformation_resource_has_the_configuration_without_the_client_token():
    request = request_dict(InferenceSchedulerName="pump-7_line")

    template = json.loads(cloudformation(request))

    [(logical_id, resource)] = template["Resources"].items()
    assert logical_id == "Pump7LineScheduler"
    assert resource["Type"] == "AWS::LookoutEquipment::InferenceScheduler"
    assert "ClientToken" not in resource["Properties"]
    assert resource["Properties"]["ModelName"] == request["ModelName"]
    assert resource["Properties"]["DataOutputConfiguration"] == request["DataOutputConfiguration"]
