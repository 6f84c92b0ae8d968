"""The local Lookout for Equipment endpoint, through a real boto3 client over HTTP
(and through http.client where boto3 would refuse to send the request)."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from scheduler_ui.local_endpoint.backend import DEMO_MODELS, EndpointConfig, ManualClock
from scheduler_ui.local_endpoint.server import MAX_BODY_BYTES, LocalEndpoint
from scheduler_ui.lookout.service import shape
from scheduler_ui.lookout.validation import validate_value

if TYPE_CHECKING:
    from mypy_boto3_lookoutequipment import LookoutEquipmentClient

    ClientFactory = Callable[[LocalEndpoint], LookoutEquipmentClient]

ROOT = Path(__file__).resolve().parent.parent
ROLE = "arn:aws:iam::123456789012:role/lookout-inference"
TARGET = "AWSLookoutEquipmentFrontendService"
JSON_1_0 = "application/x-amz-json-1.0"
HOUR = 3600


def scheduler_request(
    name: str = "pump-scheduler", model: str = "pump-model", **overrides: Any
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ModelName": model,
        "InferenceSchedulerName": name,
        "DataUploadFrequency": "PT5M",
        "DataDelayOffsetInMinutes": 0,
        "DataInputConfiguration": {
            "S3InputConfiguration": {"Bucket": "plant-input", "Prefix": "pumps/"},
            "InputTimeZoneOffset": "+00:00",
        },
        "DataOutputConfiguration": {
            "S3OutputConfiguration": {"Bucket": "plant-output", "Prefix": "results/"}
        },
        "RoleArn": ROLE,
        "ClientToken": f"token-{name}",
    }
    return {**request, **overrides}


def without_metadata(response: Any) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def http_status(error: ClientError) -> int:
    return int(error.response["ResponseMetadata"]["HTTPStatusCode"])


def raw_call(
    endpoint: LocalEndpoint,
    body: bytes,
    *,
    target: str | None = f"{TARGET}.ListModels",
    content_type: str = JSON_1_0,
) -> tuple[int, dict[str, Any], http.client.HTTPResponse]:
    """One POST with http.client: (status, JSON body, response)."""
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=10)
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read()), response
    finally:
        connection.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def timed_endpoint(
    make_lookout_endpoint: Callable[..., LocalEndpoint], clock: ManualClock
) -> LocalEndpoint:
    """An endpoint on the manual clock: 5 s from PENDING to RUNNING, 3 s to stop."""
    return make_lookout_endpoint(clock=clock, pending_seconds=5, stopping_seconds=3)


@pytest.fixture
def timed_client(
    timed_endpoint: LocalEndpoint, make_lookout_client: ClientFactory
) -> LookoutEquipmentClient:
    return make_lookout_client(timed_endpoint)


@pytest.fixture
def running(lookout_client: LookoutEquipmentClient) -> dict[str, Any]:
    """A RUNNING scheduler (status changes take no time on the default endpoint)."""
    return without_metadata(lookout_client.create_inference_scheduler(**scheduler_request()))


@pytest.fixture
def stopped(lookout_client: LookoutEquipmentClient, running: dict[str, Any]) -> dict[str, Any]:
    lookout_client.stop_inference_scheduler(InferenceSchedulerName="pump-scheduler")
    return running


# --- CreateInferenceScheduler ----------------------------------------------------


def test_create_returns_a_pending_scheduler_with_the_model_quality(lookout_client):
    response = lookout_client.create_inference_scheduler(**scheduler_request())

    assert response["InferenceSchedulerName"] == "pump-scheduler"
    assert response["Status"] == "PENDING"
    assert response["ModelQuality"] == "QUALITY_THRESHOLD_MET"


def test_created_scheduler_arn_satisfies_the_model_pattern(lookout_client):
    arn = lookout_client.create_inference_scheduler(**scheduler_request())["InferenceSchedulerArn"]

    assert arn.startswith(
        "arn:aws:lookoutequipment:us-east-1:123456789012:inference-scheduler/pump-scheduler/"
    )
    assert validate_value("InferenceSchedulerArn", arn) == []


def test_create_with_an_unknown_model_raises_resource_not_found(lookout_client):
    with pytest.raises(
        lookout_client.exceptions.ResourceNotFoundException, match="Model pipe-model does not"
    ) as caught:
        lookout_client.create_inference_scheduler(**scheduler_request(model="pipe-model"))

    assert http_status(caught.value) == 404


def test_second_scheduler_for_the_same_model_raises_conflict(lookout_client, running):
    with pytest.raises(
        lookout_client.exceptions.ConflictException,
        match=r"Model pump-model already has an inference scheduler \(pump-scheduler\)",
    ) as caught:
        lookout_client.create_inference_scheduler(**scheduler_request(name="pump-2"))

    assert http_status(caught.value) == 409


def test_many_schedulers_per_model_when_configured(make_lookout_endpoint, make_lookout_client):
    client = make_lookout_client(make_lookout_endpoint(one_scheduler_per_model=False))
    client.create_inference_scheduler(**scheduler_request(name="pump-1"))

    response = client.create_inference_scheduler(**scheduler_request(name="pump-2"))

    assert response["Status"] == "PENDING"


def test_taken_name_under_another_client_token_raises_conflict(lookout_client, running):
    request = scheduler_request(model="fan-model", ClientToken="another-token")

    with pytest.raises(
        lookout_client.exceptions.ConflictException,
        match="An inference scheduler named pump-scheduler already exists",
    ):
        lookout_client.create_inference_scheduler(**request)


def test_same_client_token_replays_first_response(lookout_endpoint, lookout_client):
    first = lookout_client.create_inference_scheduler(**scheduler_request())

    again = lookout_client.create_inference_scheduler(**scheduler_request())

    assert without_metadata(again) == without_metadata(first)
    listed = lookout_client.list_inference_schedulers()["InferenceSchedulerSummaries"]
    assert [summary["InferenceSchedulerName"] for summary in listed] == ["pump-scheduler"]
    calls = lookout_endpoint.backend.create_calls("pump-scheduler")
    assert [call.outcome for call in calls] == ["created", "replayed"]
    assert {call.client_token for call in calls} == {"token-pump-scheduler"}


def test_replay_returns_the_first_response_even_after_the_status_changed(timed_client, clock):
    first = timed_client.create_inference_scheduler(**scheduler_request())
    clock.advance(60)

    again = timed_client.create_inference_scheduler(**scheduler_request())

    assert again["Status"] == "PENDING"
    assert again["InferenceSchedulerArn"] == first["InferenceSchedulerArn"]


def test_same_client_token_with_different_parameters_raises_conflict(lookout_client, running):
    request = scheduler_request(DataUploadFrequency="PT1H")

    with pytest.raises(
        lookout_client.exceptions.ConflictException,
        match="ClientToken token-pump-scheduler was already used with different parameters",
    ):
        lookout_client.create_inference_scheduler(**request)


def test_create_calls_record_failures_with_their_error_code(lookout_endpoint, lookout_client):
    with pytest.raises(lookout_client.exceptions.ResourceNotFoundException):
        lookout_client.create_inference_scheduler(**scheduler_request(model="pipe-model"))

    [call] = lookout_endpoint.backend.create_calls()
    assert (call.name, call.client_token) == ("pump-scheduler", "token-pump-scheduler")
    assert (call.outcome, call.error_code) == ("failed", "ResourceNotFoundException")


def test_create_calls_record_when_they_were_received(make_lookout_endpoint, clock):
    endpoint = make_lookout_endpoint(clock=clock)
    endpoint.backend.invoke("CreateInferenceScheduler", scheduler_request())

    [call] = endpoint.backend.create_calls()

    assert call.at == clock.now


def test_scheduler_quota_raises_service_quota_exceeded(make_lookout_endpoint, make_lookout_client):
    client = make_lookout_client(make_lookout_endpoint(scheduler_quota=1))
    client.create_inference_scheduler(**scheduler_request())

    with pytest.raises(
        client.exceptions.ServiceQuotaExceededException, match="quota of 1 inference schedulers"
    ) as caught:
        client.create_inference_scheduler(**scheduler_request(name="fan", model="fan-model"))

    assert http_status(caught.value) == 400


def test_role_outside_the_allow_list_raises_access_denied(
    make_lookout_endpoint, make_lookout_client
):
    allowed = frozenset({"arn:aws:iam::123456789012:role/other"})
    client = make_lookout_client(make_lookout_endpoint(allowed_role_arns=allowed))

    with pytest.raises(
        client.exceptions.AccessDeniedException, match=f"not allowed to pass the role {ROLE}"
    ) as caught:
        client.create_inference_scheduler(**scheduler_request())

    assert http_status(caught.value) == 403


def test_role_in_the_allow_list_is_accepted(make_lookout_endpoint, make_lookout_client):
    client = make_lookout_client(make_lookout_endpoint(allowed_role_arns=frozenset({ROLE})))

    response = client.create_inference_scheduler(**scheduler_request())

    assert response["Status"] == "PENDING"


def test_invalid_member_raises_validation_exception_naming_it(lookout_client):
    request = scheduler_request(
        DataInputConfiguration={"S3InputConfiguration": {"Bucket": "Plant_Input"}}
    )

    with pytest.raises(lookout_client.exceptions.ValidationException) as caught:
        lookout_client.create_inference_scheduler(**request)

    assert caught.value.response["Error"]["Message"].startswith(
        "1 validation error detected: "
        "DataInputConfiguration.S3InputConfiguration.Bucket: Must match the pattern "
    )
    assert http_status(caught.value) == 400


def test_validation_message_names_every_invalid_member(lookout_client):
    request = scheduler_request(
        DataInputConfiguration={
            "S3InputConfiguration": {"Bucket": "Plant_Input", "Prefix": "no-slash"}
        }
    )

    with pytest.raises(lookout_client.exceptions.ValidationException) as caught:
        lookout_client.create_inference_scheduler(**request)

    message = caught.value.response["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert "DataInputConfiguration.S3InputConfiguration.Bucket: " in message
    assert "DataInputConfiguration.S3InputConfiguration.Prefix: " in message


def test_missing_required_member_is_a_validation_exception(lookout_endpoint):
    # botocore checks required members itself, so this goes around it.
    body = json.dumps({"InferenceSchedulerName": "pump-scheduler"}).encode()

    status, error, _ = raw_call(lookout_endpoint, body, target=f"{TARGET}.CreateInferenceScheduler")

    assert status == 400
    assert error["__type"] == "ValidationException"
    assert "ModelName: This member is required." in error["message"]


# --- DescribeInferenceScheduler --------------------------------------------------


def test_describe_returns_the_full_configuration(timed_client, clock):
    request = scheduler_request(ServerSideKmsKeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    created = timed_client.create_inference_scheduler(**request)

    described = timed_client.describe_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    model = timed_client.describe_model(ModelName="pump-model")
    assert described["InferenceSchedulerArn"] == created["InferenceSchedulerArn"]
    assert (described["ModelName"], described["ModelArn"]) == ("pump-model", model["ModelArn"])
    assert described["Status"] == "PENDING"
    assert described["DataUploadFrequency"] == "PT5M"
    assert described["DataDelayOffsetInMinutes"] == 0
    assert described["DataInputConfiguration"] == request["DataInputConfiguration"]
    assert described["DataOutputConfiguration"] == request["DataOutputConfiguration"]
    assert described["RoleArn"] == ROLE
    assert described["ServerSideKmsKeyId"] == (
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    assert described["CreatedAt"].timestamp() == clock.now
    assert described["UpdatedAt"].timestamp() == clock.now


def test_timestamps_are_sent_as_epoch_seconds(timed_endpoint, timed_client, clock):
    timed_client.create_inference_scheduler(**scheduler_request())
    body = json.dumps({"InferenceSchedulerName": "pump-scheduler"}).encode()

    _, described, _ = raw_call(timed_endpoint, body, target=f"{TARGET}.DescribeInferenceScheduler")

    assert described["CreatedAt"] == clock.now


def test_describe_an_unknown_scheduler_raises_resource_not_found(lookout_client):
    with pytest.raises(
        lookout_client.exceptions.ResourceNotFoundException,
        match="Inference scheduler ghost does not exist",
    ):
        lookout_client.describe_inference_scheduler(InferenceSchedulerName="ghost")


# --- Status changes --------------------------------------------------------------


def status_of(client: Any, name: str = "pump-scheduler") -> str:
    return str(client.describe_inference_scheduler(InferenceSchedulerName=name)["Status"])


def test_pending_scheduler_becomes_running_after_the_delay(timed_client, clock):
    timed_client.create_inference_scheduler(**scheduler_request())
    clock.advance(4.9)
    assert status_of(timed_client) == "PENDING"

    clock.advance(0.1)

    assert status_of(timed_client) == "RUNNING"


def test_running_reports_the_transition_as_the_last_update(timed_client, clock):
    created_at = clock.now
    timed_client.create_inference_scheduler(**scheduler_request())
    clock.advance(60)

    described = timed_client.describe_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    assert described["UpdatedAt"].timestamp() == created_at + 5


def test_stopping_scheduler_becomes_stopped_after_the_delay(timed_client, clock):
    timed_client.create_inference_scheduler(**scheduler_request())
    clock.advance(5)

    response = timed_client.stop_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    assert response["Status"] == "STOPPING"
    clock.advance(2.9)
    assert status_of(timed_client) == "STOPPING"
    clock.advance(0.1)
    assert status_of(timed_client) == "STOPPED"


def test_a_pending_scheduler_can_be_stopped(timed_client, clock):
    timed_client.create_inference_scheduler(**scheduler_request())

    timed_client.stop_inference_scheduler(InferenceSchedulerName="pump-scheduler")
    clock.advance(3)

    assert status_of(timed_client) == "STOPPED"


def test_stopping_a_stopped_scheduler_raises_conflict(lookout_client, stopped):
    with pytest.raises(
        lookout_client.exceptions.ConflictException,
        match="pump-scheduler is STOPPED; only a RUNNING or PENDING scheduler can be stopped",
    ):
        lookout_client.stop_inference_scheduler(InferenceSchedulerName="pump-scheduler")


def test_starting_a_running_scheduler_raises_conflict(lookout_client, running):
    with pytest.raises(
        lookout_client.exceptions.ConflictException,
        match="pump-scheduler is RUNNING; only a STOPPED scheduler can be started",
    ):
        lookout_client.start_inference_scheduler(InferenceSchedulerName="pump-scheduler")


def test_starting_a_stopped_scheduler_makes_it_pending_then_running(timed_client, clock):
    timed_client.create_inference_scheduler(**scheduler_request())
    timed_client.stop_inference_scheduler(InferenceSchedulerName="pump-scheduler")
    clock.advance(3)

    response = timed_client.start_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    assert (response["Status"], response["ModelName"]) == ("PENDING", "pump-model")
    assert status_of(timed_client) == "PENDING"
    clock.advance(5)
    assert status_of(timed_client) == "RUNNING"


def test_start_and_stop_of_an_unknown_scheduler_raise_resource_not_found(lookout_client):
    for call in (lookout_client.start_inference_scheduler, lookout_client.stop_inference_scheduler):
        with pytest.raises(lookout_client.exceptions.ResourceNotFoundException):
            call(InferenceSchedulerName="ghost")


# --- UpdateInferenceScheduler and DeleteInferenceScheduler -------------------------


def test_updating_a_running_scheduler_raises_conflict(lookout_client, running):
    with pytest.raises(
        lookout_client.exceptions.ConflictException,
        match="pump-scheduler is RUNNING; it must be STOPPED to be updated",
    ):
        lookout_client.update_inference_scheduler(
            InferenceSchedulerName="pump-scheduler", DataUploadFrequency="PT1H"
        )


def test_updating_a_stopped_scheduler_replaces_the_given_members(lookout_client, stopped):
    output = {"S3OutputConfiguration": {"Bucket": "other-output"}}

    lookout_client.update_inference_scheduler(
        InferenceSchedulerName="pump-scheduler",
        DataUploadFrequency="PT1H",
        DataDelayOffsetInMinutes=10,
        DataOutputConfiguration=output,
    )

    described = lookout_client.describe_inference_scheduler(InferenceSchedulerName="pump-scheduler")
    assert described["DataUploadFrequency"] == "PT1H"
    assert described["DataDelayOffsetInMinutes"] == 10
    assert described["DataOutputConfiguration"] == output
    assert described["DataInputConfiguration"] == scheduler_request()["DataInputConfiguration"]


def test_updating_to_a_role_outside_the_allow_list_raises_access_denied(
    make_lookout_endpoint, make_lookout_client
):
    client = make_lookout_client(make_lookout_endpoint(allowed_role_arns=frozenset({ROLE})))
    client.create_inference_scheduler(**scheduler_request())
    client.stop_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    with pytest.raises(client.exceptions.AccessDeniedException):
        client.update_inference_scheduler(
            InferenceSchedulerName="pump-scheduler",
            RoleArn="arn:aws:iam::123456789012:role/intruder",
        )


def test_deleting_a_running_scheduler_raises_conflict(lookout_client, running):
    with pytest.raises(
        lookout_client.exceptions.ConflictException,
        match="pump-scheduler is RUNNING; it must be STOPPED to be deleted",
    ):
        lookout_client.delete_inference_scheduler(InferenceSchedulerName="pump-scheduler")


def test_deleting_a_stopped_scheduler_removes_it(lookout_client, stopped):
    lookout_client.delete_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    with pytest.raises(lookout_client.exceptions.ResourceNotFoundException):
        lookout_client.describe_inference_scheduler(InferenceSchedulerName="pump-scheduler")


def test_deleting_a_scheduler_frees_its_model(lookout_client, stopped):
    lookout_client.delete_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    response = lookout_client.create_inference_scheduler(**scheduler_request(name="pump-2"))

    assert response["Status"] == "PENDING"


# --- ListInferenceSchedulers ------------------------------------------------------


@pytest.fixture
def many_schedulers(
    make_lookout_endpoint: Callable[..., LocalEndpoint], make_lookout_client: ClientFactory
) -> LookoutEquipmentClient:
    """Seven schedulers: pump-1..pump-4 on pump-model, fan-1..fan-3 on fan-model;
    pump-4 is stopped."""
    client = make_lookout_client(make_lookout_endpoint(one_scheduler_per_model=False))
    for name, model in [(f"pump-{n}", "pump-model") for n in range(1, 5)] + [
        (f"fan-{n}", "fan-model") for n in range(1, 4)
    ]:
        client.create_inference_scheduler(**scheduler_request(name=name, model=model))
    client.stop_inference_scheduler(InferenceSchedulerName="pump-4")
    return client


def scheduler_names(response: Any) -> list[str]:
    return [
        summary["InferenceSchedulerName"] for summary in response["InferenceSchedulerSummaries"]
    ]


def test_list_schedulers_pages_through_all_with_next_token(many_schedulers):
    pages = [many_schedulers.list_inference_schedulers(MaxResults=3)]
    while "NextToken" in pages[-1]:
        pages.append(
            many_schedulers.list_inference_schedulers(
                MaxResults=3, NextToken=pages[-1]["NextToken"]
            )
        )

    assert [scheduler_names(page) for page in pages] == [
        ["fan-1", "fan-2", "fan-3"],
        ["pump-1", "pump-2", "pump-3"],
        ["pump-4"],
    ]


def test_list_schedulers_filters_by_name_prefix(many_schedulers):
    response = many_schedulers.list_inference_schedulers(InferenceSchedulerNameBeginsWith="fan")

    assert scheduler_names(response) == ["fan-1", "fan-2", "fan-3"]


def test_list_schedulers_filters_by_model(many_schedulers):
    response = many_schedulers.list_inference_schedulers(ModelName="pump-model")

    assert scheduler_names(response) == ["pump-1", "pump-2", "pump-3", "pump-4"]


def test_list_schedulers_filters_by_status(many_schedulers):
    response = many_schedulers.list_inference_schedulers(Status="STOPPED")

    assert scheduler_names(response) == ["pump-4"]


def test_list_schedulers_answers_summaries_as_modelled(lookout_client, running):
    [summary] = lookout_client.list_inference_schedulers()["InferenceSchedulerSummaries"]

    assert set(summary) == {
        "ModelName",
        "ModelArn",
        "InferenceSchedulerName",
        "InferenceSchedulerArn",
        "Status",
        "DataDelayOffsetInMinutes",
        "DataUploadFrequency",
    }
    assert set(summary) <= set(shape("InferenceSchedulerSummary")["members"])
    assert summary["InferenceSchedulerArn"] == running["InferenceSchedulerArn"]


def test_invalid_next_token_raises_validation_exception(lookout_client):
    with pytest.raises(
        lookout_client.exceptions.ValidationException, match="Invalid pagination token"
    ):
        lookout_client.list_inference_schedulers(NextToken="not-a-token")


# --- ListInferenceExecutions -------------------------------------------------------


def executions(client: Any, **filters: Any) -> list[dict[str, Any]]:
    response = client.list_inference_executions(InferenceSchedulerName="pump-scheduler", **filters)
    return list(response["InferenceExecutionSummaries"])


@pytest.fixture
def instant_endpoint(
    make_lookout_endpoint: Callable[..., LocalEndpoint], clock: ManualClock
) -> LocalEndpoint:
    """An endpoint on the manual clock whose status changes take no time."""
    return make_lookout_endpoint(clock=clock)


@pytest.fixture
def instant_client(
    instant_endpoint: LocalEndpoint, make_lookout_client: ClientFactory
) -> LookoutEquipmentClient:
    return make_lookout_client(instant_endpoint)


def test_executions_run_once_per_upload_interval(instant_client, clock):
    instant_client.create_inference_scheduler(**scheduler_request())

    clock.advance(HOUR)

    found = executions(instant_client)
    assert len(found) == 12  # PT5M
    assert {execution["Status"] for execution in found} == {"SUCCESS"}


def test_an_execution_covers_the_interval_before_its_scheduled_start(instant_client, clock):
    started = clock.now
    request = scheduler_request(DataUploadFrequency="PT15M", DataDelayOffsetInMinutes=10)
    instant_client.create_inference_scheduler(**request)
    clock.advance(HOUR)

    oldest = executions(instant_client)[-1]

    assert oldest["DataStartTime"].timestamp() == started
    assert oldest["DataEndTime"].timestamp() == started + 15 * 60
    assert oldest["ScheduledStartTime"].timestamp() == started + 25 * 60
    assert oldest["DataInputConfiguration"] == request["DataInputConfiguration"]
    assert oldest["DataOutputConfiguration"] == request["DataOutputConfiguration"]
    assert oldest["CustomerResultObject"]["Bucket"] == "plant-output"
    assert oldest["CustomerResultObject"]["Key"].startswith("results/")
    assert oldest["InferenceSchedulerName"] == "pump-scheduler"
    assert oldest["ModelName"] == "pump-model"
    assert set(oldest) <= set(shape("InferenceExecutionSummary")["members"])


def test_executions_stop_when_the_scheduler_stops(instant_client, clock):
    instant_client.create_inference_scheduler(**scheduler_request())
    clock.advance(HOUR / 2)
    instant_client.stop_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    clock.advance(HOUR)

    assert len(executions(instant_client)) == 6


def test_executions_page_newest_first_with_next_token(instant_client, clock):
    instant_client.create_inference_scheduler(**scheduler_request())
    clock.advance(HOUR)

    pages = [
        instant_client.list_inference_executions(
            InferenceSchedulerName="pump-scheduler", MaxResults=5
        )
    ]
    while "NextToken" in pages[-1]:
        pages.append(
            instant_client.list_inference_executions(
                InferenceSchedulerName="pump-scheduler",
                MaxResults=5,
                NextToken=pages[-1]["NextToken"],
            )
        )

    sizes = [len(page["InferenceExecutionSummaries"]) for page in pages]
    ends = [
        execution["DataEndTime"]
        for page in pages
        for execution in page["InferenceExecutionSummaries"]
    ]
    assert sizes == [5, 5, 2]
    assert ends == sorted(ends, reverse=True)
    assert len(set(ends)) == 12


def test_executions_filter_by_data_time_window(instant_client, clock):
    started = clock.now
    instant_client.create_inference_scheduler(**scheduler_request())
    clock.advance(HOUR)

    found = executions(
        instant_client,
        DataStartTimeAfter=datetime.fromtimestamp(started + 900, UTC),
        DataEndTimeBefore=datetime.fromtimestamp(started + 2700, UTC),
    )

    starts = sorted(execution["DataStartTime"].timestamp() - started for execution in found)
    assert starts == [900, 1200, 1500, 1800, 2100, 2400]


def test_executions_filter_by_status(instant_client, clock):
    instant_client.create_inference_scheduler(**scheduler_request())
    clock.advance(HOUR)

    assert executions(instant_client, Status="FAILED") == []


def test_latest_inference_result_appears_once_an_execution_ran(instant_client, clock):
    instant_client.create_inference_scheduler(**scheduler_request())
    before = instant_client.describe_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    clock.advance(5 * 60)

    after = instant_client.describe_inference_scheduler(InferenceSchedulerName="pump-scheduler")
    assert "LatestInferenceResult" not in before
    assert after["LatestInferenceResult"] in ("NORMAL", "ANOMALOUS")


def test_executions_of_an_unknown_scheduler_raise_resource_not_found(lookout_client):
    with pytest.raises(lookout_client.exceptions.ResourceNotFoundException):
        lookout_client.list_inference_executions(InferenceSchedulerName="ghost")


# --- Models ----------------------------------------------------------------------------


def test_created_model_is_immediately_successful(lookout_client):
    created = lookout_client.create_model(ModelName="press-model", DatasetName="press-data")

    described = lookout_client.describe_model(ModelName="press-model")

    assert created["Status"] == described["Status"] == "SUCCESS"
    assert described["ModelArn"] == created["ModelArn"]
    assert described["ModelQuality"] == "QUALITY_THRESHOLD_MET"
    assert described["DatasetName"] == "press-data"
    assert validate_value("ModelArn", created["ModelArn"]) == []
    assert "CreatedAt" in described


def test_created_model_can_serve_a_scheduler(make_lookout_endpoint, make_lookout_client):
    client = make_lookout_client(make_lookout_endpoint(demo_models=()))
    client.create_model(ModelName="press-model", DatasetName="press-data")

    response = client.create_inference_scheduler(**scheduler_request(model="press-model"))

    assert response["ModelQuality"] == "QUALITY_THRESHOLD_MET"


def test_create_model_with_a_taken_name_raises_conflict(lookout_client):
    with pytest.raises(
        lookout_client.exceptions.ConflictException, match="Model pump-model already exists"
    ):
        lookout_client.create_model(ModelName="pump-model", DatasetName="pump-data")


def test_create_model_replays_the_same_client_token(lookout_client):
    first = lookout_client.create_model(
        ModelName="press-model", DatasetName="press-data", ClientToken="model-token"
    )

    again = lookout_client.create_model(
        ModelName="press-model", DatasetName="press-data", ClientToken="model-token"
    )

    assert again["ModelArn"] == first["ModelArn"]


def test_describe_an_unknown_model_raises_resource_not_found(lookout_client):
    with pytest.raises(
        lookout_client.exceptions.ResourceNotFoundException, match="Model ghost does not exist"
    ):
        lookout_client.describe_model(ModelName="ghost")


def model_names(response: Any) -> list[str]:
    return [summary["ModelName"] for summary in response["ModelSummaries"]]


def test_list_models_lists_the_demo_models(lookout_client):
    assert model_names(lookout_client.list_models()) == sorted(DEMO_MODELS)


def test_list_models_filters_by_name_prefix_and_status(lookout_client):
    assert model_names(lookout_client.list_models(ModelNameBeginsWith="tu")) == ["turbine-model"]
    assert model_names(lookout_client.list_models(Status="IN_PROGRESS")) == []


def test_list_models_pages_with_next_token(lookout_client):
    first = lookout_client.list_models(MaxResults=3)

    second = lookout_client.list_models(MaxResults=3, NextToken=first["NextToken"])

    assert model_names(first) + model_names(second) == sorted(DEMO_MODELS)
    assert "NextToken" not in second


# --- Tags -------------------------------------------------------------------------------


def tags_of(client: Any, arn: str) -> dict[str, str]:
    tags = client.list_tags_for_resource(ResourceArn=arn)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in tags}


def test_tags_given_at_create_are_listed(lookout_client):
    request = scheduler_request(Tags=[{"Key": "team", "Value": "pumps"}])
    arn = lookout_client.create_inference_scheduler(**request)["InferenceSchedulerArn"]

    assert tags_of(lookout_client, arn) == {"team": "pumps"}


def test_tag_resource_adds_and_replaces_tags(lookout_client):
    request = scheduler_request(Tags=[{"Key": "team", "Value": "pumps"}])
    arn = lookout_client.create_inference_scheduler(**request)["InferenceSchedulerArn"]

    lookout_client.tag_resource(
        ResourceArn=arn,
        Tags=[{"Key": "team", "Value": "fans"}, {"Key": "site", "Value": "north"}],
    )

    assert tags_of(lookout_client, arn) == {"team": "fans", "site": "north"}


def test_untag_resource_removes_tags(lookout_client):
    tags = [{"Key": "team", "Value": "pumps"}, {"Key": "site", "Value": "north"}]
    arn = lookout_client.create_inference_scheduler(**scheduler_request(Tags=tags))[
        "InferenceSchedulerArn"
    ]

    lookout_client.untag_resource(ResourceArn=arn, TagKeys=["team"])

    assert tags_of(lookout_client, arn) == {"site": "north"}


def test_models_are_tagged_by_arn(lookout_client):
    arn = lookout_client.describe_model(ModelName="pump-model")["ModelArn"]

    lookout_client.tag_resource(ResourceArn=arn, Tags=[{"Key": "plant", "Value": "east"}])

    assert tags_of(lookout_client, arn) == {"plant": "east"}


def test_tags_of_an_unknown_arn_raise_resource_not_found(lookout_client):
    arn = "arn:aws:lookoutequipment:us-east-1:123456789012:inference-scheduler/ghost/1"

    with pytest.raises(lookout_client.exceptions.ResourceNotFoundException, match="ghost"):
        lookout_client.list_tags_for_resource(ResourceArn=arn)


# --- Fault injection ---------------------------------------------------------------------


def test_throttle_rate_one_raises_throttling_exception(make_lookout_endpoint, make_lookout_client):
    endpoint = make_lookout_endpoint(throttle_rate=1.0)
    client = make_lookout_client(endpoint)

    with pytest.raises(client.exceptions.ThrottlingException, match="Rate exceeded") as caught:
        client.create_inference_scheduler(**scheduler_request())

    assert http_status(caught.value) == 400
    endpoint.backend.config.throttle_rate = 0.0
    assert client.list_inference_schedulers()["InferenceSchedulerSummaries"] == []


def test_internal_error_rate_one_raises_internal_server_exception(
    make_lookout_endpoint, make_lookout_client
):
    endpoint = make_lookout_endpoint(internal_error_rate=1.0)
    client = make_lookout_client(endpoint)

    with pytest.raises(client.exceptions.InternalServerException) as caught:
        client.create_inference_scheduler(**scheduler_request())

    assert http_status(caught.value) == 500
    endpoint.backend.config.internal_error_rate = 0.0
    assert client.list_inference_schedulers()["InferenceSchedulerSummaries"] == []


def test_internal_error_after_apply_creates_and_the_retry_replays(
    make_lookout_endpoint, make_lookout_client
):
    endpoint = make_lookout_endpoint(internal_error_after_apply_rate=1.0)
    client = make_lookout_client(endpoint)
    with pytest.raises(client.exceptions.InternalServerException):
        client.create_inference_scheduler(**scheduler_request())
    endpoint.backend.config.internal_error_after_apply_rate = 0.0

    retried = client.create_inference_scheduler(**scheduler_request())

    assert retried["Status"] == "PENDING"
    listed = client.list_inference_schedulers()["InferenceSchedulerSummaries"]
    assert len(listed) == 1
    calls = endpoint.backend.create_calls("pump-scheduler")
    assert [(call.outcome, call.error_code) for call in calls] == [
        ("created", "InternalServerException"),
        ("replayed", None),
    ]


def test_injected_faults_are_recorded_as_failed_create_calls(
    make_lookout_endpoint, make_lookout_client
):
    endpoint = make_lookout_endpoint(throttle_rate=1.0)
    with pytest.raises(ClientError):
        make_lookout_client(endpoint).create_inference_scheduler(**scheduler_request())

    [call] = endpoint.backend.create_calls()

    assert (call.outcome, call.error_code) == ("failed", "ThrottlingException")


def test_the_same_seed_injects_the_same_faults(make_lookout_endpoint, make_lookout_client):
    def outcomes() -> list[bool]:
        client = make_lookout_client(make_lookout_endpoint(throttle_rate=0.5, seed=7))
        results = []
        for _ in range(20):
            try:
                client.list_models()
                results.append(True)
            except client.exceptions.ThrottlingException:
                results.append(False)
        return results

    first, second = outcomes(), outcomes()

    assert first == second
    assert set(first) == {True, False}


def test_latency_is_drawn_within_the_configured_range(make_lookout_endpoint, make_lookout_client):
    delays: list[float] = []
    endpoint = make_lookout_endpoint(latency_ms=(5.0, 10.0), sleep=delays.append)
    client = make_lookout_client(endpoint)

    for _ in range(10):
        client.list_models()

    assert len(delays) == 10
    assert all(0.005 <= delay <= 0.010 for delay in delays)


def test_invalid_fault_rate_is_refused():
    with pytest.raises(ValueError, match="throttle_rate must be between 0 and 1"):
        EndpointConfig(throttle_rate=1.5)


# --- The state file -------------------------------------------------------------------------


def test_state_file_keeps_schedulers_and_tags_across_a_restart(
    tmp_path, make_lookout_endpoint, make_lookout_client
):
    state_file = tmp_path / "lookout.json"
    first = make_lookout_endpoint(state_file=state_file)
    request = scheduler_request(Tags=[{"Key": "team", "Value": "pumps"}])
    arn = make_lookout_client(first).create_inference_scheduler(**request)["InferenceSchedulerArn"]
    first.stop()

    client = make_lookout_client(make_lookout_endpoint(state_file=state_file))

    described = client.describe_inference_scheduler(InferenceSchedulerName="pump-scheduler")
    assert described["InferenceSchedulerArn"] == arn
    assert tags_of(client, arn) == {"team": "pumps"}
    assert model_names(client.list_models()) == sorted(DEMO_MODELS)


def test_state_file_keeps_client_tokens_across_a_restart(
    tmp_path, make_lookout_endpoint, make_lookout_client
):
    state_file = tmp_path / "lookout.json"
    first = make_lookout_endpoint(state_file=state_file)
    created = make_lookout_client(first).create_inference_scheduler(**scheduler_request())
    first.stop()
    second = make_lookout_endpoint(state_file=state_file)

    again = make_lookout_client(second).create_inference_scheduler(**scheduler_request())

    assert again["InferenceSchedulerArn"] == created["InferenceSchedulerArn"]
    assert [call.outcome for call in second.backend.create_calls()] == ["replayed"]


def test_state_file_leaves_no_temporary_files(tmp_path, make_lookout_endpoint, make_lookout_client):
    endpoint = make_lookout_endpoint(state_file=tmp_path / "lookout.json")

    make_lookout_client(endpoint).create_inference_scheduler(**scheduler_request())

    assert [path.name for path in tmp_path.iterdir()] == ["lookout.json"]


def test_unreadable_state_file_refuses_to_start(tmp_path):
    state_file = tmp_path / "lookout.json"
    state_file.write_text("{not json")

    with pytest.raises(ValueError, match="cannot read the state file"):
        LocalEndpoint(EndpointConfig(state_file=state_file))

    assert state_file.read_text() == "{not json"


# --- The wire protocol ----------------------------------------------------------------------


def test_malformed_json_answers_serialization_exception(lookout_endpoint):
    status, error, response = raw_call(lookout_endpoint, b'{"ModelNameBeginsWith": ')

    assert status == 400
    assert error["__type"] == "SerializationException"
    assert response.getheader("Content-Type") == JSON_1_0


def test_a_body_that_is_not_an_object_answers_serialization_exception(lookout_endpoint):
    status, error, _ = raw_call(lookout_endpoint, b"[1, 2]")

    assert (status, error["__type"]) == (400, "SerializationException")


def test_unknown_target_answers_unknown_operation_exception(lookout_endpoint):
    status, error, _ = raw_call(lookout_endpoint, b"{}", target=f"{TARGET}.LaunchRocket")

    assert (status, error["__type"]) == (400, "UnknownOperationException")
    assert "LaunchRocket" in error["message"]


def test_missing_target_answers_unknown_operation_exception(lookout_endpoint):
    status, error, _ = raw_call(lookout_endpoint, b"{}", target=None)

    assert (status, error["__type"]) == (400, "UnknownOperationException")


def test_unimplemented_operation_says_so(lookout_client):
    with pytest.raises(ClientError, match="not implemented by the local endpoint") as caught:
        lookout_client.list_datasets()

    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"


def test_wrong_content_type_answers_serialization_exception(lookout_endpoint):
    status, error, _ = raw_call(lookout_endpoint, b"{}", content_type="text/plain")

    assert (status, error["__type"]) == (400, "SerializationException")
    assert JSON_1_0 in error["message"]


def test_oversized_body_answers_request_entity_too_large(lookout_endpoint):
    body = b'{"ModelNameBeginsWith": "' + b"a" * MAX_BODY_BYTES + b'"}'

    status, error, _ = raw_call(lookout_endpoint, body)

    assert (status, error["__type"]) == (413, "RequestEntityTooLargeException")


def test_connection_stays_open_across_calls_and_errors(lookout_endpoint):
    connection = http.client.HTTPConnection(lookout_endpoint.host, lookout_endpoint.port)
    sockets, statuses = [], []
    try:
        for body in (b"{}", b"not json", b'{"MaxResults": 2}'):
            connection.request(
                "POST",
                "/",
                body=body,
                headers={"Content-Type": JSON_1_0, "X-Amz-Target": f"{TARGET}.ListModels"},
            )
            response = connection.getresponse()
            assert response.getheader("Content-Length") is not None
            response.read()
            statuses.append(response.status)
            sockets.append(connection.sock)
    finally:
        connection.close()

    assert statuses == [200, 400, 200]
    assert sockets[0] is not None
    assert sockets[0] is sockets[1] is sockets[2]


def test_a_client_hanging_up_mid_body_leaves_the_endpoint_serving(lookout_endpoint, lookout_client):
    with socket.create_connection((lookout_endpoint.host, lookout_endpoint.port)) as dying:
        dying.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\n"
            b"X-Amz-Target: AWSLookoutEquipmentFrontendService.ListModels\r\n"
            b'Content-Length: 100\r\n\r\n{"MaxRes'
        )

    assert model_names(lookout_client.list_models()) == sorted(DEMO_MODELS)


def test_get_answers_that_the_endpoint_is_up(lookout_endpoint):
    connection = http.client.HTTPConnection(lookout_endpoint.host, lookout_endpoint.port)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["status"]) == (200, "ok")
    finally:
        connection.close()


def test_any_credentials_are_accepted(lookout_endpoint):
    client = boto3.client(
        "lookoutequipment",
        region_name="eu-west-1",
        endpoint_url=lookout_endpoint.url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wrong",
        aws_session_token="whatever",
    )

    assert model_names(client.list_models()) == sorted(DEMO_MODELS)


def test_a_stopped_endpoint_answers_nothing_more(lookout_endpoint, lookout_client):
    lookout_client.list_models()  # leaves a kept-alive connection in the pool

    lookout_endpoint.stop()

    with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
        lookout_client.list_models()


# --- Concurrency ----------------------------------------------------------------------------


def test_concurrent_creates_from_threads_all_succeed(make_lookout_endpoint):
    endpoint = make_lookout_endpoint(one_scheduler_per_model=False)
    client = boto3.client(
        "lookoutequipment",
        region_name="us-east-1",
        endpoint_url=endpoint.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=16),
    )
    names = [f"pump-{n:02}" for n in range(48)]

    def create(name: str) -> str:
        return client.create_inference_scheduler(**scheduler_request(name=name))["Status"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(create, names))

    assert statuses == ["PENDING"] * 48
    listed = client.list_inference_schedulers(MaxResults=100)
    assert scheduler_names(listed) == names


def test_concurrent_creates_with_one_client_token_create_one_scheduler(
    lookout_endpoint, make_lookout_client
):
    client = make_lookout_client(lookout_endpoint)

    def create(_: int) -> str:
        return str(
            client.create_inference_scheduler(**scheduler_request())["InferenceSchedulerArn"]
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        arns = set(pool.map(create, range(16)))

    assert len(arns) == 1
    outcomes = [call.outcome for call in lookout_endpoint.backend.create_calls()]
    assert sorted(outcomes) == ["created"] + ["replayed"] * 15


# --- The management command ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_management_command_serves_boto3_until_terminated():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "lookout_endpoint", "--port", str(port), "--demo-models"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()  # printed once it is serving
        client = boto3.client(
            "lookoutequipment",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        names = model_names(client.list_models())
    finally:
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=10)

    assert f"http://127.0.0.1:{port}" in first_line
    assert names == sorted(DEMO_MODELS)
    assert process.returncode == 0, errors
    assert "stopped" in output
