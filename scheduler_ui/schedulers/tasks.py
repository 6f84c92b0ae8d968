"""Celery tasks: thin wrappers around the functions in submitting.py."""

from __future__ import annotations

from celery import shared_task

from scheduler_ui.schedulers import submitting


@shared_task
def submit_submission(submission_id: int) -> None:
    submitting.submit_to_lookout(submission_id)


@shared_task
def refresh_status(submission_id: int) -> None:
    submitting.refresh_status(submission_id)


@shared_task
def follow_statuses() -> None:
    """Periodic: the sync with the endpoint (statuses, imported schedulers, the
    waiting steps of a chain)."""
    submitting.follow_statuses()


@shared_task
def sweep() -> None:
    """Periodic: send again what was accepted but is in no one's hands."""
    submitting.sweep()
