"""Submissions and their append-only audit trail.

A Submission is one request a person made about an inference scheduler: create
it, start, stop, update or delete it (or the record of one the console found
but did not create). Its states and every allowed move between them are named
here, in one place; each move writes exactly one SubmissionEvent in the same
transaction.
"""

from __future__ import annotations

import datetime
import ipaddress
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models, transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from scheduler_ui.schedulers import rows
from scheduler_ui.schedulers.access import ADMINISTRATOR
from scheduler_ui.security import client_ip


class Operation(models.TextChoices):
    """What a submission asks of Lookout for Equipment: an API operation, or
    Imported for a scheduler the console found on the endpoint and did not create."""

    CREATE = "CreateInferenceScheduler", "Create"
    START = "StartInferenceScheduler", "Start"
    STOP = "StopInferenceScheduler", "Stop"
    UPDATE = "UpdateInferenceScheduler", "Update"
    DELETE = "DeleteInferenceScheduler", "Delete"
    TAG = "TagResource", "Tag"
    UNTAG = "UntagResource", "Untag"
    IMPORTED = "Imported", "Imported"


# Tagging leaves a scheduler's status as it is: there is nothing to follow.
TAGGING = frozenset({Operation.TAG, Operation.UNTAG})
# The scheduler statuses in which each action may be taken (what the service
# allows; an update or a delete of a running scheduler needs a stop first).
ALLOWED_IN_STATUS: dict[str, frozenset[str]] = {
    Operation.START: frozenset({"STOPPED"}),
    Operation.STOP: frozenset({"RUNNING"}),
    Operation.UPDATE: frozenset({"STOPPED"}),
    Operation.DELETE: frozenset({"STOPPED"}),
    **dict.fromkeys(TAGGING, frozenset({"PENDING", "RUNNING", "STOPPING", "STOPPED"})),
}
# The status a scheduler has once the service has accepted an update or a
# delete, whose answers say nothing of it.
STATUS_AFTER: dict[str, str] = {Operation.UPDATE: "STOPPED", Operation.DELETE: "DELETED"}


class State(models.TextChoices):
    WAITING = "waiting", "Waiting for the previous step"
    QUEUED = "queued", "Queued"
    IN_FLIGHT = "in_flight", "Calling AWS"
    RETRY_WAIT = "retry_wait", "Waiting to retry"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_STATES = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})
# What someone may still cancel: nothing is being sent. A call under way
# (IN_FLIGHT) may already have reached AWS, and cancelling it would hide that.
CANCELLABLE_STATES = frozenset({State.WAITING, State.QUEUED, State.RETRY_WAIT})

# Where a submission may go from each state. IN_FLIGHT → IN_FLIGHT is a new
# attempt taking over one whose worker died (its lease ran out).
# WAITING is a later step of a chain (stop, update, start): it is queued once
# the step before has succeeded and the scheduler is ready for it.
TRANSITIONS: dict[str, frozenset[str]] = {
    State.WAITING: frozenset({State.QUEUED, State.FAILED, State.CANCELLED}),
    State.QUEUED: frozenset({State.IN_FLIGHT, State.FAILED, State.CANCELLED}),
    State.IN_FLIGHT: frozenset({State.IN_FLIGHT, State.RETRY_WAIT, State.SUCCEEDED, State.FAILED}),
    State.RETRY_WAIT: frozenset({State.IN_FLIGHT, State.FAILED, State.CANCELLED}),
    State.SUCCEEDED: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
}

# How long a waiting step lets a scheduler be RUNNING or PENDING after the step
# before it (the listing may lag), before it fails.
WAITING_GRACE = datetime.timedelta(minutes=1)

# Scheduler statuses after which there is nothing more to follow. DELETED is
# the console's own word for a scheduler that is gone.
SETTLED_STATUSES = frozenset({"RUNNING", "STOPPED", "DELETED"})


