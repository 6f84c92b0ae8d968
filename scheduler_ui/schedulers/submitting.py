"""Sending a submission to Lookout for Equipment, and following what it made.

The database is the source of truth: a submission is claimed before each
attempt, the stored request (a create's with its one ClientToken) is sent as it
is with its operation, and the outcome is written back through the model's
transitions. The periodic sync keeps the console's records in step with the
endpoint. Tasks only call these functions.
"""

from __future__ import annotations

import logging
import random
from functools import partial
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scheduler_ui.lookout import (
    error_code_and_message,
    is_retryable,
    list_all,
    make_client,
    operation_input,
    shape,
)
from scheduler_ui.schedulers import ratelimit
from scheduler_ui.schedulers.models import (
    STATUS_AFTER,
    TERMINAL_STATES,
    Operation,
    StaleSubmission,
    State,
    Submission,
    unstorable_text,
)

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
# What the sync reads of each submission it follows, every round: a thousand
# whole rows, timestamps and all, cost more than the listing itself.
_FOLLOWED_FIELDS = ("state", "scheduler_name", "scheduler_arn", "scheduler_status")
# What a success is called in the history, per operation.
_DONE: dict[str, str] = {
    Operation.CREATE: "created",
    Operation.START: "started",
    Operation.STOP: "stopped",
    Operation.UPDATE: "updated",
    Operation.DELETE: "deleted",
    Operation.TAG: "tagged",
    Operation.UNTAG: "untagged",
}
# A start or stop answered ConflictException may have been applied by an earlier
# attempt whose answer was lost: these statuses mean it was.
_ALREADY_DONE: dict[str, frozenset[str]] = {
    Operation.START: frozenset({"PENDING", "RUNNING"}),
    Operation.STOP: frozenset({"STOPPING", "STOPPED"}),
}


# Publishing gives up quickly: a web request must never hang on a broker outage.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2}


def dispatch(submission: Submission, countdown: float = 0) -> bool:
    """Hand a submission to the broker; False if the broker is down. Then the
    submission keeps its state and the sweeper sends it when the broker is back.

    Publishing is bounded: three tries within half a second when Redis refuses
    connections, the socket timeouts (settings) when it hangs.
    """
    from scheduler_ui.schedulers.tasks import submit_submission

    try:
        submit_submission.apply_async(
            (submission.pk,),
            countdown=countdown,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
        )
    except Exception:
        log.warning("broker unavailable; submission %s waits for the sweeper", submission.pk)
        leave_for_the_sweeper(submission)
        return False
    return True


def leave_for_the_sweeper(submission: Submission) -> None:
    """Mark a submission as not handed to the broker, so the sweeper sends it first thing."""
    Submission.objects.filter(pk=submission.pk).update(dispatched_at=None)


def dispatch_on_commit(submission: Submission) -> None:
    transaction.on_commit(lambda: dispatch(submission))


def dispatch_all_on_commit(submissions: list[Submission]) -> None:
    """Hand many submissions to the broker once committed. After the broker's
    first no, the rest wait for the sweeper without trying: an outage costs
    half a second, not half a second a submission."""

    def hand_over() -> None:
        for index, submission in enumerate(submissions):
            if not dispatch(submission):
                for rest in submissions[index + 1 :]:
                    leave_for_the_sweeper(rest)
                return

    transaction.on_commit(hand_over)


