"""Submissions and their append-only audit trail.

A Submission is one CreateInferenceScheduler request a person made. Its states
and every allowed move between them are named here, in one place; each move
writes exactly one SubmissionEvent in the same transaction.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class State(models.TextChoices):
    QUEUED = "queued", "Queued"
    IN_FLIGHT = "in_flight", "Calling AWS"
    RETRY_WAIT = "retry_wait", "Waiting to retry"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


TERMINAL_STATES = frozenset({State.SUCCEEDED, State.FAILED})

# Where a submission may go from each state. IN_FLIGHT → IN_FLIGHT is a new
# attempt taking over one whose worker died (its lease ran out).
TRANSITIONS: dict[str, frozenset[str]] = {
    State.QUEUED: frozenset({State.IN_FLIGHT, State.FAILED}),
    State.IN_FLIGHT: frozenset({State.IN_FLIGHT, State.RETRY_WAIT, State.SUCCEEDED, State.FAILED}),
    State.RETRY_WAIT: frozenset({State.IN_FLIGHT, State.FAILED}),
    State.SUCCEEDED: frozenset(),
    State.FAILED: frozenset(),
}

# Scheduler statuses after which there is nothing more to follow.
SETTLED_STATUSES = frozenset({"RUNNING", "STOPPED"})


class EventKind(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    ATTEMPT = "attempt", "Attempt started"
    RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REDISPATCHED = "redispatched", "Re-dispatched"
    STATUS_CHANGED = "status_changed", "Status changed"


class Submission(models.Model):
    request = models.JSONField(help_text="The exact CreateInferenceScheduler request sent.")
    client_token = models.CharField(max_length=256, unique=True)
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

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
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
    def is_settled(self) -> bool:
        """Nothing more will change without someone acting: pages stop polling."""
        if self.state == State.FAILED:
            return True
        return self.state == State.SUCCEEDED and self.scheduler_status in SETTLED_STATUSES

    # --- Accepting ------------------------------------------------------------

    @classmethod
    def accept(cls, request: dict[str, Any], user: Any) -> Submission:
        """Record a validated request and its first event; the caller dispatches on commit."""
        now = timezone.now()
        with transaction.atomic():
            submission = cls.objects.create(
                request=request,
                client_token=request["ClientToken"],
                scheduler_name=request["InferenceSchedulerName"],
                model_name=request["ModelName"],
                created_by=user,
                created_at=now,
                dispatched_at=now,
            )
            SubmissionEvent.objects.create(
                submission=submission,
                at=now,
                actor=user,
                kind=EventKind.SUBMITTED,
                to_state=State.QUEUED,
                details={"client_token": submission.client_token},
            )
        return submission

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
        self.state = to_state
        if to_state in TERMINAL_STATES:
            self.finished_at = now
        for name, value in changes.items():
            setattr(self, name, value)
        with transaction.atomic():
            self.save()
            return SubmissionEvent.objects.create(
                submission=self,
                at=now,
                actor=actor,
                kind=kind,
                from_state=from_state,
                to_state=to_state,
                details=details or {},
            )

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
            submission = cls.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
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

    def fail(self, code: str, message: str, reason: str = "") -> None:
        details = {"code": code, "message": message}
        if reason:
            details["reason"] = reason
        self._move(State.FAILED, EventKind.FAILED, details, error_code=code, error_message=message)

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
        if status == self.scheduler_status:
            return False
        with transaction.atomic():
            previous = self.scheduler_status
            self.scheduler_status = status
            self.save(update_fields=["scheduler_status", "updated_at"])
            SubmissionEvent.objects.create(
                submission=self,
                actor=actor,
                kind=EventKind.STATUS_CHANGED,
                from_state=self.state,
                to_state=self.state,
                details={"from": previous, "to": status},
            )
        return True

    # --- Queries ----------------------------------------------------------------

    @classmethod
    def needing_dispatch(cls, now: datetime.datetime) -> models.QuerySet[Submission]:
        """Accepted work that no live worker holds: queued too long (the broker was
        down or the message was lost), retries past due, attempts past their lease."""
        queued_after = now - datetime.timedelta(seconds=settings.LOOKOUT_REDISPATCH_AFTER_SECONDS)
        lease = now - datetime.timedelta(seconds=settings.LOOKOUT_ATTEMPT_LEASE_SECONDS)
        retry_grace = now - datetime.timedelta(seconds=settings.LOOKOUT_REDISPATCH_AFTER_SECONDS)
        return cls.objects.filter(
            Q(state=State.QUEUED, dispatched_at__isnull=True)
            | Q(state=State.QUEUED, dispatched_at__lte=queued_after)
            | Q(
                state=State.RETRY_WAIT,
                next_attempt_at__lte=retry_grace,
                dispatched_at__lte=retry_grace,
            )
            | Q(state=State.IN_FLIGHT, attempt_started_at__lte=lease, dispatched_at__lte=lease)
        )

    @classmethod
    def following(cls) -> models.QuerySet[Submission]:
        """Created schedulers whose status has not settled yet."""
        return cls.objects.filter(state=State.SUCCEEDED).exclude(
            scheduler_status__in=SETTLED_STATUSES
        )


class AppendOnlyError(Exception):
    pass


class SubmissionEvent(models.Model):
    """One line of the audit trail. Written once, never edited or deleted."""

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
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
            models.Index(fields=["kind", "-at"], name="event_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events cannot be deleted")

    @property
    def actor_label(self) -> str:
        return self.actor.get_username() if self.actor else "worker"
