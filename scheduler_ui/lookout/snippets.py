"""A request as code a person can paste: a boto3 call, an AWS CLI command, a
CloudFormation resource."""

from __future__ import annotations

import json
import pprint
import re
from typing import Any

from scheduler_ui.lookout.service import operation_names


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _kebab(operation: str) -> str:
    return _snake(operation).replace("_", "-")


def boto3_call(request: dict[str, Any], operation: str = "CreateInferenceScheduler") -> str:
    if operation not in operation_names():
        raise ValueError(f"unknown operation {operation!r}")
    arguments = pprint.pformat(request, indent=4, width=88, sort_dicts=False)
    return (
        "import boto3\n\n"
        'client = boto3.client("lookoutequipment")\n'
        f"response = client.{_snake(operation)}(**{arguments})\n"
    )


def cli_command(request: dict[str, Any], operation: str = "CreateInferenceScheduler") -> str:
    """An `aws` command that reads the request from a file, as the CLI's
    --cli-input-json expects it (the request JSON itself)."""
    if operation not in operation_names():
        raise ValueError(f"unknown operation {operation!r}")
    return (
        f"cat > request.json <<'JSON'\n{json.dumps(request, indent=2)}\nJSON\n"
        f"aws lookoutequipment {_kebab(operation)} --cli-input-json file://request.json\n"
    )


def cloudformation(request: dict[str, Any]) -> str:
    """An AWS::LookoutEquipment::InferenceScheduler resource with the request's
    configuration. CloudFormation makes its own idempotency token, so the
    ClientToken is left out."""
    properties = {key: value for key, value in request.items() if key != "ClientToken"}
    logical_id = "".join(
        part.capitalize() for part in re.split(r"[^0-9a-zA-Z]", request["InferenceSchedulerName"])
    )
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            f"{logical_id or 'Inference'}Scheduler": {
                "Type": "AWS::LookoutEquipment::InferenceScheduler",
                "Properties": properties,
            }
        },
    }
    return json.dumps(template, indent=2) + "\n"
