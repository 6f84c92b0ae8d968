"""/schedulers/new/preview/: the form's live preview says what submitting would send."""

from __future__ import annotations

import ast
import json

import pytest
from django.urls import reverse

from scheduler_ui.schedulers.models import Submission, SubmissionEvent
from scheduler_ui.schedulers.views.submissions import (
    CLIENT_TOKEN_PLACEHOLDER,
    Problem,
    form_problems,
)
from tests.factories import form_post, full_form_post

URL = reverse("submission_preview")


def test_it_shows_the_exact_request_that_submitting_stores(operator_client):
    preview = operator_client.post(URL, full_form_post())
    operator_client.post(reverse("submission_new"), full_form_post())

    assert json.loads(preview.context["request_json"]) == Submission.objects.get().request


def test_its_boto3_call_passes_exactly_the_request(operator_client):
    response = operator_client.post(URL, full_form_post())

    code = ast.parse(response.context["boto3_call"])
    call = code.body[-1].value  # response = client.create_inference_scheduler(...)
    assert ast.unparse(call.func) == "client.create_inference_scheduler"
    arguments = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    assert arguments == json.loads(response.context["request_json"])


def test_it_shows_a_placeholder_for_a_client_token_left_empty(operator_client):
    response = operator_client.post(URL, form_post(client_token=""))

    assert json.loads(response.context["request_json"])["ClientToken"] == CLIENT_TOKEN_PLACEHOLDER


def test_it_shows_a_client_token_that_was_typed(operator_client):
    response = operator_client.post(URL, form_post(client_token="my-token-1"))

    assert json.loads(response.context["request_json"])["ClientToken"] == "my-token-1"


def test_it_records_and_sends_nothing(operator_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        operator_client.post(URL, full_form_post())

    assert not Submission.objects.exists()
    assert not SubmissionEvent.objects.exists()
    assert callbacks == []


def test_it_leaves_a_typed_client_token_free_for_the_real_submission(operator_client):
    operator_client.post(URL, form_post(client_token="only-once"))

    response = operator_client.post(reverse("submission_new"), form_post(client_token="only-once"))

    assert response.status_code == 302


def test_it_lists_each_problem_at_its_field(operator_client):
    response = operator_client.post(URL, form_post(input_bucket="Bad_Bucket", role_arn=""))

    assert [(p.label, p.field_id) for p in response.context["problems"]] == [
        ("Input S3 bucket", "id_input_bucket"),
        ("IAM role ARN", "id_role_arn"),
    ]
    assert 'href="#id_input_bucket"' in response.text
    assert "request_json" not in response.context


def test_it_names_the_tag_row_with_a_problem(operator_client):
    response = operator_client.post(URL, form_post(tags=[("team", "a"), ("aws:owner", "b")]))

    [problem] = response.context["problems"]
    assert (problem.label, problem.field_id) == ("Tag 2 key", "id_tags-1-key")


CASES = {
    "bad bucket": form_post(input_bucket="Bad_Bucket"),
    "prefix without bucket": form_post(input_prefix="sensors/"),
    "missing name and role": form_post(inference_scheduler_name="", role_arn=""),
    "reserved tag key": form_post(tags=[("aws:owner", "b")]),
    "too many tags": form_post(tags=[(f"k{i}", "v") for i in range(201)]),
}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_it_finds_exactly_the_problems_submitting_finds(operator_client, data):
    preview = operator_client.post(URL, data)
    submitted = operator_client.post(reverse("submission_new"), data)

    assert preview.context["problems"] == form_problems(submitted.context["form"])
    assert all(isinstance(problem, Problem) for problem in preview.context["problems"])


def test_a_viewer_cannot_preview(viewer_client):
    assert viewer_client.post(URL, form_post()).status_code == 403


def test_it_answers_only_posts(operator_client):
    assert operator_client.get(URL).status_code == 405
