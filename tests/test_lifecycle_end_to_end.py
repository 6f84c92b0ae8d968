"""Each lifecycle action with real processes: the page's POST → Submission →
Redis → Celery worker process → boto3 over HTTP → local endpoint, followed by
the worker's periodic sync until the scheduler settles; and the events each
writes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scheduler_ui.schedulers import submitting
from scheduler_ui.schedulers.models import EventKind, Operation, State, Submission
from tests.factories import make_submission, request_dict
from tests.services import point_celery_at, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

NAME = "pump-scheduler"
SETTLING_SECONDS = 0.5


@pytest.fixture
def endpoint(configure_lookout, redis_url, start_worker, monkeypatch):
    """A local endpoint whose schedulers take half a second to start or stop, and
    a worker (with beat: the sync) on Redis sending to it."""
    endpoint = configure_lookout(
        pending_seconds=SETTLING_SECONDS, stopping_seconds=SETTLING_SECONDS
    )
    point_celery_at(redis_url, monkeypatch)
    start_worker(redis_url, endpoint.url)
    return endpoint


def live_status(endpoint, name: str = NAME) -> str:
    found = endpoint.backend.invoke("DescribeInferenceScheduler", {"InferenceSchedulerName": name})
    return str(found["Status"])


def scheduler(endpoint, status: str) -> Submission:
    """A scheduler the console created (in this process), settled in `status`."""
    record = make_submission(InferenceSchedulerName=NAME)
    submitting.submit_to_lookout(record.pk)
    wait_until(lambda: live_status(endpoint) == "RUNNING", timeout=10, what="it to run")
    if status == "STOPPED":
        endpoint.backend.invoke("StopInferenceScheduler", {"InferenceSchedulerName": NAME})
        wait_until(lambda: live_status(endpoint) == "STOPPED", timeout=10, what="it to stop")
    wait_until(
        lambda: Submission.objects.get(pk=record.pk).scheduler_status == status,
        timeout=20,
        what=f"the sync to record it {status}",
    )
    return record


def act(client, action: str, data: dict[str, str] | None = None) -> Submission:
    """POST an action's page; the submission it landed on."""
    response = client.post(reverse(action, args=[NAME]), data or {})
    assert response.status_code == 302
    return Submission.objects.get(pk=int(response.url.rstrip("/").rsplit("/", 1)[1]))


def settled(submission: Submission, timeout: float = 30) -> Submission:
    wait_until(
        lambda: Submission.objects.get(pk=submission.pk).is_settled,
        timeout=timeout,
        what=f"#{submission.pk} ({submission.operation}) to settle",
    )
    submission.refresh_from_db()
    return submission


def story(submission: Submission) -> list[tuple[str, object]]:
    """Each event's kind, with the status change it records, if any."""
    return [
        (e.kind, (e.details["from"], e.details["to"]) if e.kind == EventKind.STATUS_CHANGED else "")
        for e in submission.events.all()
    ]


def last_change(record: Submission) -> dict[str, str]:
    record.refresh_from_db()
    return dict(record.events.filter(kind=EventKind.STATUS_CHANGED).latest("id").details)


EDIT = {
    "data_upload_frequency": "PT5M",
    "data_delay_offset_in_minutes": "",
    "output_bucket": "lookout-output",
    "role_arn": "arn:aws:iam::123456789012:role/LookoutAccess",
}


def test_start(endpoint, operator_client):
    record = scheduler(endpoint, "STOPPED")

    start = settled(act(operator_client, "scheduler_start"))

    assert (start.state, start.scheduler_status) == (State.SUCCEEDED, "RUNNING")
    assert story(start) == [
        (EventKind.SUBMITTED, ""),
        (EventKind.ATTEMPT, ""),
        (EventKind.SUCCEEDED, ""),
        (EventKind.STATUS_CHANGED, ("PENDING", "RUNNING")),
    ]
    assert str(start.events.get(kind=EventKind.SUBMITTED).actor) == "alice"
    wait_until(lambda: last_change(record)["to"] == "RUNNING", timeout=10, what="the record")


