"""The whole spine with real processes: form → Submission → broker → Celery
worker process → boto3 over HTTP → local endpoint → recorded status."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from scheduler_ui.schedulers import tasks
from scheduler_ui.schedulers.models import (
    EventKind,
    Operation,
    State,
    Submission,
    SubmissionEvent,
)
from scheduler_ui.schedulers.submitting import dispatch
from tests.factories import full_form_post, make_submission, request_dict
from tests.services import point_celery_at, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def submit_and_follow(operator_client, make_lookout_endpoint, start_worker, monkeypatch):
    """Start an endpoint and a worker on `broker_url`, submit the full form and
    wait until the submission has settled."""

    def run(broker_url):
        return _submit_and_follow(
            broker_url, operator_client, make_lookout_endpoint, start_worker, monkeypatch
        )

    return run


def _submit_and_follow(
    broker_url, operator_client, make_lookout_endpoint, start_worker, monkeypatch
):
    endpoint = make_lookout_endpoint(pending_seconds=1)
    point_celery_at(broker_url, monkeypatch)
    start_worker(broker_url, endpoint.url)

    response = operator_client.post(reverse("submission_new"), full_form_post())
    assert response.status_code == 302

    submission = Submission.objects.get()
    wait_until(
        lambda: Submission.objects.get(pk=submission.pk).is_settled,
        timeout=60,
        what="the worker to create the scheduler and see it RUNNING",
    )
    submission.refresh_from_db()
    return endpoint, submission


def assert_created_as_the_endpoint_says(endpoint, submission):
    described = endpoint.backend.invoke(
        "DescribeInferenceScheduler", {"InferenceSchedulerName": "pump-scheduler"}
    )
    assert submission.state == State.SUCCEEDED
    assert submission.scheduler_arn == described["InferenceSchedulerArn"]
    assert submission.scheduler_status == "RUNNING"
    assert [call.client_token for call in endpoint.backend.create_calls()] == [
        submission.client_token
    ]
    events = list(submission.events.all())
    assert [e.kind for e in events] == [
        EventKind.SUBMITTED,
        EventKind.ATTEMPT,
        EventKind.SUCCEEDED,
        EventKind.STATUS_CHANGED,
    ]
    assert events[0].actor is not None
    assert events[-1].details == {"from": "PENDING", "to": "RUNNING"}


@pytest.mark.redis
def test_a_worker_on_redis_creates_the_scheduler_and_follows_it_to_running(
    redis_url, submit_and_follow
):
    endpoint, submission = submit_and_follow(redis_url)

    assert_created_as_the_endpoint_says(endpoint, submission)


def test_the_embedded_default_broker_does_the_same(embedded_broker_url, submit_and_follow):
    endpoint, submission = submit_and_follow(embedded_broker_url)

    assert_created_as_the_endpoint_says(endpoint, submission)


def test_a_worker_drops_a_sync_that_waited_past_its_expiry(
    embedded_broker_url, make_lookout_endpoint, start_worker, monkeypatch
):
    """Beat sends each sync to expire after one interval: one that waited longer
    is dropped, and the next does the work."""
    endpoint = make_lookout_endpoint()
    endpoint.backend.invoke(
        "CreateInferenceScheduler", request_dict(InferenceSchedulerName="outside")
    )
    point_celery_at(embedded_broker_url, monkeypatch)
    expired = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    tasks.follow_statuses.apply_async(expires=expired)
    # Behind the expired sync in the queue: one worker process takes them in order.
    after_it = make_submission()
    dispatch(after_it)
    start_worker(embedded_broker_url, endpoint.url, concurrency=1, beat=False)
    wait_until(
        lambda: Submission.objects.get(pk=after_it.pk).is_settled,
        timeout=60,
        what="the submission queued after the expired sync to be worked on",
    )

    assert not Submission.objects.filter(operation=Operation.IMPORTED).exists()

    tasks.follow_statuses.apply_async()
    wait_until(
        lambda: Submission.objects.filter(
            operation=Operation.IMPORTED, scheduler_name="outside"
        ).exists(),
        timeout=60,
        what="the next sync to import the scheduler the console did not create",
    )


@pytest.mark.parametrize(
    "broker", [pytest.param("redis_url", marks=pytest.mark.redis), "embedded_broker_url"]
)
def test_a_sync_sent_behind_a_burst_of_submissions_runs_before_them(
    broker, request, make_lookout_endpoint, start_worker, monkeypatch
):
    """The sync has a queue of its own, which workers read in turn with the
    submissions': a burst of creates does not hold the statuses up."""
    broker_url = request.getfixturevalue(broker)
    endpoint = make_lookout_endpoint()
    endpoint.backend.invoke(
        "CreateInferenceScheduler", request_dict(InferenceSchedulerName="outside")
    )
    point_celery_at(broker_url, monkeypatch)
    for index in range(6):
        dispatch(make_submission(InferenceSchedulerName=f"pump-{index}"))
    tasks.follow_statuses.apply_async()
    start_worker(broker_url, endpoint.url, concurrency=1, beat=False)

    def all_done() -> bool:
        burst = Submission.objects.filter(operation=Operation.CREATE)
        imported = Submission.objects.filter(operation=Operation.IMPORTED)
        return all(s.is_settled for s in burst) and imported.exists()

    wait_until(all_done, timeout=60, what="the burst and the sync to be worked on")

    imported = Submission.objects.get(operation=Operation.IMPORTED, scheduler_name="outside")
    attempts_before = SubmissionEvent.objects.filter(
        kind=EventKind.ATTEMPT, at__lt=imported.created_at
    ).count()
    assert attempts_before < 3, f"the sync ran after {attempts_before} of the 6 attempts"
