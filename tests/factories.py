"""Test data builders: form posts, requests, users and submissions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission, User

from scheduler_ui.schedulers.models import Submission

ROLE_ARN = "arn:aws:iam::123456789012:role/LookoutAccess"


def form_post(tags: list[tuple[str, str]] = (), **fields: str) -> dict[str, str]:  # type: ignore[assignment]
    """A POST to /schedulers/new/ with the required members filled; `fields` overrides."""
    data = {
        "inference_scheduler_name": "pump-scheduler",
        "model_name": "pump-model",
        "data_upload_frequency": "PT10M",
        "output_bucket": "lookout-output",
        "role_arn": ROLE_ARN,
        "tags-TOTAL_FORMS": str(len(tags)),
        "tags-INITIAL_FORMS": "0",
    }
    for index, (key, value) in enumerate(tags):
        data[f"tags-{index}-key"] = key
        data[f"tags-{index}-value"] = value
    data.update(fields)
    return data


def full_form_post() -> dict[str, str]:
    """Every member of the request filled, with three tags."""
    return form_post(
        tags=[("team", "reliability"), ("site", "plant-7"), ("cost-center", "")],
        data_delay_offset_in_minutes="5",
        input_bucket="lookout-input",
        input_prefix="sensors/pump/",
        input_time_zone_offset="+05:30",
        timestamp_format="yyyyMMddHHmmss",
        component_timestamp_delimiter="_",
        output_prefix="results/",
        output_kms_key_id="alias/lookout-output",
        server_side_kms_key_id="arn:aws:kms:us-east-1:123456789012:key/1234abcd",
        client_token="full-request-token-1",
    )


def request_dict(**overrides: Any) -> dict[str, Any]:
    """A valid CreateInferenceScheduler request."""
    request: dict[str, Any] = {
        "ModelName": "pump-model",
        "InferenceSchedulerName": "pump-scheduler",
        "DataUploadFrequency": "PT10M",
        "DataInputConfiguration": {},
        "DataOutputConfiguration": {"S3OutputConfiguration": {"Bucket": "lookout-output"}},
        "RoleArn": ROLE_ARN,
        "ClientToken": Submission.new_client_token(),
    }
    request.update(overrides)
    return request


def make_submission(user: User | None = None, **overrides: Any) -> Submission:
    return Submission.accept(request_dict(**overrides), user)


def make_user(username: str, *permissions: str, **fields: Any) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "correct-horse", **fields)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user
