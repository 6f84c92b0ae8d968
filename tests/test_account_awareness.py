"""The create form knows the account: it suggests the models that are ready, and
warns (without refusing) when the name is taken or the model already serves a
scheduler. Against a local endpoint over HTTP."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from scheduler_ui.schedulers.models import Submission
from tests.factories import form_post, request_dict

NEW = reverse("submission_new")
PREVIEW = reverse("submission_preview")
DEMO_MODELS = ["compressor-model", "conveyor-model", "fan-model", "pump-model", "turbine-model"]


@pytest.fixture(autouse=True)
def empty_cache():
    """What one test's endpoint answered must not show in another's."""
    cache.clear()


@pytest.fixture
def existing(lookout):
    """A scheduler on the endpoint, fan-line, serving pump-model."""
    lookout.client.create_inference_scheduler(
        **request_dict(InferenceSchedulerName="fan-line", ModelName="pump-model")
    )
    return lookout


def test_the_form_suggests_the_models_that_are_ready(operator_client, lookout):
    lookout.endpoint.backend.add_model("draft-model")
    # Still training: the endpoint has no call that leaves a model unfinished.
    lookout.endpoint.backend._models["draft-model"].status = "IN_PROGRESS"

    response = operator_client.get(NEW)

    assert response.context["model_names"] == DEMO_MODELS
    assert '<option value="pump-model"></option>' in response.text
    assert "draft-model" not in response.text


def test_any_model_name_may_still_be_typed(operator_client, lookout):
    response = operator_client.get(NEW)

    assert '<input type="text" name="model_name" maxlength="200" list="model-names"' in (
        response.text
    )
    assert '<datalist id="model-names">' in response.text


def test_the_models_are_asked_for_again_only_once_the_cache_lapses(operator_client, lookout):
    operator_client.get(NEW)
    lookout.endpoint.backend.add_model("new-model")

    cached = operator_client.get(NEW).context["model_names"]
    cache.clear()
    fresh = operator_client.get(NEW).context["model_names"]

    assert "new-model" not in cached
    assert "new-model" in fresh


def test_the_form_works_without_suggestions_when_the_endpoint_is_unreachable(
    operator_client, settings
):
    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there

    page = operator_client.get(NEW)
    preview = operator_client.post(PREVIEW, form_post())
    submitted = operator_client.post(NEW, form_post())

    assert page.status_code == 200
    assert page.context["model_names"] == []
    assert preview.context["warnings"] == []
    assert submitted.status_code == 302
    assert Submission.objects.get().scheduler_name == "pump-scheduler"


def test_the_preview_warns_that_the_name_is_taken(operator_client, existing):
    response = operator_client.post(
        PREVIEW, form_post(inference_scheduler_name="fan-line", model_name="fan-model")
    )

    assert response.context["warnings"] == [
        "A scheduler named fan-line already exists (status RUNNING)."
    ]
    assert "A scheduler named fan-line already exists (status RUNNING)." in response.text


def test_the_preview_warns_that_the_model_already_serves_a_scheduler(operator_client, existing):
    response = operator_client.post(PREVIEW, form_post(model_name="pump-model"))

    assert response.context["warnings"] == ["Model pump-model already serves scheduler fan-line."]


def test_a_warning_does_not_stop_the_request(operator_client, existing):
    response = operator_client.post(PREVIEW, form_post(inference_scheduler_name="fan-line"))

    assert response.context["warnings"]
    assert "problems" not in response.context
    assert '"InferenceSchedulerName": "fan-line"' in response.context["request_json"]


def test_the_preview_warns_while_other_fields_still_have_problems(operator_client, existing):
    response = operator_client.post(
        PREVIEW, form_post(inference_scheduler_name="fan-line", model_name="fan-model", role_arn="")
    )

    assert [p.label for p in response.context["problems"]] == ["IAM role ARN"]
    assert len(response.context["warnings"]) == 1


def test_an_invalid_name_is_not_looked_up(operator_client, existing):
    response = operator_client.post(
        PREVIEW, form_post(inference_scheduler_name="fan line", model_name="fan-model")
    )

    assert response.context["warnings"] == []


def test_a_free_name_and_model_give_no_warning(operator_client, existing):
    response = operator_client.post(
        PREVIEW, form_post(inference_scheduler_name="turbine-1", model_name="turbine-model")
    )

    assert response.context["warnings"] == []
    assert 'data-testid="preview-warnings"' not in response.text


def test_the_form_page_shows_the_warnings_after_a_failed_post(operator_client, existing):
    response = operator_client.post(
        NEW, form_post(inference_scheduler_name="fan-line", output_bucket="Bad_Bucket")
    )

    assert response.status_code == 200
    assert 'data-testid="form-warnings"' in response.text
    assert "A scheduler named fan-line already exists (status RUNNING)." in response.text
    assert "Model pump-model already serves scheduler fan-line." not in response.text
    assert not Submission.objects.exists()


def test_a_taken_name_is_still_submitted_for_aws_to_judge(operator_client, existing):
    response = operator_client.post(NEW, form_post(inference_scheduler_name="fan-line"))

    assert response.status_code == 302
    assert Submission.objects.get().scheduler_name == "fan-line"
