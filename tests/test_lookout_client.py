"""The boto3 client made from settings, and how the errors of a call are classified."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
)

from scheduler_ui.lookout.client import (
    FINAL_ERROR_CODES,
    RETRYABLE_ERROR_CODES,
    error_code_and_message,
    is_retryable,
    list_all,
    make_client,
)
from scheduler_ui.lookout.service import documentation, service_model

LOCAL_ENDPOINT = "http://127.0.0.1:4567"


@pytest.fixture(autouse=True)
def offline_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials from the environment, so that making a client never looks
    further along the chain (profiles, instance metadata over the network)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def client_error(code: str, message: str = "It went wrong.") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, "CreateInferenceScheduler")


# --- Classification -----------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "InternalServerException",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    ],
)
def test_error_code_is_retryable(code: str) -> None:
    assert is_retryable(code)


@pytest.mark.parametrize(
    "code",
    [
        "ValidationException",
        "ResourceNotFoundException",
        "AccessDeniedException",
        "ServiceQuotaExceededException",
        "ConflictException",
        "SomeFutureException",
    ],
)
def test_error_code_is_final(code: str) -> None:
    assert not is_retryable(code)


@pytest.mark.parametrize(
    "code",
    sorted(name for name, s in service_model()["shapes"].items() if s.get("exception")),
)
def test_every_modelled_error_is_classified(code: str) -> None:
    assert (code in RETRYABLE_ERROR_CODES) != (code in FINAL_ERROR_CODES)


ERRORS = [
    pytest.param(client_error("ThrottlingException", "Rate exceeded"), True, id="throttling"),
    pytest.param(client_error("InternalServerException"), True, id="internal server error"),
    pytest.param(client_error("ValidationException"), False, id="validation error"),
    pytest.param(client_error("ConflictException"), False, id="conflict"),
    pytest.param(EndpointConnectionError(endpoint_url=LOCAL_ENDPOINT), True, id="no connection"),
    pytest.param(ConnectTimeoutError(endpoint_url=LOCAL_ENDPOINT), True, id="connect timeout"),
    pytest.param(ReadTimeoutError(endpoint_url=LOCAL_ENDPOINT), True, id="read timeout"),
    pytest.param(ConnectionClosedError(endpoint_url=LOCAL_ENDPOINT), True, id="connection closed"),
]


@pytest.mark.parametrize(("error", "retryable"), ERRORS)
def test_exception_of_a_call_is_classified_by_its_code(error: Exception, retryable: bool) -> None:
    found = error_code_and_message(error)
    assert found is not None
    assert is_retryable(found[0]) is retryable


def test_client_error_gives_its_aws_code_and_message() -> None:
    error = client_error("ThrottlingException", "Rate exceeded")
    assert error_code_and_message(error) == ("ThrottlingException", "Rate exceeded")


def test_modelled_exception_of_the_client_gives_its_aws_code(settings: Any) -> None:
    settings.LOOKOUT_ENDPOINT_URL = LOCAL_ENDPOINT
    conflict = make_client().exceptions.ConflictException
    response: Any = {"Error": {"Code": "ConflictException", "Message": "Name in use."}}
    assert error_code_and_message(conflict(response, "CreateInferenceScheduler")) == (
        "ConflictException",
        "Name in use.",
    )


def test_client_error_without_details_gives_unknown() -> None:
    assert error_code_and_message(ClientError({}, "CreateInferenceScheduler")) == ("Unknown", "")


@pytest.mark.parametrize(
    "error_class", [EndpointConnectionError, ReadTimeoutError], ids=lambda c: c.__name__
)
def test_connection_error_gives_its_class_name_and_the_endpoint(error_class: Any) -> None:
    found = error_code_and_message(error_class(endpoint_url=LOCAL_ENDPOINT))
    assert found is not None
    code, message = found
    assert code == error_class.__name__
    assert LOCAL_ENDPOINT in message


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ValueError("a bug of ours"), id="ValueError"),
        pytest.param(KeyError("Arn"), id="KeyError"),
        pytest.param(ParamValidationError(report="Missing ModelName"), id="ParamValidationError"),
        pytest.param(NoRegionError(), id="NoRegionError"),
    ],
)
def test_exception_unrelated_to_the_call_gives_none(error: Exception) -> None:
    assert error_code_and_message(error) is None


# --- The client -------------------------------------------------------------------


def test_client_uses_the_configured_endpoint_and_region(settings: Any) -> None:
    settings.LOOKOUT_ENDPOINT_URL = LOCAL_ENDPOINT
    settings.AWS_REGION = "eu-west-1"
    client = make_client()
    assert client.meta.service_model.service_name == "lookoutequipment"
    assert client.meta.endpoint_url == LOCAL_ENDPOINT
    assert client.meta.region_name == "eu-west-1"


def test_client_without_endpoint_setting_uses_aws(settings: Any) -> None:
    settings.LOOKOUT_ENDPOINT_URL = None
    settings.AWS_REGION = "ap-northeast-2"
    client = make_client()
    assert client.meta.endpoint_url == "https://lookoutequipment.ap-northeast-2.amazonaws.com"


def test_client_makes_a_single_attempt_per_call(settings: Any) -> None:
    settings.LOOKOUT_ENDPOINT_URL = LOCAL_ENDPOINT
    config: Any = make_client().meta.config
    assert config.retries["total_max_attempts"] == 1


def test_client_uses_the_configured_timeouts(settings: Any) -> None:
    settings.LOOKOUT_ENDPOINT_URL = LOCAL_ENDPOINT
    settings.LOOKOUT_CONNECT_TIMEOUT = 2.5
    settings.LOOKOUT_READ_TIMEOUT = 7.5
    config: Any = make_client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.5, 7.5)


def test_a_process_keeps_one_client_for_the_settings_as_they_are(settings: Any) -> None:
    """Built once (loading the service model takes a tenth of a second), and let
    go when the settings change: each client holds its own service model."""
    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:4001"
    first = make_client()
    assert make_client() is first

    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:4002"
    assert make_client().meta.endpoint_url == "http://127.0.0.1:4002"

    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:4001"
    assert make_client() is not first


# --- Documentation -----------------------------------------------------------------


def test_documentation_is_plain_text() -> None:
    text = documentation("CreateInferenceSchedulerRequest", "DataDelayOffsetInMinutes")
    assert "delay" in text
    assert not re.search(r"<[^>]*>", text)
    assert "  " not in text
    assert "\n" not in text


def test_documentation_of_a_nested_member_is_found() -> None:
    text = documentation(
        "CreateInferenceSchedulerRequest", "DataInputConfiguration.S3InputConfiguration.Bucket"
    )
    assert "bucket" in text.lower()


def test_list_all_follows_next_token_across_pages(lookout_endpoint, lookout_client):
    for index in range(7):
        lookout_endpoint.backend.add_model(f"extra-model-{index}")

    models = list_all(lookout_client, "ListModels", "ModelSummaries", MaxResults=2)

    names = [model["ModelName"] for model in models]
    assert len(names) == len(set(names)) == 7 + 5
