"""Sending a submission to Lookout for Equipment, and following what it made.

The database is the source of truth: a submission is claimed before each
attempt, the stored request (with its one ClientToken) is sent as it is, and
the outcome is written back through the model's transitions. Tasks only call
these functions.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scheduler_ui.lookout import error_code_and_message, is_retryable, make_client
from scheduler_ui.schedulers.models import State, Submission

log = logging.getLogger(__name__)

# Members that DescribeInferenceScheduler reports back as they were sent.
_COMPARED_MEMBERS = (
    "ModelName",
    "DataUploadFrequency",
    "DataDelayOffsetInMinutes",
    "DataInputConfiguration",
    "DataOutputConfiguration",
    "RoleArn",
)


def dispatch(submission: Submission) -> None:
    """Hand a submission to the broker. If the broker is down, say so and move on:
    the submission stays queued and the sweeper sends it when the broker is back."""
    from scheduler_ui.schedulers.tasks import submit_submission

    try:
        submit_submission.apply_async(
            (submission.pk,),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        )
    except Exception:
        log.warning("broker unavailable; submission %s waits for the sweeper", submission.pk)
        Submission.objects.filter(pk=submission.pk).update(dispatched_at=None)


def dispatch_on_commit(submission: Submission) -> None:
    transaction.on_commit(lambda: dispatch(submission))


def retry_delay(attempt: int) -> float:
    """Exponential backoff with full jitter, capped below the broker's visibility timeout."""
    ceiling = min(
        settings.LOOKOUT_RETRY_CAP_SECONDS,
        settings.LOOKOUT_RETRY_BASE_SECONDS * 2 ** (attempt - 1),
    )
    return random.uniform(ceiling / 2, ceiling)


def submit_to_lookout(submission_id: int) -> Submission | None:
    """Make one attempt at a submission, if it is due and no one else holds it."""
    submission = Submission.claim(submission_id)
    if submission is None:
        return None
    try:
        response = make_client().create_inference_scheduler(**submission.request)
    except (ClientError, BotoCoreError) as error:
        code, message = error_code_and_message(error) or (type(error).__name__, str(error))
        _record_error(submission, code, message)
    else:
        submission.succeed(dict(response))
    return submission


def _record_error(submission: Submission, code: str, message: str) -> None:
    if code == "ConflictException":
        _reconcile_conflict(submission, message)
    elif is_retryable(code):
        _retry_or_give_up(submission, code, message)
    else:
        submission.fail(code, message)


def _retry_or_give_up(submission: Submission, code: str, message: str) -> None:
    elapsed = (timezone.now() - submission.created_at).total_seconds()
    if submission.attempts >= settings.LOOKOUT_MAX_ATTEMPTS:
        submission.fail(code, message, reason=f"gave up after {submission.attempts} attempts")
    elif elapsed >= settings.LOOKOUT_RETRY_DEADLINE_SECONDS:
        submission.fail(code, message, reason=f"gave up after {elapsed:.0f} s of retries")
    else:
        delay = retry_delay(submission.attempts)
        submission.schedule_retry(code, message, delay)
        from scheduler_ui.schedulers.tasks import submit_submission

        transaction.on_commit(
            lambda: submit_submission.apply_async((submission.pk,), countdown=delay)
        )


def _reconcile_conflict(submission: Submission, message: str) -> None:
    """A ConflictException may mean our own earlier attempt already created the
    scheduler (its answer was lost). If the scheduler under that name is the one
    this submission asked for, the submission succeeded; otherwise it is a real
    conflict."""
    name = submission.scheduler_name
    try:
        found = make_client().describe_inference_scheduler(InferenceSchedulerName=name)
    except (ClientError, BotoCoreError) as error:
        code, describe_message = error_code_and_message(error) or (type(error).__name__, "")
        if is_retryable(code):
            _retry_or_give_up(submission, code, describe_message)
        else:
            submission.fail("ConflictException", message)
        return
    if is_same_scheduler(submission.request, dict(found)):
        submission.succeed(dict(found), how="reconciled: the scheduler already existed as asked")
    else:
        submission.fail(
            "ConflictException",
            message,
            reason=f"a different scheduler named {name} already exists",
        )


def is_same_scheduler(request: dict[str, Any], described: dict[str, Any]) -> bool:
    """Whether a described scheduler is what the request asked for."""
    return all(
        _contains(described.get(member), request[member])
        for member in _COMPARED_MEMBERS
        if member in request
    )


def _contains(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            _contains(actual.get(key), value) for key, value in wanted.items()
        )
    return bool(actual == wanted)


def refresh_status(submission_id: int) -> None:
    """Ask AWS for a created scheduler's status and record a change."""
    submission = Submission.objects.get(pk=submission_id)
    if submission.state != State.SUCCEEDED:
        return
    try:
        found = make_client().describe_inference_scheduler(
            InferenceSchedulerName=submission.scheduler_name
        )
    except (ClientError, BotoCoreError) as error:
        log.info("could not refresh %s: %s", submission.scheduler_name, error)
        return
    submission.record_status(str(found["Status"]))


def sweep() -> int:
    """Re-dispatch accepted work that no live worker holds; fail what was
    re-dispatched too often. Returns how many submissions were touched."""
    touched = 0
    for submission in Submission.needing_dispatch(timezone.now()):
        if submission.dispatches > settings.LOOKOUT_MAX_DISPATCHES:
            submission.fail(
                submission.error_code or "NotDelivered",
                submission.error_message or "The submission never reached a worker.",
                reason=f"re-dispatched {submission.dispatches - 1} times without finishing",
            )
        else:
            submission.record_redispatch(_why_redispatched(submission))
            dispatch(submission)
        touched += 1
    return touched


def _why_redispatched(submission: Submission) -> str:
    if submission.state == State.QUEUED:
        return "queued but not picked up by a worker"
    if submission.state == State.RETRY_WAIT:
        return "retry past due"
    return "attempt outlived its lease: its worker stopped"
