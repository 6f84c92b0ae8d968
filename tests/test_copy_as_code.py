"""Copy as code: a submission's request as JSON, a boto3 call, an AWS CLI command
and a CloudFormation resource, members in the API's order."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.template import Context, Template
from django.urls import reverse

from scheduler_ui.lookout.service import in_model_order
from tests.factories import form_post, make_submission, request_dict

# The order CreateInferenceSchedulerRequest lists its members in.
MODEL_ORDER = [
    "ModelName",
    "InferenceSchedulerName",
    "DataDelayOffsetInMinutes",
    "DataUploadFrequency",
    "DataInputConfiguration",
    "DataOutputConfiguration",
    "RoleArn",
    "ServerSideKmsKeyId",
    "ClientToken",
    "Tags",
]


def scrambled_request():
    """A request with its members in an order of its own, as jsonb hands them back."""
    request = request_dict(
        DataDelayOffsetInMinutes=5,
        ServerSideKmsKeyId="alias/lookout-data",
        DataInputConfiguration={
            "InputTimeZoneOffset": "+05:30",
            "S3InputConfiguration": {"Prefix": "pumps/", "Bucket": "plant-input"},
        },
        Tags=[{"Value": "reliability", "Key": "team"}],
    )
    return dict(sorted(request.items(), key=lambda item: len(item[0])))


def block(body: str, key: str) -> str:
    """The text of one code block on a page."""
    match = re.search(rf'<pre [^>]*id="code-{key}"[^>]*>(.*?)</pre>', body, re.S)
    assert match is not None, f"no {key} block"
    return html.unescape(match.group(1))


# --- in_model_order -----------------------------------------------------------------


def test_members_come_in_the_order_the_api_lists_them():
    ordered = in_model_order("CreateInferenceSchedulerRequest", scrambled_request())

    assert list(ordered) == MODEL_ORDER
    assert list(ordered["DataInputConfiguration"]) == [
        "S3InputConfiguration",
        "InputTimeZoneOffset",
    ]
    assert list(ordered["DataInputConfiguration"]["S3InputConfiguration"]) == ["Bucket", "Prefix"]
    assert list(ordered["Tags"][0]) == ["Key", "Value"]


def test_reordering_changes_no_value():
    request = scrambled_request()

    assert in_model_order("CreateInferenceSchedulerRequest", request) == request


def test_members_the_api_does_not_know_come_last_as_they_were():
    request = {"Surprise": 1, "RoleArn": "r", "Another": 2, "ModelName": "m"}

    ordered = in_model_order("CreateInferenceSchedulerRequest", request)

    assert list(ordered) == ["ModelName", "RoleArn", "Surprise", "Another"]


# --- The submission page ------------------------------------------------------------


@pytest.fixture
def page(viewer_client):
    submission = make_submission(**scrambled_request())
    return submission, viewer_client.get(submission.get_absolute_url()).text


def test_the_submission_page_shows_the_request_in_the_api_order(page):
    submission, body = page

    shown = json.loads(block(body, "json"))

    assert shown == submission.request
    assert list(shown) == MODEL_ORDER


def test_the_boto3_block_calls_create_inference_scheduler_with_the_request_in_order(page):
    _, body = page

    code = block(body, "boto3")

    assert "response = client.create_inference_scheduler(**{" in code
    assert code.index("'ModelName'") < code.index("'InferenceSchedulerName'") < code.index("'Tags'")


def test_the_cli_block_reads_the_stored_request_as_cli_input_json(page):
    submission, body = page

    command = block(body, "cli")

    heredoc = command.split("<<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0]
    assert json.loads(heredoc) == submission.request
    assert list(json.loads(heredoc)) == MODEL_ORDER
    assert "aws lookoutequipment create-inference-scheduler --cli-input-json" in command


def test_the_cloudformation_block_is_the_scheduler_as_a_resource(page):
    submission, body = page

    template = json.loads(block(body, "cloudformation"))

    [resource] = template["Resources"].values()
    assert resource["Type"] == "AWS::LookoutEquipment::InferenceScheduler"
    expected = {k: v for k, v in submission.request.items() if k != "ClientToken"}
    assert resource["Properties"] == expected
    assert list(resource["Properties"]) == [k for k in MODEL_ORDER if k != "ClientToken"]


@pytest.mark.parametrize("key", ["json", "boto3", "cli", "cloudformation"])
def test_each_block_has_a_copy_button_and_a_tab(page, key):
    _, body = page

    assert f'data-copy-target="#code-{key}"' in body
    assert f'data-bs-target="#code-{key}-panel"' in body


def test_the_copied_boto3_call_creates_the_scheduler(page, lookout, monkeypatch):
    """What a person pastes into Python works as it is: boto3 finds the endpoint,
    region and credentials in the environment, as it would anywhere."""
    submission, body = page
    monkeypatch.setenv("AWS_ENDPOINT_URL_LOOKOUTEQUIPMENT", lookout.endpoint.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    exec(block(body, "boto3"), {})  # the block as copied

    described = lookout.client.describe_inference_scheduler(
        InferenceSchedulerName=submission.scheduler_name
    )
    assert described["DataInputConfiguration"]["InputTimeZoneOffset"] == "+05:30"


def test_other_operations_get_boto3_and_cli_but_no_cloudformation():
    rendered = Template(
        '{% load copy_as_code %}{% copy_as_code request "StopInferenceScheduler" %}'
    ).render(Context({"request": {"InferenceSchedulerName": "pump-scheduler"}}))

    assert "client.stop_inference_scheduler(" in html.unescape(rendered)
    assert "aws lookoutequipment stop-inference-scheduler" in rendered
    assert "code-cloudformation" not in rendered


# --- The form's preview --------------------------------------------------------------


def test_the_preview_shows_the_request_in_the_api_order(operator_client):
    data = form_post(tags=[("team", "reliability")], input_bucket="plant-input")

    response = operator_client.post(reverse("submission_preview"), data)

    assert list(json.loads(response.context["request_json"])) == [
        "ModelName",
        "InferenceSchedulerName",
        "DataUploadFrequency",
        "DataInputConfiguration",
        "DataOutputConfiguration",
        "RoleArn",
        "ClientToken",
        "Tags",
    ]
