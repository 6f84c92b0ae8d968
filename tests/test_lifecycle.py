"""Start, stop, update and delete as submissions, in this process against a real
local endpoint over HTTP: what is accepted, how each operation's outcome is
recorded and reconciled, and the periodic sync (statuses, imports, chains)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import IntegrityError
from django.utils import timezone

from scheduler_ui.schedulers import lifecycle, submitting
from scheduler_ui.schedulers.models import (
    WAITING_GRACE,
    EventKind,
    Operation,
    State,
    Submission,
)
from tests.factories import make_submission, request_dict

NAME = "pump-scheduler"


def kinds(submission: Submission) -> list[str]:
    return list(submission.events.values_list("kind", flat=True))


def live_status(lookout, name: str = NAME) -> str:
    return str(lookout.client.describe_inference_scheduler(InferenceSchedulerName=name)["Status"])


@pytest.fixture
def running(lookout) -> Submission:
    """A scheduler the console created, RUNNING (the endpoint settles at once)."""
    created = make_submission(InferenceSchedulerName=NAME)
    submitting.submit_to_lookout(created.pk)
    submitting.follow_statuses()
    created.refresh_from_db()
    assert created.scheduler_status == "RUNNING"
    return created


@pytest.fixture
def stopped(lookout, running: Submission) -> Submission:
    lookout.client.stop_inference_scheduler(InferenceSchedulerName=NAME)
    submitting.follow_statuses()
    running.refresh_from_db()
    assert running.scheduler_status == "STOPPED"
    return running


def sent(submission: Submission) -> Submission:
    """The submission after one attempt, in this process."""
    submitting.submit_to_lookout(submission.pk)
    submission.refresh_from_db()
    return submission


# --- Accepting an action -----------------------------------------------------------


def test_an_action_is_recorded_with_its_operation_and_no_client_token(running, operator):
    submission = lifecycle.accept(Operation.STOP, NAME, operator)

    assert submission.operation == Operation.STOP
    assert submission.request == {"InferenceSchedulerName": NAME}
    assert submission.client_token == ""
    assert submission.model_name == "pump-model"
    assert submission.state == State.QUEUED
    submitted = submission.events.get()
    assert (submitted.kind, submitted.actor) == (EventKind.SUBMITTED, operator)
    assert submitted.details == {"operation": Operation.STOP}


def test_a_create_client_token_stays_unique_while_actions_have_none(db):
    make_submission(ClientToken="once")
    Submission.accept({"InferenceSchedulerName": NAME}, None, operation=Operation.START)
    Submission.accept({"InferenceSchedulerName": NAME}, None, operation=Operation.STOP)

    with pytest.raises(IntegrityError):
        make_submission(ClientToken="once")


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (Operation.START, "pump-scheduler is already RUNNING."),
        (Operation.DELETE, "pump-scheduler is RUNNING: stop it before you delete it."),
    ],
)
def test_an_action_the_running_status_does_not_allow_is_refused(
    running, operator, operation, message
):
    with pytest.raises(lifecycle.Refused, match=message):
        lifecycle.accept(operation, NAME, operator)

    assert Submission.objects.count() == 1


def test_stopping_a_stopped_scheduler_is_refused(stopped, operator):
    with pytest.raises(lifecycle.Refused, match="already STOPPED"):
        lifecycle.accept(Operation.STOP, NAME, operator)


def test_an_action_on_a_settling_scheduler_is_refused_until_it_settles(configure_lookout, operator):
    configure_lookout(pending_seconds=600)
    sent(make_submission(InferenceSchedulerName=NAME))

    with pytest.raises(lifecycle.Refused, match="PENDING: wait until it is RUNNING"):
        lifecycle.accept(Operation.STOP, NAME, operator)


def test_an_action_while_another_is_under_way_is_refused(running, operator):
    first = lifecycle.accept(Operation.STOP, NAME, operator)

    with pytest.raises(lifecycle.Refused, match=f"#{first.pk}, stop"):
        lifecycle.accept(Operation.STOP, NAME, operator)


def test_an_action_on_a_scheduler_that_does_not_exist_is_refused(lookout, operator):
    with pytest.raises(lifecycle.Refused, match="no inference scheduler named ghost"):
        lifecycle.accept(Operation.START, "ghost", operator)


def test_an_update_the_service_would_refuse_is_refused_before_it_is_recorded(stopped, operator):
    bad = {"InferenceSchedulerName": NAME, "DataDelayOffsetInMinutes": 61}

    with pytest.raises(lifecycle.Refused, match="DataDelayOffsetInMinutes"):
        lifecycle.accept(Operation.UPDATE, NAME, operator, bad)


def test_updating_a_running_scheduler_needs_the_restart_confirmed(running, operator):
    update = {"InferenceSchedulerName": NAME, "DataDelayOffsetInMinutes": 7}

    with pytest.raises(lifecycle.Refused, match="confirm"):
        lifecycle.accept(Operation.UPDATE, NAME, operator, update)


def test_a_confirmed_update_of_a_running_scheduler_is_three_linked_steps(running, operator):
    update = {"InferenceSchedulerName": NAME, "DataDelayOffsetInMinutes": 7}

    returned = lifecycle.accept(Operation.UPDATE, NAME, operator, update, restart=True)

    stop = returned.waits_for
    [start] = returned.next_steps.all()
    assert stop is not None
    assert [(s.operation, s.state) for s in (stop, returned, start)] == [
        (Operation.STOP, State.QUEUED),
        (Operation.UPDATE, State.WAITING),
        (Operation.START, State.WAITING),
    ]
    assert returned.request == update
    assert returned.events.get().details["waits_for"] == stop.pk


def test_resubmitting_an_action_asks_for_the_same_action_again(db):
    stop = Submission.accept({"InferenceSchedulerName": NAME}, None, operation=Operation.STOP)

    again = stop.clone(None)

    assert (again.operation, again.request, again.client_token) == (
        stop.operation,
        stop.request,
        "",
    )
    assert again.cloned_from == stop


def test_resubmitting_an_imported_scheduler_creates_it_with_a_client_token(db):
    configuration = {k: v for k, v in request_dict().items() if k != "ClientToken"}
    imported = Submission.imported(configuration, "arn:x", "RUNNING")

    again = imported.clone(None)

    assert again.operation == Operation.CREATE
    assert again.client_token == again.request["ClientToken"] != ""


# --- Sending each operation ------------------------------------------------------


def test_a_start_records_the_status_it_answered(stopped, operator):
    start = sent(lifecycle.accept(Operation.START, NAME, operator))

    assert start.state == State.SUCCEEDED
    assert start.scheduler_status == "PENDING"
    assert start.scheduler_arn == stopped.scheduler_arn
    assert start.events.get(kind=EventKind.SUCCEEDED).details["how"] == "started"


def test_an_update_records_the_stopped_status_it_leaves(lookout, stopped, operator):
    update = {"InferenceSchedulerName": NAME, "DataDelayOffsetInMinutes": 7}

    submission = sent(lifecycle.accept(Operation.UPDATE, NAME, operator, update))

    assert (submission.state, submission.scheduler_status) == (State.SUCCEEDED, "STOPPED")
    described = lookout.client.describe_inference_scheduler(InferenceSchedulerName=NAME)
    assert described["DataDelayOffsetInMinutes"] == 7


def test_a_delete_records_the_scheduler_as_deleted(lookout, stopped, operator):
    submission = sent(lifecycle.accept(Operation.DELETE, NAME, operator))

    assert (submission.state, submission.scheduler_status) == (State.SUCCEEDED, "DELETED")
    assert lookout.client.list_inference_schedulers()["InferenceSchedulerSummaries"] == []


def test_a_start_an_earlier_attempt_already_applied_is_reconciled_as_success(
    lookout, stopped, operator
):
    start = lifecycle.accept(Operation.START, NAME, operator)
    # As when the first attempt started it and its answer was lost.
    lookout.client.start_inference_scheduler(InferenceSchedulerName=NAME)

    start = sent(start)

    assert start.state == State.SUCCEEDED
    how = start.events.get(kind=EventKind.SUCCEEDED).details["how"]
    assert how == "reconciled: the scheduler was already RUNNING"


def test_a_stop_of_a_scheduler_already_stopping_is_reconciled_as_success(
    configure_lookout, make_lookout_client, operator
):
    endpoint = configure_lookout(stopping_seconds=600)
    sent(make_submission(InferenceSchedulerName=NAME))
    stop = lifecycle.accept(Operation.STOP, NAME, operator)
    make_lookout_client(endpoint).stop_inference_scheduler(InferenceSchedulerName=NAME)

    stop = sent(stop)

    assert (stop.state, stop.scheduler_status) == (State.SUCCEEDED, "STOPPING")


def test_a_delete_not_found_after_an_applied_first_attempt_is_success(lookout, stopped, operator):
    delete = lifecycle.accept(Operation.DELETE, NAME, operator)
    lookout.endpoint.backend.config.internal_error_after_apply_rate = 1.0
    delete = sent(delete)
    assert delete.state == State.RETRY_WAIT
    lookout.endpoint.backend.config.internal_error_after_apply_rate = 0.0

    delete = sent(delete)

    assert (delete.state, delete.scheduler_status) == (State.SUCCEEDED, "DELETED")
    how = delete.events.get(kind=EventKind.SUCCEEDED).details["how"]
    assert how == "reconciled: already deleted"


def test_a_delete_of_a_scheduler_missing_at_the_first_attempt_fails(lookout):
    delete = Submission.accept(
        {"InferenceSchedulerName": "ghost"}, None, operation=Operation.DELETE
    )

    delete = sent(delete)

    assert (delete.state, delete.error_code) == (State.FAILED, "ResourceNotFoundException")


def test_an_update_of_a_running_scheduler_fails_with_a_clear_reason(running):
    # Accepted while it was stopped; started by someone else before it was sent.
    update = Submission.accept(
        {"InferenceSchedulerName": NAME, "DataDelayOffsetInMinutes": 7},
        None,
        operation=Operation.UPDATE,
    )

    update = sent(update)

    assert (update.state, update.error_code) == (State.FAILED, "ConflictException")
    failed = update.events.get(kind=EventKind.FAILED)
    assert failed.details["reason"] == "the scheduler is RUNNING: stop it first"


# --- The sync ------------------------------------------------------------------------


def test_the_sync_imports_a_scheduler_the_console_did_not_create(lookout):
    outside = request_dict(
        InferenceSchedulerName="outside",
        ModelName="fan-model",
        DataDelayOffsetInMinutes=5,
        ServerSideKmsKeyId="alias/plant",
        Tags=[{"Key": "team", "Value": "reliability"}],
    )
    lookout.client.create_inference_scheduler(**outside)

    submitting.follow_statuses()

    imported = Submission.objects.get()
    del outside["ClientToken"]
    outside["ServerSideKmsKeyId"] = "arn:aws:kms:us-east-1:123456789012:alias/plant"
    assert imported.operation == Operation.IMPORTED
    assert imported.request == outside
    assert (imported.state, imported.scheduler_status) == (State.SUCCEEDED, "RUNNING")
    assert (imported.created_by, imported.client_token) == (None, "")
    assert "outside" in imported.scheduler_arn
    assert kinds(imported) == [EventKind.IMPORTED]


def test_the_sync_imports_a_scheduler_once(lookout):
    lookout.client.create_inference_scheduler(**request_dict(InferenceSchedulerName="outside"))

    submitting.follow_statuses()
    submitting.follow_statuses()

    assert Submission.objects.count() == 1


@pytest.mark.parametrize("odd", ["\x00", "\ud800"], ids=["nul", "half-a-surrogate-pair"])
def test_a_scheduler_the_database_cannot_store_is_left_out_and_the_rest_imported(lookout, odd):
    odd_role = f"arn:aws:iam::123456789012:role/odd{odd}"  # the service model allows it
    lookout.client.create_inference_scheduler(
        **request_dict(InferenceSchedulerName="odd", RoleArn=odd_role)
    )
    lookout.client.create_inference_scheduler(
        **request_dict(InferenceSchedulerName="fine", ModelName="fan-model")
    )

    submitting.follow_statuses()

    assert list(Submission.objects.values_list("scheduler_name", flat=True)) == ["fine"]


def test_the_sync_leaves_a_scheduler_the_console_is_still_creating_alone(lookout):
    creating = make_submission(InferenceSchedulerName=NAME)
    # Its first attempt created it; the answer has not been recorded yet.
    lookout.client.create_inference_scheduler(**creating.request)

    submitting.follow_statuses()

    assert list(Submission.objects.all()) == [creating]


def test_the_sync_records_a_status_change_made_outside_the_console(lookout, running):
    lookout.client.stop_inference_scheduler(InferenceSchedulerName=NAME)

    assert submitting.follow_statuses() == 1

    running.refresh_from_db()
    change = running.events.filter(kind=EventKind.STATUS_CHANGED).latest("id")
    assert change.details == {"from": "RUNNING", "to": "STOPPED"}
    assert submitting.follow_statuses() == 0


def test_a_scheduler_deleted_outside_the_console_is_recorded_as_deleted(lookout, stopped):
    lookout.client.delete_inference_scheduler(InferenceSchedulerName=NAME)

    submitting.follow_statuses()

    stopped.refresh_from_db()
    assert stopped.scheduler_status == "DELETED"
    change = stopped.events.filter(kind=EventKind.STATUS_CHANGED).latest("id")
    assert change.details == {"from": "STOPPED", "to": "DELETED"}


def test_the_sync_moves_a_stop_update_start_chain_along(lookout, running, operator):
    update = lifecycle.accept(
        Operation.UPDATE,
        NAME,
        operator,
        {"InferenceSchedulerName": NAME, "DataUploadFrequency": "PT5M"},
        restart=True,
    )
    assert update.waits_for is not None
    [start] = update.next_steps.all()
    sent(update.waits_for)
    submitting.follow_statuses()
    update.refresh_from_db()
    assert update.state == State.QUEUED
    sent(update)
    submitting.follow_statuses()

    start = sent(start)

    assert start.state == State.SUCCEEDED
    assert live_status(lookout) == "RUNNING"
    described = lookout.client.describe_inference_scheduler(InferenceSchedulerName=NAME)
    assert described["DataUploadFrequency"] == "PT5M"
    ready = update.events.get(kind=EventKind.READY)
    assert (ready.from_state, ready.to_state) == (State.WAITING, State.QUEUED)
    assert ready.details == {"after": update.waits_for_id, "Status": "STOPPED"}


def test_a_waiting_step_fails_when_the_step_before_failed(running, operator):
    update = lifecycle.accept(
        Operation.UPDATE,
        NAME,
        operator,
        {"InferenceSchedulerName": NAME, "DataUploadFrequency": "PT5M"},
        restart=True,
    )
    assert update.waits_for_id is not None
    stop = Submission.claim(update.waits_for_id)
    assert stop is not None
    stop.fail("AccessDeniedException", "Not allowed.")

    submitting.follow_statuses()
    submitting.follow_statuses()

    steps = Submission.objects.filter(waits_for__isnull=False).order_by("id")
    assert [s.state for s in steps] == [State.FAILED, State.FAILED]
    reason = update.events.get(kind=EventKind.FAILED).details["reason"]
    assert reason == f"the previous step #{stop.pk} (stop) failed"


def test_a_waiting_step_fails_when_the_scheduler_is_started_again_meanwhile(
    lookout, running, operator
):
    update = lifecycle.accept(
        Operation.UPDATE,
        NAME,
        operator,
        {"InferenceSchedulerName": NAME, "DataUploadFrequency": "PT5M"},
        restart=True,
    )
    assert update.waits_for is not None
    sent(update.waits_for)
    lookout.client.start_inference_scheduler(InferenceSchedulerName=NAME)
    submitting.follow_statuses()  # within the grace: it waits
    assert Submission.objects.get(pk=update.pk).state == State.WAITING

    with time_machine.travel(timezone.now() + WAITING_GRACE + datetime.timedelta(seconds=1)):
        submitting.follow_statuses()

    update.refresh_from_db()
    assert update.state == State.FAILED
    reason = update.events.get(kind=EventKind.FAILED).details["reason"]
    assert reason == "the scheduler is RUNNING again: started outside this chain"


def test_the_sweeper_leaves_waiting_steps_alone(running, operator):
    lifecycle.accept(
        Operation.UPDATE,
        NAME,
        operator,
        {"InferenceSchedulerName": NAME, "DataUploadFrequency": "PT5M"},
        restart=True,
    )

    assert submitting.sweep() == 0
