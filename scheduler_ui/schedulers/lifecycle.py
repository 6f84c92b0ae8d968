"""Acting on an existing scheduler: which actions its live status allows, and
turning an allowed action into submissions.

Every action is checked against the scheduler as DescribeInferenceScheduler
reports it at that moment (pages may be stale, and a POST may be crafted), then
recorded as a submission that the worker sends like a create: retried,
reconciled and audited.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError
from django.db import transaction

from scheduler_ui.lookout import (
    error_code_and_message,
    list_all,
    make_client,
    validate_request,
    validate_value,
)
from scheduler_ui.schedulers import ratelimit
from scheduler_ui.schedulers.models import (
    ALLOWED_IN_STATUS,
    TERMINAL_STATES,
    Operation,
    Submission,
)
from scheduler_ui.schedulers.submitting import (
    current_configuration,
    dispatch_all_on_commit,
    dispatch_on_commit,
)

# What each action is called on the pages.
VERBS: dict[str, str] = {
    Operation.START: "start",
    Operation.STOP: "stop",
    Operation.UPDATE: "edit",
    Operation.DELETE: "delete",
}


class CannotRead(Exception):
    """Lookout for Equipment did not answer a read: the scheduler does not exist,
    or the endpoint could not be reached or refused."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.code == "ResourceNotFoundException"


class Refused(Exception):
    """An action that is not accepted; the message says why, for the person."""


def is_scheduler_name(name: str) -> bool:
    """Whether a name could name a scheduler (pages 404 on one that could not,
    without asking AWS)."""
    return not validate_value("InferenceSchedulerIdentifier", name)


def read(operation: str, **params: Any) -> dict[str, Any]:
    """One read call to Lookout for Equipment (Describe, List...), its errors as CannotRead."""
    method = getattr(make_client(), xform_name(operation))
    ratelimit.wait_for_a_call()
    try:
        return dict(method(**params))
    except (ClientError, BotoCoreError) as error:
        raise _cannot_read(error) from error


def describe(name: str) -> dict[str, Any]:
    return read("DescribeInferenceScheduler", InferenceSchedulerName=name)


def list_schedulers(**filters: str) -> list[dict[str, Any]]:
    """Every scheduler ListInferenceSchedulers returns for these filters, all its pages."""
    ratelimit.wait_for_a_call()
    try:
        return list_all(
            make_client(),
            "ListInferenceSchedulers",
            "InferenceSchedulerSummaries",
            MaxResults=500,
            **filters,
        )
    except (ClientError, BotoCoreError) as error:
        raise _cannot_read(error) from error


def create_request(name: str) -> dict[str, Any]:
    """The scheduler's configuration as the create request that would make it
    again, without a ClientToken (Clone)."""
    try:
        return current_configuration(name)
    except (ClientError, BotoCoreError) as error:
        raise _cannot_read(error) from error


def _cannot_read(error: ClientError | BotoCoreError) -> CannotRead:
    code, message = error_code_and_message(error) or (type(error).__name__, str(error))
    return CannotRead(code, message)


def offered(status: str) -> frozenset[str]:
    """The actions a scheduler in this status offers, by their verbs: RUNNING,
    stop (and edit, as one confirmed stop, update, start); STOPPED, start, edit
    and delete; PENDING and STOPPING, none (wait). Tags may change in any
    status (Manage tags), so they are not among these."""
    verbs = {VERBS[operation] for operation in VERBS if status in ALLOWED_IN_STATUS[operation]}
    if status == "RUNNING":
        verbs.add(VERBS[Operation.UPDATE])
    return frozenset(verbs)


def under_way(names: Iterable[str]) -> dict[str, Submission]:
    """For each of these scheduler names that has one, its oldest request not
    finished yet: a scheduler takes one request at a time."""
    unfinished = (
        Submission.objects.filter(scheduler_name__in=names)
        .exclude(state__in=TERMINAL_STATES)
        .order_by("-created_at", "-id")
    )
    return {submission.scheduler_name: submission for submission in unfinished}


def finished_since(names: Iterable[str], moment: datetime.datetime) -> set[str]:
    """Those of these scheduler names with a request that finished after this
    moment."""
    return set(
        Submission.objects.filter(scheduler_name__in=names, finished_at__gt=moment).values_list(
            "scheduler_name", flat=True
        )
    )


def refusal(operation: str, name: str, status: str) -> str:
    """Why a scheduler in this status does not allow the action, and what to do."""
    verb = VERBS[operation]
    if status == "PENDING":
        return f"{name} is PENDING: wait until it is RUNNING."
    if status == "STOPPING":
        return f"{name} is STOPPING: wait until it is STOPPED, then {verb} it."
    if (operation, status) in {(Operation.START, "RUNNING"), (Operation.STOP, "STOPPED")}:
        return f"{name} is already {status}."
    return f"{name} is {status}: stop it before you {verb} it."


def current_tags(arn: str) -> dict[str, str]:
    """The scheduler's tags as ListTagsForResource reports them, key to value."""
    listed = read("ListTagsForResource", ResourceArn=arn).get("Tags", [])
    return {tag["Key"]: tag["Value"] for tag in listed}