class EventKind(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    ATTEMPT = "attempt", "Attempt started"
    RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REDISPATCHED = "redispatched", "Re-dispatched"
    STATUS_CHANGED = "status_changed", "Status changed"
    READY = "ready", "Previous step done"
    IMPORTED = "imported", "Imported"
    CANCELLED = "cancelled", "Cancelled"


def unstorable_text(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Where a request holds text no submission can, as (member path, why)
    pairs: a NUL character (the form's fields refuse one, as Django's do), or
    half of a surrogate pair, which a JSON file can spell ("\\ud800").
    PostgreSQL stores neither."""
    if isinstance(value, str):
        if "\x00" in value:
            return [(path, str(ProhibitNullCharactersValidator.message))]
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return [(path, "Must be Unicode text: it holds half of a surrogate pair.")]
        return []
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in unstorable_text(item, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list):
        return [
            found
            for index, item in enumerate(value)
            for found in unstorable_text(item, f"{path}[{index}]")
        ]
    return []


class Submission(models.Model):
    operation = models.CharField(max_length=32, choices=Operation.choices, default=Operation.CREATE)
    request = models.JSONField(help_text="The exact request sent, for its operation.")
    # Only CreateInferenceScheduler takes a ClientToken.
    client_token = models.CharField(max_length=256, blank=True)
    scheduler_name = models.CharField(max_length=200)
    model_name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="submissions"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    dispatches = models.PositiveIntegerField(
        default=1, help_text="How many times the submission was handed to the broker."
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    scheduler_arn = models.CharField("InferenceSchedulerArn", max_length=2048, blank=True)
    scheduler_status = models.CharField("Status", max_length=16, blank=True)
    model_quality = models.CharField("ModelQuality", max_length=32, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    cloned_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="clones",
        help_text="The submission this one re-submits with a new ClientToken.",
    )
    waits_for = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="next_steps",
        help_text="The step of a chain (stop, update, start) that must succeed first.",
    )

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["client_token"],
                condition=~Q(client_token=""),
                name="submission_client_token_unique",
            )
        ]
        indexes: ClassVar = [
            models.Index(fields=["-created_at", "-id"], name="submission_recent"),
            models.Index(fields=["state", "dispatched_at"], name="submission_sweep"),
            models.Index(fields=["scheduler_name", "-created_at"], name="submission_scheduler"),
            models.Index(fields=["model_name"], name="submission_model"),
        ]

    def __str__(self) -> str:
        return f"{self.scheduler_name} (#{self.pk})"

    def get_absolute_url(self) -> str:
        return reverse("submission_detail", args=[self.pk])

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def is_cancellable(self) -> bool:
        return self.state in CANCELLABLE_STATES

    @property
    def is_settled(self) -> bool:
        """Nothing more will change without someone acting: pages stop polling."""
        if self.state in (State.FAILED, State.CANCELLED):
            return True
        return self.state == State.SUCCEEDED and self.scheduler_status in SETTLED_STATUSES

    @property
    def api_operation(self) -> str:
        """The API operation of the stored request (an imported scheduler's request
        is shaped as the create that would make it again)."""
        return Operation.CREATE if self.operation == Operation.IMPORTED else self.operation

    @property
    def describes_scheduler(self) -> bool:
        """Whether the request holds a whole configuration (a create, or an import)."""
        return self.operation in (Operation.CREATE, Operation.IMPORTED)

    # --- Accepting ------------------------------------------------------------

    @classmethod
    def accept(
        cls,
        request: dict[str, Any],
        user: Any,
        cloned_from: Submission | None = None,
        *,
        operation: str = Operation.CREATE,
        model_name: str = "",
        scheduler_name: str = "",
        waits_for: Submission | None = None,
    ) -> Submission:
        """Record a validated request and its first event; the caller dispatches on
        commit. A step that waits for another starts WAITING and is not dispatched.
        The scheduler is the one the request names, or `scheduler_name` for a
        request that names it by ARN (tagging)."""
        if operation == Operation.IMPORTED:
            raise ValueError("an imported scheduler is recorded with Submission.imported()")
        now = timezone.now()
        state = State.QUEUED if waits_for is None else State.WAITING
        token = request.get("ClientToken", "") if operation == Operation.CREATE else ""
        details: dict[str, Any] = {"operation": operation}
        if token:
            details["client_token"] = token
        if cloned_from is not None:
            details["cloned_from"] = cloned_from.pk
        if waits_for is not None:
            details["waits_for"] = waits_for.pk
        with transaction.atomic():
            submission = cls(
                operation=operation,
                request=request,
                client_token=token,
                scheduler_name=scheduler_name or request["InferenceSchedulerName"],
                model_name=request.get("ModelName", model_name),
                created_by=user,
                created_at=now,
                state=state,
                dispatched_at=now if waits_for is None else None,
                cloned_from=cloned_from,
                waits_for=waits_for,
            )
            rows.insert(submission)
            rows.insert(
                SubmissionEvent(
                    submission=submission,
                    at=now,
                    actor=user,
                    kind=EventKind.SUBMITTED,
                    to_state=state,
                    details=details,
                )
            )
        return submission

    @classmethod
    def imported(
        cls, request: dict[str, Any], arn: str, status: str, found: str = ""
    ) -> Submission:
        """Record a scheduler the console found on the endpoint but did not create,
        with its configuration as a create request (without a ClientToken)."""
        now = timezone.now()
        with transaction.atomic():
            submission = cls.objects.create(
                operation=Operation.IMPORTED,
                request=request,
                scheduler_name=request["InferenceSchedulerName"],
                model_name=request.get("ModelName", ""),
                created_at=now,
                state=State.SUCCEEDED,
                dispatches=0,
                finished_at=now,
                scheduler_arn=arn,
                scheduler_status=status,
            )
            SubmissionEvent.objects.create(
                submission=submission,
                at=now,
                kind=EventKind.IMPORTED,
                to_state=State.SUCCEEDED,
                details={
                    "how": found or "found on the endpoint; not created by the console",
                    "InferenceSchedulerArn": arn,
                    "Status": status,
                },
            )
        return submission

    def clone(self, user: Any) -> Submission:
        """The same request again as a new submission; the caller dispatches on
        commit. A create (or an imported scheduler's configuration) gets a new
        ClientToken, so AWS treats it as a new request; an action is the same
        action again."""
        if not self.describes_scheduler:
            return Submission.accept(
                self.request,
                user,
                cloned_from=self,
                operation=self.operation,
                model_name=self.model_name,
                scheduler_name=self.scheduler_name,
            )
        request = {**self.request, "ClientToken": self.new_client_token()}
        return Submission.accept(request, user, cloned_from=self)

    @staticmethod
    def new_client_token() -> str:
        return str(uuid.uuid4())

    # --- State transitions: the only place state changes ------------------------

    def _move(
        self,
        to_state: str,
        kind: str,
        details: dict[str, Any] | None = None,
        actor: Any = None,
        **changes: Any,
    ) -> SubmissionEvent:
        if to_state not in TRANSITIONS[self.state]:
            raise ValueError(f"a submission cannot go from {self.state} to {to_state}")
        from_state = self.state
        now = timezone.now()
        fields = {"state": to_state, "updated_at": now, **changes}
        if to_state in TERMINAL_STATES:
            fields["finished_at"] = now
        # No savepoint inside a caller's transaction (a claim's): one fewer round
        # trip. Nothing is written when the row moved on, so the caller's
        # transaction stays usable after a StaleSubmission.
        with transaction.atomic(savepoint=False):
            # Written only over the row as this object saw it: an attempt that
            # outlived its lease must not undo the attempt that took over.
            written = rows.update(
                Submission, {"id": self.pk, "state": from_state, "attempts": self.attempts}, fields
            )
            if written:
                for name, value in fields.items():
                    setattr(self, name, value)
                event = SubmissionEvent(
                    submission=self,
                    at=now,
                    actor=actor,
                    kind=kind,
                    from_state=from_state,
                    to_state=to_state,
                    details=details or {},
                )
                rows.insert(event)
        if not written:
            raise StaleSubmission(f"submission {self.pk} changed since it was read")
        return event

    @classmethod
    def claim(cls, pk: int) -> Submission | None:
        """Take a submission for one attempt, or None when it is not ours to work on
        (done, being worked on by a live attempt, or not due yet).

        The row lock makes the check and the move one step, so two deliveries of
        the same submission can never work at once.
        """
        now = timezone.now()
        lease = datetime.timedelta(seconds=settings.LOOKOUT_ATTEMPT_LEASE_SECONDS)
        early = datetime.timedelta(seconds=2)
        with transaction.atomic():
            submission = rows.locked(cls, pk)
            if submission is None:
                return None
            state = submission.state
            due = (
                state == State.QUEUED
                or (
                    state == State.RETRY_WAIT
                    and submission.next_attempt_at is not None
                    and submission.next_attempt_at <= now + early
                )
                or (
                    state == State.IN_FLIGHT
                    and submission.attempt_started_at is not None
                    and submission.attempt_started_at <= now - lease
                )
            )
            if not due:
                return None
            details: dict[str, Any] = {"attempt": submission.attempts + 1}
            if state == State.IN_FLIGHT:
                details["took_over"] = "the previous attempt's worker stopped answering"
            submission._move(
                State.IN_FLIGHT,
                EventKind.ATTEMPT,
                details,
                attempts=submission.attempts + 1,
                attempt_started_at=now,
                next_attempt_at=None,
            )
            return submission

    def succeed(self, response: dict[str, Any], how: str = "created") -> None:
        self._move(
            State.SUCCEEDED,
            EventKind.SUCCEEDED,
            {
                "how": how,
                "InferenceSchedulerArn": response.get("InferenceSchedulerArn", ""),
                "Status": response.get("Status", ""),
                "ModelQuality": response.get("ModelQuality", ""),
            },
            scheduler_arn=response.get("InferenceSchedulerArn", ""),
            scheduler_status=response.get("Status", ""),
            model_quality=response.get("ModelQuality", ""),
            error_code="",
            error_message="",
        )

    def schedule_retry(self, code: str, message: str, delay: float) -> None:
        at = timezone.now() + datetime.timedelta(seconds=delay)
        self._move(
            State.RETRY_WAIT,
            EventKind.RETRY_SCHEDULED,
            {"code": code, "message": message, "retry_in_seconds": round(delay, 2)},
            next_attempt_at=at,
            error_code=code,
            error_message=message,
        )

    def advance(self, status: str | None) -> bool:
        """Move a waiting step on, given its scheduler's live status (None: the
        scheduler is gone): queue it once the step before has succeeded and the
        status allows it; fail it when the step before failed or the scheduler is
        gone or started again meanwhile. True when it was queued (the caller
        dispatches it)."""
        previous = self.waits_for
        if self.state != State.WAITING or previous is None:
            return False
        step = f"#{previous.pk} ({previous.get_operation_display().lower()})"
        if previous.state == State.FAILED:
            self.fail(
                "PreviousStepFailed",
                f"The previous step {step} failed: {previous.error_code} {previous.error_message}",
                reason=f"the previous step {step} failed",
            )
            return False
        if status is None and previous.state == State.SUCCEEDED:
            self.fail(
                "ResourceNotFoundException",
                f"The inference scheduler {self.scheduler_name} no longer exists.",
                reason="the scheduler is gone",
            )
            return False
        if previous.state != State.SUCCEEDED:
            return False
        if status not in ALLOWED_IN_STATUS[self.operation]:
            # STOPPING is on its way; anything else means someone started the
            # scheduler again, which would hold this step (and every other
            # action on the scheduler) forever. The listing may lag the step
            # before a little, hence the grace.
            waited = timezone.now() - (previous.finished_at or timezone.now())
            if status != "STOPPING" and waited > WAITING_GRACE:
                self.fail(
                    "ConflictException",
                    f"The inference scheduler {self.scheduler_name} is {status}.",
                    reason=f"the scheduler is {status} again: started outside this chain",
                )
            return False
        self._move(
            State.QUEUED,
            EventKind.READY,
            {"after": previous.pk, "Status": status},
            dispatched_at=timezone.now(),
        )
        return True

    def fail(self, code: str, message: str, reason: str = "") -> None:
        details = {"code": code, "message": message}
        if reason:
            details["reason"] = reason
        self._move(State.FAILED, EventKind.FAILED, details, error_code=code, error_message=message)

    @classmethod
    def cancel(cls, pk: int, user: Any) -> Submission:
        """Cancel a submission nothing is sending, and the later steps that wait
        for it; raises CannotCancel, saying why, when it is too late."""
        with transaction.atomic():
            # SKIP LOCKED: a worker holding the row is claiming it right now.
            submission = rows.locked(cls, pk)
            if submission is None or submission.state not in CANCELLABLE_STATES:
                raise CannotCancel("It is being sent to Lookout for Equipment or has finished.")
            details: dict[str, Any] = {}
            if submission.attempts:
                details["note"] = "an earlier attempt may have reached Lookout for Equipment"
            submission._move(State.CANCELLED, EventKind.CANCELLED, details, actor=user)
            cancelled = [submission]
            while cancelled:
                before = cancelled.pop()
                for step in cls.objects.filter(waits_for=before, state=State.WAITING):
                    step._move(
                        State.CANCELLED,
                        EventKind.CANCELLED,
                        {"reason": f"the step before, #{before.pk}, was cancelled"},
                        actor=user,
                    )
                    cancelled.append(step)
        return submission

    def record_redispatch(self, reason: str) -> None:
        """The sweeper handed the submission to the broker again."""
        with transaction.atomic():
            self.dispatches += 1
            self.dispatched_at = timezone.now()
            self.save(update_fields=["dispatches", "dispatched_at", "updated_at"])
            SubmissionEvent.objects.create(
                submission=self,
                kind=EventKind.REDISPATCHED,
                from_state=self.state,
                to_state=self.state,
                details={"reason": reason, "dispatch": self.dispatches},
            )

    def record_status(self, status: str, actor: Any = None) -> bool:
        """Note the scheduler's status as AWS reports it; True when it changed."""
        return bool(Submission.record_statuses({self: status}, actor))

    @classmethod
    def record_statuses(cls, statuses: dict[Submission, str], actor: Any = None) -> int:
        """Note each scheduler's status as AWS reports it, all in one transaction
        (a sync may bring a thousand changes); returns how many changed."""
        changed = {s: status for s, status in statuses.items() if status != s.scheduler_status}
        if not changed:
            return 0
        now = timezone.now()
        with transaction.atomic():
            # Compared with the rows, locked: two followers that read the same old
            # status (a sync and a refresh) must record each change once.
            recorded = dict(
                cls.objects.select_for_update()
                .filter(pk__in=[s.pk for s in changed])
                .values_list("pk", "scheduler_status")
            )
            events = []
            for submission, status in changed.items():
                previous = recorded.get(submission.pk, submission.scheduler_status)
                submission.scheduler_status = status
                if previous == status:
                    continue
                submission.updated_at = now
                events.append(
                    SubmissionEvent(
                        submission=submission,
                        at=now,
                        actor=actor,
                        kind=EventKind.STATUS_CHANGED,
                        from_state=submission.state,
                        to_state=submission.state,
                        details={"from": previous, "to": status},
                    )
                )
            # One UPDATE per new status: bulk_update's CASE, a branch per row,
            # cost a quarter of a millisecond a row.
            moved_to: dict[str, list[int]] = {}
            for event in events:
                moved_to.setdefault(event.details["to"], []).append(event.submission_id)
            for status, pks in moved_to.items():
                cls.objects.filter(pk__in=pks).update(scheduler_status=status, updated_at=now)
            SubmissionEvent.objects.bulk_create(events)
        return len(events)

    # --- Queries ----------------------------------------------------------------

    @classmethod
    def needing_dispatch(cls, now: datetime.datetime) -> models.QuerySet[Submission]:
        """Accepted work that no live worker holds: queued too long (the broker was
        down or the message was lost), retries past due, attempts past their lease."""
        queued_after = now - datetime.timedelta(seconds=settings.LOOKOUT_REDISPATCH_AFTER_SECONDS)
        lease = now - datetime.timedelta(seconds=settings.LOOKOUT_ATTEMPT_LEASE_SECONDS)
        retry_grace = now - datetime.timedelta(seconds=settings.LOOKOUT_REDISPATCH_AFTER_SECONDS)
        # No dispatched_at: the last hand-over to the broker failed, so nothing is
        # on its way; send it as soon as it is due.
        unsent = Q(dispatched_at__isnull=True)
        return cls.objects.filter(
            Q(state=State.QUEUED) & (unsent | Q(dispatched_at__lte=queued_after))
            | Q(state=State.RETRY_WAIT, next_attempt_at__lte=now) & unsent
            | Q(
                state=State.RETRY_WAIT,
                next_attempt_at__lte=retry_grace,
                dispatched_at__lte=retry_grace,
            )
            | Q(state=State.IN_FLIGHT, attempt_started_at__lte=lease)
            & (unsent | Q(dispatched_at__lte=lease))
        )

    @classmethod
    def following(cls) -> models.QuerySet[Submission]:
        """Succeeded requests whose scheduler's status has not settled yet."""
        return (
            cls.objects.filter(state=State.SUCCEEDED)
            .exclude(scheduler_status__in=SETTLED_STATUSES)
            .exclude(operation__in=TAGGING)
        )

    @classmethod
    def records(
        cls, names: Iterable[str] | None = None, fields: Iterable[str] = ()
    ) -> dict[str, Submission]:
        """Each scheduler name's record (of these names, or all): its latest
        succeeded create or import, whose status the sync keeps up to date.
        With only these fields when given, else without its request (the largest
        column, which a status does not need)."""
        latest = cls.objects.filter(
            operation__in=[Operation.CREATE, Operation.IMPORTED], state=State.SUCCEEDED
        ).order_by("created_at", "id")
        latest = latest.only(*fields) if fields else latest.defer("request")
        if names is not None:
            latest = latest.filter(scheduler_name__in=names)
        return {submission.scheduler_name: submission for submission in latest}


class AppendOnlyError(Exception):
    pass


class StaleSubmission(Exception):
    """The submission moved on since this copy was read (another attempt took over)."""


class CannotCancel(Exception):
    """Too late to cancel: the submission is being sent, or has finished."""


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Bulk updates and deletes would skip the models' own guards: refuse them too."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit records cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit records cannot be deleted")


class AppendOnlyModel(models.Model):
    """An audit record: written once, never edited or deleted, one by one or in bulk."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit records cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit records cannot be deleted")


class SubmissionEvent(AppendOnlyModel):
    """One line of the audit trail. Written once, never edited or deleted."""

    # No index of their own for the two keys: the indexes below start with them.
    submission = models.ForeignKey(
        Submission, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="submission_events",
        help_text="Empty when the worker or the sweeper acted.",
    )
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    from_state = models.CharField(max_length=16, choices=State.choices, blank=True)
    to_state = models.CharField(max_length=16, choices=State.choices, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering: ClassVar = ["at", "id"]
        indexes: ClassVar = [
            models.Index(fields=["-at", "-id"], name="event_recent"),
            models.Index(fields=["submission", "at"], name="event_submission"),
            models.Index(fields=["kind", "-at", "-id"], name="event_kind_recent"),
            models.Index(fields=["actor", "-at", "-id"], name="event_actor_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def actor_label(self) -> str:
        return self.actor.get_username() if self.actor else "worker"


# --- The access log -------------------------------------------------------------


class AccessKind(models.TextChoices):
    LOGGED_IN = "logged_in", "Logged in"
    LOGGED_OUT = "logged_out", "Logged out"
    LOGIN_FAILED = "login_failed", "Login failed"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    FAILURES_CLEARED = "failures_cleared", "Failed logins cleared"


class AccessEvent(AppendOnlyModel):
    """A login, logout, failed login, password change, or an Administrator clearing
    someone's failed logins (which lifts a lock-out). Written once, never edited or
    deleted."""

    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=AccessKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="access_events",
        help_text="Empty for a failed login.",
    )
    username = models.CharField(max_length=150, help_text="For a failed login, as typed.")
    ip_address = models.GenericIPAddressField(
        "IP address",
        null=True,
        blank=True,
        help_text="Where the request came from; for cleared failed logins, where they came from.",
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who did it, when it was not the user: an Administrator setting a "
        "password or clearing failed logins.",
    )

    class Meta:
        ordering: ClassVar = ["-at", "-id"]
        indexes: ClassVar = [models.Index(fields=["-at", "-id"], name="access_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username} at {self.at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def record(
        cls,
        kind: str,
        request: HttpRequest | None,
        user: Any = None,
        username: str = "",
        *,
        by: Any = None,
        ip_address: str | None = None,
    ) -> AccessEvent:
        return cls.objects.create(
            kind=kind,
            user=user,
            username=(user.get_username() if user is not None else username)[:150],
            ip_address=ip_address or address_of(request),
            by=by,
        )


def address_of(request: HttpRequest | None) -> str | None:
    """The address a request came from (as the login throttling counts it), or None
    when there is no usable one: no request, or a Unix socket's empty address."""
    try:
        return str(ipaddress.ip_address(client_ip(request) or "")) if request is not None else None
    except ValueError:
        return None


@receiver(user_logged_in)
def record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    AccessEvent.record(AccessKind.LOGGED_IN, request, user)


@receiver(user_logged_out)
def record_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:  # logging out without being logged in changes nothing
        AccessEvent.record(AccessKind.LOGGED_OUT, request, user)


@receiver(user_login_failed)
def record_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get(get_user_model().USERNAME_FIELD, ""))
    AccessEvent.record(AccessKind.LOGIN_FAILED, request, username=username)


# --- Background work -------------------------------------------------------------

# What each entry of beat's schedule (settings.CELERY_BEAT_SCHEDULE) is called on the pages.
PERIODIC_LABELS = {"sweep": "The sweeper", "follow-statuses": "The status sync"}


class PeriodicStatus(NamedTuple):
    name: str
    label: str
    every: float
    finished_at: datetime.datetime | None
    worker: str
    overdue: bool


class PeriodicRun(models.Model):
    """When each entry of beat's schedule last ran to its end, and on which worker,
    like django-celery-beat's "last run at": how a person tells that beat and a
    worker are running. One row per entry, written over every time."""

    name = models.CharField(primary_key=True, max_length=100)
    finished_at = models.DateTimeField()
    worker = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.finished_at:%Y-%m-%d %H:%M:%S}"

    @staticmethod
    def record(name: str, worker: str) -> None:
        # One statement (an upsert): the status sync runs every few seconds.
        PeriodicRun.objects.bulk_create(
            [PeriodicRun(name=name, finished_at=timezone.now(), worker=worker)],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["finished_at", "worker"],
        )

    @classmethod
    def schedule(cls, now: datetime.datetime) -> list[PeriodicStatus]:
        """Every entry of beat's schedule with its last run. One is overdue when it
        has not run for three of its intervals and at least a minute (a slow round
        is not an outage), or has never run."""
        runs = {run.name: run for run in cls.objects.all()}
        statuses = []
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            every = float(entry["schedule"])
            run = runs.get(name)
            late_after = datetime.timedelta(seconds=max(3 * every, 60))
            statuses.append(
                PeriodicStatus(
                    name=name,
                    label=PERIODIC_LABELS.get(name, name),
                    every=every,
                    finished_at=run.finished_at if run else None,
                    worker=run.worker if run else "",
                    overdue=run is None or now - run.finished_at > late_after,
                )
            )
        return statuses


# --- Roles ----------------------------------------------------------------------


@receiver(m2m_changed)
def administrators_are_staff(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """The admin site lets in staff only; the Administrator role is what makes a user
    staff, so joining it grants is_staff and leaving it takes is_staff away.
    Superusers keep theirs."""
    user_model = get_user_model()
    if sender is not user_model.groups.through or not action.startswith("post_"):
        return
    if not reverse:
        users = user_model.objects.filter(pk=instance.pk)
    elif instance.name == ADMINISTRATOR:
        # The group's members changed; a clear() does not say who left.
        users = (
            user_model.objects.filter(pk__in=pk_set)
            if pk_set is not None
            else user_model.objects.all()
        )
    else:
        return
    users = users.filter(is_superuser=False)
    users.filter(groups__name=ADMINISTRATOR).update(is_staff=True)
    users.exclude(groups__name=ADMINISTRATOR).update(is_staff=False)
    if not reverse:
        instance.refresh_from_db(fields=["is_staff"])
