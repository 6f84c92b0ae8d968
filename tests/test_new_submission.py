"""/schedulers/new/: the form mirrors the request and refuses what AWS would."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scheduler_ui.schedulers.forms import CreateSchedulerForm, UpdateSchedulerForm
from scheduler_ui.schedulers.models import EventKind, State, Submission
from tests.factories import ROLE_ARN, form_post, full_form_post

URL = reverse("submission_new")


def test_full_post_stores_exactly_the_expected_request(operator_client):
    response = operator_client.post(URL, full_form_post())

    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response.url == submission.get_absolute_url()
    assert submission.request == {
        "InferenceSchedulerName": "pump-scheduler",
        "ModelName": "pump-model",
        "DataUploadFrequency": "PT10M",
        "DataDelayOffsetInMinutes": 5,
        "DataInputConfiguration": {
            "S3InputConfiguration": {"Bucket": "lookout-input", "Prefix": "sensors/pump/"},
            "InputTimeZoneOffset": "+05:30",
            "InferenceInputNameConfiguration": {
                "TimestampFormat": "yyyyMMddHHmmss",
                "ComponentTimestampDelimiter": "_",
            },
        },
        "DataOutputConfiguration": {
            "S3OutputConfiguration": {"Bucket": "lookout-output", "Prefix": "results/"},
            "KmsKeyId": "alias/lookout-output",
        },
        "RoleArn": ROLE_ARN,
        "ServerSideKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd",
        "ClientToken": "full-request-token-1",
        "Tags": [
            {"Key": "team", "Value": "reliability"},
            {"Key": "site", "Value": "plant-7"},
            {"Key": "cost-center", "Value": ""},
        ],
    }


def test_required_only_post_stores_no_optional_member(operator_client):
    operator_client.post(URL, form_post())

    request = Submission.objects.get().request
    assert set(request) == {
        "InferenceSchedulerName",
        "ModelName",
        "DataUploadFrequency",
        "DataInputConfiguration",
        "DataOutputConfiguration",
        "RoleArn",
        "ClientToken",
    }
    assert request["DataInputConfiguration"] == {}
    assert request["DataOutputConfiguration"] == {
        "S3OutputConfiguration": {"Bucket": "lookout-output"}
    }


def test_blank_client_token_is_generated_on_the_server(operator_client):
    operator_client.post(URL, form_post(client_token=""))

    submission = Submission.objects.get()
    assert len(submission.client_token) == 36
    assert submission.request["ClientToken"] == submission.client_token


def test_accepting_records_the_submission_its_first_event_and_dispatches_on_commit(
    operator_client, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        operator_client.post(URL, form_post())

    submission = Submission.objects.get()
    assert submission.state == State.QUEUED
    assert submission.created_by == operator
    [event] = submission.events.all()
    assert (event.kind, event.actor, event.to_state) == (
        EventKind.SUBMITTED,
        operator,
        State.QUEUED,
    )
    assert len(callbacks) == 1


INVALID_MEMBERS = [
    ("inference_scheduler_name", "pump scheduler!", "pattern"),
    ("inference_scheduler_name", "", "required"),
    ("model_name", "x" * 201, "at most 200"),
    ("data_upload_frequency", "PT2M", "valid choice"),
    ("data_delay_offset_in_minutes", "61", "less than or equal to 60"),
    ("data_delay_offset_in_minutes", "-1", "greater than or equal to 0"),
    ("data_delay_offset_in_minutes", "five", "whole number"),
    ("input_bucket", "Bad_Bucket", "pattern"),
    ("input_bucket", "ab", "at least 3"),
    ("input_prefix", "no-trailing-slash", "pattern"),
    ("input_time_zone_offset", "05:30", "valid choice"),
    ("timestamp_format", "dd-MM-yyyy", "valid choice"),
    ("component_timestamp_delimiter", "+", "valid choice"),
    ("output_bucket", "", "required"),
    ("output_bucket", " lookout-output", "pattern"),
    ("output_prefix", "results", "pattern"),
    ("output_kms_key_id", "-starts-with-dash", "pattern"),
    ("role_arn", "arn:aws:iam::12345:role/short", "pattern"),
    ("role_arn", "", "required"),
    ("server_side_kms_key_id", "key with spaces", "pattern"),
    ("client_token", "é" * 10, "pattern"),
]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    INVALID_MEMBERS,
    ids=[f"{f}={v[:12]!r}" for f, v, _ in INVALID_MEMBERS],
)
def test_invalid_member_is_refused_at_its_field_and_input_is_kept(
    operator_client, field, value, message
):
    data = form_post(**{field: value})
    data["input_bucket"] = data.get("input_bucket", "keep-this-bucket")

    response = operator_client.post(URL, data)

    assert response.status_code == 200
    errors = response.context["form"].scheduler.errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert response.context["form"].scheduler.data["input_bucket"] == data["input_bucket"]
    assert 'value="pump-model"' in response.text or field == "model_name"
    assert not Submission.objects.exists()


def test_only_a_form_drawn_empty_takes_back_what_was_typed_before_signing_in_again(
    operator_client,
):
    """console.js fills a "fresh" form in with a draft kept in the tab; one drawn
    with what was sent already holds it."""
    drawn = operator_client.get(URL).text
    sent = operator_client.post(URL, form_post(output_bucket="Bad_Bucket")).text

    assert 'data-keep-draft="fresh"' in drawn
    assert 'data-keep-draft="sent"' in sent


def test_prefix_without_bucket_is_refused_at_the_bucket(operator_client):
    response = operator_client.post(URL, form_post(input_prefix="sensors/"))

    assert "input_bucket" in response.context["form"].scheduler.errors
    assert not Submission.objects.exists()


def test_reserved_tag_key_is_refused_at_its_row(operator_client):
    response = operator_client.post(URL, form_post(tags=[("team", "a"), ("aws:owner", "b")]))

    tag_errors = response.context["form"].tags.errors
    assert tag_errors[0] == {}
    assert "pattern" in " ".join(tag_errors[1]["key"])
    assert 'value="aws:owner"' in response.text
    assert not Submission.objects.exists()


def test_deleted_tag_rows_are_not_sent(operator_client):
    data = form_post(tags=[("team", "a"), ("old", "b")])
    data["tags-1-DELETE"] = "on"

    operator_client.post(URL, data)

    assert Submission.objects.get().request["Tags"] == [{"Key": "team", "Value": "a"}]


def test_more_tags_than_the_api_allows_are_refused(operator_client):
    response = operator_client.post(URL, form_post(tags=[(f"k{i}", "v") for i in range(201)]))

    assert response.context["form"].tags.non_form_errors()
    assert not Submission.objects.exists()


def test_add_a_tag_shows_one_more_row_and_keeps_what_was_typed(operator_client):
    response = operator_client.post(URL, {**form_post(tags=[("team", "a")]), "add_tag": "1"})

    assert response.status_code == 200
    assert len(response.context["form"].tags.forms) == 2
    assert 'value="team"' in response.text
    assert not response.context["form"].scheduler.errors
    assert not Submission.objects.exists()


def test_reused_client_token_is_refused(operator_client):
    operator_client.post(URL, form_post(client_token="once-only"))

    response = operator_client.post(
        URL, form_post(inference_scheduler_name="other", client_token="once-only")
    )

    assert "client_token" in response.context["form"].scheduler.errors
    assert Submission.objects.count() == 1


def test_viewer_cannot_open_the_form(viewer_client):
    assert viewer_client.get(URL).status_code == 403
    assert viewer_client.post(URL, form_post()).status_code == 403
    assert not Submission.objects.exists()


def test_help_texts_come_from_the_api_documentation(operator_client):
    response = operator_client.get(URL)

    assert "The name of the inference scheduler being created." in response.text


def test_every_form_shows_each_fields_hint_once():
    forms = [CreateSchedulerForm(), CreateSchedulerForm()]

    texts = {str(form.scheduler.fields["role_arn"].help_text) for form in forms}
    tag_texts = {str(form.tags.empty_form.fields["key"].help_text) for form in forms}

    [text], [tag_text] = texts, tag_texts
    assert text.count("12-digit account") == 1
    assert tag_text.count("not starting with aws:") == 1


def test_the_edit_form_shows_each_fields_hint_once():
    form = UpdateSchedulerForm({"InferenceSchedulerName": "pump", "Status": "STOPPED"})

    assert str(form.fields["role_arn"].help_text).count("12-digit account") == 1
