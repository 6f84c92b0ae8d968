"""Recovering from lost work, in this process: an attempt that outlived its
lease, and hand-overs to the broker that failed."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone

from scheduler_ui.schedulers import submitting
from scheduler_ui.schedulers.models import EventKind, StaleSubmission, State, Submission
from tests.factories import make_submission
from tests.services import free_port, point_celery_at


def past_the_lease(settings):
    return timezone.now() + datetime.timedelta(seconds=settings.LOOKOUT_ATTEMPT_LEASE_SECONDS + 1)


def test_an_attempt_that_outlived_its_lease_cannot_undo_the_one_that_took_over(db, settings):
    submission = make_submission()
    first = Submission.claim(submission.pk)
    with time_machine.travel(past_the_lease(settings)):
        second = Submission.claim(submission.pk)
    assert first is not None
    assert second is not None
    second.succeed({"InferenceSchedulerArn": "arn:created-by-the-second", "Status": "PENDING"})

    with pytest.raises(StaleSubmission):
        first.schedule_retry("ThrottlingException", "Rate exceeded", 1)

    submission.refresh_from_db()
    assert submission.state == State.SUCCEEDED
    assert submission.scheduler_arn == "arn:created-by-the-second"
    assert not submission.events.filter(kind=EventKind.RETRY_SCHEDULED).exists()


def test_a_retry_the_broker_refused_is_sent_by_the_sweeper_once_due(
    configure_lookout, monkeypatch, django_capture_on_commit_callbacks
):
    configure_lookout(throttle_rate=1.0)
    point_celery_at(f"redis://127.0.0.1:{free_port()}/0", monkeypatch)  # nobody there
    submission = make_submission()

    with django_capture_on_commit_callbacks(execute=True):
        submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert submission.state == State.RETRY_WAIT
    assert submission.dispatched_at is None
    with time_machine.travel(submission.next_attempt_at):
        assert submitting.sweep() == 1
    redispatched = submission.events.get(kind=EventKind.REDISPATCHED)
    assert redispatched.details["reason"] == "retry past due"


def test_a_takeover_the_broker_refused_is_sent_again_at_the_next_sweep(db, settings):
    submission = make_submission()
    Submission.claim(submission.pk)
    Submission.objects.filter(pk=submission.pk).update(dispatched_at=None)

    with time_machine.travel(past_the_lease(settings)):
        assert submitting.sweep() == 1

    redispatched = submission.events.get(kind=EventKind.REDISPATCHED)
    assert redispatched.details["reason"] == "attempt outlived its lease: its worker stopped"


def test_work_just_sent_again_is_not_sent_again_by_the_next_sweep(db):
    submission = make_submission()
    Submission.objects.filter(pk=submission.pk).update(dispatched_at=None)

    assert submitting.sweep() == 1
    assert submitting.sweep() == 0
