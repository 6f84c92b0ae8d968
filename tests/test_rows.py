"""rows.locked, rows.insert and rows.update read and write as the ORM would."""

from __future__ import annotations

import datetime

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from scheduler_ui.schedulers import rows
from scheduler_ui.schedulers.models import EventKind, State, Submission, SubmissionEvent
from tests import services
from tests.factories import make_submission, request_dict

WHEN = datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.UTC)


def test_insert_writes_every_field_and_sets_the_key(db):
    user = User.objects.create_user("ada")
    request = request_dict(Tags=[{"Key": "team", "Value": "ünïcode"}])
    submission = Submission(
        request=request,
        scheduler_name="pump-scheduler",
        model_name="pump-model",
        created_by=user,
        created_at=WHEN,
        next_attempt_at=WHEN,
    )

    rows.insert(submission)

    stored = Submission.objects.get(pk=submission.pk)
    assert stored.request == request
    assert (stored.created_by, stored.created_at, stored.next_attempt_at) == (user, WHEN, WHEN)
    assert (stored.state, stored.attempts, stored.dispatches) == (State.QUEUED, 0, 1)
    assert stored.finished_at is None


def test_insert_fills_auto_now_fields_as_save_would(db):
    before = timezone.now()
    submission = Submission(request={}, scheduler_name="a", model_name="m")

    rows.insert(submission)

    assert Submission.objects.get(pk=submission.pk).updated_at >= before


def test_an_inserted_instance_is_saved_as_far_as_django_knows(db):
    submission = make_submission()
    event = SubmissionEvent(submission=submission, kind=EventKind.ATTEMPT, details={"attempt": 1})

    rows.insert(event)

    assert not event._state.adding
    assert submission.events.get(pk=event.pk).details == {"attempt": 1}


def test_update_writes_only_the_rows_that_still_match(db):
    moved, other = make_submission(), make_submission()

    written = rows.update(
        Submission,
        {"id": moved.pk, "state": State.QUEUED},
        {"state": State.IN_FLIGHT, "attempt_started_at": WHEN, "attempts": 1},
    )

    assert written == 1
    moved.refresh_from_db()
    assert (moved.state, moved.attempt_started_at, moved.attempts) == (State.IN_FLIGHT, WHEN, 1)
    other.refresh_from_db()
    assert (other.state, other.attempts) == (State.QUEUED, 0)


def test_update_writes_nothing_when_the_row_has_moved_on(db):
    submission = make_submission()

    written = rows.update(
        Submission, {"id": submission.pk, "state": State.RETRY_WAIT}, {"state": State.FAILED}
    )

    assert written == 0
    submission.refresh_from_db()
    assert submission.state == State.QUEUED


def test_update_clears_a_field_with_none(db):
    submission = make_submission()

    rows.update(Submission, {"id": submission.pk}, {"dispatched_at": None})

    submission.refresh_from_db()
    assert submission.dispatched_at is None


def test_locked_reads_the_row_as_a_query_would(db):
    user = User.objects.create_user("ada")
    submission = make_submission(Tags=[{"Key": "team", "Value": "ünïcode"}])
    Submission.objects.filter(pk=submission.pk).update(created_by=user, next_attempt_at=WHEN)

    with transaction.atomic():
        read = rows.locked(Submission, submission.pk)

    queried = Submission.objects.get(pk=submission.pk)
    assert read is not None
    fields = [field.attname for field in Submission._meta.concrete_fields]
    assert [getattr(read, name) for name in fields] == [getattr(queried, name) for name in fields]
    assert read.created_by == user and not read._state.adding


def test_locked_is_none_for_a_row_that_does_not_exist(db):
    with transaction.atomic():
        assert rows.locked(Submission, 404) is None


@pytest.mark.postgres
def test_locked_is_none_while_another_transaction_holds_the_row(transactional_db):
    services.require_postgres()
    submission = make_submission()

    with psycopg.connect(services.test_database_url()) as other:
        other.execute(
            "SELECT id FROM schedulers_submission WHERE id = %s FOR UPDATE", [submission.pk]
        )
        with transaction.atomic():
            assert rows.locked(Submission, submission.pk) is None

    with transaction.atomic():
        assert rows.locked(Submission, submission.pk) == submission
