"""submit_to_lookout and friends, in this process, against a real local endpoint over HTTP."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduler_ui.schedulers import submitting
from scheduler_ui.schedulers.models import EventKind, State, Submission, SubmissionEvent
from tests.factories import make_submission, request_dict


def kinds(submission: Submission) -> list[str]:
    return list(submission.events.values_list("kind", flat=True))


def test_a_successful_attempt_records_what_aws_returned(lookout):
    submission = make_submission()

    submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    [scheduler] = lookout.client.list_inference_schedulers()["InferenceSchedulerSummaries"]
    assert submission.state == State.SUCCEEDED
    assert submission.scheduler_arn == scheduler["InferenceSchedulerArn"]
    assert submission.scheduler_status == "PENDING"
    assert submission.model_quality == "QUALITY_THRESHOLD_MET"
    assert submission.attempts == 1
    assert kinds(submission) == [EventKind.SUBMITTED, EventKind.ATTEMPT, EventKind.SUCCEEDED]


def test_the_stored_request_is_sent_with_its_client_token(lookout):
    submission = make_submission(ClientToken="token-from-the-form")

    submitting.submit_to_lookout(submission.pk)

    [call] = lookout.endpoint.backend.create_calls()
    assert (call.client_token, call.outcome) == ("token-from-the-form", "created")


FINAL_ERRORS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ValidationException": (
        {},
        {"DataOutputConfiguration": {"S3OutputConfiguration": {"Bucket": "Bad_Bucket"}}},
    ),
    "ResourceNotFoundException": ({}, {"ModelName": "no-such-model"}),
    "AccessDeniedException": ({"allowed_role_arns": ["arn:aws:iam::123456789012:role/Other"]}, {}),
    "ServiceQuotaExceededException": ({"scheduler_quota": 0}, {}),
}


@pytest.mark.parametrize("code", FINAL_ERRORS)
def test_a_final_error_fails_the_submission_at_once_with_code_and_message(configure_lookout, code):
    endpoint_config, request_overrides = FINAL_ERRORS[code]
    configure_lookout(**endpoint_config)
    submission = make_submission(**request_overrides)

    submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert submission.state == State.FAILED
    assert submission.error_code == code
    assert submission.error_message
    assert submission.attempts == 1
    assert kinds(submission) == [EventKind.SUBMITTED, EventKind.ATTEMPT, EventKind.FAILED]


def test_validation_message_names_the_member(lookout):
    submission = make_submission(
        DataOutputConfiguration={"S3OutputConfiguration": {"Bucket": "Bad_Bucket"}}
    )

    submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert "DataOutputConfiguration.S3OutputConfiguration.Bucket" in submission.error_message


def test_a_failed_submission_is_not_worked_on_again(lookout):
    submission = make_submission(ModelName="no-such-model")
    submitting.submit_to_lookout(submission.pk)

    assert submitting.submit_to_lookout(submission.pk) is None
    assert len(lookout.endpoint.backend.create_calls()) == 1


def test_conflict_with_a_different_scheduler_of_that_name_fails_clearly(lookout):
    lookout.client.create_inference_scheduler(**request_dict(ModelName="fan-model"))
    submission = make_submission()

    submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert submission.state == State.FAILED
    assert submission.error_code == "ConflictException"
    failed = submission.events.get(kind=EventKind.FAILED)
    assert "a different scheduler named pump-scheduler already exists" in failed.details["reason"]


def test_conflict_with_the_scheduler_this_submission_asked_for_is_success(lookout):
    # As when an earlier attempt created it but its answer was lost.
    lookout.client.create_inference_scheduler(**request_dict(ClientToken="an-earlier-token"))
    submission = make_submission()

    submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert submission.state == State.SUCCEEDED
    assert "pump-scheduler" in submission.scheduler_arn
    succeeded = submission.events.get(kind=EventKind.SUCCEEDED)
    assert succeeded.details["how"].startswith("reconciled")


def test_throttling_schedules_a_retry_with_backoff(configure_lookout):
    configure_lookout(throttle_rate=1.0)
    submission = make_submission()

    submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert submission.state == State.RETRY_WAIT
    assert submission.error_code == "ThrottlingException"
    assert submission.next_attempt_at is not None
    assert submission.next_attempt_at > timezone.now()
    retry = submission.events.get(kind=EventKind.RETRY_SCHEDULED)
    assert retry.details["code"] == "ThrottlingException"


def test_a_lost_connection_schedules_a_retry(configure_lookout):
    endpoint = configure_lookout()
    endpoint.stop()
    submission = make_submission()

    submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert submission.state == State.RETRY_WAIT
    assert submission.error_code == "EndpointConnectionError"


def test_running_out_of_attempts_fails_with_the_last_error(configure_lookout, settings):
    settings.LOOKOUT_MAX_ATTEMPTS = 3
    settings.LOOKOUT_RETRY_BASE_SECONDS = settings.LOOKOUT_RETRY_CAP_SECONDS = 0.1
    configure_lookout(internal_error_rate=1.0)
    submission = make_submission()

    for _ in range(3):
        submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert submission.state == State.FAILED
    assert submission.error_code == "InternalServerException"
    assert submission.attempts == 3
    assert kinds(submission).count(EventKind.RETRY_SCHEDULED) == 2
    assert (
        "gave up after 3 attempts" in submission.events.get(kind=EventKind.FAILED).details["reason"]
    )


def test_a_retry_after_an_applied_create_replays_instead_of_creating_twice(configure_lookout):
    endpoint = configure_lookout(internal_error_after_apply_rate=1.0)
    submission = make_submission()
    submitting.submit_to_lookout(submission.pk)
    endpoint.backend.config.internal_error_after_apply_rate = 0.0

    submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert submission.state == State.SUCCEEDED
    calls = endpoint.backend.create_calls()
    assert [c.outcome for c in calls] == ["created", "replayed"]
    assert {c.client_token for c in calls} == {submission.client_token}


def test_a_submission_being_worked_on_cannot_be_claimed_again(db):
    submission = make_submission()

    assert Submission.claim(submission.pk) is not None
    assert Submission.claim(submission.pk) is None


def test_an_attempt_past_its_lease_is_taken_over(db, settings):
    submission = make_submission()
    Submission.claim(submission.pk)
    later = timezone.now() + datetime.timedelta(seconds=settings.LOOKOUT_ATTEMPT_LEASE_SECONDS + 1)

    with time_machine.travel(later):
        taken = Submission.claim(submission.pk)

    assert taken is not None
    assert taken.attempts == 2
    assert "took_over" in taken.events.filter(kind=EventKind.ATTEMPT).latest("id").details


def test_retry_delay_grows_exponentially_and_is_capped(settings):
    settings.LOOKOUT_RETRY_BASE_SECONDS = 1
    settings.LOOKOUT_RETRY_CAP_SECONDS = 10

    assert 0.5 <= submitting.retry_delay(1) <= 1
    assert 4 <= submitting.retry_delay(4) <= 8
    assert 5 <= submitting.retry_delay(20) <= 10


def test_a_status_change_is_recorded_once(lookout):
    lookout.endpoint.backend.config.pending_seconds = 0
    submission = make_submission()
    submitting.submit_to_lookout(submission.pk)

    submitting.refresh_status(submission.pk)
    submitting.refresh_status(submission.pk)

    submission.refresh_from_db()
    assert submission.scheduler_status == "RUNNING"
    [change] = submission.events.filter(kind=EventKind.STATUS_CHANGED)
    assert change.details == {"from": "PENDING", "to": "RUNNING"}
    assert not Submission.following().exists()


def test_the_sweeper_sends_again_what_never_reached_the_broker(db):
    submission = make_submission()
    Submission.objects.filter(pk=submission.pk).update(dispatched_at=None)

    assert submitting.sweep() == 1

    submission.refresh_from_db()
    assert submission.dispatches == 2
    redispatched = submission.events.get(kind=EventKind.REDISPATCHED)
    assert redispatched.details["reason"] == "queued but not picked up by a worker"


def test_the_sweeper_leaves_fresh_work_alone(db):
    make_submission()

    assert submitting.sweep() == 0


def test_the_sweeper_gives_up_after_too_many_dispatches(db, settings):
    submission = make_submission()
    Submission.objects.filter(pk=submission.pk).update(
        dispatched_at=None, dispatches=settings.LOOKOUT_MAX_DISPATCHES + 1
    )

    submitting.sweep()

    submission.refresh_from_db()
    assert submission.state == State.FAILED
    assert "re-dispatched" in submission.events.get(kind=EventKind.FAILED).details["reason"]


def test_following_records_every_unsettled_schedulers_status_from_one_listing(lookout):
    created = [make_submission(InferenceSchedulerName=f"pump-{i}", ModelName=m) for i, m in
               enumerate(["pump-model", "fan-model", "turbine-model"])]  # fmt: skip
    for submission in created:
        submitting.submit_to_lookout(submission.pk)

    assert submitting.follow_statuses() == 3

    assert {s.scheduler_status for s in Submission.objects.all()} == {"RUNNING"}
    assert submitting.follow_statuses() == 0


def synced_schedulers(lookout: Any, count: int) -> None:
    """`count` schedulers created through the console and followed once."""
    lookout.endpoint.backend.config.one_scheduler_per_model = False
    lookout.endpoint.backend.config.pending_seconds = 0
    for index in range(count):
        submitting.submit_to_lookout(make_submission(InferenceSchedulerName=f"pump-{index}").pk)
    submitting.follow_statuses()


@pytest.mark.parametrize("count", [2, 20])
def test_a_sync_asks_the_database_the_same_few_questions_however_many_schedulers(
    lookout, django_assert_max_num_queries, count
):
    synced_schedulers(lookout, count)

    # What is recorded, what is followed, what waits, and what is known (two).
    with django_assert_max_num_queries(5):
        assert submitting.follow_statuses() == 0


def test_a_sync_reads_no_stored_requests(lookout):
    synced_schedulers(lookout, 3)

    with CaptureQueriesContext(connection) as queries:
        submitting.follow_statuses()

    # A thousand stored requests, read every round, cost more than the listing.
    assert queries.captured_queries
    assert not any('"request"' in query["sql"] for query in queries.captured_queries)


def test_many_status_changes_are_recorded_in_a_fixed_number_of_queries(
    db, django_assert_num_queries
):
    pending = [make_submission(InferenceSchedulerName=f"pump-{i}") for i in range(20)]
    Submission.objects.update(state=State.SUCCEEDED, scheduler_status="PENDING")
    for submission in pending:
        submission.refresh_from_db()

    # The transaction, the rows locked and read, one update for the one new status,
    # one insert of events.
    with django_assert_num_queries(5):
        changed = Submission.record_statuses({s: "RUNNING" for s in pending})

    assert changed == 20
    assert set(Submission.objects.values_list("scheduler_status", flat=True)) == {"RUNNING"}
    assert SubmissionEvent.objects.filter(kind=EventKind.STATUS_CHANGED).count() == 20


def test_status_changes_to_different_statuses_each_land_on_their_own_row(db):
    followed = [make_submission(InferenceSchedulerName=f"pump-{i}") for i in range(4)]
    Submission.objects.update(state=State.SUCCEEDED, scheduler_status="PENDING")
    for submission in followed:
        submission.refresh_from_db()
    new = ["RUNNING", "STOPPED", "RUNNING", "PENDING"]

    assert Submission.record_statuses(dict(zip(followed, new, strict=True))) == 3

    recorded = dict(Submission.objects.values_list("pk", "scheduler_status"))
    assert [recorded[s.pk] for s in followed] == new
    changes = SubmissionEvent.objects.filter(kind=EventKind.STATUS_CHANGED)
    assert sorted((e.submission_id, e.details["to"]) for e in changes) == [
        (followed[0].pk, "RUNNING"),
        (followed[1].pk, "STOPPED"),
        (followed[2].pk, "RUNNING"),
    ]


def test_a_status_another_follower_recorded_meanwhile_is_not_recorded_again(db):
    submission = make_submission()
    Submission.objects.update(state=State.SUCCEEDED, scheduler_status="PENDING")
    submission.refresh_from_db()
    stale_copy = Submission.objects.get(pk=submission.pk)
    submission.record_status("RUNNING")

    assert Submission.record_statuses({stale_copy: "RUNNING"}) == 0

    assert submission.events.filter(kind=EventKind.STATUS_CHANGED).count() == 1
