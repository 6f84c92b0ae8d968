"""Celery tasks: thin wrappers around the functions in submitting.py."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from scheduler_ui.schedulers import submitting
from scheduler_ui.schedulers.models import PeriodicRun


@shared_task
def submit_submission(submission_id: int) -> None:
    submitting.submit_to_lookout(submission_id)


@shared_task
def refresh_status(submission_id: int) -> None:
    submitting.refresh_status(submission_id)


# The periodic ones record each run that ends, under their name in beat's
# schedule (settings.CELERY_BEAT_SCHEDULE), for the settings page and the overview.


@shared_task(bind=True)
def follow_statuses(self: Task[Any, Any]) -> None:
    """Periodic: the sync with the endpoint (statuses, imported schedulers, the
    waiting steps of a chain)."""
    submitting.follow_statuses()
    PeriodicRun.record("follow-statuses", self.request.hostname or "")


@shared_task(bind=True)
def sweep(self: Task[Any, Any]) -> None:
    """Periodic: send again what was accepted but is in no one's hands."""
    submitting.sweep()
    PeriodicRun.record("sweep", self.request.hostname or "")