def accept_tags(name: str, user: Any, wanted: dict[str, str]) -> Submission:
    """Make the scheduler's tags exactly `wanted`, as the AWS console's "Manage
    tags" does: UntagResource for the keys no longer wanted, then TagResource
    for those added or changed (two linked steps when both). Returns the step
    sent first. Raises Refused when nothing would change, or as accept does."""
    # Tags may change in any status a scheduler that exists has.
    described = _idle_and_described(name)
    arn, model = str(described["InferenceSchedulerArn"]), str(described["ModelName"])
    try:
        now = current_tags(arn)
    except CannotRead as error:
        raise Refused(
            f"Could not read the tags of {name} ({error.code}); nothing was done."
        ) from error
    removed = sorted(now.keys() - wanted.keys())
    changed = [
        {"Key": key, "Value": value} for key, value in wanted.items() if now.get(key) != value
    ]
    steps: list[tuple[str, dict[str, Any]]] = []
    if removed:
        steps.append((Operation.UNTAG, {"ResourceArn": arn, "TagKeys": removed}))
    if changed:
        steps.append((Operation.TAG, {"ResourceArn": arn, "Tags": changed}))
    if not steps:
        raise Refused(f"The tags of {name} are already these: nothing to change.")
    with transaction.atomic():
        first = previous = None
        for operation, request in steps:
            errors = validate_request(operation, request)
            if errors:
                raise Refused("; ".join(str(error) for error in errors))
            previous = Submission.accept(
                request,
                user,
                operation=operation,
                model_name=model,
                scheduler_name=name,
                waits_for=previous,
            )
            first = first or previous
        assert first is not None
        dispatch_on_commit(first)
        return first


def accept(
    operation: str,
    name: str,
    user: Any,
    request: dict[str, Any] | None = None,
    *,
    restart: bool = False,
) -> Submission:
    """Check an action against the scheduler's live status and record it; it is
    dispatched when the transaction commits. An update of a RUNNING scheduler,
    confirmed with `restart`, is three linked steps (stop, update, start) of
    which the update is returned. Raises Refused when it is not allowed."""
    request = request or {"InferenceSchedulerName": name}
    errors = validate_request(operation, request)
    if errors:
        raise Refused("; ".join(str(error) for error in errors))
    described = _idle_and_described(name)
    status, model = str(described["Status"]), str(described["ModelName"])
    chain = operation == Operation.UPDATE and status == "RUNNING"
    if chain and not restart:
        raise Refused(f"{name} is RUNNING: confirm that it may be stopped, updated and started.")
    if not chain and status not in ALLOWED_IN_STATUS[operation]:
        raise Refused(refusal(operation, name, status))
    with transaction.atomic():
        if not chain:
            submission = Submission.accept(request, user, operation=operation, model_name=model)
            dispatch_on_commit(submission)
            return submission
        just_the_name = {"InferenceSchedulerName": name}
        stop = Submission.accept(just_the_name, user, operation=Operation.STOP, model_name=model)
        update = Submission.accept(
            request, user, operation=Operation.UPDATE, model_name=model, waits_for=stop
        )
        Submission.accept(
            just_the_name, user, operation=Operation.START, model_name=model, waits_for=update
        )
        dispatch_on_commit(stop)
        return update


def check_each(operation: str, names: Iterable[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Which of these schedulers (the list's selected rows) allow the action now,
    each with its summary, and why the others do not: each checked as `accept`
    checks one, against one ListInferenceSchedulers listing read now, where a
    DescribeInferenceScheduler each would take fifty calls, five seconds at the
    default rate, for a page. Raises Refused when nothing can be listed."""
    try:
        live = {summary["InferenceSchedulerName"]: summary for summary in list_schedulers()}
    except CannotRead as error:
        raise Refused(f"Could not list the schedulers ({error.code}); nothing was done.") from error
    names = sorted(set(names))
    busy = under_way(names)
    allowed, refused = {}, []
    for name in names:
        summary = live.get(name)
        if name in busy:
            refused.append(_under_way_refusal(busy[name]))
        elif summary is None:
            refused.append(f"There is no inference scheduler named {name}.")
        elif str(summary["Status"]) not in ALLOWED_IN_STATUS[operation]:
            refused.append(refusal(operation, name, str(summary["Status"])))
        else:
            allowed[name] = summary
    return allowed, refused


def accept_each(
    operation: str, names: Iterable[str], user: Any
) -> tuple[list[Submission], list[str]]:
    """Record the action for each of these schedulers that allows it now
    (`check_each`), a submission each; returns them and why the others were
    refused."""
    allowed, refused = check_each(operation, names)
    with transaction.atomic():
        accepted = [
            Submission.accept(
                {"InferenceSchedulerName": name},
                user,
                operation=operation,
                model_name=str(summary["ModelName"]),
            )
            for name, summary in allowed.items()
        ]
        dispatch_all_on_commit(accepted)
    return accepted, refused


def _under_way_refusal(busy: Submission) -> str:
    return (
        f"{busy.scheduler_name} has a request still under way (#{busy.pk}, "
        f"{busy.get_operation_display().lower()}): wait until it has finished."
    )


def _idle_and_described(name: str) -> dict[str, Any]:
    """The scheduler as DescribeInferenceScheduler reports it now, when no
    request for it is under way: a scheduler takes one request at a time."""
    busy = under_way([name]).get(name)
    if busy is not None:
        raise Refused(_under_way_refusal(busy))
    try:
        return describe(name)
    except CannotRead as error:
        if error.not_found:
            raise Refused(f"There is no inference scheduler named {name}.") from error
        raise Refused(
            f"Could not read {name} from Lookout for Equipment ({error.code}); nothing was done."
        ) from error