def test_stop(endpoint, operator_client):
    record = scheduler(endpoint, "RUNNING")

    stop = settled(act(operator_client, "scheduler_stop"))

    assert (stop.state, stop.scheduler_status) == (State.SUCCEEDED, "STOPPED")
    assert story(stop)[2:] == [
        (EventKind.SUCCEEDED, ""),
        (EventKind.STATUS_CHANGED, ("STOPPING", "STOPPED")),
    ]
    assert live_status(endpoint) == "STOPPED"
    wait_until(lambda: last_change(record)["to"] == "STOPPED", timeout=10, what="the record")


def test_edit_of_a_stopped_scheduler(endpoint, operator_client):
    scheduler(endpoint, "STOPPED")

    update = settled(act(operator_client, "scheduler_edit", EDIT))

    assert update.request == {"InferenceSchedulerName": NAME, "DataUploadFrequency": "PT5M"}
    assert (update.state, update.scheduler_status) == (State.SUCCEEDED, "STOPPED")
    assert [kind for kind, _ in story(update)] == [
        EventKind.SUBMITTED,
        EventKind.ATTEMPT,
        EventKind.SUCCEEDED,
    ]
    described = endpoint.backend.invoke(
        "DescribeInferenceScheduler", {"InferenceSchedulerName": NAME}
    )
    assert described["DataUploadFrequency"] == "PT5M"


def test_stop_update_start_of_a_running_scheduler(endpoint, operator_client):
    scheduler(endpoint, "RUNNING")

    update = act(operator_client, "scheduler_edit", {**EDIT, "confirm_restart": "on"})

    [start] = update.next_steps.all()
    start = settled(start, timeout=45)
    update.refresh_from_db()
    stop = update.waits_for
    assert stop is not None
    assert [s.state for s in (stop, update, start)] == [State.SUCCEEDED] * 3
    assert (start.scheduler_status, live_status(endpoint)) == ("RUNNING", "RUNNING")
    for step in (update, start):
        assert [kind for kind, _ in story(step)][:4] == [
            EventKind.SUBMITTED,
            EventKind.READY,
            EventKind.ATTEMPT,
            EventKind.SUCCEEDED,
        ]
    assert stop.finished_at is not None and update.finished_at is not None
    assert stop.finished_at <= update.events.get(kind=EventKind.READY).at
    assert update.finished_at <= start.events.get(kind=EventKind.READY).at
    described = endpoint.backend.invoke(
        "DescribeInferenceScheduler", {"InferenceSchedulerName": NAME}
    )
    assert described["DataUploadFrequency"] == "PT5M"


def test_delete(endpoint, operator_client):
    record = scheduler(endpoint, "STOPPED")

    delete = settled(act(operator_client, "scheduler_delete"))

    assert (delete.state, delete.scheduler_status) == (State.SUCCEEDED, "DELETED")
    assert [kind for kind, _ in story(delete)] == [
        EventKind.SUBMITTED,
        EventKind.ATTEMPT,
        EventKind.SUCCEEDED,
    ]
    assert endpoint.backend.invoke("ListInferenceSchedulers", {}) == {
        "InferenceSchedulerSummaries": []
    }
    wait_until(lambda: last_change(record)["to"] == "DELETED", timeout=10, what="the record")


def test_the_sync_imports_a_scheduler_made_outside_and_follows_its_status(endpoint):
    outside = {"InferenceSchedulerName": "outside"}
    endpoint.backend.invoke("CreateInferenceScheduler", request_dict(**outside))
    wait_until(
        lambda: Submission.objects.filter(operation=Operation.IMPORTED).exists(),
        timeout=20,
        what="the sync to import it",
    )
    wait_until(lambda: live_status(endpoint, "outside") == "RUNNING", timeout=10, what="it to run")

    endpoint.backend.invoke("StopInferenceScheduler", outside)

    wait_until(
        lambda: Submission.objects.get().scheduler_status == "STOPPED",
        timeout=20,
        what="the sync to record it STOPPED",
    )
    imported = Submission.objects.get()
    assert story(imported)[0] == (EventKind.IMPORTED, "")
    assert last_change(imported)["to"] == "STOPPED"
