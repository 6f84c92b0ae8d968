"""An Operator cancels a submission that nothing is sending, as Flower revokes a
task; a call under way, or a finished one, cannot be cancelled."""

from __future__ import annotations

import psycopg
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scheduler_ui.schedulers import submitting
from scheduler_ui.schedulers.models import (
    CannotCancel,
    EventKind,
    Operation,
    State,
    Submission,
)
from tests import services
from tests.conftest import Lookout
from tests.factories import make_submission

NAME = "pump-scheduler"


def in_flight() -> Submission:
    submission = make_submission()
    claimed = Submission.claim(submission.pk)
    assert claimed is not None
    return claimed


def waiting_to_retry() -> Submission:
    submission = in_flight()
    submission.schedule_retry("ThrottlingException", "Rate exceeded", 60)
    return submission


def step(operation: str, after: Submission) -> Submission:
    """A later step of a chain, waiting for `after`."""
    return Submission.accept(
        {"InferenceSchedulerName": NAME}, None, operation=operation, waits_for=after
    )


def test_a_queued_submission_is_cancelled_and_the_event_says_who(operator: User) -> None:
    submission = make_submission()

    Submission.cancel(submission.pk, operator)

    submission.refresh_from_db()
    assert submission.state == State.CANCELLED
    assert submission.finished_at is not None
    event = submission.events.latest("id")
    assert (event.kind, event.actor, event.from_state, event.to_state) == (
        EventKind.CANCELLED,
        operator,
        State.QUEUED,
        State.CANCELLED,
    )


def test_a_retry_is_cancelled_and_the_event_says_an_attempt_was_made(operator: User) -> None:
    submission = waiting_to_retry()

    Submission.cancel(submission.pk, operator)

    submission.refresh_from_db()
    assert submission.state == State.CANCELLED
    assert submission.events.latest("id").details == {
        "note": "an earlier attempt may have reached Lookout for Equipment"
    }


def test_a_call_under_way_cannot_be_cancelled(operator: User) -> None:
    submission = in_flight()

    with pytest.raises(CannotCancel):
        Submission.cancel(submission.pk, operator)

    submission.refresh_from_db()
    assert submission.state == State.IN_FLIGHT


@pytest.mark.parametrize("outcome", ["succeed", "fail"])
def test_a_finished_submission_cannot_be_cancelled(operator: User, outcome: str) -> None:
    submission = in_flight()
    if outcome == "succeed":
        submission.succeed({"Status": "PENDING"})
    else:
        submission.fail("ValidationException", "No.")

    with pytest.raises(CannotCancel):
        Submission.cancel(submission.pk, operator)

    assert Submission.objects.get(pk=submission.pk).state == submission.state


def test_the_steps_that_wait_for_a_cancelled_one_are_cancelled_too(operator: User) -> None:
    stop = make_submission()
    update = step(Operation.UPDATE, after=stop)
    start = step(Operation.START, after=update)

    Submission.cancel(stop.pk, operator)

    for later, before in ((update, stop), (start, update)):
        later.refresh_from_db()
        assert later.state == State.CANCELLED
        event = later.events.latest("id")
        assert (event.actor, event.details) == (
            operator,
            {"reason": f"the step before, #{before.pk}, was cancelled"},
        )


def test_cancelling_a_later_step_leaves_the_one_before_it(operator: User) -> None:
    stop = make_submission()
    start = step(Operation.START, after=stop)

    Submission.cancel(start.pk, operator)

    stop.refresh_from_db()
    assert stop.state == State.QUEUED


@pytest.mark.postgres
def test_a_submission_a_worker_is_claiming_cannot_be_cancelled(
    transactional_db: None, operator: User
) -> None:
    services.require_postgres()
    submission = make_submission()

    with psycopg.connect(services.test_database_url()) as worker:
        worker.execute(
            "SELECT id FROM schedulers_submission WHERE id = %s FOR UPDATE", [submission.pk]
        )
        with pytest.raises(CannotCancel):
            Submission.cancel(submission.pk, operator)

    assert Submission.objects.get(pk=submission.pk).state == State.QUEUED


def test_a_cancelled_submission_is_never_sent(operator: User, lookout: Lookout) -> None:
    submission = make_submission()
    Submission.cancel(submission.pk, operator)

    # Its message was already in the broker: the worker that gets it claims nothing.
    assert submitting.submit_to_lookout(submission.pk) is None
    assert not Submission.needing_dispatch(timezone.now()).exists()
    assert lookout.endpoint.backend.create_calls() == []


# --- The submission page ----------------------------------------------------------


def test_the_page_offers_cancel_while_nothing_is_sending(operator_client: Client) -> None:
    page = operator_client.get(make_submission().get_absolute_url()).text

    assert reverse("submission_cancel", args=[Submission.objects.get().pk]) in page


def test_the_page_offers_no_cancel_for_a_call_under_way(operator_client: Client) -> None:
    submission = in_flight()

    page = operator_client.get(submission.get_absolute_url()).text

    assert reverse("submission_cancel", args=[submission.pk]) not in page


def test_a_viewer_is_offered_no_cancel(viewer_client: Client) -> None:
    submission = make_submission()

    page = viewer_client.get(submission.get_absolute_url()).text

    assert reverse("submission_cancel", args=[submission.pk]) not in page


def test_an_operator_cancels_from_the_submission_page(
    operator_client: Client, operator: User
) -> None:
    submission = make_submission()

    response = operator_client.post(reverse("submission_cancel", args=[submission.pk]), follow=True)

    submission.refresh_from_db()
    assert submission.state == State.CANCELLED
    assert submission.events.latest("id").actor == operator
    assert f"Cancelled submission #{submission.pk}" in response.text


def test_too_late_to_cancel_the_page_says_why(operator_client: Client) -> None:
    submission = in_flight()

    response = operator_client.post(reverse("submission_cancel", args=[submission.pk]), follow=True)

    assert "cannot be cancelled now" in response.text
    assert Submission.objects.get(pk=submission.pk).state == State.IN_FLIGHT


def test_the_overview_counts_the_cancelled(operator_client: Client, operator: User) -> None:
    Submission.cancel(make_submission().pk, operator)

    page = operator_client.get(reverse("overview")).text

    assert 'data-testid="count-cancelled">1<' in page