def request_refresh(submission: Submission) -> bool:
    """Ask a worker to check the scheduler's status now; False if the broker is down
    (the periodic follower will check it anyway)."""
    from scheduler_ui.schedulers.tasks import refresh_status

    try:
        refresh_status.apply_async((submission.pk,), retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except Exception:
        log.warning("broker unavailable; no status refresh for submission %s", submission.pk)
        return False
    return True


def retry_delay(attempt: int) -> float:
    """Exponential backoff with jitter (half to all of the step), capped below the
    broker's visibility timeout."""
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
    ratelimit.wait_for_a_call()
    try:
        _call_and_record(submission)
    except StaleSubmission:
        # This attempt outlived its lease and another took over: the outcome is
        # the other's to record (the one ClientToken makes both one creation).
        log.warning("submission %s: attempt %s was taken over", submission.pk, submission.attempts)
        return None
    return submission


def _call_and_record(submission: Submission) -> None:
    call = getattr(make_client(), xform_name(submission.operation))
    try:
        response = call(**submission.request)
    except (ClientError, BotoCoreError) as error:
        code, message = error_code_and_message(error) or (type(error).__name__, str(error))
        _record_error(submission, code, message)
    else:
        _record_success(submission, dict(response))


def _record_success(submission: Submission, response: dict[str, Any], how: str = "") -> None:
    """Record what the call returned; an update or a delete answers nothing, so
    the status it leaves the scheduler in is noted instead."""
    if submission.operation in STATUS_AFTER:
        response = {**response, "Status": STATUS_AFTER[submission.operation]}
    submission.succeed(response, how=how or _DONE[submission.operation])


def _record_error(submission: Submission, code: str, message: str) -> None:
    if code == "ConflictException":
        _reconcile_conflict(submission, message)
    elif (
        code == "ResourceNotFoundException"
        and submission.operation == Operation.DELETE
        and submission.attempts > 1
    ):
        # An earlier attempt deleted it, and its answer was lost.
        _record_success(submission, {}, how="reconciled: already deleted")
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
        transaction.on_commit(partial(dispatch, submission, countdown=delay))


def _reconcile_conflict(submission: Submission, message: str) -> None:
    """A ConflictException may mean our own earlier attempt already did it (its
    answer was lost): created the scheduler this submission asked for, or
    started or stopped it. Then the submission succeeded; otherwise the conflict
    is real, and final, with the scheduler's status as the reason."""
    name = submission.scheduler_name
    ratelimit.wait_for_a_call()
    try:
        found = make_client().describe_inference_scheduler(InferenceSchedulerName=name)
    except (ClientError, BotoCoreError) as error:
        code, describe_message = error_code_and_message(error) or (type(error).__name__, "")
        if is_retryable(code):
            _retry_or_give_up(submission, code, describe_message)
        else:
            submission.fail("ConflictException", message)
        return
    if submission.operation != Operation.CREATE:
        status = str(found["Status"])
        if status in _ALREADY_DONE.get(submission.operation, ()):
            submission.succeed(dict(found), how=f"reconciled: the scheduler was already {status}")
        else:
            submission.fail("ConflictException", message, reason=conflict_reason(status))
    elif is_same_scheduler(submission.request, dict(found)):
        submission.succeed(dict(found), how="reconciled: the scheduler already existed as asked")
    else:
        submission.fail(
            "ConflictException",
            message,
            reason=f"a different scheduler named {name} already exists",
        )


def conflict_reason(status: str) -> str:
    """Why an action on a scheduler in this status is refused, and what to do."""
    if status == "STOPPING":
        return "the scheduler is STOPPING: wait until it has stopped"
    if status in ("PENDING", "RUNNING"):
        return f"the scheduler is {status}: stop it first"
    return f"the scheduler is {status}"


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
    ratelimit.wait_for_a_call()
    try:
        found = make_client().describe_inference_scheduler(
            InferenceSchedulerName=submission.scheduler_name
        )
    except (ClientError, BotoCoreError) as error:
        log.info("could not refresh %s: %s", submission.scheduler_name, error)
        return
    submission.record_status(str(found["Status"]))


def follow_statuses() -> int:
    """The periodic sync with the endpoint, from one ListInferenceSchedulers
    listing (a few calls for a thousand schedulers, where one
    DescribeInferenceScheduler each would be a thousand):

    - every status change is recorded on each scheduler's record (its latest
      create or import) and on requests still followed (a start until RUNNING);
      a scheduler missing from the listing is DELETED;
    - a scheduler the console did not create is recorded as imported;
    - waiting steps of a chain (stop, update, start) move on.

    Returns how many statuses changed."""
    # Read before listing: what was recorded then and is not listed is gone.
    following = Submission.following().only(*_FOLLOWED_FIELDS)
    records = Submission.records(fields=_FOLLOWED_FIELDS).values()
    tracked = {s.pk: s for s in [*records, *following]}
    waiting = list(
        Submission.objects.filter(state=State.WAITING)
        .select_related("waits_for")
        .defer("request", "waits_for__request")
    )
    ratelimit.wait_for_a_call()
    try:
        summaries = list_all(
            make_client(), "ListInferenceSchedulers", "InferenceSchedulerSummaries", MaxResults=500
        )
    except (ClientError, BotoCoreError) as error:
        log.info("could not list schedulers: %s", error)
        return 0
    live = {summary["InferenceSchedulerName"]: summary for summary in summaries}
    statuses = {}
    for submission in tracked.values():
        summary = live.get(submission.scheduler_name)
        same = summary is not None and submission.scheduler_arn in (
            "",
            summary["InferenceSchedulerArn"],
        )
        statuses[submission] = str(summary["Status"]) if same and summary else "DELETED"
    changed = Submission.record_statuses(statuses)
    _import_unknown(summaries)
    for submission in waiting:
        summary = live.get(submission.scheduler_name)
        if submission.advance(None if summary is None else str(summary["Status"])):
            dispatch(submission)
    return changed


def _import_unknown(summaries: list[dict[str, Any]]) -> None:
    """Record the listed schedulers the console has no record of. What it knows
    is read once for the whole listing; only the rest is looked at one by one."""
    ours = Submission.objects.filter(operation__in=[Operation.CREATE, Operation.IMPORTED])
    recorded = set(
        ours.filter(state=State.SUCCEEDED).values_list("scheduler_name", "scheduler_arn")
    )
    creating = set(
        ours.filter(operation=Operation.CREATE)
        .exclude(state__in=TERMINAL_STATES)
        .values_list("scheduler_name", flat=True)
    )
    for summary in summaries:
        name, arn = summary["InferenceSchedulerName"], summary["InferenceSchedulerArn"]
        if (name, arn) not in recorded and name not in creating:
            _import_if_unknown(summary)


def _import_if_unknown(summary: dict[str, Any]) -> None:
    """Record a listed scheduler the console has no record of (asked again now:
    a create may have finished since the listing)."""
    name, arn = summary["InferenceSchedulerName"], summary["InferenceSchedulerArn"]
    ours = Submission.objects.filter(
        scheduler_name=name, operation__in=[Operation.CREATE, Operation.IMPORTED]
    )
    creating = ours.filter(operation=Operation.CREATE).exclude(state__in=TERMINAL_STATES)
    if ours.filter(state=State.SUCCEEDED, scheduler_arn=arn).exists() or creating.exists():
        return
    try:
        request = current_configuration(name)
    except (ClientError, BotoCoreError) as error:
        log.info("could not import %s: %s", name, error)
        return
    unstorable = unstorable_text(request)
    if unstorable:
        # One such scheduler must not stop the sync for all the others.
        log.warning(
            "could not import %s, whose configuration no submission can hold: %s",
            name,
            "; ".join(f"{path}: {why}" for path, why in unstorable),
        )
        return
    Submission.imported(request, arn, str(summary["Status"]))
    log.info("imported %s, a scheduler the console did not create", name)


def current_configuration(name: str) -> dict[str, Any]:
    """A scheduler's configuration as the CreateInferenceScheduler request that
    would make it again (without a ClientToken): DescribeInferenceScheduler's
    members that the create takes, and its tags."""
    client = make_client()
    ratelimit.wait_for_a_call()
    described = dict(client.describe_inference_scheduler(InferenceSchedulerName=name))
    ratelimit.wait_for_a_call()
    tags = client.list_tags_for_resource(ResourceArn=str(described["InferenceSchedulerArn"]))
    return as_create_request(described, list(tags.get("Tags", [])))


def as_create_request(described: dict[str, Any], tags: list[Any]) -> dict[str, Any]:
    """The members of a DescribeInferenceScheduler answer that
    CreateInferenceScheduler takes, in its order, with the tags."""
    members = shape(operation_input(Operation.CREATE))["members"]
    request = {name: described[name] for name in members if name in described}
    if tags:
        request["Tags"] = [{"Key": tag["Key"], "Value": tag["Value"]} for tag in tags]
    return request


def sweep() -> int:
    """Re-dispatch accepted work that no live worker holds; fail what was
    re-dispatched too often. Returns how many submissions were touched."""
    touched = 0
    for pk in Submission.needing_dispatch(timezone.now()).values_list("pk", flat=True):
        with transaction.atomic():
            # Locked and looked at again: a worker may have moved it meanwhile,
            # and two sweeps at once must not both send it.
            submission = (
                Submission.needing_dispatch(timezone.now())
                .select_for_update(skip_locked=True)
                .filter(pk=pk)
                .first()
            )
            if submission is None:
                continue
            if submission.dispatches > settings.LOOKOUT_MAX_DISPATCHES:
                submission.fail(
                    submission.error_code or "NotDelivered",
                    submission.error_message or "The submission never reached a worker.",
                    reason=f"re-dispatched {submission.dispatches - 1} times without finishing",
                )
            else:
                submission.record_redispatch(_why_redispatched(submission))
                # Published once the row is unlocked, or its worker could not claim it.
                transaction.on_commit(partial(dispatch, submission))
        touched += 1
    return touched


def _why_redispatched(submission: Submission) -> str:
    if submission.state == State.QUEUED:
        return "queued but not picked up by a worker"
    if submission.state == State.RETRY_WAIT:
        return "retry past due"
    return "attempt outlived its lease: its worker stopped"
