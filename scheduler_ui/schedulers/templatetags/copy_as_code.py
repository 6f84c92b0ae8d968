"""{% copy_as_code request operation %}: one request as code a person can paste."""

from __future__ import annotations

import json
from typing import Any

from django import template

from scheduler_ui.lookout import snippets
from scheduler_ui.lookout.service import in_model_order, operation_input

register = template.Library()

CREATE = "CreateInferenceScheduler"


@register.inclusion_tag("schedulers/_copy_as_code.html")
def copy_as_code(request: dict[str, Any], operation: str = CREATE) -> dict[str, Any]:
    """The request as JSON, a boto3 call and an AWS CLI command, and for a create
    also a CloudFormation resource; members in the API's order throughout."""
    ordered = in_model_order(operation_input(operation), request)
    blocks = [
        {
            "key": "json",
            "title": "Request JSON",
            "note": "What the console sends (the CLI's --cli-input-json reads the same).",
            "code": json.dumps(ordered, indent=2),
        },
        {
            "key": "boto3",
            "title": "boto3",
            "note": "The same call from Python.",
            "code": snippets.boto3_call(ordered, operation),
        },
        {
            "key": "cli",
            "title": "AWS CLI",
            "note": "The same call from a shell.",
            "code": snippets.cli_command(ordered, operation),
        },
    ]
    if operation == CREATE:
        blocks.append(
            {
                "key": "cloudformation",
                "title": "CloudFormation",
                "note": "The scheduler as a stack resource (CloudFormation makes its own token).",
                "code": snippets.cloudformation(ordered),
            }
        )
    return {"blocks": blocks}
